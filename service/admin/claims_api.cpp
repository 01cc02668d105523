// /v1/claims and /v1/cas: claim certificates (created here with the claim
// CA, key returned once, or registered) and the CAs the broker trusts for
// claims, factory enrollments and device certificates.
#include "admin/api.h"
#include "fleet/cas.h"
#include "fleet/claims.h"
#include "provisioning/provisioning_service.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document claim_json(const registry::ClaimCertificateRecord& c, bool with_pem = true) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("id", json::string_value(c.id, a), a);
  doc.AddMember("description", json::string_value(c.description, a), a);
  doc.AddMember("status", json::string_value(c.status, a), a);
  doc.AddMember("templates", string_list(c.allowed_templates, a), a);
  if (c.expires_at) doc.AddMember("expiresAt", *c.expires_at, a);
  doc.AddMember("createdAt", c.created_at, a);
  if (with_pem) doc.AddMember("certificatePem", json::string_value(c.pem, a), a);
  return doc;
}

registry::ClaimCertificateRecord existing_claim(registry::Registry& registry, const std::string& id) {
  auto c = registry.find_claim_certificate(id);
  if (!c) not_found("claim certificate " + text::quote(id));
  return *c;
}

Response list_claims(Call& call) {
  auto page = call.page();
  auto status = call.query_string("status");
  if (status && *status != "ACTIVE" && *status != "INACTIVE")
    throw ApiError(400, "InvalidField", "status: must be ACTIVE or INACTIVE", "status");
  return page_of(
      call.registry.list_claim_certificates(page, status), page, [](const auto& c) { return claim_json(c, false); },
      [](const auto& c) { return c.id; });
}

// An installer (the "provisioning by trusted user" flow: an installer app on
// site) gets only a short-lived claim for a single template.
constexpr int64_t kInstallerMaxValidity = 300;

void check_installer_claim(const rapidjson::Value& body) {
  if (json::member(body, "certificatePem"))
    throw ApiError(403, "Forbidden", "an installer may not register existing claim certificates");
  const auto& templates = *json::member(body, "templates");
  if (templates.Size() != 1) throw ApiError(403, "Forbidden", "an installer's claim is for exactly one template", "templates");
  auto validity = json::int_member(body, "validitySeconds");
  if (!validity || *validity > kInstallerMaxValidity)
    throw ApiError(403, "Forbidden", "an installer's claim is valid for at most 300 seconds (validitySeconds)", "validitySeconds");
  if (json::member(body, "expiresAt")) throw ApiError(403, "Forbidden", "an installer may not set expiresAt", "expiresAt");
}

std::vector<std::string> strings(const rapidjson::Value* list) { return list ? to_string_list(*list) : std::vector<std::string>{}; }

Response create_claim(Call& call) {
  const auto& body = call.body_as("ClaimCreate");
  if (call.role == Role::Installer) check_installer_claim(body);
  fleet::ClaimRequest request;
  request.certificate_pem = json::string_member(body, "certificatePem");
  request.templates = strings(json::member(body, "templates"));
  request.description = json::string_member(body, "description").value_or("");
  request.expires_at = json::int_member(body, "expiresAt");
  request.validity_seconds = json::int_member(body, "validitySeconds");
  auto created = fleet::create_claim(call.registry, call.fleet(), request);
  auto doc = claim_json(created.record);
  if (created.private_key)
    doc.AddMember("privateKey", json::string_value(*created.private_key, doc.GetAllocator()), doc.GetAllocator());
  return json_response(201, std::move(doc));
}

// POST /v1/claims makes a claim certificate, or registers one the body carries.
const char* claim_creation(const rapidjson::Value& body) {
  return json::member(body, "certificatePem") ? fleet::action::kRegisterClaim : fleet::action::kCreateClaim;
}

Response get_claim(Call& call) { return json_response(200, claim_json(existing_claim(call.registry, call.path["id"]))); }

Response update_claim(Call& call) {
  const auto& body = call.body_as("ClaimUpdate");
  fleet::ClaimChange change;
  change.description = json::string_member(body, "description");
  change.status = json::string_member(body, "status");
  if (const auto* t = json::member(body, "templates")) change.templates = to_string_list(*t);
  if (const auto* e = json::member(body, "expiresAt"))
    change.expires_at = e->IsNull() ? std::nullopt : std::optional<int64_t>(e->GetInt64());
  return json_response(200, claim_json(fleet::update_claim(call.registry, call.fleet(), call.path["id"], change)));
}

