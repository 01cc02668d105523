// The whole stack on a PostgreSQL registry (a real server, postgres.h): the
// provisioning flow, the admin API, live revocation, two workers racing for
// one token and one thing name, and the registry going away and coming back.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "flows.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "process.h"
#include "postgres.h"
#include "stack.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

StackOptions on_postgres(PostgresServer& server) {
  StackOptions options;
  options.registry = server.create_database("stack_" + random_token(8));
  return options;
}

int64_t ms(std::chrono::steady_clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

TEST_CASE("on a PostgreSQL registry a device provisions end to end, and revoking it through the admin API cuts it off") {
  auto& server = PostgresServer::shared();
  Stack stack(on_postgres(server));
  auto device = provision_device(stack, "pg-1");
  CHECK(stack.registry().find_thing("demo-pg-1"));

  mqtt_client::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  REQUIRE(session.publish("devices/demo-pg-1/telemetry", "{}") == 0);
  httplib::Client admin("127.0.0.1", stack.admin_port);
  httplib::Headers auth{{"Authorization", "Bearer " + stack.admin_token}};
  auto started = std::chrono::steady_clock::now();
  auto revoked = admin.Patch("/v1/certificates/" + device.certificate_id, auth, R"({"status":"REVOKED"})", "application/json");
  REQUIRE(revoked);
  CHECK(revoked->status == 200);
  CHECK(session.wait_disconnected(1500ms));
  WARN("cut off " << ms(std::chrono::steady_clock::now() - started) << " ms after the revocation (PostgreSQL registry)");
  mqtt_client::Session again(stack.client(device.files, device.thing_name));
  CHECK_THROWS(again.connect());

  // the same registry read back through the API
  auto audit = admin.Get("/v1/audit?subject=" + device.certificate_id, auth);
  REQUIRE(audit);
  CHECK(audit->body.find("RevokeCertificate") != std::string::npos);
}

TEST_CASE("on a PostgreSQL registry two registrations racing for one token: exactly one wins") {
  auto& server = PostgresServer::shared();
  Stack stack(on_postgres(server));
  mqtt_client::Session claim(stack.claim("racer"));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 20s);
  auto issued = create_certificate(client);
  // Two connections of the same claim send RegisterThing with the same token at once.
  mqtt_client::Session other(stack.claim("racer-2"));
  other.connect();
  device::ProvisioningClient client2(other, protocol::Alias::Provision, 20s);
  device::Outcome a, b;
  std::thread first([&] { a = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "race-1"}}); });
  std::thread second([&] { b = client2.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "race-2"}}); });
  first.join();
  second.join();
  INFO(a.describe() << "\n" << b.describe());
  CHECK(a.accepted() != b.accepted());
  const auto& loser = a.accepted() ? b : a;
  CHECK(loser.error_code == "CertificateOwnershipTokenUsed");
  CHECK(stack.registry().find_certificate(issued.certificate_id)->status == "ACTIVE");
  CHECK(static_cast<int>(stack.registry().find_thing("demo-race-1").has_value()) +
            static_cast<int>(stack.registry().find_thing("demo-race-2").has_value()) ==
        1);
}

TEST_CASE("PostgreSQL restarted: requests get 503 RegistryUnavailable meanwhile, devices stay connected, and all recovers") {
  PostgresServer server;  // its own, to stop
  Stack stack(on_postgres(server));
  auto device = provision_device(stack, "pg-2");
  mqtt_client::Session connected(stack.client(device.files, device.thing_name));
  connected.connect();
  mqtt_client::Session claim(stack.claim("claim-across-the-outage"));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 20s);

  server.stop();
  // a connected claim's request: answered, with the reason
  auto key = pki::PrivateKey::generate_ec("P-256");
  auto refused = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "while-down"}}));
  INFO(refused.describe());
  CHECK(refused.status_code == 503);
  CHECK(refused.error_code == "RegistryUnavailable");
  // a new client: refused at connect, fast, and the broker says why
  auto started = std::chrono::steady_clock::now();
  mqtt_client::Session newcomer(stack.claim("newcomer"));
  CHECK_THROWS(newcomer.connect());
  CHECK(ms(std::chrono::steady_clock::now() - started) < 3000);
  CHECK(wait_for_text(stack.broker_log, "registry unavailable", 2s));
  // the device that was connected still is
  CHECK(connected.publish("devices/demo-pg-2/telemetry", "{}") == 0);
  CHECK_FALSE(connected.wait_disconnected(500ms));

  server.start();
  // everything recovers by itself: the same claim session, a new client, a new device
  auto deadline = std::chrono::steady_clock::now() + 10s;
  device::Outcome after;
  do {
    after = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "after"}}));
    if (after.accepted()) break;
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  INFO(after.describe());
  CHECK(after.accepted());
  auto recovered = provision_device(stack, "pg-3");
  CHECK(stack.registry().find_thing(recovered.thing_name));
}
