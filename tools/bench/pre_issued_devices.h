#pragma once
// Devices that already hold a certificate, for the baseline and for holding
// device connections: each has its own key and a certificate from the stack's
// fleet CA, and is registered directly in the registry the way provisioning
// would have left it (a thing, its ACTIVE certificate attached, the demo
// device policy). Their files live in DIR/bench-devices and are reused by
// later runs against the same stack.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mqtt_client.h"
#include "pki/key.h"
#include "stack.h"

namespace provision::bench {

inline constexpr const char* kDevicePolicy = "DemoDevicePolicy";

struct PreIssuedDevice {
  std::string thing_name;       // also its client id (the demo policy requires it)
  std::string telemetry_topic;  // a topic its policy allows it to publish
  std::filesystem::path certificate_file, key_file;
  // Read by load_pre_issued_devices. The key is parsed there, as a device
  // holds its key; the certificate is parsed by each flow, as the
  // provisioning flow parses the certificate it receives.
  std::string certificate_pem;
  std::optional<pki::PrivateKey> key;
};

// The devices already issued for this stack (none when there are none).
std::vector<PreIssuedDevice> load_pre_issued_devices(const StackSettings& stack);
// At least `count` devices: issues and registers the missing ones.
std::vector<PreIssuedDevice> ensure_pre_issued_devices(const StackSettings& stack, size_t count);

}  // namespace provision::bench
