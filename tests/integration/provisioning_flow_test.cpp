// Claim provisioning end to end on a real mosquitto with the plugin, a real
// provisiond, real TLS and a real registry file.
#include <catch2/catch.hpp>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <atomic>
#include <set>
#include <thread>

#include "flows.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "protocol/payloads.h"
#include "protocol/schema_validator.h"
#include "registry/database.h"
#include "stack.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

// The device certificate chains to the fleet CA (and not merely to the root).
bool chains_to_fleet_ca(const Stack& stack, const std::string& certificate_pem) {
  auto root = pki::Certificate::load(stack.pki.root_cert);
  auto fleet = pki::Certificate::load(stack.pki.fleet_ca_cert);
  auto leaf = pki::Certificate::from_pem(certificate_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root.get());
  STACK_OF(X509)* chain = sk_X509_new_null();
  sk_X509_push(chain, fleet.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), chain);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  bool ok = X509_verify_cert(ctx) == 1 && leaf.issued_by(fleet);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);
  X509_STORE_free(store);
  return ok;
}

void check_registered(Stack& stack, const std::string& thing, const std::string& certificate_id) {
  auto reg = stack.registry();
  auto cert = reg.find_certificate(certificate_id);
  REQUIRE(cert);
  CHECK(cert->status == "ACTIVE");
  CHECK(cert->thing_name == thing);
  CHECK(reg.policies_of_certificate(certificate_id) == std::vector<std::string>{"DemoDevicePolicy"});
  auto t = reg.find_thing(thing);
  REQUIRE(t);
  CHECK(t->attributes.count("serialNumber") == 1);
}

// Runs provision-device against the stack with the claim certificate.
int run_provision_device(const Stack& stack, const std::vector<std::string>& extra, std::string& output) {
  std::vector<std::string> argv{provision_device_binary(), "--port", std::to_string(stack.port), "--ca-file",
                                stack.pki.root_cert.string(), "--claim-cert", stack.pki.claim_cert.string(), "--claim-key",
                                stack.pki.claim_key.string(), "--template", "DemoFleet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return stack.run(argv, output);
}

}  // namespace

