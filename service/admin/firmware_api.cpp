// /v1/firmware: the firmware catalog (releases devices are offered).
#include "admin/api.h"
#include "fleet/firmware.h"
#include "util/json.h"

namespace provision::service::admin {
namespace {

rapidjson::Document release_json(const registry::FirmwareReleaseRecord& r) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("id", r.id, a);
  doc.AddMember("productId", r.product_id, a);
  doc.AddMember("version", json::string_value(r.version, a), a);
  doc.AddMember("hardwareVersions", string_list(r.hardware_versions, a), a);
  doc.AddMember("channel", json::string_value(r.channel, a), a);
  doc.AddMember("downloadUrl", json::string_value(r.download_url, a), a);
  doc.AddMember("fileSize", r.file_size, a);
  doc.AddMember("sha256", json::string_value(r.sha256, a), a);
  doc.AddMember("changelog", json::string_value(r.changelog, a), a);
  doc.AddMember("enabled", r.enabled, a);
  if (r.min_current_version) doc.AddMember("minCurrentVersion", json::string_value(*r.min_current_version, a), a);
  doc.AddMember("rolloutPercent", r.rollout_percent, a);
  doc.AddMember("createdAt", r.created_at, a);
  doc.AddMember("updatedAt", r.updated_at, a);
  return doc;
}

int64_t id_of(Call& call) { return fleet::firmware_release_id(call.path["id"]); }

Response list(Call& call) {
  auto page = call.page();
  registry::FirmwareFilter filter;
  filter.product_id = call.query_int("productId");
  filter.channel = call.query_string("channel");
  if (auto enabled = call.query_string("enabled")) {
    if (*enabled != "true" && *enabled != "false")
      throw ApiError(400, "InvalidField", "enabled: must be true or false", "enabled");
    filter.enabled = *enabled == "true";
  }
  if (!page.after.empty()) filter.after_id = fleet::firmware_release_id(page.after, "after");
  filter.limit = page.limit;
  return page_of(call.registry.list_firmware_releases(filter), page, release_json,
                 [](const auto& r) { return std::to_string(r.id); });
}

Response publish(Call& call) {
  const auto& body = call.body_as("FirmwareReleaseCreate");
  fleet::FirmwareRelease r;
  r.product_id = *json::int_member(body, "productId");
  r.version = *json::string_member(body, "version");
  if (const auto* hardware = json::member(body, "hardwareVersions")) r.hardware_versions = to_string_list(*hardware);
  r.channel = json::string_member(body, "channel").value_or("stable");
  r.download_url = *json::string_member(body, "downloadUrl");
  r.file_size = *json::int_member(body, "fileSize");
  r.sha256 = *json::string_member(body, "sha256");
  r.changelog = json::string_member(body, "changelog").value_or("");
  r.enabled = json::bool_member(body, "enabled").value_or(true);
  r.min_current_version = json::string_member(body, "minCurrentVersion");
  r.rollout_percent = json::int_member(body, "rolloutPercent").value_or(100);
  return json_response(201, release_json(fleet::publish_firmware_release(call.registry, call.fleet(), r)));
}

Response get(Call& call) {
  auto r = call.registry.find_firmware_release(id_of(call));
  if (!r) not_found("firmware release " + call.path["id"]);
  return json_response(200, release_json(*r));
}

Response update(Call& call) {
  const int64_t id = id_of(call);
  const auto& body = call.body_as("FirmwareReleaseUpdate");
  fleet::FirmwareChange change;
  if (const auto* hardware = json::member(body, "hardwareVersions")) change.hardware_versions = to_string_list(*hardware);
  change.download_url = json::string_member(body, "downloadUrl");
  change.file_size = json::int_member(body, "fileSize");
  change.sha256 = json::string_member(body, "sha256");
  change.changelog = json::string_member(body, "changelog");
  change.enabled = json::bool_member(body, "enabled");
  change.min_current_version = json::string_member(body, "minCurrentVersion");
  change.rollout_percent = json::int_member(body, "rolloutPercent");
  return json_response(200, release_json(fleet::update_firmware_release(call.registry, call.fleet(), id, change)));
}

Response remove(Call& call) {
  fleet::delete_firmware_release(call.registry, call.fleet(), id_of(call));
  return no_content();
}

}  // namespace

std::vector<Route> firmware_routes() {
  return {
      {"GET", "/v1/firmware", kReaders, kRead, list},
      {"POST", "/v1/firmware", kAdminOnly, fleet::action::kPublishFirmwareRelease, publish},
      {"GET", "/v1/firmware/{id}", kReaders, kRead, get},
      {"PATCH", "/v1/firmware/{id}", kAdminOnly, fleet::action::kUpdateFirmwareRelease, update},
      {"DELETE", "/v1/firmware/{id}", kAdminOnly, fleet::action::kDeleteFirmwareRelease, remove},
  };
}

}  // namespace provision::service::admin
