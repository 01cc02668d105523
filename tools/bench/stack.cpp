#include "stack.h"

#include <map>
#include <sstream>

#include "registry/registry.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace provision::bench {
namespace {

std::map<std::string, std::string> read_env_file(const std::filesystem::path& path) {
  std::map<std::string, std::string> values;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

std::string required(const std::map<std::string, std::string>& values, const std::string& name,
                     const std::filesystem::path& file) {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) throw Error(file.string() + " lacks " + name);
  return it->second;
}

}  // namespace

StackSettings load_stack(const std::filesystem::path& dir) {
  StackSettings s;
  s.dir = std::filesystem::absolute(dir);
  const auto env_file = s.dir / "stack.env";
  auto env = read_env_file(env_file);
  s.broker.host = required(env, "MQTT_HOST", env_file);
  s.broker.port = std::stoi(required(env, "MQTT_TLS_PORT", env_file));
  s.ca_file = required(env, "CA_FILE", env_file);
  s.trust = std::make_shared<const BrokerTrust>(s.ca_file, s.broker.host);
  s.claim = std::make_shared<const TlsContext>(*s.trust, read_file(required(env, "CLAIM_CERT", env_file)),
                                               read_file(required(env, "CLAIM_KEY", env_file)));
  s.devices = std::make_shared<const TlsContext>(*s.trust);
  s.template_name = required(env, "TEMPLATE", env_file);

  const auto config_file = s.dir / "provisiond.json";
  auto config = json::parse(read_file(config_file), config_file.string());
  auto resolve = [&](const std::optional<std::string>& value, const char* what) {
    if (!value) throw Error(config_file.string() + " lacks " + what);
    std::filesystem::path p(*value);
    return p.is_absolute() ? p : s.dir / p;
  };
  auto registry = json::string_member(config, "registry");
  // A database server's URI as it is; a file relative to the stack directory.
  s.registry = registry && registry::is_database_uri(*registry) ? std::filesystem::path(*registry) : resolve(registry, "registry");
  const rapidjson::Value* ca = json::member(config, "fleetCa");
  if (!ca || !ca->IsObject()) throw Error(config_file.string() + " lacks fleetCa");
  s.fleet_ca_certificate = resolve(json::string_member(*ca, "certificate"), "fleetCa.certificate");
  s.fleet_ca_key = resolve(json::string_member(*ca, "key"), "fleetCa.key");
  return s;
}

}  // namespace provision::bench