TEST_CASE("provision-device: CSR flow end to end, with the reconnect on the device certificate") {
  Stack stack;
  auto out = stack.dir / "device-1001";
  std::string output;
  int code = run_provision_device(stack, {"--param", "SerialNumber=1001", "--out", out.string(), "--json"}, output);
  INFO(output);
  REQUIRE(code == 0);
  auto result = json::parse(output.substr(output.find('{')));
  CHECK(json::string_member(result, "thingName") == "demo-1001");
  CHECK(json::int_member(result, "firstPublishReasonCode") == 0);
  CHECK(json::string_member(result, "firstPublishTopic") == "devices/demo-1001/telemetry");

  struct stat st {};
  REQUIRE(::stat((out / "device.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto certificate_pem = read_file(out / "device.pem");
  CHECK(chains_to_fleet_ca(stack, certificate_pem));
  // the key stayed on the device: the certificate is for the key it saved
  auto key = pki::PrivateKey::load(out / "device.key");
  auto cert = pki::Certificate::from_pem(certificate_pem);
  CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
  check_registered(stack, "demo-1001", cert.id());
  // the broker saw the device connect as its thing, with the device certificate
  CHECK(count_text(stack.broker_log, "is device thing:demo-1001") == 1);
}

TEST_CASE("provision-device: server-keygen flow end to end") {
  Stack stack;
  auto out = stack.dir / "device-2002";
  std::string output;
  int code = run_provision_device(stack, {"--param", "SerialNumber=2002", "--out", out.string(), "--server-keygen"}, output);
  INFO(output);
  REQUIRE(code == 0);
  CHECK_THAT(output, Catch::Contains("thing name:      demo-2002"));
  CHECK_THAT(output, Catch::Contains("devices/demo-2002/telemetry -> accepted"));
  auto cert = pki::Certificate::load(out / "device.pem");
  CHECK(chains_to_fleet_ca(stack, cert.to_pem()));
  check_registered(stack, "demo-2002", cert.id());
}

TEST_CASE("provision-device: exit codes tell bad usage (2, nothing sent) from a rejected registration (1) from a topic-less configuration (0, saved)") {
  Stack stack;
  // A template whose device configuration names no telemetry topic.
  std::string body = read_file(PROVISION_SOURCE_DIR "/service/defaults/demo-template.json");
  auto doc = json::parse(body);
  doc["DeviceConfiguration"].RemoveMember("telemetryTopic");
  {
    auto reg = stack.registry();
    reg.add_template_version("QuietFleet", json::stringify(doc));
    auto claim = reg.find_claim_certificate(pki::Certificate::load(stack.pki.claim_cert).id());
    claim->allowed_templates.push_back("QuietFleet");
    reg.put_claim_certificate(*claim);
  }
  auto run = [&](std::vector<std::string> args, std::string& output) {
    std::vector<std::string> argv{provision_device_binary(), "--port", std::to_string(stack.port), "--ca-file",
                                  stack.pki.root_cert.string(), "--claim-cert", stack.pki.claim_cert.string(),
                                  "--claim-key", stack.pki.claim_key.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return stack.run(argv, output);
  };
  const auto things_before = stack.registry().count_things();

  SECTION("no topic anywhere: registered, certificate saved, says so, exit 0") {
    auto out = stack.dir / "quiet";
    std::string output;
    int code = run({"--template", "QuietFleet", "--param", "SerialNumber=q1", "--out", out.string()}, output);
    INFO(output);
    CHECK(code == 0);
    CHECK_THAT(output, Catch::Contains("thing name:      demo-q1"));
    CHECK_THAT(output, Catch::Contains("saved:           " + (out / "device.pem").string()));
    CHECK_THAT(output, Catch::Contains("first publish:   skipped"));
    CHECK(pki::Certificate::load(out / "device.pem").id() == stack.registry().certificates_of_thing("demo-q1").at(0).id);
    // --json says the same: no topic, no reason code
    std::string json_output;
    REQUIRE(run({"--template", "QuietFleet", "--param", "SerialNumber=q2", "--out", (stack.dir / "quiet2").string(), "--json"},
                json_output) == 0);
    auto result = json::parse(json_output.substr(json_output.find('{')));
    CHECK(json::member(result, "firstPublishTopic")->IsNull());
    CHECK(json::member(result, "firstPublishReasonCode")->IsNull());
  }
  SECTION("--topic gives it one") {
    std::string output;
    int code = run({"--template", "QuietFleet", "--param", "SerialNumber=q3", "--out", (stack.dir / "q3").string(), "--topic",
                    "devices/demo-q3/telemetry"},
                   output);
    INFO(output);
    CHECK(code == 0);
    CHECK_THAT(output, Catch::Contains("devices/demo-q3/telemetry -> accepted"));
  }
  SECTION("bad usage is 2, and nothing was sent") {
    std::string output;
    CHECK(run({"--template", "QuietFleet", "--param", "no-equals-sign", "--out", (stack.dir / "u1").string()}, output) == 2);
    write_file(stack.dir / "a-file", "x", 0644);
    CHECK(run({"--template", "QuietFleet", "--param", "SerialNumber=u2", "--out", (stack.dir / "a-file").string()}, output) == 2);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("--out"));
    CHECK(run({"--param", "SerialNumber=u3"}, output) == 2);  // no --template
    CHECK(stack.registry().count_things() == things_before);
    CHECK(count_text(stack.broker_log, "is claim claim:") == 0);  // never connected
  }
  SECTION("a rejected registration is 1") {
    std::string output;
    CHECK(run({"--template", "QuietFleet", "--param", "SerialNumber=not valid!", "--out", (stack.dir / "r1").string()}, output) == 1);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("InvalidParameter"));
  }
}

TEST_CASE("replies validate against their schemas, and the new certificate works only within its policy") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-schema"));
  claim.connect();
  device::ProvisioningClient client(claim);

  auto keys = client.create_keys_and_certificate();
  REQUIRE(keys.accepted());
  CHECK_FALSE(protocol::schema_violation(protocol::kCertificateReplySchema, keys.body));
  CHECK(json::string_member(keys.body, "privateKey"));
  // the certificate id is the SHA-256 of the DER
  auto issued = pki::Certificate::from_pem(*json::string_member(keys.body, "certificatePem"));
  CHECK(issued.id() == *json::string_member(keys.body, "certificateId"));
  CHECK(stack.registry().find_certificate(issued.id())->status == "PENDING_ACTIVATION");

  auto key = pki::PrivateKey::generate_ec();
  auto csr = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "schema"}}));
  REQUIRE(csr.accepted());
  CHECK_FALSE(protocol::schema_violation(protocol::kCertificateReplySchema, csr.body));
  CHECK_FALSE(json::member(csr.body, "privateKey"));

  auto registered =
      client.register_thing("DemoFleet", *json::string_member(csr.body, "certificateOwnershipToken"), {{"SerialNumber", "77"}});
  REQUIRE(registered.accepted());
  CHECK_FALSE(protocol::schema_violation(protocol::kRegisterThingReplySchema, registered.body));
  const auto& configuration = *json::member(registered.body, "deviceConfiguration");
  CHECK(json::string_member(configuration, "telemetryTopic") == "devices/demo-77/telemetry");

  auto rejected = client.register_thing("DemoFleet", "no-such-token", {{"SerialNumber", "78"}});
  REQUIRE(rejected.kind == device::Outcome::Kind::Rejected);
  CHECK_FALSE(protocol::schema_violation(protocol::kRejectedReplySchema, rejected.body));
  claim.disconnect();

  auto pem_file = stack.dir / "d77.pem", key_file = stack.dir / "d77.key";
  write_file(pem_file, *json::string_member(csr.body, "certificatePem"), 0644);
  write_file(key_file, key.to_pem(), 0600);
  mqtt_session::Session device(stack.client({pem_file.string(), key_file.string()}, "demo-77"));
  device.connect();
  CHECK(device.publish("devices/demo-77/telemetry", "{}") == 0);
  CHECK(device.publish("devices/demo-78/telemetry", "{}") == 0x87);
}

