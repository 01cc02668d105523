// /v1/claims and /v1/cas: claim certificates (created here with the claim
// CA, key returned once, or registered) and the CAs the broker trusts for
// claims, factory enrollments and device certificates.
#include "admin/api.h"
#include "config.h"
#include "pki/authority.h"
#include "protocol/topics.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

constexpr int64_t kDay = 24 * 3600;

pki::Certificate parse_certificate(const std::string& pem, const char* field) {
  try {
    return pki::Certificate::from_pem(pem);
  } catch (const Error& e) {
    throw ApiError(400, "InvalidField", std::string(field) + ": " + e.what(), field);
  }
}

// Template names must exist.
std::vector<std::string> checked_templates(registry::Registry& registry, const rapidjson::Value& list, const char* field) {
  auto names = to_string_list(list);
  for (size_t i = 0; i < names.size(); ++i)
    if (!registry.find_template(names[i])) {
      std::string f = std::string(field) + "[" + std::to_string(i) + "]";
      throw ApiError(400, "InvalidField", f + ": no template " + text::quote(names[i]), f);
    }
  return names;
}

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

Response create_claim(Call& call) {
  const auto& body = call.body_as("ClaimCreate");
  if (call.role == Role::Installer) check_installer_claim(body);
  const int64_t now = unix_now();
  registry::ClaimCertificateRecord record;
  record.description = json::string_member(body, "description").value_or("");
  record.allowed_templates = checked_templates(call.registry, *json::member(body, "templates"), "templates");
  if (auto at = json::int_member(body, "expiresAt")) record.expires_at = *at;
  std::optional<std::string> private_key;

  if (auto pem = json::string_member(body, "certificatePem")) {
    auto certificate = parse_certificate(*pem, "certificatePem");
    record.id = certificate.id();
    record.pem = certificate.to_pem();
  } else {
    const auto& config = *call.context.config;
    if (config.claim_ca_certificate.empty())
      throw ApiError(409, "NoClaimCa", "no claim CA is configured (claimCa in provisiond.json); register an existing claim certificate with certificatePem");
    auto ca = pki::CertificateAuthority::load(config.claim_ca_certificate, config.claim_ca_key);
    int64_t validity = json::int_member(body, "validitySeconds").value_or(365 * kDay);
    auto key = pki::PrivateKey::generate_ec("P-256");
    pki::IssueOptions options;
    options.subject = {{"CN", "claim-" + random_token(9)}, {"O", "fleet provisioning claim"}};
    options.validity_seconds = validity;
    auto certificate = ca.issue(key.get(), options);
    record.id = certificate.id();
    record.pem = certificate.to_pem();
    // A short-lived claim (a trusted user's installer app) also expires in the registry.
    if (!record.expires_at && validity < kDay) record.expires_at = now + validity;
    private_key = key.to_pem();
  }
  record.created_at = now;
  auto tx = call.registry.begin();
  if (call.registry.find_claim_certificate(record.id)) conflict("claim certificate " + record.id + " is already registered");
  call.registry.put_claim_certificate(record);
  call.audit(private_key ? "CreateClaim" : "RegisterClaim", record.id, detail({{"description", record.description}}));
  tx.commit();
  auto doc = claim_json(record);
  if (private_key) doc.AddMember("privateKey", json::string_value(*private_key, doc.GetAllocator()), doc.GetAllocator());
  return json_response(201, std::move(doc));
}

Response get_claim(Call& call) { return json_response(200, claim_json(existing_claim(call.registry, call.path["id"]))); }

Response update_claim(Call& call) {
  const auto& body = call.body_as("ClaimUpdate");
  auto tx = call.registry.begin();
  auto c = existing_claim(call.registry, call.path["id"]);
  if (auto d = json::string_member(body, "description")) c.description = *d;
  if (auto s = json::string_member(body, "status")) c.status = *s;
  if (const auto* t = json::member(body, "templates")) c.allowed_templates = checked_templates(call.registry, *t, "templates");
  if (const auto* e = json::member(body, "expiresAt")) c.expires_at = e->IsNull() ? std::nullopt : std::optional<int64_t>(e->GetInt64());
  call.registry.put_claim_certificate(c);
  call.audit("UpdateClaim", c.id, json::stringify(body));
  tx.commit();
  return json_response(200, claim_json(c));
}

