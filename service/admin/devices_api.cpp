// Password devices (HTTP bootstrap): a thing's credential, its rotation, and
// the bootstrap listener's access log.
#include "admin/api.h"
#include "fleet/devices.h"
#include "util/json.h"

namespace provision::service::admin {
namespace {

void add_credential(rapidjson::Document& doc, const registry::DeviceCredentialRecord& c) {
  auto& a = doc.GetAllocator();
  doc.AddMember("thingName", json::string_value(c.thing_name, a), a);
  doc.AddMember("deviceUuid", json::string_value(c.device_uuid, a), a);
  doc.AddMember("status", json::string_value(c.status, a), a);
  doc.AddMember("issuedAt", c.issued_at, a);
  if (c.first_connected_at) doc.AddMember("firstConnectedAt", *c.first_connected_at, a);
  if (c.last_seen_at) doc.AddMember("lastSeenAt", *c.last_seen_at, a);
  doc.AddMember("policies", string_list(c.policies, a), a);
}

Response credential(Call& call) {
  auto c = call.registry.find_device_credential(call.path["name"]);
  if (!c) not_found("device credential of thing " + call.path["name"]);
  rapidjson::Document doc(rapidjson::kObjectType);
  add_credential(doc, *c);
  return json_response(200, std::move(doc));
}

Response rotate(Call& call) {
  auto rotated = fleet::rotate_device_secret(call.registry, call.fleet(), call.path["name"]);
  rapidjson::Document doc(rapidjson::kObjectType);
  add_credential(doc, rotated.credential);
  doc.AddMember("deviceSecret", json::string_value(rotated.secret, doc.GetAllocator()), doc.GetAllocator());
  return json_response(200, std::move(doc));
}

Response access_log(Call& call) {
  registry::BootstrapAccessFilter f;
  f.mac = call.query_string("mac");
  f.source = call.query_string("source");
  f.endpoint = call.query_string("endpoint");
  f.outcome = call.query_string("outcome");
  f.since_ms = call.query_int("since");
  f.until_ms = call.query_int("until");
  auto page = call.page();
  f.limit = page.limit;
  if (!page.after.empty()) {
    try {
      f.before_id = std::stoll(page.after);
    } catch (const std::exception&) {
      throw ApiError(400, "InvalidField", "after: must be a cursor from a previous page", "after");
    }
  }
  return page_of(call.registry.bootstrap_access(f), page,
                 [](const registry::BootstrapAccessRecord& r) {
                   rapidjson::Document doc(rapidjson::kObjectType);
                   auto& a = doc.GetAllocator();
                   doc.AddMember("id", r.id, a);
                   doc.AddMember("at", r.at, a);
                   doc.AddMember("source", json::string_value(r.source, a), a);
                   doc.AddMember("mac", json::string_value(r.mac, a), a);
                   doc.AddMember("endpoint", json::string_value(r.endpoint, a), a);
                   doc.AddMember("outcome", json::string_value(r.outcome, a), a);
                   doc.AddMember("status", r.status, a);
                   doc.AddMember("latencyMs", r.latency_ms, a);
                   return doc;
                 },
                 [](const registry::BootstrapAccessRecord& r) { return std::to_string(r.id); });
}

}  // namespace

std::vector<Route> device_routes() {
  return {
      {"GET", "/v1/things/{name}/credential", kReaders, kRead, credential},
      {"POST", "/v1/things/{name}/rotate-secret", kAdminOnly, fleet::action::kRotateDeviceSecret, rotate},
      {"GET", "/v1/bootstrap/access", {Role::Admin, Role::Operator}, kRead, access_log},
  };
}

}  // namespace provision::service::admin