TEST_CASE("two devices sharing one claim provision at once and each receives only its own replies") {
  Stack stack;
  // A third client with the same claim listens on every reply topic and asks nothing.
  mqtt_session::Session eavesdropper(stack.claim("claim-listener"));
  eavesdropper.connect();
  REQUIRE(eavesdropper.subscribe({"$provision/certificates/create-from-csr/json/accepted",
                                  "$provision/certificates/create-from-csr/json/rejected",
                                  "$provision/templates/DemoFleet/provision/json/accepted",
                                  "$provision/templates/DemoFleet/provision/json/rejected"}) ==
          std::vector<int>{1, 1, 1, 1});

  struct Result {
    std::string certificate_id, thing_name;
    size_t extra_messages = 0;
    bool ok = false;
  };
  Result results[2];
  std::atomic<int> ready{0};
  auto run_device = [&](int index) {
    Result& r = results[index];
    mqtt_session::Session claim(stack.claim("shared-claim-" + std::to_string(index)));
    claim.connect();
    device::ProvisioningClient client(claim);
    ++ready;
    while (ready < 2) std::this_thread::yield();  // both ask at the same moment
    auto key = pki::PrivateKey::generate_ec();
    auto issued = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "shared"}}));
    if (!issued.accepted()) return;
    r.certificate_id = *json::string_member(issued.body, "certificateId");
    // the certificate is for this device's own key
    auto cert = pki::Certificate::from_pem(*json::string_member(issued.body, "certificatePem"));
    if (X509_check_private_key(cert.get(), key.get()) != 1) return;
    auto registered = client.register_thing("DemoFleet", *json::string_member(issued.body, "certificateOwnershipToken"),
                                            {{"SerialNumber", "shared-" + std::to_string(index)}});
    if (!registered.accepted()) return;
    r.thing_name = *json::string_member(registered.body, "thingName");
    // Nothing else may arrive: not the other device's replies.
    while (claim.next_message(300ms)) ++r.extra_messages;
    r.ok = true;
  };
  std::thread a(run_device, 0), b(run_device, 1);
  a.join();
  b.join();
  for (const auto& r : results) {
    CHECK(r.ok);
    CHECK(r.extra_messages == 0);
  }
  CHECK(results[0].certificate_id != results[1].certificate_id);
  CHECK(results[0].thing_name == "demo-shared-0");
  CHECK(results[1].thing_name == "demo-shared-1");
  CHECK_FALSE(eavesdropper.next_message(300ms));
}

