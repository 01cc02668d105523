// After provisioning: certificate renewal, enrollment identities from a
// manufacturer CA, and the broker's behaviour when the registry misbehaves.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sqlite3.h>

#include <thread>

#include "flows.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "protocol/payloads.h"
#include "protocol/schema_validator.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

TEST_CASE("a device renews its certificate and the old one is retired once the new one is used") {
  Stack stack;
  auto device = provision_device(stack, "renewing");
  auto key = pki::PrivateKey::generate_ec();
  rapidjson::Document reply;
  {
    mqtt_session::Session session(stack.client(device.files, device.thing_name));
    session.connect();
    device::ProvisioningClient client(session);
    auto outcome = client.renew_certificate(pki::create_csr(key, {{"CN", "renewed"}}));
    INFO(outcome.describe());
    REQUIRE(outcome.accepted());
    CHECK_FALSE(protocol::schema_violation(protocol::kRenewalReplySchema, outcome.body));
    reply.CopyFrom(outcome.body, reply.GetAllocator());
  }
  std::string new_id = *json::string_member(reply, "certificateId");
  auto reg = stack.registry();
  CHECK(reg.find_certificate(new_id)->status == "ACTIVE");
  CHECK(reg.find_certificate(new_id)->thing_name == device.thing_name);
  CHECK(reg.policies_of_certificate(new_id) == reg.policies_of_certificate(device.certificate_id));
  CHECK(reg.find_certificate(device.certificate_id)->retire_at.has_value());

  // the old certificate still works until the new one is used
  {
    mqtt_session::Session old_session(stack.client(device.files, device.thing_name));
    old_session.connect();
    CHECK(old_session.publish("devices/demo-renewing/telemetry", "{}") == 0);
  }
  CertificateFiles renewed{(stack.dir / "renewed.pem").string(), (stack.dir / "renewed.key").string()};
  write_file(renewed.certificate, *json::string_member(reply, "certificatePem"), 0644);
  write_file(renewed.key, key.to_pem(), 0600);
  mqtt_session::Session new_session(stack.client(renewed, device.thing_name));
  new_session.connect();
  CHECK(new_session.publish("devices/demo-renewing/telemetry", "{}") == 0);
  new_session.disconnect();

  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (stack.registry().find_certificate(device.certificate_id)->status == "ACTIVE" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  CHECK(stack.registry().find_certificate(device.certificate_id)->status == "INACTIVE");
  mqtt_session::Session old_again(stack.client(device.files, device.thing_name));
  CHECK_THROWS(old_again.connect());
}

TEST_CASE("a claim cannot use the renewal topic") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-renew"));
  claim.connect();
  CHECK(claim.publish("$provision/certificates/renew/json", "{}") == 0x87);
  CHECK(claim.subscribe({"$provision/certificates/renew/json/accepted"}).at(0) >= 0x80);
}

TEST_CASE("a factory certificate from a registered manufacturer CA provisions as an enrollment") {
  Stack stack;
  // The manufacturer's own CA, registered while the broker runs: the plugin
  // puts it in the broker's trust directory (capath) and knows its devices.
  auto manufacturer = pki::CertificateAuthority::create_root("Acme Factory CA", 3600 * 24);
  write_file(stack.dir / "acme-ca.pem", manufacturer.certificate().to_pem(), 0644);
  stack.provisiond({"ca", "register", (stack.dir / "acme-ca.pem").string(), "--name", "acme", "--role", "manufacturer",
                    "--templates", "DemoFleet", "--registration-id", "CN"});

  auto factory_key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", "SN-778899"}};
  auto factory_cert = manufacturer.issue(factory_key.get(), options);
  CertificateFiles files{(stack.dir / "factory.pem").string(), (stack.dir / "factory.key").string()};
  write_file(files.certificate, factory_cert.to_pem(), 0644);
  write_file(files.key, factory_key.to_pem(), 0600);

  REQUIRE(stack.wait_trusted(manufacturer.certificate(), 2s));
  mqtt_session::Session session(stack.client(files, "factory-device"));
  session.connect();
  CHECK(wait_for_text(stack.broker_log, "is enrollment enrollment:SN-778899", 2s));
  device::ProvisioningClient client(session);
  auto issued = create_certificate(client);
  // Its thing is named after its registration id (the CN), whatever it sends.
  auto chosen = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "778899"}});
  CHECK(chosen.error_code == "ThingNameNotBound");
  {
    auto reg = stack.registry();
    reg.add_template_version("DemoFleet", R"({"Resources": {
      "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Provision::RegistrationId"}}},
      "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DemoDevicePolicy"}}}})");
  }
  auto registered = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "778899"}});
  INFO(registered.describe());
  CHECK(registered.accepted());
  CHECK(json::string_member(registered.body, "thingName") == "SN-778899");

  SECTION("disabling the manufacturer CA cuts its devices off") {
    auto reg = stack.registry();
    auto ca = reg.find_ca(manufacturer.certificate().id());
    REQUIRE(ca);
    ca->status = "INACTIVE";
    reg.put_ca(*ca);
    CHECK(session.wait_disconnected(1000ms));
  }
}

