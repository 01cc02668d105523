// What the broker refuses: the plugin's identities and ACLs seen from real
// MQTT clients, by the broker's own answers (CONNACK, SUBACK, PUBACK).
#include <catch2/catch.hpp>

#include "flows.h"
#include "pki/certificate.h"
#include "stack.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {
constexpr int kNotAuthorized = 0x87;

// Subscribes one filter at a time so each refusal is known for itself.
int subscribe_one(mqtt_client::Session& session, const std::string& filter) { return session.subscribe({filter}).at(0); }
}  // namespace

TEST_CASE("a claim client may subscribe only to the reply topics of what it may request") {
  Stack stack;
  stack.registry().add_template_version("OtherFleet", R"({"Parameters":{"SerialNumber":{"Type":"String"}},
    "Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}})");
  mqtt_client::Session claim(stack.claim("claim-subscriber"));
  claim.connect();

  for (const char* refused : {"#", "+/#", "$provision/#", "$provision/+/+/+/+", "$aws/#", "_provision/#", "_provision/requests",
                              "_provision/replies", "+/requests", "$share/g/_provision/requests", "$share/g/#",
                              "$provision/certificates/create/json", "$provision/templates/OtherFleet/provision/json/accepted",
                              "$provision/templates/+/provision/json/accepted", "$provision/templates/OtherFleet/provision/json/+",
                              "devices/demo-1/commands", "$SYS/#"}) {
    INFO(refused);
    CHECK(subscribe_one(claim, refused) >= 0x80);
    CHECK(claim.connected());
  }
  for (const char* granted : {"$provision/certificates/create/json/accepted", "$provision/certificates/create-from-csr/json/rejected",
                              "$provision/templates/DemoFleet/provision/json/accepted",
                              "$provision/templates/DemoFleet/provision/json/+",
                              "$aws/certificates/create-from-csr/json/accepted"}) {
    INFO(granted);
    CHECK(subscribe_one(claim, granted) == 1);
  }
}

TEST_CASE("a claim client may publish only provisioning requests it is allowed") {
  Stack stack;
  mqtt_client::Session claim(stack.claim("claim-publisher"));
  claim.connect();
  for (const char* refused : {"devices/demo-1/telemetry", "_provision/requests", "_provision/replies",
                              "$provision/certificates/create/json/accepted", "$provision/templates/DemoFleet/provision/json/rejected",
                              "$provision/templates/OtherFleet/provision/json", "$provision/certificates/renew/json",
                              "$provision/certificates/create/xml", "$SYS/broker/x"}) {
    INFO(refused);
    CHECK(claim.publish(refused, "{}") == kNotAuthorized);
  }
  // retained provisioning requests are refused too
  CHECK(claim.publish("$provision/certificates/create/json", "{}", 1, true) == kNotAuthorized);
  // what it may send is accepted by the broker (0x10: no subscriber matches the request topic itself)
  int reason = claim.publish("$provision/certificates/create/json", "{}");
  CHECK((reason == 0 || reason == 0x10));
}

TEST_CASE("clients without a registered identity are refused at connect") {
  Stack stack;
  SECTION("a certificate from an unknown CA") {
    auto files = stack.foreign_certificate("stranger");
    mqtt_client::Session stranger(stack.client(files, "stranger"));
    CHECK_THROWS(stranger.connect());
    CHECK_FALSE(stranger.connected());
  }
  SECTION("no client certificate at all") {
    auto settings = stack.claim("anonymous");
    settings.tls.certificate.clear();
    settings.tls.private_key.clear();
    mqtt_client::Session anonymous(settings);
    CHECK_THROWS(anonymous.connect());
  }
  SECTION("a claim certificate that was disabled") {
    auto reg = stack.registry();
    auto claim_id = pki::Certificate::load(stack.pki.claim_cert).id();
    REQUIRE(reg.set_claim_status(claim_id, "INACTIVE"));
    mqtt_client::Session claim(stack.claim("disabled-claim"));
    CHECK_THROWS(claim.connect());
    CHECK(wait_for_text(stack.broker_log, "is INACTIVE", 2s));
  }
  SECTION("a username sent by the device is neither trusted nor refused") {
    auto settings = stack.claim("sdk-device");
    settings.username = "?SDK=CPPv2&Version=1.0&Platform=Linux";
    mqtt_client::Session claim(settings);
    claim.connect();
    CHECK(claim.connected());
    CHECK(wait_for_text(stack.broker_log, "u'claim:", 2s));
  }
}

TEST_CASE("a provisioned device is refused on topics outside its policy") {
  Stack stack;
  auto device = provision_device(stack, "501");
  auto other = provision_device(stack, "502");
  mqtt_client::Session session(stack.client(device.files, device.thing_name));
  session.connect();

  CHECK(session.publish("devices/demo-501/telemetry", "{}") == 0);
  CHECK(session.publish("devices/demo-502/telemetry", "{}") == kNotAuthorized);
  CHECK(session.publish("devices/demo-501/commands", "{}") == kNotAuthorized);
  CHECK(session.publish("$provision/certificates/create/json", "{}") == kNotAuthorized);
  CHECK(session.publish("_provision/replies", "{}") == kNotAuthorized);
  CHECK(subscribe_one(session, "devices/demo-501/commands") == 1);
  CHECK(subscribe_one(session, "#") >= 0x80);
  CHECK(subscribe_one(session, "devices/+/telemetry") >= 0x80);
  CHECK(subscribe_one(session, "devices/demo-502/commands") >= 0x80);
  CHECK(subscribe_one(session, "_provision/requests") >= 0x80);

  session.disconnect();
  // (One connected Paho client at a time: a second one in the same process
  // waits on the first one's select() timeout during its TLS handshake.)

  // another device cannot reach it either
  mqtt_client::Session second(stack.client(other.files, other.thing_name));
  second.connect();
  CHECK(second.publish("devices/demo-501/commands", "{}") == kNotAuthorized);
  second.disconnect();

  // connecting with a client id other than its thing name is refused, with the reason logged
  mqtt_client::Session spoofed(stack.client(device.files, "demo-502"));
  CHECK_THROWS(spoofed.connect());
  CHECK(wait_for_text(stack.broker_log, "policy does not allow connect with client id 'demo-502'", 2s));
}
