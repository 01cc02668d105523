// CAs (cas): claim, manufacturer, fleet and root CAs.
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

bool Registry::delete_ca(const std::string& id) {
  db_->prepare("DELETE FROM cas WHERE id = ?").bind(1, id).run();
  return db_->changes() > 0;
}

std::vector<CaRecord> Registry::list_cas(const Page& page, const std::optional<std::string>& role) {
  auto s = db_->prepare(std::string("SELECT ") + kCaColumns +
                        " FROM cas WHERE id > ?1 AND (CAST(?2 AS TEXT) IS NULL OR role = ?2) ORDER BY id LIMIT ?3");
  s.bind(1, page.after).bind(2, role).bind(3, page.limit);
  std::vector<CaRecord> out;
  while (s.step()) out.push_back(read_ca(s));
  return out;
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

}  // namespace provision::registry
