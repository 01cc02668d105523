#include "registry/database.h"
#include "registry/registry.h"

namespace provision::registry {

void Registry::insert_api_token(const ApiTokenRecord& r) {
  db_->prepare("INSERT INTO api_tokens (name, token_hash, role, created_at, last_used_at) VALUES (?,?,?,?,?)")
      .bind(1, r.name)
      .bind(2, r.token_hash)
      .bind(3, r.role)
      .bind(4, r.created_at)
      .bind(5, r.last_used_at)
      .run();
}

std::optional<ApiTokenRecord> Registry::find_api_token_by_hash(const std::string& token_hash) {
  auto s = db_->prepare("SELECT name, token_hash, role, created_at, last_used_at FROM api_tokens WHERE token_hash = ?");
  s.bind(1, token_hash);
  if (!s.step()) return std::nullopt;
  return ApiTokenRecord{s.text(0), s.text(1), s.text(2), s.int64(3), s.optional_int64(4)};
}

std::optional<ApiTokenRecord> Registry::find_api_token(const std::string& name) {
  auto s = db_->prepare("SELECT name, token_hash, role, created_at, last_used_at FROM api_tokens WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return ApiTokenRecord{s.text(0), s.text(1), s.text(2), s.int64(3), s.optional_int64(4)};
}

std::vector<ApiTokenRecord> Registry::list_api_tokens(const Page& page) {
  auto s = db_->prepare("SELECT name, token_hash, role, created_at, last_used_at FROM api_tokens WHERE name > ? ORDER BY name LIMIT ?");
  s.bind(1, page.after).bind(2, page.limit);
  std::vector<ApiTokenRecord> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.int64(3), s.optional_int64(4)});
  return out;
}

bool Registry::delete_api_token(const std::string& name) {
  db_->prepare("DELETE FROM api_tokens WHERE name = ?").bind(1, name).run();
  return db_->changes() > 0;
}

void Registry::touch_api_token(const std::string& name, int64_t at) {
  db_->prepare("UPDATE api_tokens SET last_used_at = ? WHERE name = ?").bind(1, at).bind(2, name).run();
}

}  // namespace provision::registry
