// The firmware catalog (firmware_releases).
#include "registry/database.h"
#include "registry/json_columns.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {
namespace {
constexpr const char* kColumns =
    "SELECT id, product_id, version, hardware_versions, channel, download_url, file_size, sha256, changelog, enabled, "
    "min_current_version, rollout_percent, created_at, updated_at FROM firmware_releases ";

FirmwareReleaseRecord release_row(const Statement& s) {
  FirmwareReleaseRecord r;
  r.id = s.int64(0);
  r.product_id = s.int64(1);
  r.version = s.text(2);
  r.hardware_versions = string_list_from_json(s.text(3));
  r.channel = s.text(4);
  r.download_url = s.text(5);
  r.file_size = s.int64(6);
  r.sha256 = s.text(7);
  r.changelog = s.text(8);
  r.enabled = s.int64(9) != 0;
  r.min_current_version = s.optional_text(10);
  r.rollout_percent = s.int64(11);
  r.created_at = s.int64(12);
  r.updated_at = s.int64(13);
  return r;
}
}  // namespace

int64_t Registry::insert_firmware_release(const FirmwareReleaseRecord& r) {
  const int64_t now = unix_now();
  auto s = db_->prepare(
      "INSERT INTO firmware_releases (product_id, version, hardware_versions, channel, download_url, file_size, sha256, changelog, "
      "enabled, min_current_version, rollout_percent, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
  s.bind(1, r.product_id)
      .bind(2, r.version)
      .bind(3, to_json(r.hardware_versions))
      .bind(4, r.channel)
      .bind(5, r.download_url)
      .bind(6, r.file_size)
      .bind(7, r.sha256)
      .bind(8, r.changelog)
      .bind(9, r.enabled)
      .bind(10, r.min_current_version)
      .bind(11, r.rollout_percent)
      .bind(12, r.created_at ? r.created_at : now)
      .bind(13, now);
  if (!s.step()) throw Error("inserting a firmware release returned no id");
  const int64_t id = s.int64(0);
  while (s.step()) {
  }
  return id;
}

std::optional<FirmwareReleaseRecord> Registry::find_firmware_release(int64_t id) {
  auto s = db_->prepare(std::string(kColumns) + "WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return release_row(s);
}

bool Registry::update_firmware_release(const FirmwareReleaseRecord& r) {
  db_->prepare(
         "UPDATE firmware_releases SET product_id = ?1, version = ?2, hardware_versions = ?3, channel = ?4, download_url = ?5, "
         "file_size = ?6, sha256 = ?7, changelog = ?8, enabled = ?9, min_current_version = ?10, rollout_percent = ?11, "
         "updated_at = ?12 WHERE id = ?13")
      .bind(1, r.product_id)
      .bind(2, r.version)
      .bind(3, to_json(r.hardware_versions))
      .bind(4, r.channel)
      .bind(5, r.download_url)
      .bind(6, r.file_size)
      .bind(7, r.sha256)
      .bind(8, r.changelog)
      .bind(9, r.enabled)
      .bind(10, r.min_current_version)
      .bind(11, r.rollout_percent)
      .bind(12, unix_now())
      .bind(13, r.id)
      .run();
  return db_->changes() > 0;
}

bool Registry::delete_firmware_release(int64_t id) {
  db_->prepare("DELETE FROM firmware_releases WHERE id = ?").bind(1, id).run();
  return db_->changes() > 0;
}

std::vector<FirmwareReleaseRecord> Registry::list_firmware_releases(const FirmwareFilter& f) {
  auto s = db_->prepare(std::string(kColumns) +
                        "WHERE (CAST(?1 AS BIGINT) IS NULL OR product_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR channel = ?2) "
                        "AND (CAST(?3 AS BIGINT) IS NULL OR enabled = ?3) AND id > ?4 ORDER BY id LIMIT ?5");
  s.bind(1, f.product_id).bind(2, f.channel).bind(3, f.enabled).bind(4, f.after_id).bind(5, f.limit);
  std::vector<FirmwareReleaseRecord> out;
  while (s.step()) out.push_back(release_row(s));
  return out;
}

}  // namespace provision::registry
