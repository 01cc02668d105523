#pragma once
// Changes an operator makes to the fleet, each audited. The CLI uses these
// today; the admin API calls the same functions. The plugin notices every
// change that takes a permission away (registry change log) and cuts the
// clients concerned off within a second.
#include <optional>
#include <string>
#include <vector>

#include "registry/registry.h"

namespace provision::service {

// Who made a change, for the audit log.
struct Actor {
  std::string name = "cli";  // "cli", "admin:<token name>", ...
  std::string source;        // address, when there is one
};

// ACTIVE, INACTIVE or REVOKED (REVOKED is final). Throws RequestError
// (404 NotFound, 400 InvalidStatus, 409 Conflict for a revoked certificate).
void set_certificate_status(registry::Registry& registry, const Actor& actor, const std::string& certificate_id,
                            const std::string& status);
// ACTIVE or INACTIVE.
void set_claim_status(registry::Registry& registry, const Actor& actor, const std::string& claim_id, const std::string& status);
// Deletes a thing; its certificates stay but are no longer attached (devices using them are refused).
void delete_thing(registry::Registry& registry, const Actor& actor, const std::string& thing_name);

struct Deprovisioned {
  bool existed = false;
  std::vector<std::string> certificates_removed;
};
// Detaches, deactivates and deletes every certificate of a thing, then the
// thing, in one transaction. Idempotent: a thing that is already gone is
// success with existed = false. Connected devices are cut off by the plugin.
Deprovisioned deprovision_thing(registry::Registry& registry, const Actor& actor, const std::string& thing_name);

struct CaRegistration {
  std::string name;
  std::string role;  // claim | manufacturer | fleet
  std::string pem;
  std::vector<std::string> allowed_templates;
  std::string registration_id_field = "CN";  // manufacturer: CN | serialNumber | certificateSerial
};
// Registers (or updates) a CA; returns its certificate id. A broker whose
// plugin keeps a trust directory (plugin_opt_trust_dir, its capath) trusts
// it at TLS level from its next registry poll (docs/operations.md).
std::string register_ca(registry::Registry& registry, const Actor& actor, const CaRegistration& ca);

// What housekeeping removed or retired.
struct Housekeeping {
  int64_t tokens = 0;                     // expired ownership tokens deleted
  std::vector<std::string> certificates;  // certificates never registered, deleted
  std::vector<std::string> retired;       // renewed certificates past their grace period, set INACTIVE
};
// Removes what nobody will ever use: expired ownership tokens, certificates
// never registered within the token lifetime; retires renewed certificates
// whose grace period is over; prunes the change log. One transaction, audited.
Housekeeping housekeep(registry::Registry& registry, int64_t now, int64_t token_ttl_seconds);
std::string describe(const Housekeeping& done);

// Registers a claim certificate (PEM) for the given templates; returns its id.
std::string register_claim(registry::Registry& registry, const Actor& actor, const std::string& pem,
                           const std::vector<std::string>& allowed_templates, const std::string& description,
                           std::optional<int64_t> expires_at);

}  // namespace provision::service
