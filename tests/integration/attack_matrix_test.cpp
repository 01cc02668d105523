// The attack matrix: what the broker refuses, one case per row, each
// asserting the broker's own answer (CONNACK, SUBACK, PUBACK reason codes) or
// the absence of delivery, with a real mosquitto, plugin and provisiond.
#include <catch2/catch.hpp>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <signal.h>

#include "flows.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "protocol/payloads.h"
#include "stack.h"
#include "util/clock.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {
constexpr int kNotAuthorized = 0x87;

// Subscribes one filter at a time so each refusal is known for itself.
int subscribe_one(mqtt_session::Session& session, const std::string& filter) { return session.subscribe({filter}).at(0); }

struct Discard {
  using Ch = char;
  void Put(char) {}
};

// A reply payload a strict JSON reader accepts: UTF-8 throughout (by
// RapidJSON's own validator, not the code under test), no NUL, one document.
bool strict_json(std::string_view payload) {
  rapidjson::MemoryStream in(payload.data(), payload.size());
  Discard out;
  while (in.Tell() < payload.size())
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  if (payload.find('\0') != std::string_view::npos) return false;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(payload.data(), payload.size());
  return !doc.HasParseError();
}

std::string json_string(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

struct RawReply {
  bool accepted = false;
  std::string payload;  // as the broker delivered it
};

// Publishes `payload` on the request topic and waits for the reply, as bytes.
std::optional<RawReply> raw_request(mqtt_session::Session& session, const protocol::RequestTopic& topic,
                                    const std::string& payload) {
  const std::string accepted = protocol::reply_topic(topic, true), rejected = protocol::reply_topic(topic, false);
  REQUIRE(session.subscribe({accepted, rejected}) == std::vector<int>{1, 1});
  int reason = session.publish(protocol::request_topic(topic), payload);
  REQUIRE((reason == 0 || reason == 0x10));
  auto message = session.next_message_on({accepted, rejected}, 10s);
  if (!message) return std::nullopt;
  return RawReply{message->topic == accepted, message->payload};
}

size_t certificate_count(Stack& stack) { return stack.registry().list_certificates({500, ""}, std::nullopt, std::nullopt).size(); }
}  // namespace

TEST_CASE("a claim client may subscribe only to the reply topics of what it may request") {
  Stack stack;
  stack.registry().add_template_version("OtherFleet", R"({"Parameters":{"SerialNumber":{"Type":"String"}},
    "Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}})");
  mqtt_session::Session claim(stack.claim("claim-subscriber"));
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
  mqtt_session::Session claim(stack.claim("claim-publisher"));
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
    mqtt_session::Session stranger(stack.client(files, "stranger"));
    CHECK_THROWS(stranger.connect());
    CHECK_FALSE(stranger.connected());
  }
  SECTION("no client certificate at all") {
    auto settings = stack.claim("anonymous");
    settings.tls.certificate.clear();
    settings.tls.private_key.clear();
    mqtt_session::Session anonymous(settings);
    CHECK_THROWS(anonymous.connect());
  }
  SECTION("a claim certificate that was disabled") {
    auto reg = stack.registry();
    auto claim_id = pki::Certificate::load(stack.pki.claim_cert).id();
    REQUIRE(reg.set_claim_status(claim_id, "INACTIVE"));
    mqtt_session::Session claim(stack.claim("disabled-claim"));
    CHECK_THROWS(claim.connect());
    CHECK(wait_for_text(stack.broker_log, "is INACTIVE", 2s));
  }
  SECTION("a username sent by the device is neither trusted nor refused") {
    auto settings = stack.claim("sdk-device");
    settings.username = "?SDK=CPPv2&Version=1.0&Platform=Linux";
    mqtt_session::Session claim(settings);
    claim.connect();
    CHECK(claim.connected());
    CHECK(wait_for_text(stack.broker_log, "u'claim:", 2s));
  }
}

TEST_CASE("a provisioned device is refused on topics outside its policy") {
  Stack stack;
  auto device = provision_device(stack, "501");
  auto other = provision_device(stack, "502");
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
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
  mqtt_session::Session second(stack.client(other.files, other.thing_name));
  second.connect();
  CHECK(second.publish("devices/demo-501/commands", "{}") == kNotAuthorized);
  second.disconnect();

  // connecting with a client id other than its thing name is refused, with the reason logged
  mqtt_session::Session spoofed(stack.client(device.files, "demo-502"));
  CHECK_THROWS(spoofed.connect());
  CHECK(wait_for_text(stack.broker_log, "policy does not allow connect with client id 'demo-502'", 2s));
}

