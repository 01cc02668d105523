#pragma once
// The web console's files (console/ of the repository, and the Debian
// packages' browser libraries), compiled into provisiond by
// cmake/EmbedAssets.cmake: nothing is read from disk or fetched at run time.
#include <string_view>
#include <vector>

namespace provision::service::console {

struct Asset {
  std::string_view path;  // "/console/app.js"
  std::string_view content;
};

const std::vector<Asset>& assets();

}  // namespace provision::service::console
