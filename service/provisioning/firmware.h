#pragma once
// A device asks which firmware it should run next: the same answer through
// every door (MQTT $provision/firmware/check/<fmt>, the bootstrap listener's
// POST /firmware/check). The fields are the bootstrap API's contract
// (docs/bootstrap.md, docs/protocol.md).
#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "registry/registry.h"

namespace provision::service {

struct FirmwareCheck {
  std::optional<int64_t> product_id;            // default: the thing's attribute product_id
  std::optional<std::string> hardware_version;  // default: the thing's attribute hardware_version
  std::string channel = "stable";
  std::string current_version;  // a semantic version (400 InvalidField current_version otherwise)
  std::string device_id;        // the thing name: the staged rollout's key, and whose attributes give the defaults
};

struct FirmwareAnswer {
  std::string current_version;
  std::optional<registry::FirmwareReleaseRecord> release;  // the update, if there is one
};

// The request's fields (decoded from its payload) into a FirmwareCheck;
// throws RequestError 400 naming the field.
FirmwareCheck firmware_check_from(const rapidjson::Value& body, const std::string& device_id);
// Reads the catalog (no write). Throws RequestError 400 InvalidField
// (current_version, product_id) and RegistryError.
FirmwareAnswer check_firmware(registry::Registry& registry, const FirmwareCheck& check);

// {update_available, current_version, latest_version, download_url, file_size, checksum, changelog, message}
rapidjson::Document firmware_answer_json(const FirmwareAnswer& answer);
// The firmware_update object of /device/info:
// {available, version, download_url, file_size, checksum, changelog}
rapidjson::Value firmware_update_json(const FirmwareAnswer& answer, rapidjson::Document::AllocatorType& a);

}  // namespace provision::service