TEST_CASE("bogus, reused and other-claim ownership tokens are rejected precisely and register nothing") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-tokens"));
  claim.connect();
  device::ProvisioningClient client(claim);
  auto count_things = [&] { return stack.registry().count_things(); };

  SECTION("a bogus token") {
    auto outcome = client.register_thing("DemoFleet", "this-token-was-never-issued", {{"SerialNumber", "1"}});
    REQUIRE(outcome.kind == device::Outcome::Kind::Rejected);
    CHECK(outcome.status_code == 400);
    CHECK(outcome.error_code == "InvalidCertificateOwnershipToken");
    CHECK(count_things() == 0);
  }
  SECTION("a token naming a real certificate with a secret that was never issued") {
    auto issued = create_certificate(client);
    // The token names its certificate; only the secret after the '.' proves it.
    REQUIRE(issued.ownership_token.rfind(issued.certificate_id + ".", 0) == 0);
    std::string forged = issued.ownership_token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    auto outcome = client.register_thing("DemoFleet", forged, {{"SerialNumber", "1"}});
    REQUIRE(outcome.kind == device::Outcome::Kind::Rejected);
    CHECK(outcome.error_code == "InvalidCertificateOwnershipToken");
    CHECK(count_things() == 0);
    CHECK(client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "1"}}).accepted());
  }
  SECTION("a token issued before registry schema 5 (kept in ownership_tokens) registers once") {
    auto issued = create_certificate(client);
    const std::string older = "an-older-random-token-without-a-dot";
    {
      auto reg = stack.registry();
      database_of(reg).exec("UPDATE certificates SET token_hash = NULL WHERE id = '" + issued.certificate_id + "'");
      database_of(reg).exec("INSERT INTO ownership_tokens (token_hash, certificate_id, claim_certificate_id, expires_at) VALUES ('" +
                          sha256_hex(older) + "', '" + issued.certificate_id + "', (SELECT claim_certificate_id FROM "
                          "certificates WHERE id = '" + issued.certificate_id + "'), " + std::to_string(unix_now() + 600) + ")");
    }
    CHECK(client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "1"}}).error_code ==
          "InvalidCertificateOwnershipToken");
    CHECK(client.register_thing("DemoFleet", older, {{"SerialNumber", "1"}}).accepted());
    CHECK(client.register_thing("DemoFleet", older, {{"SerialNumber", "2"}}).error_code == "CertificateOwnershipTokenUsed");
    CHECK(stack.registry().find_token(sha256_hex(older))->used_at);
    CHECK(count_things() == 1);
  }
  SECTION("a token used twice") {
    auto issued = create_certificate(client);
    REQUIRE(client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "1"}}).accepted());
    auto again = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "2"}});
    REQUIRE(again.kind == device::Outcome::Kind::Rejected);
    CHECK(again.error_code == "CertificateOwnershipTokenUsed");
    CHECK(count_things() == 1);
    CHECK_FALSE(stack.registry().find_thing("demo-2"));
  }
  SECTION("a token issued to another claim certificate") {
    auto other_files = stack.new_claim("other-claim");
    mqtt_session::Session other(stack.client(other_files, "claim-other"));
    other.connect();
    device::ProvisioningClient other_client(other);
    auto issued = create_certificate(other_client);  // issued to the other claim
    auto outcome = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "3"}});
    REQUIRE(outcome.kind == device::Outcome::Kind::Rejected);
    CHECK(outcome.status_code == 403);
    CHECK(outcome.error_code == "CertificateOwnershipTokenNotOwned");
    CHECK(count_things() == 0);
    CHECK(stack.registry().find_certificate(issued.certificate_id)->status == "PENDING_ACTIVATION");
    // the rightful owner can still use it
    CHECK(other_client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "3"}}).accepted());
  }
  SECTION("a template error rejects with the JSON path and keeps the token usable") {
    auto issued = create_certificate(client);
    auto outcome = client.register_thing("DemoFleet", issued.ownership_token, {});
    REQUIRE(outcome.kind == device::Outcome::Kind::Rejected);
    CHECK(outcome.error_code == "MissingParameter");
    CHECK_THAT(outcome.error_message, Catch::Contains("$.Parameters.SerialNumber"));
    CHECK(count_things() == 0);
    CHECK(client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "5"}}).accepted());
  }
  // every attempt is in the audit log
  registry::AuditFilter filter;
  filter.action = "RegisterThing";
  CHECK_FALSE(stack.registry().audit_entries(filter).empty());
}

