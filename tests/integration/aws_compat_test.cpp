// AWS compatibility: firmware written for AWS IoT fleet provisioning works
// against this broker. The client is aws_fleet_client.py, a stand-alone
// paho-mqtt 1.6 script that knows nothing of this project and behaves like
// the AWS IoT device SDK's fleet provisioning sample (MQTT 3.1.1, mutual TLS,
// an SDK-metrics username, the $aws/... topics, AWS's payloads).
#include <catch2/catch.hpp>
#include <openssl/x509.h>

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

// Debian's interpreter, where python3-paho-mqtt lives (not a pyenv on PATH).
constexpr const char* kPython = "/usr/bin/python3";

// Fails (never skips) when the script cannot run here.
void require_python_with_paho() {
  if (!std::filesystem::exists(kPython))
    FAIL(kPython << " is missing: the AWS compatibility tests need Debian's python3 and python3-paho-mqtt "
                    "(scripts/install-deps installs them)");
  std::string output;
  int code = run_command({kPython, "-c", "import paho.mqtt.client"}, output, std::chrono::seconds(30));
  if (code != 0)
    FAIL("paho-mqtt is not importable by " << kPython << " (install python3-paho-mqtt; scripts/install-deps does): "
                                           << output);
  if (!std::filesystem::exists(AWS_FLEET_CLIENT)) FAIL("the client script is missing: " << AWS_FLEET_CLIENT);
}

std::vector<std::string> client_argv(const Stack& stack, const std::string& client_id, const std::string& serial,
                                     const std::string& template_name = "DemoFleet") {
  return {kPython,
          AWS_FLEET_CLIENT,
          "--host",
          "127.0.0.1",
          "--port",
          std::to_string(stack.port),
          "--ca",
          stack.pki.root_cert.string(),
          "--cert",
          stack.pki.claim_cert.string(),
          "--key",
          stack.pki.claim_key.string(),
          "--client-id",
          client_id,
          "--template",
          template_name,
          "--serial",
          serial,
          "--timeout",
          "10"};
}

// The first JSON object line of the output that has member `name`.
std::optional<rapidjson::Document> json_line_with(const std::string& output, const std::string& name) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() != '{') continue;
    std::string error;
    auto doc = json::try_parse(line, &error);
    if (doc && doc->IsObject() && json::member(*doc, name)) return doc;
  }
  return std::nullopt;
}

// A device that may watch every thing's telemetry: connected before the
// script runs, it proves the script's first publish really went through the
// broker's ACL (over MQTT 3.1.1 a refused publish still gets a PUBACK).
struct TelemetryWatcher {
  explicit TelemetryWatcher(Stack& stack) {
    auto ca = pki::CertificateAuthority::load(stack.pki.fleet_ca_cert, stack.pki.fleet_ca_key);
    auto key = pki::PrivateKey::generate_ec();
    pki::IssueOptions options;
    options.subject = {{"CN", "telemetry-watcher"}};
    auto cert = ca.issue(key.get(), options);
    files = {(stack.dir / "watcher.pem").string(), (stack.dir / "watcher.key").string()};
    write_file(files.certificate, cert.to_pem(), 0644);
    write_file(files.key, key.to_pem(), 0600);

    auto reg = stack.registry();
    reg.put_policy("WatcherPolicy", R"({"statements": [
      {"effect": "allow", "actions": ["connect"], "clientIds": ["telemetry-watcher"]},
      {"effect": "allow", "actions": ["subscribe", "receive"], "topics": ["devices/+/telemetry"]}]})");
    reg.insert_thing({"telemetry-watcher", std::nullopt, {}});
    registry::CertificateRecord record;
    record.id = cert.id();
    record.pem = cert.to_pem();
    record.status = registry::kActive;
    record.thing_name = "telemetry-watcher";
    record.ca_id = ca.certificate().id();
    record.serial = cert.serial_hex();
    record.not_before = cert.not_before();
    record.not_after = cert.not_after();
    reg.insert_certificate(record);
    reg.attach_policy(cert.id(), "WatcherPolicy");

    session.emplace(stack.client(files, "telemetry-watcher"));
    session->connect();
    REQUIRE(session->subscribe({"devices/+/telemetry"}) == std::vector<int>{1});
  }
  CertificateFiles files;
  std::optional<mqtt_session::Session> session;
};

void check_active_thing(Stack& stack, const std::string& thing, const std::string& certificate_id) {
  auto reg = stack.registry();
  REQUIRE(reg.find_thing(thing));
  auto cert = reg.find_certificate(certificate_id);
  REQUIRE(cert);
  CHECK(cert->status == "ACTIVE");
  CHECK(cert->thing_name == thing);
}

}  // namespace

