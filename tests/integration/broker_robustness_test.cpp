// The broker with the plugin keeps working whatever clients do.
#include <catch2/catch.hpp>
#include <signal.h>

#include "flows.h"
#include "stack.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

TEST_CASE("SIGHUP keeps certificate-only clients connected and working") {
  Stack stack;
  auto device = provision_device(stack, "hup");
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  size_t reloads = count_text(stack.broker_log, "Reloading config");
  stack.signal_broker(SIGHUP);
  REQUIRE(wait_for_text(stack.broker_log, "provision: options reloaded", 5s));
  CHECK(count_text(stack.broker_log, "Reloading config") == reloads + 1);
  CHECK_FALSE(session.wait_disconnected(1s));
  CHECK(session.publish("devices/demo-hup/telemetry", "{}") == 0);
  // and provisioning still works after the reload
  CHECK(provision_device(stack, "after-hup").thing_name == "demo-after-hup");
}

TEST_CASE("client ids with MQTT wildcards or slashes get their own replies") {
  Stack stack;
  for (std::string client_id : {"a/+/#", "#", "+", "x/y"}) {
    INFO(client_id);
    mqtt_session::Session claim(stack.claim(client_id));
    claim.connect();
    device::ProvisioningClient client(claim);
    auto outcome = client.create_keys_and_certificate();
    CHECK(outcome.accepted());
    claim.disconnect();
  }
  CHECK(stack.broker_running());
}

TEST_CASE("an empty client id gets an id from the broker and still provisions") {
  Stack stack;
  mqtt_session::Session claim(stack.claim(""));
  claim.connect();
  device::ProvisioningClient client(claim);
  CHECK(client.create_keys_and_certificate().accepted());
}

TEST_CASE("garbage on the request topics never reaches the worker as anything but a rejection") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("garbage"));
  claim.connect();
  device::ProvisioningClient client(claim);
  protocol::RequestTopic csr{protocol::Operation::CreateCertificateFromCsr, protocol::Format::Json, protocol::Alias::Provision, ""};
  for (std::string payload : {std::string("\xff\xfe\x00\x01", 4), std::string(15000, '{'), std::string("[]"), std::string("null"),
                              std::string("{\"certificateSigningRequest\":\"") + std::string(14000, 'A') + "\"}"}) {
    auto outcome = client.request(csr, payload);
    CHECK(outcome.kind == device::Outcome::Kind::Rejected);
    CHECK(outcome.status_code == 400);
  }
  // over the size limit: refused by the broker itself
  CHECK(claim.publish("$provision/certificates/create-from-csr/json", std::string(20000, 'x')) == 0x87);
  CHECK(stack.broker_running());
  CHECK(client.create_keys_and_certificate().accepted());
}

TEST_CASE("hostile clients: malformed MQTT, huge and non-UTF-8 topics, floods: the broker and provisioning survive") {
  Stack stack;
  std::string output;
  int code = stack.run({"/usr/bin/python3", HOSTILE_CLIENT, "127.0.0.1", std::to_string(stack.port),
                        stack.pki.root_cert.string(), stack.pki.claim_cert.string(), stack.pki.claim_key.string()},
                       output);
  INFO(output);
  REQUIRE(code == 0);
  CHECK_THAT(output, Catch::Contains("invalid UTF-8 topic"));
  CHECK_THAT(output, Catch::Contains("flood: 300 requests"));
  CHECK(stack.broker_running());
  // the broker still serves everybody else
  auto device = provision_device(stack, "after-hostility");
  CHECK(device.thing_name == "demo-after-hostility");
}

TEST_CASE("with no worker connected a device gets its 503 at once, not after the reply timeout") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  auto ask = [&](const std::string& client_id) {
    mqtt_session::Session claim(stack.claim(client_id));
    claim.connect();
    device::ProvisioningClient client(claim, protocol::Alias::Provision, 5s);
    auto started = std::chrono::steady_clock::now();
    auto outcome = client.create_keys_and_certificate();  // subscribe, publish, reply
    return std::pair{std::move(outcome), std::chrono::steady_clock::now() - started};
  };
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  {
    auto [outcome, took] = ask("no-worker-yet");
    INFO(outcome.describe());
    CHECK(outcome.status_code == 503);
    CHECK(outcome.error_code == "ServiceUnavailable");
    CHECK_THAT(outcome.error_message, Catch::Contains("no provisioning worker is connected"));
    WARN("503 with no worker connected: " << ms(took) << " ms (subscribe, publish and reply)");
    CHECK(took < 500ms);  // the plugin's reply_timeout_ms is 15 s
  }
  // A worker comes: served. It goes: answered at once again.
  stack.start_worker();
  CHECK(ask("with-worker").first.accepted());
  stack.stop_worker();
  {
    auto [outcome, took] = ask("worker-gone");
    INFO(outcome.describe());
    CHECK(outcome.status_code == 503);
    CHECK_THAT(outcome.error_message, Catch::Contains("no provisioning worker is connected"));
    CHECK(took < 500ms);
  }
}
