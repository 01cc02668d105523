// Service identities (service_identities): workers and factory servers.
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {

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

std::vector<ServiceIdentityRecord> Registry::list_service_identities(const Page& page) {
  auto s = db_->prepare(
      "SELECT certificate_id, name, status, created_at, kind FROM service_identities WHERE certificate_id > ? "
      "ORDER BY certificate_id LIMIT ?");
  s.bind(1, page.after).bind(2, page.limit);
  std::vector<ServiceIdentityRecord> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.int64(3), s.text(4)});
  return out;
}

bool Registry::delete_service_identity(const std::string& certificate_id) {
  db_->prepare("DELETE FROM service_identities WHERE certificate_id = ?").bind(1, certificate_id).run();
  return db_->changes() > 0;
}

}  // namespace provision::registry
