#include "registry/registry.h"

#include "registry/database.h"
#include "registry/json_columns.h"
#include "registry/migrations.h"
#include "util/json.h"

namespace provision::registry {

Registry::Registry(std::unique_ptr<Database> db) : db_(std::move(db)) {}
Registry::Registry(Registry&&) noexcept = default;
Registry& Registry::operator=(Registry&&) noexcept = default;
Registry::~Registry() = default;

Registry Registry::open(const std::string& location, const OpenOptions& options) {
  auto db = Database::open(location, Database::Mode::ReadWrite, options.busy_timeout_ms);
  migrate(*db);
  if (options.wal_frames) db->disable_auto_checkpoint(*options.wal_frames);
  if (options.bulk_load) {
    db->set_synchronous_off();
    db->set_page_cache(512 * 1024);
  } else if (options.page_cache_kib > 0) {
    db->set_page_cache(options.page_cache_kib);
  }
  return Registry(std::move(db));
}

Database& database_of(Registry& registry) { return registry.database(); }

bool Registry::shared() const { return db_->backend() == Database::Backend::Postgres; }

int64_t Registry::data_version() { return db_->data_version(); }
int Registry::schema_version() { return db_->user_version(); }

void Registry::check() {
  auto s = db_->prepare("SELECT 1 FROM templates LIMIT 1");
  s.step();
}

int Registry::checkpoint(bool restart) { return db_->checkpoint(restart); }

void Registry::import_registered_devices(const std::vector<RegisteredDevice>& devices) {
  Transaction tx(*db_);
  const int64_t last_change = latest_change_id();
  for (const auto& device : devices) {
    insert_thing(device.thing);
    insert_certificate(device.certificate);
    for (const auto& policy : device.policies) attach_policy(device.certificate.id, policy);
  }
  db_->prepare("DELETE FROM registry_changes WHERE id > ?").bind(1, last_change).run();
  tx.commit();
}

Registry Registry::open_read_only(const std::string& location, int busy_timeout_ms) {
  if (!is_postgres_location(location) && !std::filesystem::exists(location))
    throw RegistryError("registry " + location + " does not exist", RegistryError::Kind::Unavailable);
  auto db = Database::open(location, Database::Mode::ReadOnly, busy_timeout_ms);
  int version = db->user_version();
  if (version > latest_schema_version())
    throw RegistryError("registry " + db->display_location() + " has schema version " + std::to_string(version) +
                            ", newer than this build knows (" + std::to_string(latest_schema_version()) +
                            "): upgrade this program to the release that wrote it",
                        RegistryError::Kind::Schema);
  if (version != latest_schema_version())
    throw RegistryError("registry " + db->display_location() + " has schema version " + std::to_string(version) + ", expected " +
                            std::to_string(latest_schema_version()) + " (run provisiond to migrate it)",
                        RegistryError::Kind::Schema);
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
