#include "firmware/catalog.h"

#include <algorithm>

#include "util/encoding.h"

namespace provision::firmware {
namespace {
bool same_ignoring_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

int rollout_bucket(const std::string& device_id, const registry::FirmwareReleaseRecord& release) {
  const std::string digest = sha256_hex(device_id + "\n" + std::to_string(release.product_id) + "\n" + release.channel + "\n" +
                                        release.version);
  const uint32_t value = static_cast<uint32_t>(std::stoul(digest.substr(0, 8), nullptr, 16));
  return static_cast<int>(value % 100);
}

bool applies(const registry::FirmwareReleaseRecord& release, const FirmwareQuery& query) {
  if (!release.enabled || release.product_id != query.product_id || release.channel != query.channel) return false;
  if (!release.hardware_versions.empty() &&
      std::none_of(release.hardware_versions.begin(), release.hardware_versions.end(),
                   [&](const std::string& h) { return same_ignoring_case(h, query.hardware_version); }))
    return false;
  auto version = parse_semver(release.version);
  if (!version || compare(*version, query.current) <= 0) return false;
  if (release.min_current_version) {
    auto minimum = parse_semver(*release.min_current_version);
    if (!minimum || compare(query.current, *minimum) < 0) return false;
  }
  return rollout_bucket(query.device_id, release) < release.rollout_percent;
}

std::optional<registry::FirmwareReleaseRecord> select_release(const std::vector<registry::FirmwareReleaseRecord>& releases,
                                                              const FirmwareQuery& query) {
  const registry::FirmwareReleaseRecord* best = nullptr;
  std::optional<SemVer> best_version;
  for (const auto& r : releases) {
    if (!applies(r, query)) continue;
    auto v = parse_semver(r.version);
    if (!best || compare(*v, *best_version) > 0) {
      best = &r;
      best_version = v;
    }
  }
  if (!best) return std::nullopt;
  return *best;
}

}  // namespace provision::firmware
