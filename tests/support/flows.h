#pragma once
// Provisioning flows that several integration tests start from.
#include <map>
#include <string>

#include "provisioning_client.h"
#include "stack.h"

namespace provision::test {

struct ProvisionedDevice {
  std::string thing_name;
  std::string certificate_id;
  CertificateFiles files;
};

// Provisions one device through the demo template with a CSR made here, over
// the claim certificate; REQUIREs every step to be accepted.
ProvisionedDevice provision_device(Stack& stack, const std::string& serial_number);

// A device's first boot that does what a real one should: on a timeout or a
// 503 it asks again (a RegisterThing with the same token and parameters,
// which is answered as the first would have been). Throws std::runtime_error
// when `attempts` were not enough (no Catch assertion: threads may call it).
ProvisionedDevice provision_with_retries(Stack& stack, const std::string& serial, int attempts = 6);

// Certificate and token from CreateCertificateFromCsr (key made here).
struct IssuedCertificate {
  std::string certificate_id, certificate_pem, private_key_pem, ownership_token;
};
// REQUIREs it to be accepted (Catch: the test's own thread only).
IssuedCertificate create_certificate(device::ProvisioningClient& client);
// The same without Catch, for other threads (Catch is not thread-safe):
// throws std::runtime_error when it is not accepted.
IssuedCertificate issue_certificate(device::ProvisioningClient& client);

}  // namespace provision::test
