#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {

std::optional<PolicyRecord> Registry::find_policy(const std::string& name) {
  auto s = db_->prepare("SELECT name, document, created_at, updated_at FROM policies WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return PolicyRecord{s.text(0), s.text(1), s.int64(2), s.int64(3)};
}

void Registry::put_policy(const std::string& name, const std::string& document) {
  int64_t now = unix_now();
  db_->prepare(
         "INSERT INTO policies (name, document, created_at, updated_at) VALUES (?, ?, ?, ?) "
         "ON CONFLICT(name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at")
      .bind(1, name)
      .bind(2, document)
      .bind(3, now)
      .bind(4, now)
      .run();
}

bool Registry::delete_policy(const std::string& name) {
  db_->prepare("DELETE FROM policies WHERE name = ?").bind(1, name).run();
  return db_->changes() > 0;
}

std::vector<PolicyRecord> Registry::list_policies(const Page& page) {
  auto s = db_->prepare("SELECT name, document, created_at, updated_at FROM policies WHERE name > ? ORDER BY name LIMIT ?");
  s.bind(1, page.after).bind(2, page.limit);
  std::vector<PolicyRecord> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3)});
  return out;
}

}  // namespace provision::registry
