// The whole stack on a PostgreSQL registry (a real server, postgres.h): the
// provisioning flow, the admin API, live revocation, two workers racing for
// one token and one thing name, and the registry going away and coming back.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <optional>
#include <thread>

#include "util/clock.h"
#include "util/encoding.h"
#include "flows.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "process.h"
#include "postgres.h"
#include "registry/copy.h"
#include "registry/database.h"
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

  mqtt_session::Session session(stack.client(device.files, device.thing_name));
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
  mqtt_session::Session again(stack.client(device.files, device.thing_name));
  CHECK_THROWS(again.connect());

  // the same registry read back through the API
  auto audit = admin.Get("/v1/audit?subject=" + device.certificate_id, auth);
  REQUIRE(audit);
  CHECK(audit->body.find("RevokeCertificate") != std::string::npos);
}

TEST_CASE("on a PostgreSQL registry two registrations racing for one token: exactly one wins") {
  auto& server = PostgresServer::shared();
  Stack stack(on_postgres(server));
  mqtt_session::Session claim(stack.claim("racer"));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 20s);
  auto issued = create_certificate(client);
  // Two connections of the same claim send RegisterThing with the same token at once.
  mqtt_session::Session other(stack.claim("racer-2"));
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
  mqtt_session::Session connected(stack.client(device.files, device.thing_name));
  connected.connect();
  mqtt_session::Session claim(stack.claim("claim-across-the-outage"));
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
  mqtt_session::Session newcomer(stack.claim("newcomer"));
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

TEST_CASE("provisiond registry copy moves a registry with every kind of row to PostgreSQL and back, and proves it") {
  auto& server = PostgresServer::shared();
  Stack stack;  // SQLite
  // A registry with rows in every table.
  {
    auto reg = stack.registry();
    reg.put_broker({"eu-1", "mqtts://eu-1.example.com:8883", 1, true, 0, 0, std::nullopt});
    registry::EnrollmentRecord e;
    e.registration_id = "SN-COPY";
    reg.upsert_enrollment(e);
    reg.insert_thing({"grouped", std::nullopt, {{"a", "b"}}});
    reg.set_thing_groups("grouped", {"fleet-a"});
    registry::DeviceCredentialRecord credential;
    credential.thing_name = "grouped";
    credential.device_uuid = "7d3f3c1e-0f4b-4c7a-9a52-6f3b2c1d0e9f";
    credential.secret_hash = std::string(64, 'c');
    credential.issued_at = 10;
    reg.insert_device_credential(credential);
    registry::FirmwareReleaseRecord release;
    release.product_id = 1;
    release.version = "1.2.0";
    release.hardware_versions = {"ESP32-S3"};
    release.download_url = "https://fw.example.com/1.2.0.bin";
    release.file_size = 10;
    release.sha256 = std::string(64, 'f');
    reg.insert_firmware_release(release);
    reg.log_bootstrap_access({0, unix_now() * 1000, "127.0.0.1", "AABBCCDDEEFF", "/device/info", "ok", 200, 100});  // (within retention)
    REQUIRE(reg.remember_bootstrap_signature("sha256-of-a-signature", unix_now() + 600));
  }
  provision_device(stack, "copy-1");
  provision_device(stack, "copy-2");
  stack.provisiond({"janitor"});
  {
    auto reg = stack.registry();
    auto c = reg.list_certificates({1, ""}, std::nullopt, std::nullopt).front();
    database_of(reg).exec("INSERT INTO ownership_tokens (token_hash, certificate_id, claim_certificate_id, expires_at) VALUES ('legacy', '" +
                          c.id + "', 'claim', 99999999999)");
    reg.claim_task("housekeeping", 1000, 0);
  }
  stack.stop_worker();
  const std::string file = stack.registry_location;
  const std::string database = server.create_database("copied_" + random_token(8));
  const std::string back = (stack.dir / "back.db").string();

  std::string output;
  int rc = stack.run({provisiond_binary(), "registry", "copy", "--from", file, "--to", database}, output);
  INFO(output);
  REQUIRE(rc == 0);
  CHECK(output.find("every table has the same rows and the same content") != std::string::npos);
  {
    auto a = registry::Registry::open(file);
    auto b = registry::Registry::open(database);
    for (const auto& t : registry::compare_registries(a, b)) {
      INFO(t.table);
      CHECK(t.rows_from > 0);  // every kind of row was there to copy
      CHECK(t.same());
    }
    CHECK(b.find_thing("demo-copy-1"));
    CHECK(b.groups_of_thing("grouped") == std::vector<std::string>{"fleet-a"});
    // the copy goes on counting its own ids
    b.audit({0, 0, "test", "AfterCopy", "x", "ok", "", "{}"});
    CHECK(b.audit_entries({}).front().action == "AfterCopy");
  }
  // and back, into a new file
  rc = stack.run({provisiond_binary(), "registry", "copy", "--from", database, "--to", back}, output);
  INFO(output);
  REQUIRE(rc == 0);
  {
    auto a = registry::Registry::open(database);
    auto b = registry::Registry::open(back);
    for (const auto& t : registry::compare_registries(a, b)) CHECK(t.same());
  }
  // never into a registry that holds something
  rc = stack.run({provisiond_binary(), "registry", "copy", "--from", file, "--to", database}, output);
  CHECK(rc == 1);
  CHECK(output.find("is not empty") != std::string::npos);
  rc = stack.run({provisiond_binary(), "registry", "copy", "--from", file, "--to", back}, output);
  CHECK(rc == 1);
  CHECK(output.find("exists already") != std::string::npos);
}

