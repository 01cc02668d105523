#include "fleet/cas.h"

#include "config.h"
#include "fleet/claims.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/text.h"

namespace provision::service::fleet {
namespace {

registry::CaRecord existing(registry::Registry& registry, const std::string& id) {
  auto c = registry.find_ca(id);
  if (!c) not_found("CA " + text::quote(id));
  return *c;
}

// Bring your own fleet CA: its key is kept next to the configuration (0600),
// provisiond.json points at it, and the worker issues from it at once.
void adopt_fleet_ca(const Context& context, const pki::Certificate& certificate, const std::string& key_pem) {
  pki::PrivateKey key = [&] {
    try {
      return pki::PrivateKey::from_pem(key_pem);
    } catch (const Error& e) {
      invalid_field("privateKeyPem", e.what());
    }
  }();
  pki::CertificateAuthority ca = [&] {
    try {
      return pki::CertificateAuthority(certificate, key);
    } catch (const Error& e) {
      invalid_field("privateKeyPem", e.what());
    }
  }();
  if (context.config_file.empty()) throw Error("bringing a fleet CA needs provisiond.json (--config)");
  auto dir = std::filesystem::absolute(context.config_file).parent_path() / "pki";
  std::filesystem::create_directories(dir);
  auto stem = dir / ("fleet-ca-" + certificate.id().substr(0, 16));
  auto cert_file = stem, key_file = stem;
  cert_file += ".pem";
  key_file += ".key";
  write_file(cert_file, certificate.to_pem(), 0644);
  write_file(key_file, key.to_pem(), 0600);
  auto config = load_config(context.config_file);
  config.fleet_ca_certificate = cert_file;
  config.fleet_ca_key = key_file;
  save_config(config, context.config_file);
  if (context.use_fleet_ca) context.use_fleet_ca(ca);
}

}  // namespace

std::string issuing_fleet_ca(const Context& context) {
  if (context.issuing_fleet_ca) return context.issuing_fleet_ca();
  if (!context.config || context.config->fleet_ca_certificate.empty()) return "";
  try {
    return pki::Certificate::load(context.config->fleet_ca_certificate).id();
  } catch (const Error&) {
    return "";
  }
}

registry::CaRecord register_ca(registry::Registry& registry, const Context& context, const CaRequest& request) {
  if (request.role != "claim" && request.role != "manufacturer" && request.role != "fleet")
    invalid_field("role", "must be claim, manufacturer or fleet, not " + request.role);
  if (request.registration_id_field != "CN" && request.registration_id_field != "serialNumber" &&
      request.registration_id_field != "certificateSerial")
    invalid_field("registrationIdField", "must be CN, serialNumber or certificateSerial");
  if (request.name.empty()) invalid_field("name", "is required");
  auto certificate = [&] {
    try {
      return pki::Certificate::from_pem(request.certificate_pem);
    } catch (const Error& e) {
      invalid_field("certificatePem", e.what());
    }
  }();
  if (!certificate.is_ca()) invalid_field("certificatePem", "not a CA certificate (basicConstraints CA:FALSE)");
  if (request.role == "fleet" && !request.private_key_pem)
    invalid_field("privateKeyPem", "required to issue device certificates with a fleet CA");
  if (request.role != "fleet" && request.private_key_pem)
    invalid_field("privateKeyPem", "only a fleet CA's key is held by the service");

  registry::CaRecord record;
  record.id = certificate.id();
  record.name = request.name;
  record.role = request.role;
  record.pem = certificate.to_pem();
  record.created_at = unix_now();
  record.allowed_templates = existing_templates(registry, request.templates);
  record.registration_id_field = request.registration_id_field;

  auto tx = registry.begin();
  if (registry.find_ca(record.id)) conflict("CA " + text::quote(record.id) + " is already registered");
  for (const auto& other : registry.list_cas())
    if (other.name == record.name) conflict("a CA named " + text::quote(record.name) + " exists", "name");
  registry.put_ca(record);
  audit(registry, context.actor, action::kRegisterCa, record.id, detail({{"role", record.role}, {"name", record.name}}));
  if (request.private_key_pem) adopt_fleet_ca(context, certificate, *request.private_key_pem);
  tx.commit();
  return record;
}

registry::CaRecord update_ca(registry::Registry& registry, const Context& context, const std::string& id, const CaChange& change) {
  if (change.status && *change.status != registry::kActive && *change.status != registry::kInactive)
    invalid_field("status", "must be ACTIVE or INACTIVE");
  auto tx = registry.begin();
  auto c = existing(registry, id);
  if (change.status) {
    if (*change.status != registry::kActive && issuing_fleet_ca(context) == c.id)
      conflict("CA " + text::quote(c.id) + " issues the device certificates now; bring another fleet CA first");
    c.status = *change.status;
  }
  if (change.templates) c.allowed_templates = existing_templates(registry, *change.templates);
  registry.put_ca(c);
  std::vector<std::pair<std::string, std::string>> fields;
  if (change.status) fields.emplace_back("status", c.status);
  if (change.templates) fields.emplace_back("templates", std::to_string(c.allowed_templates.size()));
  audit(registry, context.actor, action::kUpdateCa, c.id, detail(fields));
  tx.commit();
  return c;
}

void delete_ca(registry::Registry& registry, const Context& context, const std::string& id) {
  auto tx = registry.begin();
  auto c = existing(registry, id);
  if (issuing_fleet_ca(context) == c.id) conflict("CA " + text::quote(c.id) + " issues the device certificates now; bring another fleet CA first");
  registry.delete_ca(c.id);
  audit(registry, context.actor, action::kDeleteCa, c.id);
  tx.commit();
}

}  // namespace provision::service::fleet
