#include "settings.h"

#include <cstdlib>
#include <initializer_list>

#include "errors.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace provisionctl {
namespace {

// The configuration file: {"url": "...", "token": "...", "caFile": "..."}.
struct ConfigFile {
  std::filesystem::path path;
  std::optional<rapidjson::Document> document;  // absent: a default file that does not exist
};

ConfigFile load_config(const ConnectionFlags& flags, const Environment& environment) {
  ConfigFile config{flags.config_file.empty() ? default_config_file(environment) : std::filesystem::path(flags.config_file),
                    std::nullopt};
  if (flags.config_file.empty() && !std::filesystem::exists(config.path)) return config;
  std::string text;
  try {
    text = provision::read_file(config.path);
  } catch (const provision::Error& e) {
    throw UsageError(std::string("configuration file: ") + e.what());
  }
  std::string error;
  auto document = provision::json::try_parse(text, &error);
  if (!document || !document->IsObject())
    throw UsageError("configuration file " + config.path.string() + ": " + (document ? "not a JSON object" : error));
  config.document = std::move(*document);
  return config;
}

// The first non-empty of: the flag, the environment variables in order, the configuration file's key.
std::string first_setting(const std::string& flag, std::initializer_list<const char*> variables, const Environment& environment,
                          const std::function<const ConfigFile&()>& config, const char* config_key) {
  if (!flag.empty()) return flag;
  for (const char* variable : variables)
    if (auto value = environment(variable); value && !value->empty()) return *value;
  const auto& document = config().document;
  return document ? provision::json::string_member(*document, config_key).value_or("") : "";
}

}  // namespace

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
}

std::filesystem::path default_config_file(const Environment& environment) {
  std::filesystem::path base;
  if (auto xdg = environment("XDG_CONFIG_HOME"); xdg && !xdg->empty()) base = *xdg;
  else if (auto home = environment("HOME"); home && !home->empty()) base = std::filesystem::path(*home) / ".config";
  else base = ".config";
  return base / "provisionctl" / "config.json";
}

Endpoint resolve_endpoint(const ConnectionFlags& flags, const Environment& environment) {
  std::optional<ConfigFile> loaded;  // read only when a setting is not found before it
  auto config = [&]() -> const ConfigFile& {
    if (!loaded) loaded = load_config(flags, environment);
    return *loaded;
  };
  if (!flags.config_file.empty()) config();  // a file named on the command line must be usable
  Endpoint endpoint;
  endpoint.url = first_setting(flags.url, {"PROVISION_ADMIN_URL", "ADMIN_URL"}, environment, config, "url");
  endpoint.token = first_setting(flags.token, {"PROVISION_ADMIN_TOKEN", "ADMIN_TOKEN"}, environment, config, "token");
  endpoint.ca_file = first_setting(flags.ca_file, {"PROVISION_ADMIN_CA_FILE"}, environment, config, "caFile");
  if (endpoint.url.empty())
    throw UsageError("no admin API URL: give --url, set PROVISION_ADMIN_URL, or put \"url\" in " +
                     (flags.config_file.empty() ? default_config_file(environment).string() : flags.config_file));
  return endpoint;
}

}  // namespace provisionctl
