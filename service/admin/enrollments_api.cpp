// /v1/enrollments: the factory's list of devices (disabled until their buyer
// activates them with metadata). The factory adds them here or over MQTT.
#include "admin/api.h"
#include "fleet/enrollments.h"
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
  doc.AddMember("reprovisioning", json::string_value(e.reprovisioning, a), a);
  doc.AddMember("signedBootstrap", e.bootstrap_key.has_value(), a);  // the key itself is never shown
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
  fleet::EnrollmentRequest request;
  request.registration_id = *json::string_member(body, "registrationId");
  request.kind = json::string_member(body, "kind").value_or("individual");
  request.template_name = json::string_member(body, "templateName");
  request.reprovisioning = json::string_member(body, "reprovisioning");
  request.bootstrap_key = json::string_member(body, "bootstrapKey");
  auto published = fleet::create_enrollment(call.registry, call.fleet(), request);
  return json_response(published.created ? 201 : 200, enrollment_json(published.record));
}

Response get(Call& call) { return json_response(200, enrollment_json(existing(call.registry, call.path["id"]))); }

Response remove(Call& call) {
  fleet::delete_enrollment(call.registry, call.fleet(), call.path["id"]);
  return no_content();
}

Response activate(Call& call) {
  const auto& body = call.body_as("EnrollmentActivate");
  fleet::Activation activation;
  if (const auto* attributes = json::member(body, "attributes")) activation.attributes = to_string_map(*attributes);
  if (const auto* configuration = json::member(body, "configuration")) activation.configuration = json::stringify(*configuration);
  activation.broker = json::string_member(body, "broker");
  activation.reprovisioning = json::string_member(body, "reprovisioning");
  return json_response(200, enrollment_json(fleet::activate_enrollment(call.registry, call.fleet(), call.path["id"], activation)));
}

Response disable(Call& call) {
  return json_response(200, enrollment_json(fleet::disable_enrollment(call.registry, call.fleet(), call.path["id"])));
}

Response reset(Call& call) {
  return json_response(200, enrollment_json(fleet::reset_enrollment(call.registry, call.fleet(), call.path["id"])));
}

}  // namespace

std::vector<Route> enrollment_routes() {
  namespace action = fleet::action;
  const std::vector<Role> kActivators{Role::Admin, Role::Activator};
  return {
      {"GET", "/v1/enrollments", kEnrollmentReaders, kRead, list},
      {"POST", "/v1/enrollments", {Role::Admin, Role::Factory}, action::kCreateEnrollment, create},
      {"GET", "/v1/enrollments/{id}", kEnrollmentReaders, kRead, get},
      {"DELETE", "/v1/enrollments/{id}", kAdminOnly, action::kDeleteEnrollment, remove},
      {"POST", "/v1/enrollments/{id}/activate", kActivators, action::kActivateEnrollment, activate},
      {"POST", "/v1/enrollments/{id}/disable", kActivators, action::kDisableEnrollment, disable},
      {"POST", "/v1/enrollments/{id}/reset", kAdminOnly, action::kResetEnrollment, reset},
  };
}

}  // namespace provision::service::admin
