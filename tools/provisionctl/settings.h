#pragma once
// Where the admin API is and how to authenticate: each setting from its
// flag, else the environment, else the configuration file.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "client.h"

namespace provisionctl {

struct ConnectionFlags {
  std::string url, token, ca_file;
  std::string config_file;  // --config; empty: the default file, which may be missing
};

// Looks up an environment variable (replaceable for tests).
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment process_environment();

// $XDG_CONFIG_HOME/provisionctl/config.json or ~/.config/provisionctl/config.json.
std::filesystem::path default_config_file(const Environment& environment);

// UsageError when no URL is found, or a configuration file that must be read cannot be.
Endpoint resolve_endpoint(const ConnectionFlags& flags, const Environment& environment);

}  // namespace provisionctl
