#pragma once
// Where a running stack is and how to reach it: DIR/stack.env (written by
// `scripts/demo --serve DIR`) for the MQTT side, DIR/provisiond.json for the
// registry and the fleet CA.
#include <filesystem>
#include <memory>
#include <string>

#include "mqtt_client.h"
#include "tls_context.h"

namespace provision::bench {

struct StackSettings {
  std::filesystem::path dir;
  Endpoint broker;
  std::string ca_file;            // verifies the broker
  std::shared_ptr<const BrokerTrust> trust;  // ca_file, parsed
  std::shared_ptr<const TlsContext> claim;   // the claim certificate and key, shared by every claim connect
  std::shared_ptr<const TlsContext> devices;  // every device connect: the identity its thread puts in place
  std::string template_name;      // a template the claim may use
  std::filesystem::path registry;
  std::filesystem::path fleet_ca_certificate, fleet_ca_key;
};

// Throws Error naming what is missing.
StackSettings load_stack(const std::filesystem::path& dir);

}  // namespace provision::bench
