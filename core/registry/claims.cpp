#include "registry/json_columns.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {
namespace {

CaRecord read_ca(const Statement& s) {
  CaRecord r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.role = s.text(2);
  r.pem = s.text(3);
  r.status = s.text(4);
  r.allowed_templates = string_list_from_json(s.text(5));
  r.created_at = s.int64(6);
  r.registration_id_field = s.text(7);
  return r;
}

constexpr const char* kCaColumns = "id, name, role, pem, status, allowed_templates, created_at, registration_id_field";

}  // namespace

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
      "SELECT id FROM claim_certificates WHERE id > ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id LIMIT ?3");
  s.bind(1, page.after).bind(2, status).bind(3, page.limit);
  std::vector<std::string> ids;
  while (s.step()) ids.push_back(s.text(0));
  std::vector<ClaimCertificateRecord> out;
  for (const auto& id : ids)
    if (auto claim = find_claim_certificate(id)) out.push_back(std::move(*claim));
  return out;
}

bool Registry::delete_ca(const std::string& id) {
  db_->prepare("DELETE FROM cas WHERE id = ?").bind(1, id).run();
  return db_->changes() > 0;
}

std::vector<CaRecord> Registry::list_cas(const Page& page, const std::optional<std::string>& role) {
  auto s = db_->prepare(std::string("SELECT ") + kCaColumns +
                        " FROM cas WHERE id > ?1 AND (?2 IS NULL OR role = ?2) ORDER BY id LIMIT ?3");
  s.bind(1, page.after).bind(2, role).bind(3, page.limit);
  std::vector<CaRecord> out;
  while (s.step()) out.push_back(read_ca(s));
  return out;
}

int64_t Registry::count_template_users(const std::string& template_name) {
  auto s = db_->prepare(
      "SELECT (SELECT count(*) FROM claim_certificates c, json_each(c.allowed_templates) t WHERE t.value = ?1) + "
      "(SELECT count(*) FROM cas a, json_each(a.allowed_templates) t WHERE t.value = ?1) + "
      "(SELECT count(*) FROM enrollments WHERE template_name = ?1)");
  s.bind(1, template_name);
  return s.step() ? s.int64(0) : 0;
}

void Registry::put_ca(const CaRecord& r) {
  db_->prepare(
         "INSERT INTO cas (id, name, role, pem, status, allowed_templates, created_at, registration_id_field) "
         "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, "
         "status = excluded.status, allowed_templates = excluded.allowed_templates, "
         "registration_id_field = excluded.registration_id_field")
      .bind(1, r.id)
      .bind(2, r.name)
      .bind(3, r.role)
      .bind(4, r.pem)
      .bind(5, r.status)
      .bind(6, to_json(r.allowed_templates))
      .bind(7, r.created_at ? r.created_at : unix_now())
      .bind(8, r.registration_id_field)
      .run();
}

std::optional<CaRecord> Registry::find_ca(const std::string& id) {
  auto s = db_->prepare(std::string("SELECT ") + kCaColumns + " FROM cas WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_ca(s);
}

std::optional<CaRecord> Registry::find_ca_by_role(const std::string& role) {
  auto s = db_->prepare(std::string("SELECT ") + kCaColumns + " FROM cas WHERE role = ? AND status = 'ACTIVE' ORDER BY created_at LIMIT 1");
  s.bind(1, role);
  if (!s.step()) return std::nullopt;
  return read_ca(s);
}

std::vector<CaRecord> Registry::list_cas() {
  auto s = db_->prepare(std::string("SELECT ") + kCaColumns + " FROM cas ORDER BY created_at, name");
  std::vector<CaRecord> out;
  while (s.step()) out.push_back(read_ca(s));
  return out;
}

void Registry::put_service_identity(const ServiceIdentityRecord& r) {
  db_->prepare(
         "INSERT INTO service_identities (certificate_id, name, status, created_at, kind) VALUES (?,?,?,?,?) "
         "ON CONFLICT(certificate_id) DO UPDATE SET name = excluded.name, status = excluded.status, kind = excluded.kind")
      .bind(1, r.certificate_id)
      .bind(2, r.name)
      .bind(3, r.status)
      .bind(4, r.created_at ? r.created_at : unix_now())
      .bind(5, r.kind)
      .run();
}

std::optional<ServiceIdentityRecord> Registry::find_service_identity(const std::string& certificate_id) {
  auto s = db_->prepare("SELECT certificate_id, name, status, created_at, kind FROM service_identities WHERE certificate_id = ?");
  s.bind(1, certificate_id);
  if (!s.step()) return std::nullopt;
  return ServiceIdentityRecord{s.text(0), s.text(1), s.text(2), s.int64(3), s.text(4)};
}

}  // namespace provision::registry
