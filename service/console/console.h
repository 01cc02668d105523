#pragma once
// The web console at /console/ on the admin listener (docs/console.md):
// static files compiled into the binary, answered with a strict
// Content-Security-Policy. The console only calls the admin API.
#include <optional>
#include <string>
#include <string_view>

namespace provision::service::console {

struct File {
  std::string_view content;
  std::string content_type;
};

// The file served at `path` ("/console/" is its index.html); nullopt when none.
std::optional<File> find(std::string_view path);

// The Content-Security-Policy of the console's files: scripts, styles and
// API calls from this origin only, nothing inline, never framed.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace provision::service::console
