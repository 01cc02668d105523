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
  rapidjson::Document doc(rapidjson::kArrayType);
  for (const auto& s : list) doc.PushBack(json::string_value(s, doc.GetAllocator()), doc.GetAllocator());
  return json::stringify(doc);
}

std::string to_json(const std::map<std::string, std::string>& map) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  for (const auto& [k, v] : map) doc.AddMember(json::string_value(k, a), json::string_value(v, a), a);
  return json::stringify(doc);
}

std::vector<std::string> string_list_from_json(const std::string& text) {
  std::vector<std::string> out;
  auto doc = json::try_parse(text, nullptr);
  if (doc && doc->IsArray())
    for (const auto& v : doc->GetArray())
      if (v.IsString()) out.emplace_back(json::view(v));
  return out;
}

std::map<std::string, std::string> string_map_from_json(const std::string& text) {
  std::map<std::string, std::string> out;
  auto doc = json::try_parse(text, nullptr);
  if (doc && doc->IsObject())
    for (const auto& m : doc->GetObject())
      if (m.value.IsString()) out.emplace(json::view(m.name), json::view(m.value));
  return out;
}

}  // namespace provision::registry
