#include "flows.h"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <thread>

#include "pki/csr.h"
#include "pki/key.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::test {

using namespace std::chrono_literals;

IssuedCertificate issue_certificate(device::ProvisioningClient& client) {
  auto key = pki::PrivateKey::generate_ec();
  auto outcome = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "test-device"}}));
  if (!outcome.accepted()) throw std::runtime_error("CreateCertificateFromCsr: " + outcome.describe());
  return {*json::string_member(outcome.body, "certificateId"), *json::string_member(outcome.body, "certificatePem"),
          key.to_pem(), *json::string_member(outcome.body, "certificateOwnershipToken")};
}

IssuedCertificate create_certificate(device::ProvisioningClient& client) {
  try {
    return issue_certificate(client);
  } catch (const std::runtime_error& e) {
    FAIL(e.what());
  }
  throw std::logic_error("unreachable");
}

ProvisionedDevice provision_device(Stack& stack, const std::string& serial_number) {
  mqtt_session::Session claim(stack.claim("claim-" + random_token(6)));
  claim.connect();
  device::ProvisioningClient client(claim);
  auto issued = create_certificate(client);
  auto registered = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", serial_number}});
  INFO(registered.describe());
  REQUIRE(registered.accepted());
  claim.disconnect();

  ProvisionedDevice device;
  device.thing_name = *json::string_member(registered.body, "thingName");
  device.certificate_id = issued.certificate_id;
  device.files = {(stack.dir / (device.thing_name + ".pem")).string(), (stack.dir / (device.thing_name + ".key")).string()};
  write_file(device.files.certificate, issued.certificate_pem, 0644);
  write_file(device.files.key, issued.private_key_pem, 0600);
  return device;
}

ProvisionedDevice provision_with_retries(Stack& stack, const std::string& serial, int attempts) {
  // What a device keeps across a lost connection: its key, and once
  // CreateCertificateFromCsr answered, the certificate and its token. A
  // RegisterThing whose reply was lost (the broker went away) is asked again
  // with the same token over a new connection, as docs/protocol.md says; a
  // new certificate for the same serial would find the thing taken by the
  // first one.
  auto key = pki::PrivateKey::generate_ec();
  std::optional<rapidjson::Document> created;
  std::string last_error;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(300ms);
    try {
      mqtt_session::Session claim(stack.claim("claim-" + random_token(6)));
      claim.connect();
      device::ProvisioningClient client(claim, protocol::Alias::Provision, 5s);
      if (!created) {
        auto outcome = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", serial}}));
        if (!outcome.accepted()) {
          last_error = "create: " + outcome.describe();
          continue;
        }
        created = std::move(outcome.body);
      }
      const std::string token = *json::string_member(*created, "certificateOwnershipToken");
      auto registered = client.register_thing("DemoFleet", token, {{"SerialNumber", serial}});
      if (!registered.accepted()) {
        last_error = "register: " + registered.describe();
        // A timeout, a 503 or a lost connection is asked again; any other
        // answer is the device's answer.
        if (registered.kind == device::Outcome::Kind::Rejected && registered.status_code != 503) break;
        continue;
      }
      ProvisionedDevice device;
      device.thing_name = *json::string_member(registered.body, "thingName");
      device.certificate_id = *json::string_member(*created, "certificateId");
      device.files = {(stack.dir / (device.thing_name + ".pem")).string(), (stack.dir / (device.thing_name + ".key")).string()};
      write_file(device.files.certificate, *json::string_member(*created, "certificatePem"), 0644);
      write_file(device.files.key, key.to_pem(), 0600);
      return device;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
  }
  throw std::runtime_error("device " + serial + " did not provision: " + last_error);
}

}  // namespace provision::test
