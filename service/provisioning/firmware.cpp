#include "provisioning/firmware.h"

#include "firmware/catalog.h"
#include "firmware/semver.h"
#include "util/error.h"
#include "util/json.h"

namespace provision::service {

FirmwareCheck firmware_check_from(const rapidjson::Value& body, const std::string& device_id) {
  FirmwareCheck check;
  check.current_version = json::string_member(body, "current_version").value_or("");
  check.product_id = json::int_member(body, "product_id");
  check.hardware_version = json::string_member(body, "hardware_version");
  if (auto channel = json::string_member(body, "channel")) check.channel = *channel;
  check.device_id = device_id;
  return check;
}

FirmwareAnswer check_firmware(registry::Registry& registry, const FirmwareCheck& check) {
  auto current = firmware::parse_semver(check.current_version);
  if (!current)
    throw RequestError(400, "InvalidField", "current_version: must be a semantic version (MAJOR.MINOR.PATCH)", "current_version");
  firmware::FirmwareQuery query;
  query.current = *current;
  query.channel = check.channel;
  query.device_id = check.device_id;
  std::optional<int64_t> product = check.product_id;
  std::optional<std::string> hardware = check.hardware_version;
  if ((!product || !hardware) && !check.device_id.empty()) {
    if (auto thing = registry.find_thing(check.device_id)) {
      if (!hardware)
        if (auto it = thing->attributes.find("hardware_version"); it != thing->attributes.end()) hardware = it->second;
      if (!product)
        if (auto it = thing->attributes.find("product_id"); it != thing->attributes.end()) {
          try {
            size_t used = 0;
            int64_t value = std::stoll(it->second, &used);
            if (used == it->second.size() && value >= 0) product = value;
          } catch (const std::exception&) {
          }
        }
    }
  }
  if (!product) throw RequestError(400, "InvalidField", "product_id: is required (the thing has no product_id attribute)", "product_id");
  query.product_id = *product;
  query.hardware_version = hardware.value_or("");
  registry::FirmwareFilter filter;
  filter.product_id = *product;
  filter.channel = check.channel;
  filter.enabled = true;
  filter.limit = 10000;  // a product's releases on one channel
  FirmwareAnswer answer;
  answer.current_version = check.current_version;
  answer.release = firmware::select_release(registry.list_firmware_releases(filter), query);
  return answer;
}

rapidjson::Document firmware_answer_json(const FirmwareAnswer& answer) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  const auto& r = answer.release;
  doc.AddMember("update_available", r.has_value(), a);
  doc.AddMember("current_version", json::string_value(answer.current_version, a), a);
  doc.AddMember("latest_version", json::string_value(r ? r->version : answer.current_version, a), a);
  if (r) {
    doc.AddMember("download_url", json::string_value(r->download_url, a), a);
    doc.AddMember("file_size", r->file_size, a);
    doc.AddMember("checksum", json::string_value("sha256:" + r->sha256, a), a);
    doc.AddMember("changelog", json::string_value(r->changelog, a), a);
    doc.AddMember("message", "a firmware update is available", a);
  } else {
    doc.AddMember("download_url", rapidjson::Value(rapidjson::kNullType), a);
    doc.AddMember("file_size", rapidjson::Value(rapidjson::kNullType), a);
    doc.AddMember("checksum", rapidjson::Value(rapidjson::kNullType), a);
    doc.AddMember("changelog", rapidjson::Value(rapidjson::kNullType), a);
    doc.AddMember("message", "firmware is up to date", a);
  }
  return doc;
}

rapidjson::Value firmware_update_json(const FirmwareAnswer& answer, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value v(rapidjson::kObjectType);
  const auto& r = answer.release;
  v.AddMember("available", r.has_value(), a);
  if (r) {
    v.AddMember("version", json::string_value(r->version, a), a);
    v.AddMember("download_url", json::string_value(r->download_url, a), a);
    v.AddMember("file_size", r->file_size, a);
    v.AddMember("checksum", json::string_value("sha256:" + r->sha256, a), a);
    v.AddMember("changelog", json::string_value(r->changelog, a), a);
  } else {
    v.AddMember("version", rapidjson::Value(rapidjson::kNullType), a);
    v.AddMember("download_url", rapidjson::Value(rapidjson::kNullType), a);
    v.AddMember("file_size", rapidjson::Value(rapidjson::kNullType), a);
    v.AddMember("checksum", rapidjson::Value(rapidjson::kNullType), a);
    v.AddMember("changelog", rapidjson::Value(rapidjson::kNullType), a);
  }
  return v;
}

}  // namespace provision::service