TEST_CASE("a device with a revoked certificate is cut off within a second and refused when it reconnects") {
  Stack stack;
  auto device = provision_device(stack, "revoked");
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  REQUIRE(session.publish("devices/demo-revoked/telemetry", "{}") == 0);

  stack.provisiond({"certificate", "set-status", device.certificate_id, "REVOKED"});
  auto revoked_at = std::chrono::steady_clock::now();
  CHECK(session.wait_disconnected(1000ms));
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - revoked_at);
  WARN("cut off " << elapsed.count() << " ms after the revocation was committed");
  CHECK(wait_for_text(stack.broker_log, "cutting off client 'demo-revoked'", 1s));

  mqtt_session::Session again(stack.client(device.files, device.thing_name));
  CHECK_THROWS(again.connect());
  CHECK(wait_for_text(stack.broker_log, "is REVOKED", 1s));
}

TEST_CASE("deleting a thing or disabling a claim cuts its clients off") {
  Stack stack;
  auto device = provision_device(stack, "deleted");
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  stack.provisiond({"thing", "delete", device.thing_name});
  CHECK(session.wait_disconnected(1000ms));
  session.disconnect();

  mqtt_session::Session claim(stack.claim("claim-to-disable"));
  claim.connect();
  stack.provisiond({"claim", "set-status", pki::Certificate::load(stack.pki.claim_cert).id(), "INACTIVE"});
  CHECK(claim.wait_disconnected(1000ms));
  mqtt_session::Session again(stack.claim("claim-to-disable"));
  CHECK_THROWS(again.connect());
}

TEST_CASE("an expired claim is refused at connect") {
  Stack stack;
  auto files = stack.new_claim("expired-claim");
  stack.provisiond({"claim", "register", files.certificate, "--templates", "DemoFleet", "--expires-at",
                    std::to_string(unix_now() - 60)});
  mqtt_session::Session claim(stack.client(files, "expired"));
  CHECK_THROWS(claim.connect());
  CHECK(wait_for_text(stack.broker_log, "expired", 1s));
}

TEST_CASE("a claim for a template it is not allowed: refused by the broker") {
  Stack stack;
  stack.registry().add_template_version("OtherFleet", R"({"Parameters":{"SerialNumber":{"Type":"String"}},
    "Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}})");
  mqtt_session::Session claim(stack.claim("claim-other-template"));
  claim.connect();
  CHECK(subscribe_one(claim, "$provision/templates/OtherFleet/provision/json/accepted") >= 0x80);
  CHECK(claim.publish("$provision/templates/OtherFleet/provision/json", R"({"certificateOwnershipToken":"x"})") ==
        kNotAuthorized);
  CHECK(stack.registry().count_things() == 0);
}

TEST_CASE("payload too large on a provisioning topic: refused by the broker") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-large"));
  claim.connect();
  CHECK(claim.publish("$provision/certificates/create-from-csr/json", std::string(16385, 'x')) == kNotAuthorized);
  CHECK(claim.publish("$provision/certificates/create-from-csr/json", std::string(16384, 'x')) != kNotAuthorized);
}

TEST_CASE("a retained publish on a provisioning topic: refused by the broker") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-retain"));
  claim.connect();
  CHECK(claim.publish("$provision/certificates/create/json", "{}", 1, true) == kNotAuthorized);
  // and a QoS 2 request is refused too
  CHECK(claim.publish("$provision/certificates/create/json", "{}", 2) >= 0x80);
}

TEST_CASE("rate limits: requests over the limit get 429 Throttled, connects over it are refused") {
  StackOptions options;
  // one token per 10 s: the buckets do not refill during the test
  options.plugin_options = {{"request_rate_per_claim", "0.1/3"}, {"connect_rate_per_address", "0.1/4"}};
  Stack stack(options);  // the worker's own connect is not limited
  mqtt_session::Session claim(stack.claim("claim-flood"));
  claim.connect();
  device::ProvisioningClient client(claim);
  int accepted = 0, throttled = 0;
  for (int i = 0; i < 6; ++i) {
    auto outcome = client.create_keys_and_certificate();
    if (outcome.accepted()) ++accepted;
    if (outcome.kind == device::Outcome::Kind::Rejected) {
      CHECK(outcome.status_code == 429);
      CHECK(outcome.error_code == "Throttled");
      ++throttled;
    }
  }
  CHECK(accepted == 3);
  CHECK(throttled == 3);  // never a silent drop
  claim.disconnect();

  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    mqtt_session::Session extra(stack.claim("burst-" + std::to_string(i)));
    try {
      extra.connect();
      extra.disconnect();
    } catch (const mqtt::exception&) {
      ++refused;
    }
  }
  CHECK(refused == 3);  // the claim-flood connect took the first of 4 tokens
  CHECK(wait_for_text(stack.broker_log, "connect rate limit for this address exceeded", 1s));
}

