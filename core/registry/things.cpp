#include "registry/json_columns.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {

namespace {
ThingRecord read_thing(const Statement& s) {
  ThingRecord r;
  r.name = s.text(0);
  r.thing_type = s.optional_text(1);
  r.attributes = string_map_from_json(s.text(2));
  r.version = s.int64(3);
  r.created_at = s.int64(4);
  r.updated_at = s.int64(5);
  return r;
}
}  // namespace

std::optional<ThingRecord> Registry::find_thing(const std::string& name) {
  auto s = db_->prepare("SELECT name, thing_type, attributes, version, created_at, updated_at FROM things WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_thing(s);
}

std::vector<ThingRecord> Registry::list_things(const Page& page, const std::string& prefix) {
  // A prefix range on the primary key: names >= prefix and < prefix + U+FFFF.
  auto s = db_->prepare(
      "SELECT name, thing_type, attributes, version, created_at, updated_at FROM things "
      "WHERE name > ?1 AND name >= ?2 AND name < ?4 ORDER BY name LIMIT ?3");
  // Names compare byte by byte (PostgreSQL registries use the C collation):
  // every name starting with `prefix` is below prefix + U+10FFFF.
  s.bind(1, page.after).bind(2, prefix).bind(3, page.limit).bind(4, prefix + "\xF4\x8F\xBF\xBF");
  std::vector<ThingRecord> out;
  while (s.step()) out.push_back(read_thing(s));
  return out;
}

void Registry::lock_thing(const std::string& name) {
  if (!shared()) return;
  auto s = db_->prepare("SELECT pg_advisory_xact_lock(hashtext(?))");
  s.bind(1, "thing:" + name);
  s.step();
}

void Registry::insert_thing(const ThingRecord& r) {
  int64_t now = unix_now();
  db_->prepare("INSERT INTO things (name, thing_type, attributes, version, created_at, updated_at) VALUES (?,?,?,1,?,?)")
      .bind(1, r.name)
      .bind(2, r.thing_type)
      .bind(3, to_json(r.attributes))
      .bind(4, now)
      .bind(5, now)
      .run();
}

void Registry::update_thing(const ThingRecord& r) {
  db_->prepare("UPDATE things SET thing_type = ?, attributes = ?, version = version + 1, updated_at = ? WHERE name = ?")
      .bind(1, r.thing_type)
      .bind(2, to_json(r.attributes))
      .bind(3, unix_now())
      .bind(4, r.name)
      .run();
}

bool Registry::delete_thing(const std::string& name) {
  db_->prepare("DELETE FROM things WHERE name = ?").bind(1, name).run();
  return db_->changes() > 0;
}

int64_t Registry::count_things() {
  auto s = db_->prepare("SELECT count(*) FROM things");
  return s.step() ? s.int64(0) : 0;
}

std::vector<std::string> Registry::groups_of_thing(const std::string& name) {
  auto s = db_->prepare("SELECT group_name FROM thing_group_members WHERE thing_name = ? ORDER BY group_name");
  s.bind(1, name);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void Registry::set_thing_groups(const std::string& name, const std::vector<std::string>& groups) {
  db_->prepare("DELETE FROM thing_group_members WHERE thing_name = ?").bind(1, name).run();
  for (const auto& group : groups)
    db_->prepare("INSERT INTO thing_group_members (thing_name, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(1, name).bind(2, group).run();
}

}  // namespace provision::registry