TEST_CASE("a primary and a synchronous standby behind one multi-host URI: after the primary stops and the standby is "
          "promoted, provisioning goes on by itself and no acknowledged registration is lost") {
  // Synchronous replication: a commit returns (and the device gets its
  // reply) only once the standby has it.
  PostgresServer primary(PostgresServer::Options{{"synchronous_standby_names = '*'", "synchronous_commit = on"}, nullptr});
  // The standby's copy of the primary's settings would make it wait, once
  // promoted, for a standby of its own that does not exist (docs/operations.md).
  PostgresServer standby(PostgresServer::Options{{"synchronous_standby_names = ''"}, &primary});
  // (a commit on the primary waits for the standby from now on)
  primary.psql("postgres", "CREATE DATABASE fleet TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
  const std::string uri = "postgresql://" + std::string(PostgresServer::kUser) + "@127.0.0.1:" + std::to_string(primary.port) +
                          ",127.0.0.1:" + std::to_string(standby.port) + "/fleet?target_session_attrs=read-write";
  StackOptions options;
  options.registry = uri;
  Stack stack(options);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 5; ++i) acknowledged.push_back(provision_device(stack, "ha-" + std::to_string(i)).thing_name);

  primary.stop();
  auto promoted_at = std::chrono::steady_clock::now();
  standby.promote();

  // The same worker and broker, with nothing restarted: a new device provisions.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  bool provisioned = false;
  std::string last;
  while (!provisioned && std::chrono::steady_clock::now() < deadline) {
    try {
      mqtt_session::Session claim(stack.claim("after-failover-" + random_token(4)));
      claim.connect();
      device::ProvisioningClient client(claim, protocol::Alias::Provision, 5s);
      auto key = pki::PrivateKey::generate_ec();
      auto created = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "ha"}}));
      last = created.describe();
      if (created.accepted()) {
        auto registered = client.register_thing("DemoFleet", *json::string_member(created.body, "certificateOwnershipToken"),
                                                {{"SerialNumber", "ha-after"}});
        last = registered.describe();
        provisioned = registered.accepted();
      }
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (!provisioned) std::this_thread::sleep_for(200ms);
  }
  INFO(last);
  CHECK(provisioned);
  WARN("provisioning again " << ms(std::chrono::steady_clock::now() - promoted_at) << " ms after the standby's promotion");
  // Every registration a device was told about is on the new primary.
  for (const auto& thing : acknowledged) {
    auto count = standby.psql("fleet", "SELECT count(*) FROM things WHERE name = '" + thing + "'");
    CHECK(count.find('1') != std::string::npos);
  }
  CHECK(stack.registry().find_thing("demo-ha-after"));
}

