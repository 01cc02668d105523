#pragma once
// Password devices' credentials (HTTP bootstrap): an admin rotates a secret.
#include <string>

#include "fleet/fleet.h"

namespace provision::service::fleet {

struct RotatedSecret {
  registry::DeviceCredentialRecord credential;
  std::string secret;  // shown once; the bootstrap listener hands it out too until the device connects with it
};
// The old secret stops working at once (the broker cuts its connections
// off within a second). 404 when the thing has no credential.
RotatedSecret rotate_device_secret(registry::Registry& registry, const Context& context, const std::string& thing_name);

}  // namespace provision::service::fleet
