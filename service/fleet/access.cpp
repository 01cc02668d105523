#include "fleet/access.h"

#include "pki/certificate.h"
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

std::string register_service_identity(registry::Registry& registry, const Context& context, const std::string& certificate_pem,
                                      const std::string& name, const std::string& kind) {
  if (kind != "worker" && kind != "factory") invalid_field("kind", "must be worker or factory, not " + kind);
  if (name.empty()) invalid_field("name", "is required");
  auto certificate = [&] {
    try {
      return pki::Certificate::from_pem(certificate_pem);
    } catch (const Error& e) {
      invalid_field("certificate", e.what());
    }
  }();
  auto tx = registry.begin();
  registry.put_service_identity({certificate.id(), name, registry::kActive, 0, kind});
  audit(registry, context.actor, action::kRegisterServiceIdentity, certificate.id(), detail({{"kind", kind}, {"name", name}}));
  tx.commit();
  return certificate.id();
}

}  // namespace provision::service::fleet
