#pragma once
// Who may use the service: admin API tokens (a role each; stored as their
// SHA-256, shown once) and service identities (the certificates of
// provisioning workers and factory servers).
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

// A certificate (PEM) as a worker's or a factory server's identity; returns its id.
std::string register_service_identity(registry::Registry& registry, const Context& context, const std::string& certificate_pem,
                                      const std::string& name, const std::string& kind);

}  // namespace provision::service::fleet