TEST_CASE("new plugin options take effect on SIGHUP while clients stay connected") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-reload"));
  claim.connect();
  CHECK(claim.publish("$provision/certificates/create/json", std::string(1000, ' ')) != kNotAuthorized);
  stack.set_reloadable_plugin_option("max_payload", "512");
  size_t reloads = count_text(stack.broker_log, "provision: options reloaded");
  stack.signal_broker(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (count_text(stack.broker_log, "provision: options reloaded") == reloads && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(claim.connected());
  CHECK(claim.publish("$provision/certificates/create/json", std::string(1000, ' ')) == kNotAuthorized);
}

TEST_CASE("a reply-topic subscription by a second client sharing the claim receives nothing of the first's") {
  Stack stack;
  mqtt_session::Session listener(stack.claim("shared-listener"));
  listener.connect();
  REQUIRE(listener.subscribe({"$provision/certificates/create/json/+", "$provision/templates/DemoFleet/provision/json/+"}) ==
          std::vector<int>{1, 1});
  listener.disconnect();  // one connected Paho client at a time (see above); the broker keeps no session (clean start)
  mqtt_session::ConnectSettings persistent = stack.claim("shared-listener-persistent", mqtt_session::Protocol::V311);
  persistent.clean_start = false;
  {
    mqtt_session::Session keeper(persistent);
    keeper.connect();
    REQUIRE(keeper.subscribe({"$provision/certificates/create/json/+"}) == std::vector<int>{1});
    keeper.disconnect();
  }
  // While the listener's persistent session is offline, another device provisions.
  provision_device(stack, "private");
  mqtt_session::Session keeper(persistent);
  keeper.connect();
  CHECK_FALSE(keeper.next_message(500ms));  // nothing was queued for it
}

TEST_CASE("hostile JSON requests get a precise InvalidPayload rejection that is valid JSON, and the worker goes on") {
  StackOptions options;
  options.plugin_options = {{"max_payload", "1048576"}};  // the largest the plugin allows
  Stack stack(options);
  mqtt_session::Session claim(stack.claim("claim-hostile"));
  claim.connect();
  device::ProvisioningClient client(claim);
  using protocol::Alias;
  using protocol::Format;
  using protocol::Operation;
  const protocol::RequestTopic create{Operation::CreateKeysAndCertificate, Format::Json, Alias::Provision, ""};
  const protocol::RequestTopic from_csr{Operation::CreateCertificateFromCsr, Format::Json, Alias::Provision, ""};
  const protocol::RequestTopic register_thing{Operation::RegisterThing, Format::Json, Alias::Provision, "DemoFleet"};

  // Each gets a rejected reply {400, InvalidPayload, `message`} that is valid JSON, and nothing is issued.
  auto refused = [&](const protocol::RequestTopic& topic, const std::string& payload, const std::string& message) {
    const size_t certificates = certificate_count(stack);
    auto reply = raw_request(claim, topic, payload);
    REQUIRE(reply);  // the worker answered
    INFO(reply->payload);
    CHECK_FALSE(reply->accepted);
    CHECK(strict_json(reply->payload));
    auto doc = json::parse(reply->payload);
    CHECK(json::int_member(doc, "statusCode") == 400);
    CHECK(json::string_member(doc, "errorCode") == "InvalidPayload");
    CHECK(json::string_member(doc, "errorMessage") == message);
    CHECK(certificate_count(stack) == certificates);
    CHECK(stack.registry().count_things() == 0);
  };

  // a CSR field that starts with \xff\xfe (a certificate used to be issued for it)
  auto key = pki::PrivateKey::generate_ec();
  const std::string pem = json_string(pki::create_csr(key, {{"CN", "hostile"}}));
  const std::string csr = "{\"certificateSigningRequest\":\"\xff\xfe" + pem.substr(1) + "}";
  refused(from_csr, csr, "request is not JSON: invalid UTF-8 at offset 30");

  // a parameter named \xff\xfe, with a token that stays usable
  auto issued = create_certificate(client);
  const std::string named = "{\"certificateOwnershipToken\":" + json_string(issued.ownership_token) +
                            ",\"parameters\":{\"SerialNumber\":\"77\",\"\xff\xfe\":\"x\"}}";
  refused(register_thing, named, "request is not JSON: invalid UTF-8 at offset " + std::to_string(named.find('\xff')));

  // a document, a NUL byte and junk
  using namespace std::string_literals;
  refused(create, "{}\0 this is not JSON {{{"s, "request is not JSON: trailing bytes at offset 2");
  const std::string then_junk = "{\"certificateSigningRequest\":" + pem + "}\0junk"s;
  refused(from_csr, then_junk, "request is not JSON: trailing bytes at offset " + std::to_string(then_junk.find('\0')));

  // 1 MiB of nesting (this used to crash provisiond)
  refused(create, std::string(1 << 19, '[') + std::string(1 << 19, ']'), "request is not JSON: nesting deeper than 64 at offset 64");
  refused(register_thing, std::string(1 << 20, '['), "request is not JSON: nesting deeper than 64 at offset 64");

  // the worker still answers, and the token still registers
  CHECK(stack.worker_running());
  auto registered = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "77"}});
  INFO(registered.describe());
  CHECK(registered.accepted());
  CHECK(client.create_keys_and_certificate().accepted());
}
