#pragma once
// The CAs the fleet trusts: claim CAs (their certificates are claims),
// manufacturer CAs (factory certificates, enrollments) and fleet CAs (device
// certificates; bring your own with its key, and the worker issues from it).
// The broker trusts a registered CA from its next TLS handshake.
#include <optional>
#include <string>
#include <vector>

#include "fleet/fleet.h"

namespace provision::service::fleet {

struct CaRequest {
  std::string name;  // unique
  std::string role;  // claim | manufacturer | fleet
  std::string certificate_pem;
  std::vector<std::string> templates;        // claim, manufacturer: the templates its certificates may use
  std::string registration_id_field = "CN";  // manufacturer: CN | serialNumber | certificateSerial
  std::optional<std::string> private_key_pem;  // fleet (required): the service issues with it
};
registry::CaRecord register_ca(registry::Registry& registry, const Context& context, const CaRequest& request);

struct CaChange {
  std::optional<std::string> status;  // ACTIVE | INACTIVE
  std::optional<std::vector<std::string>> templates;
};
// The fleet CA that issues now cannot be disabled or deleted (409).
registry::CaRecord update_ca(registry::Registry& registry, const Context& context, const std::string& id, const CaChange& change);
void delete_ca(registry::Registry& registry, const Context& context, const std::string& id);

// The certificate id of the fleet CA issuing now ("" when unknown).
std::string issuing_fleet_ca(const Context& context);

}  // namespace provision::service::fleet