TEST_CASE("malformed requests get a precise rejected reply") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-malformed"));
  claim.connect();
  device::ProvisioningClient client(claim);
  using protocol::Operation;
  protocol::RequestTopic csr_topic{Operation::CreateCertificateFromCsr, protocol::Format::Json, protocol::Alias::Provision, ""};
  protocol::RequestTopic register_topic{Operation::RegisterThing, protocol::Format::Json, protocol::Alias::Provision, "DemoFleet"};

  auto not_json = client.request(csr_topic, "{not json");
  REQUIRE(not_json.kind == device::Outcome::Kind::Rejected);
  CHECK(not_json.error_code == "InvalidPayload");

  auto missing = client.request(csr_topic, "{}");
  CHECK(missing.error_code == "InvalidPayload");
  CHECK_THAT(missing.error_message, Catch::Contains("certificateSigningRequest"));

  auto garbage_csr = client.create_certificate_from_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  CHECK(garbage_csr.error_code == "InvalidCsr");

  auto weak = pki::PrivateKey::generate_ec("P-521");
  auto weak_csr = client.create_certificate_from_csr(pki::create_csr(weak, {{"CN", "weak"}}));
  CHECK(weak_csr.status_code == 400);
  CHECK(weak_csr.error_code == "UnsupportedKey");

  auto wrong_type = client.request(register_topic, R"({"certificateOwnershipToken": 42})");
  CHECK(wrong_type.error_code == "InvalidPayload");
  CHECK_THAT(wrong_type.error_message, Catch::Contains("/certificateOwnershipToken: must be of type string"));
  CHECK(stack.registry().count_things() == 0);
}

TEST_CASE("the worker reconnects by itself after the broker restarts") {
  Stack stack;
  provision_device(stack, "before-restart");
  stack.stop_broker();
  stack.start_broker();
  REQUIRE(wait_for_text(stack.worker_log, "connection to the broker lost", 10s));
  // ready again: the subscription is back
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (count_text(stack.worker_log, "provisiond ready") < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  REQUIRE(count_text(stack.worker_log, "provisiond ready") >= 2);
  auto device = provision_device(stack, "after-restart");
  CHECK(device.thing_name == "demo-after-restart");
}

TEST_CASE("CBOR: the whole flow over the /cbor topics, with CBOR payloads both ways") {
  Stack stack;
  auto out = stack.dir / "device-cbor";
  std::string output;
  int code = run_provision_device(stack, {"--param", "SerialNumber=cbor1", "--out", out.string(), "--cbor"}, output);
  INFO(output);
  REQUIRE(code == 0);
  CHECK_THAT(output, Catch::Contains("devices/demo-cbor1/telemetry -> accepted"));

  // a CBOR request that does not decode gets a CBOR rejection naming the problem
  mqtt_session::Session claim(stack.claim("cbor-client"));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, std::chrono::seconds(10), protocol::Format::Cbor);
  protocol::RequestTopic csr{protocol::Operation::CreateCertificateFromCsr, protocol::Format::Cbor, protocol::Alias::Provision, ""};
  auto bad = client.request(csr, std::string("\xa1\x41\x61\x01", 4));  // a map with a byte-string key
  REQUIRE(bad.kind == device::Outcome::Kind::Rejected);
  CHECK(bad.error_code == "InvalidPayload");
  CHECK_THAT(bad.error_message, Catch::Contains("not CBOR"));
  auto keys = client.create_keys_and_certificate();
  REQUIRE(keys.accepted());
  CHECK_FALSE(protocol::schema_violation(protocol::kCertificateReplySchema, keys.body));
}
