#include "fleet/devices.h"

#include "provisioning/bootstrap.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/text.h"

namespace provision::service::fleet {

RotatedSecret rotate_device_secret(registry::Registry& registry, const Context& context, const std::string& thing_name) {
  auto tx = registry.begin();
  if (!registry.find_device_credential(thing_name)) not_found("device credential of thing " + text::quote(thing_name));
  RotatedSecret rotated;
  rotated.secret = new_device_secret();
  registry.set_device_secret(thing_name, sha256_hex(rotated.secret), unix_now());
  audit(registry, context.actor, action::kRotateDeviceSecret, thing_name);
  rotated.credential = *registry.find_device_credential(thing_name);
  tx.commit();
  return rotated;
}

}  // namespace provision::service::fleet
