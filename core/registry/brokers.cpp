// Brokers devices are assigned to (brokers).
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"
#include "util/json.h"

namespace provision::registry {
namespace {
constexpr const char* kColumns = "SELECT name, endpoint, weight, enabled, created_at, updated_at, password_endpoint FROM brokers ";

BrokerRecord broker_row(const Statement& s) {
  BrokerRecord b;
  b.name = s.text(0);
  b.endpoint = s.text(1);
  b.weight = s.int64(2);
  b.enabled = s.int64(3) != 0;
  b.created_at = s.int64(4);
  b.updated_at = s.int64(5);
  b.password_endpoint = s.optional_text(6);
  return b;
}
}  // namespace

std::optional<BrokerRecord> Registry::find_broker(const std::string& name) {
  auto s = db_->prepare(std::string(kColumns) + "WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return broker_row(s);
}

void Registry::put_broker(const BrokerRecord& r) {
  int64_t now = unix_now();
  db_->prepare(
         "INSERT INTO brokers (name, endpoint, weight, enabled, created_at, updated_at, password_endpoint) VALUES (?,?,?,?,?,?,?) "
         "ON CONFLICT(name) DO UPDATE SET endpoint = excluded.endpoint, weight = excluded.weight, "
         "enabled = excluded.enabled, updated_at = excluded.updated_at, password_endpoint = excluded.password_endpoint")
      .bind(1, r.name)
      .bind(2, r.endpoint)
      .bind(3, r.weight)
      .bind(4, r.enabled)
      .bind(5, r.created_at ? r.created_at : now)
      .bind(6, now)
      .bind(7, r.password_endpoint)
      .run();
}

bool Registry::delete_broker(const std::string& name) {
  db_->prepare("DELETE FROM brokers WHERE name = ?").bind(1, name).run();
  return db_->changes() > 0;
}

// (A template's assignment is a JSON column: read here rather than in
// either database's JSON dialect.)
int64_t Registry::count_broker_users(const std::string& name) {
  int64_t users = 0;
  {
    auto s = db_->prepare("SELECT count(*) FROM enrollments WHERE broker = ?");
    s.bind(1, name);
    if (s.step()) users = s.int64(0);
  }
  auto s = db_->prepare("SELECT assignment FROM templates WHERE assignment IS NOT NULL");
  while (s.step()) {
    auto assignment = json::try_parse(s.text(0), nullptr);
    if (assignment && json::string_member(*assignment, "policy") == "static" && json::string_member(*assignment, "broker") == name)
      ++users;
  }
  return users;
}

std::vector<BrokerRecord> Registry::list_brokers() {
  auto s = db_->prepare(std::string(kColumns) + "ORDER BY name");
  std::vector<BrokerRecord> out;
  while (s.step()) out.push_back(broker_row(s));
  return out;
}

}  // namespace provision::registry
