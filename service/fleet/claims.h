#pragma once
// Claim certificates: made here by the claim CA (the key is returned once),
// or an existing certificate registered; and the templates they may use.
// Disabling or deleting one cuts its connected clients off within a second.
#include <optional>
#include <string>
#include <vector>

#include "fleet/fleet.h"

namespace provision::service::fleet {

struct ClaimRequest {
  std::optional<std::string> certificate_pem;  // an existing claim certificate; absent: made here by the claim CA
  std::vector<std::string> templates;          // each must exist
  std::string description;
  std::optional<int64_t> expires_at;        // also refused after this time (Unix seconds)
  std::optional<int64_t> validity_seconds;  // made here: its validity (default a year; under a day: it also expires in the registry)
};

struct CreatedClaim {
  registry::ClaimCertificateRecord record;
  std::optional<std::string> private_key;  // PEM, when made here
};

// CreateClaim (made here) or RegisterClaim (an existing certificate).
CreatedClaim create_claim(registry::Registry& registry, const Context& context, const ClaimRequest& request);

struct ClaimChange {
  std::optional<std::string> description;
  std::optional<std::string> status;  // ACTIVE | INACTIVE
  std::optional<std::vector<std::string>> templates;
  std::optional<std::optional<int64_t>> expires_at;  // nullopt inside: no expiry
};
registry::ClaimCertificateRecord update_claim(registry::Registry& registry, const Context& context, const std::string& id,
                                              const ClaimChange& change);
void delete_claim(registry::Registry& registry, const Context& context, const std::string& id);

// Template names that must exist; 400 InvalidField naming `field`[i] otherwise.
std::vector<std::string> existing_templates(registry::Registry& registry, const std::vector<std::string>& names,
                                            const std::string& field = "templates");

}  // namespace provision::service::fleet
