#include "fleet/firmware.h"

#include <cctype>

#include "firmware/semver.h"
#include "util/text.h"

namespace provision::service::fleet {
namespace {

void check_version(const std::string& field, const std::string& version) {
  if (!firmware::parse_semver(version)) invalid_field(field, "must be a semantic version (MAJOR.MINOR.PATCH[-pre][+build])");
}

void check_hardware(const std::vector<std::string>& hardware) {
  if (hardware.size() > kMaxHardwareVersions)
    invalid_field("hardwareVersions", "at most " + std::to_string(kMaxHardwareVersions) + " entries");
  for (const auto& h : hardware)
    if (h.empty() || h.size() > 64) invalid_field("hardwareVersions", "each entry must be 1 to 64 characters");
}

void check_url(const std::string& url) {
  if (!(url.starts_with("https://") || url.starts_with("http://")) || url.size() > kMaxDownloadUrl)
    invalid_field("downloadUrl", "must be an http:// or https:// URL of at most " + std::to_string(kMaxDownloadUrl) + " characters");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) invalid_field("downloadUrl", "must not contain spaces or control characters");
}

std::string checked_sha256(std::string hex) {
  if (hex.starts_with("sha256:")) hex = hex.substr(7);
  if (hex.size() != 64) invalid_field("sha256", "must be 64 hex digits");
  for (auto& c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) invalid_field("sha256", "must be 64 hex digits");
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return hex;
}

void check_size(int64_t size) {
  if (size <= 0) invalid_field("fileSize", "must be more than 0");
}

void check_rollout(int64_t percent) {
  if (percent < 0 || percent > 100) invalid_field("rolloutPercent", "must be between 0 and 100");
}

void check_changelog(const std::string& changelog) {
  if (changelog.size() > kMaxChangelog) invalid_field("changelog", "at most " + std::to_string(kMaxChangelog) + " bytes");
}

void check_channel(const std::string& channel) {
  bool ok = !channel.empty() && channel.size() <= 32;
  for (char c : channel) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok) invalid_field("channel", "must be 1 to 32 letters, digits, '-', '_' or '.'");
}

registry::FirmwareReleaseRecord existing(registry::Registry& registry, int64_t id) {
  auto r = registry.find_firmware_release(id);
  if (!r) not_found("firmware release " + std::to_string(id));
  return *r;
}

std::string subject(int64_t id) { return "firmware:" + std::to_string(id); }

}  // namespace

int64_t firmware_release_id(const std::string& text, const std::string& field) {
  if (text.empty() || text.size() > 18) invalid_field(field, "must be a release id (a positive integer)");
  for (char c : text)
    if (c < '0' || c > '9') invalid_field(field, "must be a release id (a positive integer)");
  const int64_t id = std::stoll(text);
  if (id <= 0) invalid_field(field, "must be a release id (a positive integer)");
  return id;
}

registry::FirmwareReleaseRecord publish_firmware_release(registry::Registry& registry, const Context& context,
                                                         const FirmwareRelease& request) {
  if (request.product_id < 0) invalid_field("productId", "must be 0 or more");
  check_version("version", request.version);
  if (request.min_current_version) check_version("minCurrentVersion", *request.min_current_version);
  check_hardware(request.hardware_versions);
  check_channel(request.channel);
  check_url(request.download_url);
  check_size(request.file_size);
  check_rollout(request.rollout_percent);
  check_changelog(request.changelog);
  registry::FirmwareReleaseRecord r;
  r.product_id = request.product_id;
  r.version = request.version;
  r.hardware_versions = request.hardware_versions;
  r.channel = request.channel;
  r.download_url = request.download_url;
  r.file_size = request.file_size;
  r.sha256 = checked_sha256(request.sha256);
  r.changelog = request.changelog;
  r.enabled = request.enabled;
  r.min_current_version = request.min_current_version;
  r.rollout_percent = request.rollout_percent;
  auto tx = registry.begin();
  registry::FirmwareFilter same;
  same.product_id = r.product_id;
  same.channel = r.channel;
  same.limit = 100000;
  for (const auto& other : registry.list_firmware_releases(same))
    if (other.version == r.version)
      conflict("product " + std::to_string(r.product_id) + " has version " + text::quote(r.version) + " on channel " +
                   text::quote(r.channel) + " already (release " + std::to_string(other.id) + ")",
               "version");
  const int64_t id = registry.insert_firmware_release(r);
  audit(registry, context.actor, action::kPublishFirmwareRelease, subject(id),
        detail({{"productId", std::to_string(r.product_id)}, {"version", r.version}, {"channel", r.channel},
                {"rolloutPercent", std::to_string(r.rollout_percent)}}));
  tx.commit();
  return existing(registry, id);
}

registry::FirmwareReleaseRecord update_firmware_release(registry::Registry& registry, const Context& context, int64_t id,
                                                        const FirmwareChange& change) {
  if (change.hardware_versions) check_hardware(*change.hardware_versions);
  if (change.download_url) check_url(*change.download_url);
  if (change.file_size) check_size(*change.file_size);
  if (change.rollout_percent) check_rollout(*change.rollout_percent);
  if (change.changelog) check_changelog(*change.changelog);
  if (change.min_current_version && !change.min_current_version->empty())
    check_version("minCurrentVersion", *change.min_current_version);
  std::optional<std::string> sha256;
  if (change.sha256) sha256 = checked_sha256(*change.sha256);
  auto tx = registry.begin();
  auto r = existing(registry, id);
  std::vector<std::pair<std::string, std::string>> fields;
  if (change.hardware_versions) {
    r.hardware_versions = *change.hardware_versions;
    fields.emplace_back("hardwareVersions", std::to_string(r.hardware_versions.size()) + " entries");
  }
  if (change.download_url) fields.emplace_back("downloadUrl", r.download_url = *change.download_url);
  if (change.file_size) fields.emplace_back("fileSize", std::to_string(r.file_size = *change.file_size));
  if (sha256) fields.emplace_back("sha256", r.sha256 = *sha256);
  if (change.changelog) {
    r.changelog = *change.changelog;
    fields.emplace_back("changelog", "changed");
  }
  if (change.enabled) fields.emplace_back("enabled", (r.enabled = *change.enabled) ? "true" : "false");
  if (change.min_current_version) {
    if (change.min_current_version->empty()) r.min_current_version.reset();
    else r.min_current_version = *change.min_current_version;
    fields.emplace_back("minCurrentVersion", *change.min_current_version);
  }
  if (change.rollout_percent) fields.emplace_back("rolloutPercent", std::to_string(r.rollout_percent = *change.rollout_percent));
  registry.update_firmware_release(r);
  audit(registry, context.actor, action::kUpdateFirmwareRelease, subject(id), detail(fields));
  tx.commit();
  return existing(registry, id);
}

void delete_firmware_release(registry::Registry& registry, const Context& context, int64_t id) {
  auto tx = registry.begin();
  auto r = existing(registry, id);
  registry.delete_firmware_release(id);
  audit(registry, context.actor, action::kDeleteFirmwareRelease, subject(id),
        detail({{"productId", std::to_string(r.product_id)}, {"version", r.version}, {"channel", r.channel}}));
  tx.commit();
}

}  // namespace provision::service::fleet