TEST_CASE("a writer holding the registry locked does not stop the broker (WAL readers go on)") {
  Stack stack;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((stack.dir / "registry.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE; UPDATE things SET version = version;", nullptr, nullptr, nullptr) == SQLITE_OK);
  mqtt_session::Session claim(stack.claim("while-locked"));
  claim.connect();
  CHECK(claim.connected());
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  // (a registry that cannot be read at all is refused with a clear log line
  // and recovers: plugin_tests "registry busy")
}

TEST_CASE("a missing registry: clients are refused with a clear log line, and it recovers") {
  Stack stack;
  {
    std::filesystem::rename(stack.dir / "registry.db", stack.dir / "registry.db.away");
    REQUIRE(wait_for_text(stack.broker_log, "is missing", 2s));
    mqtt_session::Session refused(stack.claim("while-missing"));
    CHECK_THROWS(refused.connect());
    CHECK(wait_for_text(stack.broker_log, "refused client 'while-missing'", 2s));
    std::filesystem::rename(stack.dir / "registry.db.away", stack.dir / "registry.db");
  }
  mqtt_session::Session back(stack.claim("after-recovery"));
  back.connect();
  device::ProvisioningClient client(back);
  CHECK(client.create_keys_and_certificate().accepted());
}

TEST_CASE("a certificate device asks the firmware catalog over MQTT, and gets the highest applicable release") {
  Stack stack;
  auto device = provision_device(stack, "firmware");
  {
    auto reg = stack.registry();
    auto add = [&](const std::string& version, int64_t product, std::vector<std::string> hardware, bool enabled = true) {
      registry::FirmwareReleaseRecord r;
      r.product_id = product;
      r.version = version;
      r.hardware_versions = std::move(hardware);
      r.download_url = "https://fw.example.com/" + version + ".bin";
      r.file_size = 4096;
      r.sha256 = std::string(64, 'd');
      r.changelog = "v" + version;
      r.enabled = enabled;
      reg.insert_firmware_release(r);
    };
    add("1.9.0", 7, {});
    add("1.10.0", 7, {"ESP32-S3"});
    add("1.11.0", 7, {"ESP32-C3"});   // another board
    add("1.12.0", 7, {}, false);      // disabled
    add("9.0.0", 8, {});              // another product
  }
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  device::ProvisioningClient client(session);
  const protocol::RequestTopic topic{protocol::Operation::CheckFirmware, protocol::Format::Json, protocol::Alias::Provision, ""};
  CHECK(protocol::request_topic(topic) == "$provision/firmware/check/json");

  auto outcome = client.request(topic, R"({"current_version":"1.2.0","product_id":7,"hardware_version":"esp32-s3"})");
  INFO(outcome.describe());
  REQUIRE(outcome.accepted());
  CHECK(outcome.body["update_available"].GetBool());
  CHECK(*json::string_member(outcome.body, "latest_version") == "1.10.0");
  CHECK(*json::string_member(outcome.body, "checksum") == "sha256:" + std::string(64, 'd'));
  CHECK(outcome.body["file_size"].GetInt64() == 4096);

  // without a hardware version only releases for every board
  auto any_board = client.request(topic, R"({"current_version":"1.2.0","product_id":7})");
  REQUIRE(any_board.accepted());
  CHECK(*json::string_member(any_board.body, "latest_version") == "1.9.0");
  // up to date
  auto latest = client.request(topic, R"({"current_version":"1.10.0","product_id":7,"hardware_version":"ESP32-S3"})");
  REQUIRE(latest.accepted());
  CHECK_FALSE(latest.body["update_available"].GetBool());
  CHECK(latest.body["download_url"].IsNull());
  // CBOR too
  auto cbor = client.request({protocol::Operation::CheckFirmware, protocol::Format::Cbor, protocol::Alias::Provision, ""},
                             protocol::encode(json::parse(R"({"current_version":"1.0.0","product_id":8})"), protocol::Format::Cbor));
  INFO(cbor.describe());
  REQUIRE(cbor.accepted());
  CHECK(*json::string_member(cbor.body, "latest_version") == "9.0.0");
  // bad input: rejected naming what is wrong
  auto bad = client.request(topic, R"({"current_version":"one","product_id":7})");
  INFO(bad.describe());
  CHECK_FALSE(bad.accepted());
  CHECK(bad.describe().find("current_version") != std::string::npos);
  auto no_product = client.request(topic, R"({"current_version":"1.0.0"})");
  CHECK_FALSE(no_product.accepted());
  CHECK(no_product.describe().find("product_id") != std::string::npos);
}

TEST_CASE("a claim may not ask the firmware catalog") {
  Stack stack;
  mqtt_session::Session session(stack.claim("claim-asks-firmware"));
  session.connect();
  device::ProvisioningClient client(session);
  auto outcome = client.request({protocol::Operation::CheckFirmware, protocol::Format::Json, protocol::Alias::Provision, ""},
                                R"({"current_version":"1.0.0","product_id":1})");
  CHECK_FALSE(outcome.accepted());
}
