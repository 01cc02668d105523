#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {

void Registry::audit(const AuditEntry& e) {
  db_->prepare("INSERT INTO audit_log (at, actor, action, subject, result, source, detail) VALUES (?,?,?,?,?,?,?)")
      .bind(1, e.at ? e.at : unix_now())
      .bind(2, e.actor)
      .bind(3, e.action)
      .bind(4, e.subject)
      .bind(5, e.result)
      .bind(6, e.source)
      .bind(7, e.detail)
      .run();
}

std::vector<AuditEntry> Registry::audit_entries(const AuditFilter& f) {
  // Fixed SQL with optional filters (NULL means "any"), so that each
  // statement is prepared once and cached. A subject is looked up through
  // its index (whose entries are in id order); the rest is read newest first.
  static constexpr const char* kColumns = "SELECT id, at, actor, action, subject, result, source, detail FROM audit_log ";
  static constexpr const char* kFilters =
      "(CAST(?1 AS TEXT) IS NULL OR actor = ?1) AND (CAST(?2 AS TEXT) IS NULL OR action = ?2) AND (CAST(?4 AS BIGINT) IS NULL OR at >= ?4) AND (CAST(?5 AS BIGINT) IS NULL OR at <= ?5) "
      "AND (CAST(?7 AS BIGINT) IS NULL OR id < ?7) ORDER BY id DESC LIMIT ?6";
  auto s = f.subject ? db_->prepare(std::string(kColumns) + "WHERE subject = ?3 AND " + kFilters)
                     : db_->prepare(std::string(kColumns) + "WHERE (CAST(?3 AS TEXT) IS NULL OR subject = ?3) AND " + kFilters);
  s.bind(1, f.actor).bind(2, f.action).bind(4, f.since).bind(5, f.until).bind(6, f.limit).bind(7, f.before_id);
  s.bind(3, f.subject);
  std::vector<AuditEntry> out;
  while (s.step())
    out.push_back({s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.text(7)});
  return out;
}

}  // namespace provision::registry
