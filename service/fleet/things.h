#pragma once
// Things and their certificates: revoke, disable, re-enable; detach and
// delete, one step at a time (each idempotent) or all at once
// (deprovision). The broker cuts off a connected device that loses its
// right within a second. Registering things is provisioning's
// (service/provisioning): through a template, for a device or a factory.
#include <string>
#include <vector>

#include "fleet/fleet.h"

namespace provision::service::fleet {

// ACTIVE, INACTIVE or REVOKED (REVOKED is final; a certificate never
// registered cannot be made ACTIVE): 400 InvalidStatus, 404, 409.
registry::CertificateRecord set_certificate_status(registry::Registry& registry, const Context& context,
                                                   const std::string& certificate_id, const std::string& status);

// Deletes a thing; its certificates stay but are no longer attached (devices
// using them are refused). Returns false when there was no such thing.
bool delete_thing(registry::Registry& registry, const Context& context, const std::string& thing_name);
// Detaches a certificate from a thing. Returns false when it was not attached to it.
bool detach_certificate(registry::Registry& registry, const Context& context, const std::string& thing_name,
                        const std::string& certificate_id);
// Deletes a certificate that is neither ACTIVE nor attached to a thing (409
// Conflict otherwise: set it INACTIVE and detach it first), with its policy
// attachments. Returns false when there was none.
bool delete_certificate(registry::Registry& registry, const Context& context, const std::string& certificate_id);

struct Deprovisioned {
  bool existed = false;
  std::vector<std::string> certificates_removed;
};
// Detaches, deactivates and deletes every certificate of a thing, then the
// thing, in one transaction. A thing that is already gone is success with
// existed = false.
Deprovisioned deprovision_thing(registry::Registry& registry, const Context& context, const std::string& thing_name);

}  // namespace provision::service::fleet
