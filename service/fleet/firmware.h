#pragma once
// The firmware catalog: releases admins publish, change and delete
// (devices ask it through service/provisioning/firmware.h).
#include <optional>
#include <string>
#include <vector>

#include "fleet/fleet.h"

namespace provision::service::fleet {

// Bounds of a release's fields (400 naming the field beyond them).
inline constexpr size_t kMaxHardwareVersions = 32;
inline constexpr size_t kMaxChangelog = 4096;
inline constexpr size_t kMaxDownloadUrl = 1024;

struct FirmwareRelease {
  int64_t product_id = 0;      // >= 0
  std::string version;         // semantic version
  std::vector<std::string> hardware_versions;  // empty: every hardware version
  std::string channel = "stable";
  std::string download_url;    // http(s)://
  int64_t file_size = 0;       // > 0
  std::string sha256;          // 64 hex digits
  std::string changelog;
  bool enabled = true;
  std::optional<std::string> min_current_version;  // semantic version
  int64_t rollout_percent = 100;                   // 0..100
};
// 409 when the product already has that version on that channel.
registry::FirmwareReleaseRecord publish_firmware_release(registry::Registry& registry, const Context& context,
                                                         const FirmwareRelease& release);

struct FirmwareChange {
  std::optional<std::vector<std::string>> hardware_versions;
  std::optional<std::string> download_url;
  std::optional<int64_t> file_size;
  std::optional<std::string> sha256;
  std::optional<std::string> changelog;
  std::optional<bool> enabled;
  std::optional<std::string> min_current_version;  // "" removes it
  std::optional<int64_t> rollout_percent;
};
registry::FirmwareReleaseRecord update_firmware_release(registry::Registry& registry, const Context& context, int64_t id,
                                                        const FirmwareChange& change);
void delete_firmware_release(registry::Registry& registry, const Context& context, int64_t id);

// A release id as a door receives it (a path segment): 400 naming `field` unless a positive integer.
int64_t firmware_release_id(const std::string& text, const std::string& field = "id");

}  // namespace provision::service::fleet
