#pragma once
// One device's flow, timed step by step.
//
// Provisioning: claim connect over mTLS, subscribe to the reply topics,
// CreateCertificateFromCsr (or CreateKeysAndCertificate), RegisterThing
// through the template, disconnect, reconnect with the device certificate
// (client id = thing name), one QoS 1 publish its policy allows, disconnect.
//
// Baseline, what no provisioning system can avoid: connect with the claim
// certificate and disconnect, connect with a pre-issued device certificate,
// one QoS 1 publish, disconnect.
#include <array>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt_client.h"
#include "pki/key.h"
#include "pre_issued_devices.h"
#include "stack.h"

namespace provision::bench {

enum class Step { ClaimConnect, Subscribe, CreateCertificate, RegisterThing, DeviceConnect, Publish, WholeFlow };
inline constexpr size_t kStepCount = 7;
std::string_view step_name(Step step);

struct FlowResult {
  bool ok = false;
  // Why it failed: a rejected reply's errorCode, or "<step>: <failure>".
  std::string error;
  std::array<std::optional<double>, kStepCount> step_ms;  // the steps it completed
};

struct FlowSettings {
  StackSettings stack;
  bool keygen = false;                 // CreateKeysAndCertificate instead of a CSR
  std::chrono::milliseconds step_timeout{20000};
  std::string run_id;                  // makes serial numbers unique per run
};

// What a device makes on its own hardware before it ever connects: its key
// and, unless the service makes the key, its CSR. Made for every device before
// the timed flows, so that the load generator's CPU (on the measured cores)
// does not count key generation that a real fleet does elsewhere.
struct PreparedDevice {
  std::optional<pki::PrivateKey> key;  // none with keygen (it comes with the certificate)
  std::string certificate_request;     // the CreateCertificateFromCsr payload; "{}" with keygen
};
// Serial numbers (and CSR common names) are "<run_id>-<index>".
std::vector<PreparedDevice> prepare_devices(const FlowSettings& settings, size_t count);

FlowResult run_provisioning_flow(const FlowSettings& settings, const PreparedDevice& device, size_t index);
FlowResult run_baseline_flow(const FlowSettings& settings, const PreIssuedDevice& device, size_t index);

}  // namespace provision::bench
