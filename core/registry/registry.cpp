#include "registry/registry.h"

#include "registry/json_columns.h"
#include "registry/migrations.h"
#include "util/json.h"

namespace provision::registry {

Registry Registry::open(const std::filesystem::path& path) {
  auto db = Database::open(path, Database::Mode::ReadWrite);
  migrate(*db);
  return Registry(std::move(db));
}

Registry Registry::open_read_only(const std::filesystem::path& path, int busy_timeout_ms) {
  if (!std::filesystem::exists(path)) throw RegistryError("registry " + path.string() + " does not exist", SQLITE_CANTOPEN);
  auto db = Database::open(path, Database::Mode::ReadOnly, busy_timeout_ms);
  int version = db->user_version();
  if (version != latest_schema_version())
    throw RegistryError("registry " + path.string() + " has schema version " + std::to_string(version) + ", expected " +
                            std::to_string(latest_schema_version()) + " (run provisiond to migrate it)",
                        SQLITE_SCHEMA);
  return Registry(std::move(db));
}

std::string to_json(const std::vector<std::string>& list) {
  rapidjson::Document allocator;
  return json::stringify(json::string_list(list, allocator.GetAllocator()));
}

std::string to_json(const std::map<std::string, std::string>& map) {
  rapidjson::Document allocator;
  return json::stringify(json::string_map(map, allocator.GetAllocator()));
}

std::vector<std::string> string_list_from_json(const std::string& text) {
  auto doc = json::try_parse(text, nullptr);
  return doc ? json::to_string_list(*doc) : std::vector<std::string>{};
}

std::map<std::string, std::string> string_map_from_json(const std::string& text) {
  auto doc = json::try_parse(text, nullptr);
  return doc ? json::to_string_map(*doc) : std::map<std::string, std::string>{};
}

}  // namespace provision::registry
