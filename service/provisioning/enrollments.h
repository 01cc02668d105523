#pragma once
// The factory's enrollment list at registration time (the Azure DPS model):
// a device may register only through an enrollment that exists, was
// activated by its buyer, and (for an individual one) was not used yet. The
// device is never told which of those failed, and the check does the same
// work whichever it is.
#include <string>

#include "registry/registry.h"

namespace provision::service {

// The enrollment for a registration id (individual), else for the device's
// manufacturer CA (group). Throws RequestError(403, "EnrollmentNotAllowed").
// A used individual enrollment is usable again only when its
// reprovisioning policy is "replace" (or an admin reset it).
registry::EnrollmentRecord check_enrollment(registry::Registry& registry, const std::string& registration_id,
                                            const std::string& issuer_ca_id, const std::string& template_name);

// Records that an individual enrollment was used by `thing_name` (inside the
// registration's transaction).
// Throws EnrollmentNotAllowed (as check_enrollment does) when another
// registration used it meanwhile.
void mark_enrollment_used(registry::Registry& registry, const registry::EnrollmentRecord& enrollment,
                          const std::string& thing_name, int64_t now, const std::string& template_name);

}  // namespace provision::service
