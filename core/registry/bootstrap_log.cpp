// The bootstrap listener's access log (bootstrap_access_log).
#include "registry/database.h"
#include "registry/registry.h"

namespace provision::registry {

void Registry::log_bootstrap_access(const BootstrapAccessRecord& r) {
  db_->prepare("INSERT INTO bootstrap_access_log (at, source, mac, endpoint, outcome, status, latency_ms) VALUES (?,?,?,?,?,?,?)")
      .bind(1, r.at)
      .bind(2, r.source)
      .bind(3, r.mac)
      .bind(4, r.endpoint)
      .bind(5, r.outcome)
      .bind(6, r.status)
      .bind(7, r.latency_ms)
      .run();
}

std::vector<BootstrapAccessRecord> Registry::bootstrap_access(const BootstrapAccessFilter& f) {
  // Fixed SQL with optional filters (NULL: any), prepared once.
  auto s = db_->prepare(
      "SELECT id, at, source, mac, endpoint, outcome, status, latency_ms FROM bootstrap_access_log WHERE "
      "(CAST(?1 AS TEXT) IS NULL OR mac = ?1) AND (CAST(?2 AS TEXT) IS NULL OR source = ?2) "
      "AND (CAST(?3 AS TEXT) IS NULL OR endpoint = ?3) AND (CAST(?4 AS TEXT) IS NULL OR outcome = ?4) "
      "AND (CAST(?5 AS BIGINT) IS NULL OR at >= ?5) AND (CAST(?6 AS BIGINT) IS NULL OR at <= ?6) "
      "AND (CAST(?7 AS BIGINT) IS NULL OR id < ?7) ORDER BY id DESC LIMIT ?8");
  s.bind(1, f.mac).bind(2, f.source).bind(3, f.endpoint).bind(4, f.outcome).bind(5, f.since_ms).bind(6, f.until_ms);
  s.bind(7, f.before_id).bind(8, f.limit);
  std::vector<BootstrapAccessRecord> out;
  while (s.step()) out.push_back({s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4), s.text(5), s.int64(6), s.int64(7)});
  return out;
}

int64_t Registry::delete_bootstrap_access_before(int64_t at_ms) {
  db_->prepare("DELETE FROM bootstrap_access_log WHERE at < ?").bind(1, at_ms).run();
  return db_->changes();
}

bool Registry::remember_bootstrap_signature(const std::string& signature, int64_t expires_at) {
  db_->prepare("INSERT INTO bootstrap_signatures (signature, expires_at) VALUES (?, ?) ON CONFLICT(signature) DO NOTHING")
      .bind(1, signature)
      .bind(2, expires_at)
      .run();
  return db_->changes() > 0;
}

int64_t Registry::delete_bootstrap_signatures_before(int64_t at) {
  db_->prepare("DELETE FROM bootstrap_signatures WHERE expires_at < ?").bind(1, at).run();
  return db_->changes();
}

}  // namespace provision::registry
