// /v1/things, /v1/certificates and /v1/register: the registered devices,
// their certificates, and programmatic registration for a trusted factory
// server.
#include "admin/api.h"
#include "fleet/things.h"
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
    // a password device (HTTP bootstrap): its credential without the secret, and its last bootstrap request
    if (auto c = registry.find_device_credential(t.name)) {
      rapidjson::Value credential(rapidjson::kObjectType);
      credential.AddMember("status", json::string_value(c->status, a), a);
      credential.AddMember("issuedAt", c->issued_at, a);
      if (c->first_connected_at) credential.AddMember("firstConnectedAt", *c->first_connected_at, a);
      if (c->last_seen_at) credential.AddMember("lastSeenAt", *c->last_seen_at, a);
      v.AddMember("credential", credential, a);
    }
  }
  return v;
}

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
  fleet::delete_thing(call.registry, call.fleet(), call.path["name"]);
  return no_content();
}

// A thing's certificates, for a programmatic client undoing a registration step by step.
Response thing_certificates(Call& call) {
  if (!call.registry.find_thing(call.path["name"])) not_found("thing " + text::quote(call.path["name"]));
  rapidjson::Document items(rapidjson::kArrayType);
  for (const auto& c : call.registry.certificates_of_thing(call.path["name"])) {
    rapidjson::Value item;
    item.CopyFrom(certificate_json(call.registry, c, false), items.GetAllocator());
    items.PushBack(item, items.GetAllocator());
  }
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("items", rapidjson::Value(items, doc.GetAllocator()), doc.GetAllocator());
  return json_response(200, std::move(doc));
}

Response detach_certificate(Call& call) {
  fleet::detach_certificate(call.registry, call.fleet(), call.path["name"], call.path["id"]);
  return no_content();
}

Response delete_certificate(Call& call) {
  fleet::delete_certificate(call.registry, call.fleet(), call.path["id"]);
  return no_content();
}

Response deprovision(Call& call) {
  auto result = fleet::deprovision_thing(call.registry, call.fleet(), call.path["name"]);
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
  if ((call.role == Role::Operator || call.role == Role::Factory) && status == "ACTIVE")
    throw ApiError(403, "Forbidden", "an " + std::string(role_name(call.role)) + " may revoke or disable a certificate, not re-enable it");
  fleet::set_certificate_status(call.registry, call.fleet(), call.path["id"], status);
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

const char* certificate_change(const rapidjson::Value& body) {
  return fleet::action::for_certificate_status(json::string_member(body, "status").value_or(""));
}

std::vector<Route> thing_routes() {
  namespace action = fleet::action;
  const std::vector<Role> unregisterers{Role::Admin, Role::Operator, Role::Factory};
  return {
      {"GET", "/v1/things", kReaders, kRead, list_things},
      {"GET", "/v1/things/{name}", kReaders, kRead, get_thing},
      {"DELETE", "/v1/things/{name}", {Role::Admin, Role::Factory}, action::kDeleteThing, delete_thing},
      {"POST", "/v1/things/{name}/deprovision", unregisterers, action::kDeprovisionThing, deprovision},
      {"GET", "/v1/things/{name}/certificates", kReaders, kRead, thing_certificates},
      {"DELETE", "/v1/things/{name}/certificates/{id}", unregisterers, Change(action::kDetachCertificate, "id"), detach_certificate},
      {"GET", "/v1/certificates", kReaders, kRead, list_certificates},
      {"GET", "/v1/certificates/{id}", kReaders, kRead, get_certificate},
      {"PATCH", "/v1/certificates/{id}", unregisterers, Change(certificate_change, action::kDeactivateCertificate), update_certificate},
      {"DELETE", "/v1/certificates/{id}", {Role::Admin, Role::Factory}, action::kDeleteCertificate, delete_certificate},
      {"POST", "/v1/register", {Role::Admin, Role::Factory}, action::kRegisterThingProgrammatically, register_thing},
  };
}

}  // namespace provision::service::admin
