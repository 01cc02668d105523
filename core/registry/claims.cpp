// Claim certificates (claim_certificates).
#include "registry/json_columns.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {

void Registry::put_claim_certificate(const ClaimCertificateRecord& r) {
  db_->prepare(
         "INSERT INTO claim_certificates (id, pem, description, status, allowed_templates, expires_at, created_at) "
         "VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET description = excluded.description, "
         "status = excluded.status, allowed_templates = excluded.allowed_templates, expires_at = excluded.expires_at")
      .bind(1, r.id)
      .bind(2, r.pem)
      .bind(3, r.description)
      .bind(4, r.status)
      .bind(5, to_json(r.allowed_templates))
      .bind(6, r.expires_at)
      .bind(7, r.created_at ? r.created_at : unix_now())
      .run();
}

std::optional<ClaimCertificateRecord> Registry::find_claim_certificate(const std::string& id) {
  auto s = db_->prepare(
      "SELECT id, pem, description, status, allowed_templates, expires_at, created_at FROM claim_certificates WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  ClaimCertificateRecord r;
  r.id = s.text(0);
  r.pem = s.text(1);
  r.description = s.text(2);
  r.status = s.text(3);
  r.allowed_templates = string_list_from_json(s.text(4));
  r.expires_at = s.optional_int64(5);
  r.created_at = s.int64(6);
  return r;
}

bool Registry::set_claim_status(const std::string& id, const std::string& status) {
  db_->prepare("UPDATE claim_certificates SET status = ? WHERE id = ?").bind(1, status).bind(2, id).run();
  return db_->changes() > 0;
}

bool Registry::delete_claim_certificate(const std::string& id) {
  db_->prepare("DELETE FROM claim_certificates WHERE id = ?").bind(1, id).run();
  return db_->changes() > 0;
}

std::vector<ClaimCertificateRecord> Registry::list_claim_certificates(const Page& page,
                                                                      const std::optional<std::string>& status) {
  auto s = db_->prepare(
      "SELECT id FROM claim_certificates WHERE id > ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) ORDER BY id LIMIT ?3");
  s.bind(1, page.after).bind(2, status).bind(3, page.limit);
  std::vector<std::string> ids;
  while (s.step()) ids.push_back(s.text(0));
  std::vector<ClaimCertificateRecord> out;
  for (const auto& id : ids)
    if (auto claim = find_claim_certificate(id)) out.push_back(std::move(*claim));
  return out;
}

}  // namespace provision::registry
