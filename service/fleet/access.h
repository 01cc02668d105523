#pragma once
// Who may use the service: admin API tokens (a role each; stored as their
// SHA-256, shown once) and service identities (the certificates of
// provisioning workers and factory servers).
#include <optional>
#include <string>

#include "fleet/fleet.h"

namespace provision::service::fleet {

// The roles a token may have.
bool valid_role(const std::string& role);

struct CreatedToken {
  registry::ApiTokenRecord record;
  std::string secret;  // shown once
};
CreatedToken create_token(registry::Registry& registry, const Context& context, const std::string& name, const std::string& role);
// 409 for the last admin token.
void delete_token(registry::Registry& registry, const Context& context, const std::string& name);

// A certificate (PEM) as a worker's or a factory server's identity. An
// identity registered again gets the new name and kind and keeps its status
// (a disabled one stays disabled: enable it with update_service_identity).
struct RegisteredServiceIdentity {
  registry::ServiceIdentityRecord record;
  bool created = false;
};
RegisteredServiceIdentity register_service_identity(registry::Registry& registry, const Context& context,
                                                    const std::string& certificate_pem, const std::string& name,
                                                    const std::string& kind);

// Renames, disables or enables one (a disabled identity's connections are cut
// off by the broker within a second). 409 for disabling the identity this
// provisiond links to the broker with.
struct ServiceIdentityChange {
  std::optional<std::string> name, status;
};
registry::ServiceIdentityRecord update_service_identity(registry::Registry& registry, const Context& context,
                                                        const std::string& certificate_id, const ServiceIdentityChange& change);
// 404 when there is none; 409 for the identity this provisiond links with.
void delete_service_identity(registry::Registry& registry, const Context& context, const std::string& certificate_id);

// The certificate id of the service identity this provisiond links to the
// broker with (its configuration's mqtt.certificate); "" when unknown.
std::string own_service_identity(const Context& context);

}  // namespace provision::service::fleet