Response delete_claim(Call& call) {
  fleet::delete_claim(call.registry, call.fleet(), call.path["id"]);
  return no_content();
}

rapidjson::Document ca_json(const Call& call, const registry::CaRecord& c, bool with_pem = true) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("id", json::string_value(c.id, a), a);
  doc.AddMember("name", json::string_value(c.name, a), a);
  doc.AddMember("role", json::string_value(c.role, a), a);
  doc.AddMember("status", json::string_value(c.status, a), a);
  doc.AddMember("templates", string_list(c.allowed_templates, a), a);
  doc.AddMember("registrationIdField", json::string_value(c.registration_id_field, a), a);
  doc.AddMember("createdAt", c.created_at, a);
  if (with_pem) doc.AddMember("certificatePem", json::string_value(c.pem, a), a);
  if (c.role == "fleet") doc.AddMember("issuing", call.context.provisioning->fleet_ca()->id() == c.id, a);
  return doc;
}

Response list_cas(Call& call) {
  auto page = call.page();
  auto role = call.query_string("role");
  if (role && *role != "root" && *role != "fleet" && *role != "claim" && *role != "manufacturer")
    throw ApiError(400, "InvalidField", "role: must be root, fleet, claim or manufacturer", "role");
  return page_of(
      call.registry.list_cas(page, role), page, [&](const auto& c) { return ca_json(call, c, false); },
      [](const auto& c) { return c.id; });
}

Response create_ca(Call& call) {
  const auto& body = call.body_as("CaCreate");
  fleet::CaRequest request;
  request.name = *json::string_member(body, "name");
  request.role = *json::string_member(body, "role");
  request.certificate_pem = *json::string_member(body, "certificatePem");
  request.templates = strings(json::member(body, "templates"));
  request.registration_id_field = json::string_member(body, "registrationIdField").value_or("CN");
  request.private_key_pem = json::string_member(body, "privateKeyPem");
  return json_response(201, ca_json(call, fleet::register_ca(call.registry, call.fleet(), request)));
}

registry::CaRecord existing_ca(registry::Registry& registry, const std::string& id) {
  auto c = registry.find_ca(id);
  if (!c) not_found("CA " + text::quote(id));
  return *c;
}

Response get_ca(Call& call) { return json_response(200, ca_json(call, existing_ca(call.registry, call.path["id"]))); }

Response update_ca(Call& call) {
  const auto& body = call.body_as("CaUpdate");
  fleet::CaChange change;
  change.status = json::string_member(body, "status");
  if (const auto* t = json::member(body, "templates")) change.templates = to_string_list(*t);
  return json_response(200, ca_json(call, fleet::update_ca(call.registry, call.fleet(), call.path["id"], change)));
}

Response delete_ca(Call& call) {
  fleet::delete_ca(call.registry, call.fleet(), call.path["id"]);
  return no_content();
}

}  // namespace

std::vector<Route> claim_and_ca_routes() {
  namespace action = fleet::action;
  return {
      {"GET", "/v1/claims", kReaders, kRead, list_claims},
      {"POST", "/v1/claims", {Role::Admin, Role::Installer}, Change(claim_creation, action::kCreateClaim), create_claim},
      {"GET", "/v1/claims/{id}", kReaders, kRead, get_claim},
      {"PATCH", "/v1/claims/{id}", kAdminOnly, action::kUpdateClaim, update_claim},
      {"DELETE", "/v1/claims/{id}", kAdminOnly, action::kDeleteClaim, delete_claim},
      {"GET", "/v1/cas", kReaders, kRead, list_cas},
      {"POST", "/v1/cas", kAdminOnly, action::kRegisterCa, create_ca},
      {"GET", "/v1/cas/{id}", kReaders, kRead, get_ca},
      {"PATCH", "/v1/cas/{id}", kAdminOnly, action::kUpdateCa, update_ca},
      {"DELETE", "/v1/cas/{id}", kAdminOnly, action::kDeleteCa, delete_ca},
  };
}

}  // namespace provision::service::admin
