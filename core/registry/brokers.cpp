// Brokers devices are assigned to (brokers).
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {

std::optional<BrokerRecord> Registry::find_broker(const std::string& name) {
  auto s = db_->prepare("SELECT name, endpoint, weight, enabled, created_at, updated_at FROM brokers WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return BrokerRecord{s.text(0), s.text(1), s.int64(2), s.int64(3) != 0, s.int64(4), s.int64(5)};
}

void Registry::put_broker(const BrokerRecord& r) {
  int64_t now = unix_now();
  db_->prepare(
         "INSERT INTO brokers (name, endpoint, weight, enabled, created_at, updated_at) VALUES (?,?,?,?,?,?) "
         "ON CONFLICT(name) DO UPDATE SET endpoint = excluded.endpoint, weight = excluded.weight, "
         "enabled = excluded.enabled, updated_at = excluded.updated_at")
      .bind(1, r.name)
      .bind(2, r.endpoint)
      .bind(3, r.weight)
      .bind(4, r.enabled)
      .bind(5, r.created_at ? r.created_at : now)
      .bind(6, now)
      .run();
}

bool Registry::delete_broker(const std::string& name) {
  db_->prepare("DELETE FROM brokers WHERE name = ?").bind(1, name).run();
  return db_->changes() > 0;
}

int64_t Registry::count_broker_users(const std::string& name) {
  auto s = db_->prepare(
      "SELECT (SELECT count(*) FROM enrollments WHERE broker = ?1) + "
      "(SELECT count(*) FROM templates WHERE json_extract(assignment, '$.policy') = 'static' "
      "AND json_extract(assignment, '$.broker') = ?1)");
  s.bind(1, name);
  return s.step() ? s.int64(0) : 0;
}

std::vector<BrokerRecord> Registry::list_brokers() {
  auto s = db_->prepare("SELECT name, endpoint, weight, enabled, created_at, updated_at FROM brokers ORDER BY name");
  std::vector<BrokerRecord> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3) != 0, s.int64(4), s.int64(5)});
  return out;
}

}  // namespace provision::registry
