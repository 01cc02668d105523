// Password devices' credentials (device_credentials).
#include "registry/database.h"
#include "registry/json_columns.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {
namespace {
constexpr const char* kColumns =
    "SELECT thing_name, device_uuid, secret_hash, status, issued_at, first_connected_at, last_seen_at, created_at, policies FROM device_credentials ";

DeviceCredentialRecord credential_row(const Statement& s) {
  DeviceCredentialRecord r;
  r.thing_name = s.text(0);
  r.device_uuid = s.text(1);
  r.secret_hash = s.text(2);
  r.status = s.text(3);
  r.issued_at = s.int64(4);
  r.first_connected_at = s.optional_int64(5);
  r.last_seen_at = s.optional_int64(6);
  r.created_at = s.int64(7);
  r.policies = string_list_from_json(s.text(8));
  return r;
}
}  // namespace

std::optional<DeviceCredentialRecord> Registry::find_device_credential(const std::string& thing_name) {
  auto s = db_->prepare(std::string(kColumns) + "WHERE thing_name = ?");
  s.bind(1, thing_name);
  if (!s.step()) return std::nullopt;
  return credential_row(s);
}

std::optional<DeviceCredentialRecord> Registry::find_device_credential_by_uuid(const std::string& device_uuid) {
  auto s = db_->prepare(std::string(kColumns) + "WHERE device_uuid = ?");
  s.bind(1, device_uuid);
  if (!s.step()) return std::nullopt;
  return credential_row(s);
}

void Registry::insert_device_credential(const DeviceCredentialRecord& r) {
  db_->prepare(
         "INSERT INTO device_credentials (thing_name, device_uuid, secret_hash, status, issued_at, first_connected_at, last_seen_at, created_at, policies) "
         "VALUES (?,?,?,?,?,?,?,?,?)")
      .bind(1, r.thing_name)
      .bind(2, r.device_uuid)
      .bind(3, r.secret_hash)
      .bind(4, r.status)
      .bind(5, r.issued_at)
      .bind(6, r.first_connected_at)
      .bind(7, r.last_seen_at)
      .bind(8, r.created_at ? r.created_at : unix_now())
      .bind(9, to_json(r.policies))
      .run();
}

bool Registry::set_device_secret(const std::string& thing_name, const std::string& secret_hash, int64_t issued_at) {
  db_->prepare("UPDATE device_credentials SET secret_hash = ?1, issued_at = ?2, first_connected_at = NULL WHERE thing_name = ?3")
      .bind(1, secret_hash)
      .bind(2, issued_at)
      .bind(3, thing_name)
      .run();
  return db_->changes() > 0;
}

bool Registry::set_device_policies(const std::string& thing_name, const std::vector<std::string>& policies) {
  db_->prepare("UPDATE device_credentials SET policies = ?1 WHERE thing_name = ?2").bind(1, to_json(policies)).bind(2, thing_name).run();
  return db_->changes() > 0;
}

bool Registry::set_device_credential_status(const std::string& thing_name, const std::string& status) {
  db_->prepare("UPDATE device_credentials SET status = ?1 WHERE thing_name = ?2").bind(1, status).bind(2, thing_name).run();
  return db_->changes() > 0;
}

bool Registry::mark_device_connected(const std::string& thing_name, const std::string& secret_hash, int64_t at) {
  db_->prepare(
         "UPDATE device_credentials SET first_connected_at = ?1 WHERE thing_name = ?2 AND secret_hash = ?3 AND first_connected_at IS NULL")
      .bind(1, at)
      .bind(2, thing_name)
      .bind(3, secret_hash)
      .run();
  return db_->changes() > 0;
}

void Registry::touch_device_credential(const std::string& thing_name, int64_t at) {
  db_->prepare("UPDATE device_credentials SET last_seen_at = ?1 WHERE thing_name = ?2").bind(1, at).bind(2, thing_name).run();
}

bool Registry::delete_device_credential(const std::string& thing_name) {
  db_->prepare("DELETE FROM device_credentials WHERE thing_name = ?").bind(1, thing_name).run();
  return db_->changes() > 0;
}

}  // namespace provision::registry