TEST_CASE("AWS fleet provisioning client: CreateKeysAndCertificate and RegisterThing on $aws topics, then a publish",
          "[aws]") {
  require_python_with_paho();
  Stack stack;
  TelemetryWatcher watcher(stack);

  std::string output;
  int code = stack.run(client_argv(stack, "aws-sdk-device-3001", "3001"), output);
  INFO(output);
  REQUIRE(code == 0);

  auto replies = json_line_with(output, "registerThing");
  REQUIRE(replies);
  const auto* created = json::member(*replies, "createKeysAndCertificate");
  REQUIRE(created);
  auto certificate_id = json::string_member(*created, "certificateId");
  REQUIRE(certificate_id);
  CHECK(certificate_id->size() == 64);
  CHECK(json::string_member(*created, "certificatePem").value_or("").starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(json::string_member(*created, "privateKey"));  // redacted by the script, but present in the reply
  CHECK(json::string_member(*created, "certificateOwnershipToken"));
  const auto& registered = *json::member(*replies, "registerThing");
  CHECK(json::string_member(registered, "thingName") == "demo-3001");
  const auto* configuration = json::member(registered, "deviceConfiguration");
  REQUIRE(configuration);
  CHECK(json::string_member(*configuration, "telemetryTopic") == "devices/demo-3001/telemetry");

  check_active_thing(stack, "demo-3001", *certificate_id);
  // The claim's SDK username was neither trusted nor refused; the reconnect
  // was on the device certificate, as the thing.
  CHECK(count_text(stack.broker_log, "is device thing:demo-3001") == 1);
  auto published = json_line_with(output, "firstPublish");
  REQUIRE(published);
  // ... and the first publish passed the broker's ACL and was delivered.
  auto message = watcher.session->next_message(5s);
  REQUIRE(message);
  CHECK(message->topic == "devices/demo-3001/telemetry");
  CHECK_THAT(message->payload, Catch::Contains("3001"));
}

TEST_CASE("AWS fleet provisioning client: CreateCertificateFromCsr with a CSR made on the device", "[aws]") {
  require_python_with_paho();
  Stack stack;
  auto key = pki::PrivateKey::generate_ec();
  auto csr_file = stack.dir / "aws-device.csr", key_file = stack.dir / "aws-device.key";
  write_file(csr_file, pki::create_csr(key, {{"CN", "aws-device-3002"}}), 0644);
  write_file(key_file, key.to_pem(), 0600);

  auto argv = client_argv(stack, "aws-sdk-device-3002", "3002");
  argv.insert(argv.end(), {"--csr-file", csr_file.string(), "--csr-key", key_file.string(), "--publish-topic",
                           "devices/demo-3002/state"});
  std::string output;
  int code = stack.run(argv, output);
  INFO(output);
  REQUIRE(code == 0);

  auto replies = json_line_with(output, "registerThing");
  REQUIRE(replies);
  const auto* created = json::member(*replies, "createCertificateFromCsr");
  REQUIRE(created);
  CHECK_FALSE(json::member(*created, "privateKey"));  // the key never left the device
  auto certificate = pki::Certificate::from_pem(json::string_member(*created, "certificatePem").value_or(""));
  CHECK(X509_check_private_key(certificate.get(), key.get()) == 1);
  CHECK(json::string_member(*created, "certificateId") == certificate.id());
  CHECK(json::string_member(*json::member(*replies, "registerThing"), "thingName") == "demo-3002");
  check_active_thing(stack, "demo-3002", certificate.id());
  auto published = json_line_with(output, "firstPublish");
  REQUIRE(published);
  CHECK(json::string_member(*json::member(*published, "firstPublish"), "topic") == "devices/demo-3002/state");
  CHECK(count_text(stack.broker_log, "is device thing:demo-3002") == 1);
}

TEST_CASE("AWS fleet provisioning client: a rejected RegisterThing gets AWS's rejected reply, and exit status 1",
          "[aws]") {
  require_python_with_paho();
  Stack stack;
  std::string output;
  int code = stack.run(client_argv(stack, "aws-sdk-device-bad", "bad serial!"), output);
  INFO(output);
  CHECK(code == 1);

  auto rejected = json_line_with(output, "rejected");
  REQUIRE(rejected);
  const auto& detail = *json::member(*rejected, "rejected");
  CHECK(json::string_member(detail, "operation") == "RegisterThing");
  CHECK(json::string_member(detail, "topic") == "$aws/provisioning-templates/DemoFleet/provision/json/rejected");
  const auto* reply = json::member(detail, "reply");
  REQUIRE(reply);
  CHECK(json::int_member(*reply, "statusCode") == 400);
  CHECK(json::string_member(*reply, "errorCode") == "InvalidParameter");
  CHECK_FALSE(json::string_member(*reply, "errorMessage").value_or("").empty());
  // Nothing was registered, and no device ever connected.
  CHECK(stack.registry().count_things() == 0);
  CHECK_FALSE(json_line_with(output, "firstPublish"));
  CHECK(count_text(stack.broker_log, "is device thing:") == 0);
}

TEST_CASE("AWS fleet provisioning client: a template the claim may not use is refused by the broker", "[aws]") {
  require_python_with_paho();
  Stack stack;
  // The template exists; the claim is just not allowed to use it.
  stack.registry().add_template_version("OtherFleet", R"({"Parameters":{"SerialNumber":{"Type":"String"}},
    "Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}})");
  std::string output;
  int code = stack.run(client_argv(stack, "aws-sdk-device-other", "3004", "OtherFleet"), output);
  INFO(output);
  CHECK(code == 4);  // refused by the broker: neither rejected (1) nor a timeout (3)
  CHECK_THAT(output, Catch::Contains("$aws/provisioning-templates/OtherFleet/provision/json/accepted refused by the "
                                     "broker (SUBACK 0x80)"));
  CHECK_FALSE(json_line_with(output, "registerThing"));
  CHECK(stack.registry().count_things() == 0);
}
