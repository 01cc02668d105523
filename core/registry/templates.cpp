#include <algorithm>

#include "registry/json_columns.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {
namespace {

constexpr const char* kTemplateColumns = "name, description, enabled, default_version, created_at, updated_at, hook, assignment, reprovisioning";

TemplateRecord read_template(const Statement& s) {
  return TemplateRecord{s.text(0),  s.text(1),  s.int64(2) != 0, s.int64(3), s.int64(4), s.int64(5),
                        s.optional_text(6), s.optional_text(7), s.text(8)};
}

}  // namespace

std::optional<TemplateRecord> Registry::find_template(const std::string& name) {
  auto s = db_->prepare(std::string("SELECT ") + kTemplateColumns + " FROM templates WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_template(s);
}

int64_t Registry::add_template_version(const std::string& name, const std::string& body, const std::string& description) {
  int64_t now = unix_now();
  int64_t version = 1;
  {
    auto s = db_->prepare("SELECT coalesce(max(version), 0) + 1 FROM template_versions WHERE template_name = ?");
    s.bind(1, name);
    if (s.step()) version = s.int64(0);
  }
  db_->prepare(
         "INSERT INTO templates (name, description, enabled, default_version, created_at, updated_at) "
         "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET default_version = excluded.default_version, "
         "description = CASE WHEN excluded.description = '' THEN templates.description ELSE excluded.description END, "
         "updated_at = excluded.updated_at")
      .bind(1, name)
      .bind(2, description)
      .bind(3, version)
      .bind(4, now)
      .bind(5, now)
      .run();
  db_->prepare("INSERT INTO template_versions (template_name, version, body, created_at) VALUES (?, ?, ?, ?)")
      .bind(1, name)
      .bind(2, version)
      .bind(3, body)
      .bind(4, now)
      .run();
  return version;
}

std::optional<TemplateVersionRecord> Registry::find_template_version(const std::string& name, int64_t version) {
  auto s = db_->prepare(
      "SELECT template_name, version, body, created_at FROM template_versions WHERE template_name = ? AND version = ?");
  s.bind(1, name).bind(2, version);
  if (!s.step()) return std::nullopt;
  return TemplateVersionRecord{s.text(0), s.int64(1), s.text(2), s.int64(3)};
}

std::optional<TemplateVersionRecord> Registry::default_template_version(const std::string& name) {
  auto s = db_->prepare(
      "SELECT v.template_name, v.version, v.body, v.created_at FROM templates t "
      "JOIN template_versions v ON v.template_name = t.name AND v.version = t.default_version WHERE t.name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return TemplateVersionRecord{s.text(0), s.int64(1), s.text(2), s.int64(3)};
}

bool Registry::set_template_enabled(const std::string& name, bool enabled) {
  db_->prepare("UPDATE templates SET enabled = ?, updated_at = ? WHERE name = ?")
      .bind(1, enabled)
      .bind(2, unix_now())
      .bind(3, name)
      .run();
  return db_->changes() > 0;
}

bool Registry::update_template(const TemplateRecord& r) {
  db_->prepare(
         "UPDATE templates SET description = ?, enabled = ?, default_version = ?, updated_at = ?, hook = ?, assignment = ?, "
         "reprovisioning = ? WHERE name = ?")
      .bind(1, r.description)
      .bind(2, r.enabled)
      .bind(3, r.default_version)
      .bind(4, unix_now())
      .bind(5, r.hook)
      .bind(6, r.assignment)
      .bind(7, r.reprovisioning)
      .bind(8, r.name)
      .run();
  return db_->changes() > 0;
}

std::vector<TemplateRecord> Registry::list_templates(const Page& page, std::optional<bool> enabled) {
  auto s = db_->prepare(std::string("SELECT ") + kTemplateColumns +
                        " FROM templates WHERE name > ?1 AND (CAST(?2 AS BIGINT) IS NULL OR enabled = ?2) ORDER BY name LIMIT ?3");
  s.bind(1, page.after).bind(2, enabled).bind(3, page.limit);
  std::vector<TemplateRecord> out;
  while (s.step()) out.push_back(read_template(s));
  return out;
}

std::vector<TemplateVersionRecord> Registry::template_versions(const std::string& name) {
  auto s = db_->prepare("SELECT template_name, version, created_at FROM template_versions WHERE template_name = ? ORDER BY version");
  s.bind(1, name);
  std::vector<TemplateVersionRecord> out;
  while (s.step()) out.push_back({s.text(0), s.int64(1), "", s.int64(2)});
  return out;
}

bool Registry::delete_template(const std::string& name) {
  db_->prepare("DELETE FROM templates WHERE name = ?").bind(1, name).run();
  return db_->changes() > 0;
}

bool Registry::delete_template_version(const std::string& name, int64_t version) {
  db_->prepare("DELETE FROM template_versions WHERE template_name = ? AND version = ?").bind(1, name).bind(2, version).run();
  return db_->changes() > 0;
}

std::vector<TemplateRecord> Registry::list_templates() {
  auto s = db_->prepare(std::string("SELECT ") + kTemplateColumns + " FROM templates ORDER BY name");
  std::vector<TemplateRecord> out;
  while (s.step()) out.push_back(read_template(s));
  return out;
}

// Claims, CAs and enrollments that name a template (the lists are JSON
// columns: counted here rather than in either database's JSON dialect).
int64_t Registry::count_template_enrollments(const std::string& template_name) {
  auto s = db_->prepare("SELECT count(*) FROM enrollments WHERE template_name = ?");
  s.bind(1, template_name);
  return s.step() ? s.int64(0) : 0;
}

int64_t Registry::count_template_users(const std::string& template_name) {
  auto names = [&](const std::vector<std::string>& list) { return std::count(list.begin(), list.end(), template_name) > 0; };
  int64_t users = 0;
  {
    auto s = db_->prepare("SELECT allowed_templates FROM claim_certificates");
    while (s.step()) users += names(string_list_from_json(s.text(0)));
  }
  {
    auto s = db_->prepare("SELECT allowed_templates FROM cas");
    while (s.step()) users += names(string_list_from_json(s.text(0)));
  }
  auto s = db_->prepare("SELECT count(*) FROM enrollments WHERE template_name = ?");
  s.bind(1, template_name);
  return users + (s.step() ? s.int64(0) : 0);
}

}  // namespace provision::registry
