// /v1/things, /v1/certificates and /v1/register: the fleet itself, and
// programmatic registration for a trusted factory server.
#include "admin/api.h"
#include "administration.h"
#include "provisioning/provisioning_service.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document certificate_json(registry::Registry& registry, const registry::CertificateRecord& c, bool with_pem) {
  rapidjson::Document v(rapidjson::kObjectType);
  auto& a = v.GetAllocator();
  v.AddMember("id", json::string_value(c.id, a), a);
  v.AddMember("status", json::string_value(c.status, a), a);
  if (c.thing_name) v.AddMember("thingName", json::string_value(*c.thing_name, a), a);
  v.AddMember("serial", json::string_value(c.serial, a), a);
  v.AddMember("notBefore", c.not_before, a);
  v.AddMember("notAfter", c.not_after, a);
  v.AddMember("createdAt", c.created_at, a);
  v.AddMember("policies", string_list(registry.policies_of_certificate(c.id), a), a);
  if (c.replaces) v.AddMember("replaces", json::string_value(*c.replaces, a), a);
  if (with_pem) v.AddMember("certificatePem", json::string_value(c.pem, a), a);
  return v;
}

rapidjson::Document thing_json(registry::Registry& registry, const registry::ThingRecord& t, bool with_certificates) {
  rapidjson::Document v(rapidjson::kObjectType);
  auto& a = v.GetAllocator();
  v.AddMember("name", json::string_value(t.name, a), a);
  if (t.thing_type) v.AddMember("thingType", json::string_value(*t.thing_type, a), a);
  v.AddMember("attributes", string_map(t.attributes, a), a);
  v.AddMember("groups", string_list(registry.groups_of_thing(t.name), a), a);
  v.AddMember("version", t.version, a);
  v.AddMember("createdAt", t.created_at, a);
  v.AddMember("updatedAt", t.updated_at, a);
  if (with_certificates) {
    rapidjson::Value list(rapidjson::kArrayType);
    for (const auto& c : registry.certificates_of_thing(t.name)) {
      rapidjson::Value item;
      item.CopyFrom(certificate_json(registry, c, false), a);
      list.PushBack(item, a);
    }
    v.AddMember("certificates", list, a);
  }
  return v;
}

Actor actor_of(const Call& call) { return Actor{call.actor, call.source}; }

Response list_things(Call& call) {
  auto page = call.page();
  return page_of(
      call.registry.list_things(page, call.query_string("prefix").value_or("")), page,
      [&](const auto& t) { return thing_json(call.registry, t, false); }, [](const auto& t) { return t.name; });
}

Response get_thing(Call& call) {
  auto t = call.registry.find_thing(call.path["name"]);
  if (!t) not_found("thing " + text::quote(call.path["name"]));
  return json_response(200, thing_json(call.registry, *t, true));
}

Response delete_thing(Call& call) {
  service::delete_thing(call.registry, actor_of(call), call.path["name"]);
  return no_content();
}

Response deprovision(Call& call) {
  auto result = deprovision_thing(call.registry, actor_of(call), call.path["name"]);
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("thingName", json::string_value(call.path["name"], a), a);
  doc.AddMember("existed", result.existed, a);
  doc.AddMember("certificatesRemoved", string_list(result.certificates_removed, a), a);
  return json_response(200, std::move(doc));
}

Response list_certificates(Call& call) {
  auto page = call.page();
  auto status = call.query_string("status");
  if (status && *status != "PENDING_ACTIVATION" && *status != "ACTIVE" && *status != "INACTIVE" && *status != "REVOKED")
    throw ApiError(400, "InvalidField", "status: must be PENDING_ACTIVATION, ACTIVE, INACTIVE or REVOKED", "status");
  return page_of(
      call.registry.list_certificates(page, call.query_string("thing"), status), page,
      [&](const auto& c) { return certificate_json(call.registry, c, false); }, [](const auto& c) { return c.id; });
}

Response get_certificate(Call& call) {
  auto c = call.registry.find_certificate(call.path["id"]);
  if (!c) not_found("certificate " + text::quote(call.path["id"]));
  return json_response(200, certificate_json(call.registry, *c, true));
}

Response update_certificate(Call& call) {
  const auto& body = call.body_as("CertificateUpdate");
  std::string status = *json::string_member(body, "status");
  if (call.role == Role::Operator && status == "ACTIVE")
    throw ApiError(403, "Forbidden", "an operator may revoke or disable a certificate, not re-enable it");
  try {
    set_certificate_status(call.registry, actor_of(call), call.path["id"], status);
  } catch (const RequestError& e) {
    if (e.code == "NotFound") not_found("certificate " + text::quote(call.path["id"]));
    throw;
  }
  return get_certificate(call);
}

Response register_thing(Call& call) {
  const auto& body = call.body_as("Registration");
  ProgrammaticRegistration input;
  input.template_name = *json::string_member(body, "templateName");
  if (const auto* p = json::member(body, "parameters")) input.parameters = to_string_map(*p);
  input.csr_pem = json::string_member(body, "certificateSigningRequest");
  auto result = call.context.provisioning->register_programmatically(call.registry, input, call.actor, call.source);
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("thingName", json::string_value(result.thing_name, a), a);
  doc.AddMember("certificateId", json::string_value(result.certificate_id, a), a);
  doc.AddMember("certificatePem", json::string_value(result.certificate_pem, a), a);
  if (result.private_key) doc.AddMember("privateKey", json::string_value(*result.private_key, a), a);
  rapidjson::Value configuration;
  configuration.CopyFrom(result.device_configuration, a);
  doc.AddMember("deviceConfiguration", configuration, a);
  return json_response(201, std::move(doc));
}

}  // namespace

std::vector<Route> fleet_routes() {
  return {
      {"GET", "/v1/things", kReaders, list_things},
      {"GET", "/v1/things/{name}", kReaders, get_thing},
      {"DELETE", "/v1/things/{name}", kAdminOnly, delete_thing},
      {"POST", "/v1/things/{name}/deprovision", {Role::Admin, Role::Operator}, deprovision},
      {"GET", "/v1/certificates", kReaders, list_certificates},
      {"GET", "/v1/certificates/{id}", kReaders, get_certificate},
      {"PATCH", "/v1/certificates/{id}", {Role::Admin, Role::Operator}, update_certificate},
      {"POST", "/v1/register", {Role::Admin, Role::Factory}, register_thing},
  };
}

}  // namespace provision::service::admin
