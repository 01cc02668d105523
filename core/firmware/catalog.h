#pragma once
// Which release of the firmware catalog a device should run next: the
// highest applicable one (docs/bootstrap.md, "Firmware updates").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "firmware/semver.h"
#include "registry/models.h"

namespace provision::firmware {

struct FirmwareQuery {
  int64_t product_id = 0;
  std::string hardware_version;  // empty: matches releases for every hardware version only
  std::string channel = "stable";
  SemVer current;
  std::string device_id;  // the staged rollout's key (thing name, or the MAC before there is one)
};

// A device's place in a release's staged rollout, 0..99: the same every time
// for the same device and release (SHA-256 of both). A release with
// rollout_percent P reaches the devices whose bucket is below P.
int rollout_bucket(const std::string& device_id, const registry::FirmwareReleaseRecord& release);

// Whether `release` applies to the device: enabled, its product and channel,
// its hardware version listed (or the release lists none, matched without
// regard to case), newer than the current version, the current version at
// least the release's minimum, and the device within the rollout.
bool applies(const registry::FirmwareReleaseRecord& release, const FirmwareQuery& query);

// The highest applicable release (a release whose version does not parse is
// never chosen), or nullopt: the device is up to date.
std::optional<registry::FirmwareReleaseRecord> select_release(const std::vector<registry::FirmwareReleaseRecord>& releases,
                                                              const FirmwareQuery& query);

}  // namespace provision::firmware
