#pragma once
// The factory's enrollments (docs/provisioning.md, "Enrollments"): published
// by the factory (admin API, MQTT), DISABLED until a buyer activates them
// with metadata; reset after a factory reset; deleted.
#include <map>
#include <optional>
#include <string>

#include "fleet/fleet.h"

namespace provision::service::fleet {

struct EnrollmentRequest {
  std::string registration_id;  // [A-Za-z0-9:._-]{1,128}
  std::string kind = "individual";  // individual | group
  std::optional<std::string> template_name;  // must exist
  std::optional<std::string> reprovisioning;  // never (default) | replace
  // The factory-burned key that signs the device's HTTP bootstrap requests:
  // 32 to 128 printable ASCII characters (docs/bootstrap.md, "Signed requests").
  std::optional<std::string> bootstrap_key;
};
struct PublishedEnrollment {
  registry::EnrollmentRecord record;  // as stored
  bool created = false;               // false: it was there, and is left exactly as it was
};
// Publishing the same enrollment again changes nothing (and is not audited again).
PublishedEnrollment create_enrollment(registry::Registry& registry, const Context& context, const EnrollmentRequest& request);

struct Activation {
  std::optional<std::map<std::string, std::string>> attributes;  // replaces them all
  std::optional<std::string> configuration;                      // a JSON object, merged into DeviceConfiguration
  std::optional<std::string> broker;                             // pinned; must exist
  std::optional<std::string> reprovisioning;                     // never | replace
};
registry::EnrollmentRecord activate_enrollment(registry::Registry& registry, const Context& context, const std::string& id,
                                               const Activation& activation);
registry::EnrollmentRecord disable_enrollment(registry::Registry& registry, const Context& context, const std::string& id);
// A used individual enrollment may be used once more, by its device, for its own thing (409 for a group one).
registry::EnrollmentRecord reset_enrollment(registry::Registry& registry, const Context& context, const std::string& id);
void delete_enrollment(registry::Registry& registry, const Context& context, const std::string& id);

}  // namespace provision::service::fleet