TEST_CASE("on a PostgreSQL registry a MAC device bootstraps over HTTPS with a signed request, a replay is refused, and it publishes") {
  auto& server = PostgresServer::shared();
  StackOptions options = on_postgres(server);
  options.password_listener = true;
  options.bootstrap_listener = true;
  // HTTPS with the PKI's server certificate (paths relative to provisiond.json)
  options.bootstrap_settings =
      R"("responseFloorMs":100,"requestsPerIpPerMinute":0,"requestsPerMacPerMinute":0,"tlsCertificate":"pki/broker.pem","tlsKey":"pki/broker.key")";
  Stack stack(options);
  const std::string mac = "AA:BB:CC:DD:EE:C0", key = "pg-factory-key-0123456789abcdefghij";
  {
    auto reg = stack.registry();
    registry::EnrollmentRecord e;
    e.registration_id = mac;
    e.template_name = "MacBootstrap";
    e.status = "ENABLED";
    e.bootstrap_key = key;
    REQUIRE(reg.upsert_enrollment(e));
  }
  httplib::SSLClient client("localhost", stack.bootstrap_port);
  client.set_ca_cert_path(stack.pki.root_cert.c_str());
  client.enable_server_certificate_verification(true);
  client.set_read_timeout(10, 0);
  auto health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  const std::string body = R"({"mac_address":")" + mac + R"(","firmware_version":"1.0.0"})";
  const std::string t = std::to_string(unix_now());
  httplib::Headers headers{{"X-Provision-Timestamp", t}, {"X-Provision-Signature", "sha256=" + to_hex(hmac_sha256(key, t + "." + body))}};
  auto unsigned_info = client.Post("/device/info", body, "application/json");
  REQUIRE(unsigned_info);
  CHECK(unsigned_info->status == 404);
  auto info = client.Post("/device/info", headers, body, "application/json");
  REQUIRE(info);
  INFO(info->body);
  REQUIRE(info->status == 200);
  auto doc = json::parse(info->body);
  const std::string thing = *json::string_member(doc, "device_id"), secret = *json::string_member(doc, "device_secret"),
                    uuid = *json::string_member(doc, "device_uuid");
  // the replay is refused by the registry every provisiond shares
  auto replay = client.Post("/device/info", headers, body, "application/json");
  REQUIRE(replay);
  CHECK(replay->status == 401);
  CHECK(replay->body.find("ReplayedRequest") != std::string::npos);
  // a plain-HTTP request to the HTTPS listener gets no answer in clear
  httplib::Client plain("127.0.0.1", stack.bootstrap_port);
  plain.set_read_timeout(3, 0);
  auto in_clear = plain.Get("/health");
  CHECK((!in_clear || in_clear->status != 200));
  mqtt_session::Session device(stack.password_client(thing, secret, uuid));
  device.connect();
  CHECK(device.publish("devices/" + thing + "/data", "{}") == 0);
  CHECK(stack.registry().find_device_credential(thing));
}

TEST_CASE("registrations of one thing name on a PostgreSQL registry are one at a time: a second waits until the first ends") {
  // What keeps two workers from both taking one unowned thing (apply_plan
  // takes this lock before it reads the thing and its certificates).
  auto& server = PostgresServer::shared();
  auto database = server.create_database("lock_" + random_token(8));
  auto first = registry::Registry::open(database);
  auto second = registry::Registry::open(database);
  auto third = registry::Registry::open(database);

  std::optional<registry::Transaction> holding(std::in_place, first);
  first.lock_thing("machine-1");
  std::atomic<bool> other_name_locked{false}, same_name_locked{false};
  std::thread other([&] {
    registry::Transaction tx(third);
    third.lock_thing("machine-2");
    other_name_locked = true;
    tx.commit();
  });
  std::thread same([&] {
    registry::Transaction tx(second);
    second.lock_thing("machine-1");
    same_name_locked = true;
    tx.commit();
  });
  other.join();
  CHECK(other_name_locked);
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(same_name_locked);  // still waiting for the first transaction
  holding.reset();                // rolled back: the lock goes with it
  same.join();
  CHECK(same_name_locked);
}
