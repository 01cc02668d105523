#include "registry/database.h"
#include "registry/registry.h"

namespace provision::registry {

std::vector<Change> Registry::changes_after(int64_t id, int limit) {
  auto s = db_->prepare("SELECT id, kind, subject FROM registry_changes WHERE id > ? ORDER BY id LIMIT ?");
  s.bind(1, id).bind(2, limit);
  std::vector<Change> out;
  while (s.step()) out.push_back({s.int64(0), s.text(1), s.text(2)});
  return out;
}

int64_t Registry::latest_change_id() {
  auto s = db_->prepare("SELECT coalesce(max(id), 0) FROM registry_changes");
  return s.step() ? s.int64(0) : 0;
}

bool Registry::claim_task(const std::string& task, int64_t now, int64_t interval_seconds) {
  db_->prepare("INSERT INTO cluster_tasks (name, last_run_at) VALUES (?, 0) ON CONFLICT DO NOTHING").bind(1, task).run();
  db_->prepare("UPDATE cluster_tasks SET last_run_at = ?1 WHERE name = ?2 AND last_run_at <= ?3")
      .bind(1, now)
      .bind(2, task)
      .bind(3, now - interval_seconds)
      .run();
  return db_->changes() == 1;
}

int64_t Registry::delete_changes_before(int64_t at) {
  db_->prepare("DELETE FROM registry_changes WHERE at < ?").bind(1, at).run();
  return db_->changes();
}

}  // namespace provision::registry