Response delete_claim(Call& call) {
  auto tx = call.registry.begin();
  if (!call.registry.delete_claim_certificate(call.path["id"])) not_found("claim certificate " + text::quote(call.path["id"]));
  call.audit("DeleteClaim", call.path["id"]);
  tx.commit();
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

// Bring your own fleet CA: its key is kept next to the configuration (0600),
// provisiond.json points at it, and the worker issues from it at once.
void adopt_fleet_ca(Call& call, const pki::Certificate& certificate, const std::string& key_pem) {
  pki::PrivateKey key = [&] {
    try {
      return pki::PrivateKey::from_pem(key_pem);
    } catch (const Error& e) {
      throw ApiError(400, "InvalidField", std::string("privateKeyPem: ") + e.what(), "privateKeyPem");
    }
  }();
  pki::CertificateAuthority ca = [&] {
    try {
      return pki::CertificateAuthority(certificate, key);
    } catch (const Error& e) {
      throw ApiError(400, "InvalidField", std::string("privateKeyPem: ") + e.what(), "privateKeyPem");
    }
  }();
  auto dir = std::filesystem::absolute(call.context.config_file).parent_path() / "pki";
  std::filesystem::create_directories(dir);
  auto stem = dir / ("fleet-ca-" + certificate.id().substr(0, 16));
  auto cert_file = stem, key_file = stem;
  cert_file += ".pem";
  key_file += ".key";
  write_file(cert_file, certificate.to_pem(), 0644);
  write_file(key_file, key.to_pem(), 0600);
  auto config = load_config(call.context.config_file);
  config.fleet_ca_certificate = cert_file;
  config.fleet_ca_key = key_file;
  save_config(config, call.context.config_file);
  call.context.provisioning->set_fleet_ca(std::move(ca));
}

Response create_ca(Call& call) {
  const auto& body = call.body_as("CaCreate");
  auto certificate = parse_certificate(*json::string_member(body, "certificatePem"), "certificatePem");
  if (!certificate.is_ca())
    throw ApiError(400, "InvalidField", "certificatePem: not a CA certificate (basicConstraints CA:FALSE)", "certificatePem");
  registry::CaRecord record;
  record.id = certificate.id();
  record.name = *json::string_member(body, "name");
  record.role = *json::string_member(body, "role");
  record.pem = certificate.to_pem();
  record.created_at = unix_now();
  if (const auto* t = json::member(body, "templates")) record.allowed_templates = checked_templates(call.registry, *t, "templates");
  record.registration_id_field = json::string_member(body, "registrationIdField").value_or("CN");
  auto key = json::string_member(body, "privateKeyPem");
  if (record.role == "fleet" && !key)
    throw ApiError(400, "InvalidField", "privateKeyPem: required to issue device certificates with a fleet CA", "privateKeyPem");
  if (record.role != "fleet" && key)
    throw ApiError(400, "InvalidField", "privateKeyPem: only a fleet CA's key is held by the service", "privateKeyPem");

  auto tx = call.registry.begin();
  if (call.registry.find_ca(record.id)) conflict("CA " + record.id + " is already registered");
  for (const auto& other : call.registry.list_cas())
    if (other.name == record.name) throw ApiError(409, "Conflict", "a CA named " + text::quote(record.name) + " exists", "name");
  call.registry.put_ca(record);
  call.audit("RegisterCa", record.id, detail({{"role", record.role}, {"name", record.name}}));
  if (key) adopt_fleet_ca(call, certificate, *key);
  tx.commit();
  return json_response(201, ca_json(call, record));
}

registry::CaRecord existing_ca(registry::Registry& registry, const std::string& id) {
  auto c = registry.find_ca(id);
  if (!c) not_found("CA " + text::quote(id));
  return *c;
}

Response get_ca(Call& call) { return json_response(200, ca_json(call, existing_ca(call.registry, call.path["id"]))); }

Response update_ca(Call& call) {
  const auto& body = call.body_as("CaUpdate");
  auto tx = call.registry.begin();
  auto c = existing_ca(call.registry, call.path["id"]);
  if (auto s = json::string_member(body, "status")) {
    if (*s != "ACTIVE" && call.context.provisioning->fleet_ca()->id() == c.id)
      conflict("CA " + c.id + " issues the device certificates now; bring another fleet CA first");
    c.status = *s;
  }
  if (const auto* t = json::member(body, "templates")) c.allowed_templates = checked_templates(call.registry, *t, "templates");
  call.registry.put_ca(c);
  call.audit("UpdateCa", c.id, json::stringify(body));
  tx.commit();
  return json_response(200, ca_json(call, c));
}

Response delete_ca(Call& call) {
  auto tx = call.registry.begin();
  auto c = existing_ca(call.registry, call.path["id"]);
  if (call.context.provisioning->fleet_ca()->id() == c.id)
    conflict("CA " + c.id + " issues the device certificates now; bring another fleet CA first");
  call.registry.delete_ca(c.id);
  call.audit("DeleteCa", c.id);
  tx.commit();
  return no_content();
}

}  // namespace

std::vector<Route> claim_and_ca_routes() {
  return {
      {"GET", "/v1/claims", kReaders, list_claims},
      {"POST", "/v1/claims", {Role::Admin, Role::Installer}, create_claim},
      {"GET", "/v1/claims/{id}", kReaders, get_claim},
      {"PATCH", "/v1/claims/{id}", kAdminOnly, update_claim},
      {"DELETE", "/v1/claims/{id}", kAdminOnly, delete_claim},
      {"GET", "/v1/cas", kReaders, list_cas},
      {"POST", "/v1/cas", kAdminOnly, create_ca},
      {"GET", "/v1/cas/{id}", kReaders, get_ca},
      {"PATCH", "/v1/cas/{id}", kAdminOnly, update_ca},
      {"DELETE", "/v1/cas/{id}", kAdminOnly, delete_ca},
  };
}

}  // namespace provision::service::admin
