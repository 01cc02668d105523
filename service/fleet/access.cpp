#include "fleet/access.h"

#include "pki/certificate.h"
#include "config.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/random.h"
#include "util/text.h"

namespace provision::service::fleet {

bool valid_role(const std::string& role) {
  return role == "admin" || role == "factory" || role == "operator" || role == "installer" || role == "activator";
}

CreatedToken create_token(registry::Registry& registry, const Context& context, const std::string& name, const std::string& role) {
  if (name.empty()) invalid_field("name", "is required");
  if (!valid_role(role)) invalid_field("role", "must be admin, factory, operator, installer or activator, not " + role);
  CreatedToken created;
  created.secret = random_token(32);
  created.record = {name, sha256_hex(created.secret), role, unix_now(), std::nullopt};
  auto tx = registry.begin();
  if (registry.find_api_token(name)) conflict("a token named " + text::quote(name) + " exists", "name");
  registry.insert_api_token(created.record);
  audit(registry, context.actor, action::kCreateToken, name, detail({{"role", role}}));
  tx.commit();
  return created;
}

void delete_token(registry::Registry& registry, const Context& context, const std::string& name) {
  auto tx = registry.begin();
  auto token = registry.find_api_token(name);
  if (!token) not_found("token " + text::quote(name));
  if (token->role == "admin") {
    int admins = 0;
    for (const auto& t : registry.list_api_tokens({500, ""})) admins += t.role == "admin";
    if (admins <= 1) conflict("token " + text::quote(token->name) + " is the last admin token; create another admin token first");
  }
  registry.delete_api_token(token->name);
  audit(registry, context.actor, action::kDeleteToken, name);
  tx.commit();
}

std::string own_service_identity(const Context& context) {
  if (!context.config || context.config->mqtt_certificate.empty()) return "";
  try {
    return pki::Certificate::load(context.config->mqtt_certificate).id();
  } catch (const Error&) {
    return "";
  }
}

namespace {

registry::ServiceIdentityRecord existing_identity(registry::Registry& registry, const std::string& certificate_id) {
  auto found = registry.find_service_identity(certificate_id);
  if (!found) not_found("service identity " + text::quote(certificate_id));
  return *found;
}

void check_identity_name(const std::string& name) {
  if (name.empty()) invalid_field("name", "is required");
  if (name.size() > 128) invalid_field("name", "at most 128 characters");
}

[[noreturn]] void own_identity(const std::string& certificate_id, const std::string& what) {
  conflict("service identity " + text::quote(certificate_id) + " is the one this provisiond links to the broker with; " + what);
}

}  // namespace

RegisteredServiceIdentity register_service_identity(registry::Registry& registry, const Context& context,
                                                    const std::string& certificate_pem, const std::string& name,
                                                    const std::string& kind) {
  if (kind != "worker" && kind != "factory") invalid_field("kind", "must be worker or factory, not " + kind);
  check_identity_name(name);
  auto certificate = [&] {
    try {
      return pki::Certificate::from_pem(certificate_pem);
    } catch (const Error& e) {
      invalid_field("certificatePem", e.what());
    }
  }();
  const std::string id = certificate.id();
  if (kind != "worker" && id == own_service_identity(context))
    own_identity(id, "it stays a worker (register another certificate as the factory's)");
  auto tx = registry.begin();
  RegisteredServiceIdentity registered;
  auto before = registry.find_service_identity(id);
  registered.created = !before;
  registered.record = {id, name, before ? before->status : std::string(registry::kActive), before ? before->created_at : unix_now(), kind};
  registry.put_service_identity(registered.record);
  audit(registry, context.actor, action::kRegisterServiceIdentity, id, detail({{"kind", kind}, {"name", name}}));
  tx.commit();
  return registered;
}

registry::ServiceIdentityRecord update_service_identity(registry::Registry& registry, const Context& context,
                                                        const std::string& certificate_id, const ServiceIdentityChange& change) {
  if (change.status && *change.status != registry::kActive && *change.status != registry::kInactive)
    invalid_field("status", "must be ACTIVE or INACTIVE");
  if (change.name) check_identity_name(*change.name);
  auto tx = registry.begin();
  auto identity = existing_identity(registry, certificate_id);
  std::vector<std::pair<std::string, std::string>> fields;
  if (change.status) {
    if (*change.status != registry::kActive && identity.certificate_id == own_service_identity(context))
      own_identity(identity.certificate_id, "disabling it would stop provisioning (register another one and link with it first)");
    fields.emplace_back("status", identity.status + " -> " + *change.status);
    identity.status = *change.status;
  }
  if (change.name) {
    identity.name = *change.name;
    fields.emplace_back("name", identity.name);
  }
  registry.put_service_identity(identity);
  audit(registry, context.actor, action::kUpdateServiceIdentity, identity.certificate_id, detail(fields));
  tx.commit();
  return identity;
}

void delete_service_identity(registry::Registry& registry, const Context& context, const std::string& certificate_id) {
  auto tx = registry.begin();
  auto identity = existing_identity(registry, certificate_id);
  if (identity.certificate_id == own_service_identity(context))
    own_identity(identity.certificate_id, "deleting it would stop provisioning (register another one and link with it first)");
  registry.delete_service_identity(identity.certificate_id);
  audit(registry, context.actor, action::kDeleteServiceIdentity, identity.certificate_id, detail({{"name", identity.name}, {"kind", identity.kind}}));
  tx.commit();
}

}  // namespace provision::service::fleet
