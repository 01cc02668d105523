#include "registry/database.h"
#include "registry/registry.h"

namespace provision::registry {

std::optional<OwnershipTokenRecord> Registry::find_token(const std::string& token_hash) {
  auto s = db_->prepare(
      "SELECT token_hash, certificate_id, claim_certificate_id, expires_at, used_at FROM ownership_tokens WHERE token_hash = ?");
  s.bind(1, token_hash);
  if (!s.step()) return std::nullopt;
  return OwnershipTokenRecord{s.text(0), s.text(1), s.text(2), s.int64(3), s.optional_int64(4)};
}

bool Registry::mark_token_used(const std::string& token_hash, int64_t at) {
  db_->prepare("UPDATE ownership_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL").bind(1, at).bind(2, token_hash).run();
  return db_->changes() > 0;
}

int64_t Registry::delete_expired_tokens(int64_t now) {
  db_->prepare("DELETE FROM ownership_tokens WHERE expires_at < ?").bind(1, now).run();
  return db_->changes();
}

}  // namespace provision::registry
