// /v1/enrollments: the factory's list of devices (disabled until their buyer
// activates them with metadata). The factory adds them here or over MQTT.
#include "admin/api.h"
#include "util/clock.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document enrollment_json(const registry::EnrollmentRecord& e) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("registrationId", json::string_value(e.registration_id, a), a);
  doc.AddMember("kind", json::string_value(e.kind, a), a);
  doc.AddMember("status", json::string_value(e.status, a), a);
  if (e.template_name) doc.AddMember("templateName", json::string_value(*e.template_name, a), a);
  doc.AddMember("attributes", string_map(e.attributes, a), a);
  rapidjson::Value configuration;
  configuration.CopyFrom(json::parse(e.configuration, "configuration"), a);
  doc.AddMember("configuration", configuration, a);
  if (e.broker) doc.AddMember("broker", json::string_value(*e.broker, a), a);
  doc.AddMember("used", e.used_at.has_value(), a);
  if (e.thing_name) doc.AddMember("thingName", json::string_value(*e.thing_name, a), a);
  if (e.used_at) doc.AddMember("usedAt", *e.used_at, a);
  doc.AddMember("createdAt", e.created_at, a);
  if (e.activated_at) doc.AddMember("activatedAt", *e.activated_at, a);
  doc.AddMember("createdBy", json::string_value(e.created_by, a), a);
  return doc;
}

registry::EnrollmentRecord existing(registry::Registry& registry, const std::string& id) {
  auto e = registry.find_enrollment(id);
  if (!e) not_found("enrollment " + text::quote(id));
  return *e;
}

Response list(Call& call) {
  auto page = call.page();
  auto status = call.query_string("status");
  if (status && *status != "DISABLED" && *status != "ENABLED")
    throw ApiError(400, "InvalidField", "status: must be DISABLED or ENABLED", "status");
  return page_of(call.registry.list_enrollments(page, status), page, enrollment_json,
                 [](const auto& e) { return e.registration_id; });
}

Response create(Call& call) {
  const auto& body = call.body_as("EnrollmentCreate");
  registry::EnrollmentRecord record;
  record.registration_id = *json::string_member(body, "registrationId");
  record.kind = json::string_member(body, "kind").value_or("individual");
  record.template_name = json::string_member(body, "templateName");
  record.created_at = unix_now();
  record.created_by = call.actor;
  auto tx = call.registry.begin();
  if (record.template_name && !call.registry.find_template(*record.template_name))
    throw ApiError(400, "InvalidField", "templateName: no template " + text::quote(*record.template_name), "templateName");
  bool created = call.registry.upsert_enrollment(record);
  if (created) call.audit("CreateEnrollment", record.registration_id, detail({{"kind", record.kind}}));
  tx.commit();
  return json_response(created ? 201 : 200, enrollment_json(existing(call.registry, record.registration_id)));
}

Response get(Call& call) { return json_response(200, enrollment_json(existing(call.registry, call.path["id"]))); }

Response remove(Call& call) {
  auto tx = call.registry.begin();
  if (!call.registry.delete_enrollment(call.path["id"])) not_found("enrollment " + text::quote(call.path["id"]));
  call.audit("DeleteEnrollment", call.path["id"]);
  tx.commit();
  return no_content();
}

Response activate(Call& call) {
  const auto& body = call.body_as("EnrollmentActivate");
  auto tx = call.registry.begin();
  auto e = existing(call.registry, call.path["id"]);
  if (const auto* attributes = json::member(body, "attributes")) e.attributes = to_string_map(*attributes);
  if (const auto* configuration = json::member(body, "configuration")) e.configuration = json::stringify(*configuration);
  if (auto broker = json::string_member(body, "broker")) {
    if (!call.registry.find_broker(*broker)) throw ApiError(400, "InvalidField", "broker: no broker " + text::quote(*broker), "broker");
    e.broker = *broker;
  }
  e.status = "ENABLED";
  e.activated_at = unix_now();
  call.registry.update_enrollment(e);
  call.audit("ActivateEnrollment", e.registration_id, detail({{"broker", e.broker.value_or("")}}));
  tx.commit();
  return json_response(200, enrollment_json(e));
}

Response disable(Call& call) {
  auto tx = call.registry.begin();
  auto e = existing(call.registry, call.path["id"]);
  e.status = "DISABLED";
  call.registry.update_enrollment(e);
  call.audit("DisableEnrollment", e.registration_id);
  tx.commit();
  return json_response(200, enrollment_json(e));
}

}  // namespace

std::vector<Route> enrollment_routes() {
  return {
      {"GET", "/v1/enrollments", kReaders, list},
      {"POST", "/v1/enrollments", {Role::Admin, Role::Factory}, create},
      {"GET", "/v1/enrollments/{id}", kReaders, get},
      {"DELETE", "/v1/enrollments/{id}", kAdminOnly, remove},
      {"POST", "/v1/enrollments/{id}/activate", kAdminOnly, activate},
      {"POST", "/v1/enrollments/{id}/disable", kAdminOnly, disable},
  };
}

}  // namespace provision::service::admin
