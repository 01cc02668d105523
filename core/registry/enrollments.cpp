// The factory's enrollments (enrollments).
#include "registry/json_columns.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {
namespace {

constexpr const char* kEnrollmentColumns =
    "registration_id, kind, status, template_name, attributes, configuration, broker, thing_name, used_at, created_at, "
    "activated_at, created_by, reprovisioning, bootstrap_key";

EnrollmentRecord read_enrollment(const Statement& s) {
  EnrollmentRecord r;
  r.registration_id = s.text(0);
  r.kind = s.text(1);
  r.status = s.text(2);
  r.template_name = s.optional_text(3);
  r.attributes = string_map_from_json(s.text(4));
  r.configuration = s.text(5);
  r.broker = s.optional_text(6);
  r.thing_name = s.optional_text(7);
  r.used_at = s.optional_int64(8);
  r.created_at = s.int64(9);
  r.activated_at = s.optional_int64(10);
  r.created_by = s.text(11);
  r.reprovisioning = s.text(12);
  r.bootstrap_key = s.optional_text(13);
  return r;
}

}  // namespace

std::optional<EnrollmentRecord> Registry::find_enrollment(const std::string& registration_id) {
  auto s = db_->prepare(std::string("SELECT ") + kEnrollmentColumns + " FROM enrollments WHERE registration_id = ?");
  s.bind(1, registration_id);
  if (!s.step()) return std::nullopt;
  return read_enrollment(s);
}

bool Registry::upsert_enrollment(const EnrollmentRecord& r) {
  db_->prepare(
         "INSERT INTO enrollments (registration_id, kind, status, template_name, attributes, configuration, broker, "
         "created_at, created_by, reprovisioning, bootstrap_key) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(registration_id) DO NOTHING")
      .bind(1, r.registration_id)
      .bind(2, r.kind)
      .bind(3, r.status)
      .bind(4, r.template_name)
      .bind(5, to_json(r.attributes))
      .bind(6, r.configuration)
      .bind(7, r.broker)
      .bind(8, r.created_at ? r.created_at : unix_now())
      .bind(9, r.created_by)
      .bind(10, r.reprovisioning)
      .bind(11, r.bootstrap_key)
      .run();
  return db_->changes() > 0;
}

void Registry::update_enrollment(const EnrollmentRecord& r) {
  db_->prepare(
         "UPDATE enrollments SET kind = ?, status = ?, template_name = ?, attributes = ?, configuration = ?, broker = ?, "
         "thing_name = ?, used_at = ?, activated_at = ?, reprovisioning = ?, bootstrap_key = ? WHERE registration_id = ?")
      .bind(1, r.kind)
      .bind(2, r.status)
      .bind(3, r.template_name)
      .bind(4, to_json(r.attributes))
      .bind(5, r.configuration)
      .bind(6, r.broker)
      .bind(7, r.thing_name)
      .bind(8, r.used_at)
      .bind(9, r.activated_at)
      .bind(10, r.reprovisioning)
      .bind(11, r.bootstrap_key)
      .bind(12, r.registration_id)
      .run();
}

bool Registry::use_enrollment(const std::string& registration_id, const std::string& thing_name, int64_t at) {
  db_->prepare(
         "UPDATE enrollments SET used_at = ?1, thing_name = ?2 WHERE registration_id = ?3 "
         "AND (used_at IS NULL OR reprovisioning = 'replace')")
      .bind(1, at)
      .bind(2, thing_name)
      .bind(3, registration_id)
      .run();
  return db_->changes() > 0;
}

bool Registry::delete_enrollment(const std::string& registration_id) {
  db_->prepare("DELETE FROM enrollments WHERE registration_id = ?").bind(1, registration_id).run();
  return db_->changes() > 0;
}

std::vector<EnrollmentRecord> Registry::list_enrollments(const Page& page, const std::optional<std::string>& status) {
  auto s = db_->prepare(std::string("SELECT ") + kEnrollmentColumns +
                        " FROM enrollments WHERE registration_id > ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) "
                        "ORDER BY registration_id LIMIT ?3");
  s.bind(1, page.after).bind(2, status).bind(3, page.limit);
  std::vector<EnrollmentRecord> out;
  while (s.step()) out.push_back(read_enrollment(s));
  return out;
}

std::map<std::string, int64_t> Registry::count_enrollments_by_status() {
  std::map<std::string, int64_t> counts;
  auto s = db_->prepare("SELECT status, count(*) FROM enrollments GROUP BY status");
  while (s.step()) counts[s.text(0)] = s.int64(1);
  return counts;
}

}  // namespace provision::registry
