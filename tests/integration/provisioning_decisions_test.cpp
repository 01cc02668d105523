// The provisioning decision, end to end: pre-provisioning hooks (http and
// exec), the factory's enrollments and their activation, broker assignment,
// re-provisioning under OverrideSettings, temporary claims, and token and
// certificate hygiene.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "flows.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "protocol/payloads.h"
#include "registry/database.h"
#include "stack.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

const char* kHookScript = PROVISION_SOURCE_DIR "/tests/data/hooks/echo_hook.sh";

// Sets a template's hook and/or broker assignment (registry, as the admin API does).
void configure_template(Stack& stack, const std::string& name, std::optional<std::string> hook,
                        std::optional<std::string> assignment = std::nullopt) {
  auto reg = stack.registry();
  auto t = reg.find_template(name);
  REQUIRE(t);
  t->hook = std::move(hook);
  t->assignment = std::move(assignment);
  REQUIRE(reg.update_template(*t));
}

// A copy of the demo template under another name, for the claim.
void add_template(Stack& stack, const std::string& name, const std::string& body) {
  auto reg = stack.registry();
  reg.add_template_version(name, body);
  auto claim = reg.find_claim_certificate(pki::Certificate::load(stack.pki.claim_cert).id());
  claim->allowed_templates.push_back(name);
  reg.put_claim_certificate(*claim);
}

// No Catch macro here: threads call it (it throws when the certificate is refused).
device::Outcome register_serial(Stack& stack, const std::string& template_name, const std::string& serial,
                                const std::string& client_id = "") {
  mqtt_session::Session claim(stack.claim(client_id.empty() ? "claim-" + random_token(6) : client_id));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 20s);
  auto issued = issue_certificate(client);
  return client.register_thing(template_name, issued.ownership_token, {{"SerialNumber", serial}});
}

// A hook server on loopback: answers with what `respond` says and records what it got.
struct HookServer {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::atomic<int> calls{0};
  std::string last_body, last_signature, last_timestamp;
  std::mutex mutex;

  explicit HookServer(std::function<void(const httplib::Request&, httplib::Response&)> respond) {
    server.Post("/hook", [this, respond](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex);
        last_body = req.body;
        last_signature = req.get_header_value("X-Provision-Signature");
        last_timestamp = req.get_header_value("X-Provision-Timestamp");
      }
      ++calls;
      respond(req, res);
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~HookServer() {
    server.stop();
    thread.join();
  }
  std::string hook(int timeout_ms = 2000) const {
    return R"({"type":"http","url":"http://127.0.0.1:)" + std::to_string(port) + R"(/hook","secret":"a-shared-secret-of-enough-length","timeoutMs":)" +
           std::to_string(timeout_ms) + "}";
  }
};

}  // namespace

TEST_CASE("http hook: allow with overrides, deny, timeout, 500 and garbage, each with its errorCode, signed") {
  Stack stack;
  std::string mode = "allow";
  std::mutex mode_mutex;
  HookServer server([&](const httplib::Request& req, httplib::Response& res) {
    std::string m;
    {
      std::lock_guard lock(mode_mutex);
      m = mode;
    }
    if (m == "allow") {
      auto body = json::parse(req.body);
      std::string serial = *json::string_member(*json::member(body, "parameters"), "SerialNumber");
      res.set_content(R"({"allowProvisioning":true,"parameterOverrides":{"SerialNumber":"vetted-)" + serial + R"("}})",
                      "application/json");
    } else if (m == "deny") {
      res.set_content(R"({"allowProvisioning":false})", "application/json");
    } else if (m == "slow") {
      std::this_thread::sleep_for(1500ms);
      res.set_content(R"({"allowProvisioning":true})", "application/json");
    } else if (m == "error") {
      res.status = 500;
    } else if (m == "trickle") {
      // a byte of whitespace every 100 ms, never the end: each read is quick, the answer never comes
      res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
        std::this_thread::sleep_for(100ms);
        return sink.write(" ", 1);
      });
    } else if (m == "flood") {
      // a gigabyte of answer
      res.set_content_provider(size_t(1) << 30, "application/json", [](size_t, size_t length, httplib::DataSink& sink) {
        static const std::string block(64 * 1024, ' ');
        return sink.write(block.data(), std::min(length, block.size()));
      });
    } else {
      res.set_content("<html>not json</html>", "text/html");
    }
  });
  configure_template(stack, "DemoFleet", server.hook(800));
  auto set_mode = [&](const std::string& m) {
    std::lock_guard lock(mode_mutex);
    mode = m;
  };

  auto allowed = register_serial(stack, "DemoFleet", "h1");
  INFO(allowed.describe());
  REQUIRE(allowed.accepted());
  CHECK(json::string_member(allowed.body, "thingName") == "demo-vetted-h1");  // the override was applied
  {
    std::lock_guard lock(server.mutex);
    auto input = json::parse(server.last_body);
    for (const char* field : {"claimCertificateId", "certificateId", "certificatePem", "templateName", "clientId", "parameters"})
      CHECK(json::member(input, field));
    CHECK(json::string_member(input, "templateName") == "DemoFleet");
    // the signature proves the body came from us
    CHECK(server.last_signature ==
          "sha256=" + to_hex(hmac_sha256("a-shared-secret-of-enough-length", server.last_timestamp + "." + server.last_body)));
  }
  int64_t things = stack.registry().count_things();

  set_mode("deny");
  auto denied = register_serial(stack, "DemoFleet", "h2");
  CHECK(denied.error_code == "HookDenied");
  CHECK(denied.status_code == 403);
  set_mode("slow");
  auto late = register_serial(stack, "DemoFleet", "h3");
  CHECK(late.error_code == "HookTimeout");
  set_mode("error");
  auto failed = register_serial(stack, "DemoFleet", "h4");
  CHECK(failed.error_code == "HookFailed");
  set_mode("garbage");
  auto garbage = register_serial(stack, "DemoFleet", "h5");
  CHECK(garbage.error_code == "HookInvalidResponse");
  // a hook that never finishes its answer: the registration waits for the timeout, not for ever
  set_mode("trickle");
  auto trickle_started = std::chrono::steady_clock::now();
  auto trickled = register_serial(stack, "DemoFleet", "h6");
  CHECK(trickled.error_code == "HookTimeout");
  CHECK(std::chrono::steady_clock::now() - trickle_started < 3s);
  // a hook that floods its answer: refused past 64 KiB, nothing kept of the rest
  set_mode("flood");
  auto flooded = register_serial(stack, "DemoFleet", "h7");
  CHECK(flooded.error_code == "HookInvalidResponse");
  CHECK_THAT(flooded.error_message, Catch::Contains("more than 65536 bytes"));
  CHECK(stack.registry().count_things() == things);  // nothing registered for any of them

  // the hook's latency is measured
  httplib::Client admin("127.0.0.1", stack.admin_port);
  auto metrics = admin.Get("/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body, Catch::Contains("provision_hook_duration_seconds_count{type=\"http\"} 7"));
}

TEST_CASE("exec hook: the program's answer decides, and a failing program rejects") {
  Stack stack;
  configure_template(stack, "DemoFleet", std::string(R"({"type":"exec","command":[")") + kHookScript + R"(","allow"]})");
  auto allowed = register_serial(stack, "DemoFleet", "e1");
  INFO(allowed.describe());
  REQUIRE(allowed.accepted());
  CHECK(json::string_member(allowed.body, "thingName") == "demo-hooked-e1");
  configure_template(stack, "DemoFleet", std::string(R"({"type":"exec","command":[")") + kHookScript + R"(","fail"]})");
  CHECK(register_serial(stack, "DemoFleet", "e2").error_code == "HookFailed");
}

TEST_CASE("a hook that sleeps does not delay other devices") {
  Stack stack;
  add_template(stack, "SlowFleet", read_file(PROVISION_SOURCE_DIR "/service/defaults/demo-template.json"));
  configure_template(stack, "SlowFleet", std::string(R"({"type":"exec","timeoutMs":10000,"command":[")") + kHookScript +
                                             R"(","slow","3"]})");
  std::atomic<int> slow_done{0};
  std::vector<std::thread> slow;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i)
    slow.emplace_back([&, i] {
      try {
        if (register_serial(stack, "SlowFleet", "slow" + std::to_string(i)).accepted()) ++slow_done;
      } catch (const std::exception&) {  // not counted as done: the CHECK below says so
      }
    });
  std::this_thread::sleep_for(500ms);  // the three are waiting on their hook now
  // The quick device is its own process, as a device is (and not slowed by
  // this process's three MQTT clients).
  auto quick_started = std::chrono::steady_clock::now();
  std::string output;
  int code = stack.run({provision_device_binary(), "--port", std::to_string(stack.port), "--ca-file", stack.pki.root_cert.string(),
                        "--claim-cert", stack.pki.claim_cert.string(), "--claim-key", stack.pki.claim_key.string(),
                        "--template", "DemoFleet", "--param", "SerialNumber=quick", "--out", (stack.dir / "quick").string()},
                       output);
  auto quick_took = std::chrono::steady_clock::now() - quick_started;
  INFO(output);
  CHECK(code == 0);
  for (auto& t : slow) t.join();
  auto all_took = std::chrono::steady_clock::now() - started;
  CHECK(slow_done == 3);
  WARN("a device without a hook took " << std::chrono::duration_cast<std::chrono::milliseconds>(quick_took).count()
                                       << " ms while three hooks slept 3 s; the three took "
                                       << std::chrono::duration_cast<std::chrono::milliseconds>(all_took).count() << " ms in all");
  CHECK(quick_took < 2s);  // not behind the 3 s hooks
  CHECK(all_took < 8s);    // the three hooks ran side by side, not one after another (9 s)
}

TEST_CASE("factory to activation to first boot: enrollments published over MQTT, activated with metadata and a pinned broker") {
  Stack stack;
  // The factory server's identity: a certificate the broker trusts, registered as a factory.
  auto root = pki::CertificateAuthority::load(stack.pki.root_cert, stack.pki.root_key);
  auto factory_key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", "factory-line-1"}};
  auto factory_cert = root.issue(factory_key.get(), options);
  CertificateFiles factory{(stack.dir / "factory.pem").string(), (stack.dir / "factory.key").string()};
  write_file(factory.certificate, factory_cert.to_pem(), 0644);
  write_file(factory.key, factory_key.to_pem(), 0600);
  stack.provisiond({"identity", "register", factory.certificate, "--name", "line-1", "--kind", "factory"});
  configure_template(stack, "DemoFleet", R"({"type":"enrollment","registrationIdParameter":"SerialNumber"})");
  {
    auto reg = stack.registry();
    reg.put_broker({"eu-1", "mqtts://eu-1.example.com:8883", 1, true, 0, 0, std::nullopt});
  }

  // The factory publishes two enrollments; each is acknowledged, and again is harmless.
  {
    mqtt_session::Session session(stack.client(factory, "factory-line-1"));
    session.connect();
    device::ProvisioningClient client(session);
    protocol::RequestTopic topic{protocol::Operation::PublishEnrollment, protocol::Format::Json, protocol::Alias::Provision, ""};
    for (const char* serial : {"SN-100", "SN-200", "SN-100"}) {
      auto ack = client.request(topic, std::string(R"({"registrationId":")") + serial + R"("})");
      INFO(ack.describe());
      REQUIRE(ack.accepted());
      CHECK(json::string_member(ack.body, "status") == "DISABLED");
    }
    auto again = client.request(topic, R"({"registrationId":"SN-100"})");
    CHECK(json::bool_member(again.body, "created") == false);
    // a claim may not publish enrollments
  }

  // Disabled: refused. Unknown: refused the same way.
  auto disabled = register_serial(stack, "DemoFleet", "SN-100");
  auto unknown = register_serial(stack, "DemoFleet", "SN-999");
  CHECK(disabled.error_code == "EnrollmentNotAllowed");
  CHECK(unknown.error_code == "EnrollmentNotAllowed");
  CHECK(disabled.error_message == unknown.error_message);  // does not reveal which
  CHECK(disabled.status_code == unknown.status_code);

  // The buyer activates SN-100 with metadata and a pinned broker.
  httplib::Client admin("127.0.0.1", stack.admin_port);
  httplib::Headers auth{{"Authorization", "Bearer " + stack.admin_token}};
  auto activated = admin.Post("/v1/enrollments/SN-100/activate", auth,
                              R"({"attributes":{"owner":"acme","site":"berlin"},"configuration":{"firmwareChannel":"stable"},"broker":"eu-1"})",
                              "application/json");
  REQUIRE(activated);
  CHECK(activated->status == 200);

  auto first_boot = register_serial(stack, "DemoFleet", "SN-100");
  INFO(first_boot.describe());
  REQUIRE(first_boot.accepted());
  const auto& configuration = *json::member(first_boot.body, "deviceConfiguration");
  CHECK(json::string_member(configuration, "firmwareChannel") == "stable");
  CHECK(json::string_member(configuration, "brokerEndpoint") == "mqtts://eu-1.example.com:8883");
  CHECK(json::string_member(configuration, "telemetryTopic") == "devices/demo-SN-100/telemetry");  // the template's too
  auto thing = stack.registry().find_thing("demo-SN-100");
  REQUIRE(thing);
  CHECK(thing->attributes.at("owner") == "acme");
  CHECK(thing->attributes.at("serialNumber") == "SN-100");
  CHECK(stack.registry().find_enrollment("SN-100")->thing_name == "demo-SN-100");

  // Used: refused, the same way again.
  auto used = register_serial(stack, "DemoFleet", "SN-100");
  CHECK(used.error_code == "EnrollmentNotAllowed");
  CHECK(used.error_message == unknown.error_message);
}

TEST_CASE("broker assignment: hashed over enabled brokers, and a disabled broker gets no new devices") {
  Stack stack;
  {
    auto reg = stack.registry();
    reg.put_broker({"b1", "mqtts://b1.example.com:8883", 1, true, 0, 0, std::nullopt});
    reg.put_broker({"b2", "mqtts://b2.example.com:8883", 1, true, 0, 0, std::nullopt});
  }
  configure_template(stack, "DemoFleet", std::nullopt, R"({"policy":"hashed"})");
  std::map<std::string, int> endpoints;
  for (int i = 0; i < 8; ++i) {
    auto outcome = register_serial(stack, "DemoFleet", "a" + std::to_string(i));
    REQUIRE(outcome.accepted());
    ++endpoints[*json::string_member(*json::member(outcome.body, "deviceConfiguration"), "brokerName")];
  }
  CHECK(endpoints.size() == 2);  // both used (8 names; the chance of one broker only is 1/128)
  {
    auto reg = stack.registry();
    reg.put_broker({"b2", "mqtts://b2.example.com:8883", 1, false, 0, 0, std::nullopt});
  }
  for (int i = 0; i < 6; ++i) {
    auto outcome = register_serial(stack, "DemoFleet", "b" + std::to_string(i));
    REQUIRE(outcome.accepted());
    CHECK(json::string_member(*json::member(outcome.body, "deviceConfiguration"), "brokerName") == "b1");
  }
  configure_template(stack, "DemoFleet", std::nullopt, R"({"policy":"static","broker":"b2"})");
  CHECK(register_serial(stack, "DemoFleet", "c1").error_code == "NoBrokerAvailable");
}

TEST_CASE("re-provisioning: REPLACE updates the existing thing, FAIL refuses it") {
  Stack stack;
  const std::string body = R"({
    "Parameters": {"SerialNumber": {"Type": "String"}, "Site": {"Type": "String", "Default": "none"}},
    "Resources": {
      "thing": {"Type": "AWS::IoT::Thing",
                "Properties": {"ThingName": {"Ref": "SerialNumber"}, "AttributePayload": {"site": {"Ref": "Site"}}, "ThingGroups": ["fleet"]},
                "OverrideSettings": {"AttributePayload": "OVERRIDE", "ThingGroups": "MERGE"}},
      "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DemoDevicePolicy"}}}})";
  std::string replace = body;
  replace.replace(replace.find("OVERRIDE"), 8, "REPLACE");
  std::string fail = body;
  fail.replace(fail.find("OVERRIDE"), 8, "FAIL");
  add_template(stack, "ReplaceFleet", replace);
  add_template(stack, "FailFleet", fail);
  for (const char* name : {"ReplaceFleet", "FailFleet"}) {  // the thing changes hands: the operator allows it
    auto reg = stack.registry();
    auto t = reg.find_template(name);
    t->reprovisioning = "replace";
    reg.update_template(*t);
  }

  auto register_site = [&](const std::string& t, const std::string& site) {
    mqtt_session::Session claim(stack.claim("claim-" + random_token(6)));
    claim.connect();
    device::ProvisioningClient client(claim);
    auto issued = create_certificate(client);
    return client.register_thing(t, issued.ownership_token, {{"SerialNumber", "dev-7"}, {"Site", site}});
  };
  REQUIRE(register_site("ReplaceFleet", "berlin").accepted());
  REQUIRE(register_site("ReplaceFleet", "paris").accepted());
  CHECK(stack.registry().find_thing("dev-7")->attributes.at("site") == "paris");
  CHECK(stack.registry().groups_of_thing("dev-7") == std::vector<std::string>{"fleet"});
  auto certificates = stack.registry().certificates_of_thing("dev-7");
  REQUIRE(certificates.size() == 2);  // the re-provisioned device's new certificate, and its old one, revoked
  CHECK(certificates[0].status != certificates[1].status);
  for (const auto& c : certificates) CHECK((c.status == "ACTIVE" || c.status == "REVOKED"));
  auto refused = register_site("FailFleet", "rome");
  CHECK(refused.error_code == "ResourceConflict");
  CHECK(stack.registry().find_thing("dev-7")->attributes.at("site") == "paris");
}

TEST_CASE("temporary claims for trusted users: an installer gets a 5-minute claim for one template") {
  Stack stack;
  std::string installer_token = stack.provisiond({"token", "create", "installer-app", "--role", "installer"});
  installer_token.erase(installer_token.find_last_not_of("\r\n") + 1);
  httplib::Client admin("127.0.0.1", stack.admin_port);
  httplib::Headers auth{{"Authorization", "Bearer " + installer_token}};

  auto too_long = admin.Post("/v1/claims", auth, R"({"templates":["DemoFleet"],"validitySeconds":3600})", "application/json");
  REQUIRE(too_long);
  CHECK(too_long->status == 403);
  auto created = admin.Post("/v1/claims", auth, R"({"templates":["DemoFleet"],"validitySeconds":300})", "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  auto claim = json::parse(created->body);
  int64_t expires_at = *json::int_member(claim, "expiresAt");
  CHECK(std::abs(expires_at - (unix_now() + 300)) <= 5);
  auto certificate = pki::Certificate::from_pem(*json::string_member(claim, "certificatePem"));
  CHECK(std::abs(certificate.not_after() - (unix_now() + 300)) <= 5);
  CertificateFiles files{(stack.dir / "temp-claim.pem").string(), (stack.dir / "temp-claim.key").string()};
  write_file(files.certificate, certificate.to_pem(), 0644);
  write_file(files.key, *json::string_member(claim, "privateKey"), 0600);

  // Within its 5 minutes it works.
  mqtt_session::Session session(stack.client(files, "installer-phone"));
  session.connect();
  device::ProvisioningClient client(session);
  auto issued = create_certificate(client);
  CHECK(client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "inst-1"}}).accepted());

  // Five minutes later (the registry's expiry moved into the past, as the
  // clock would): the connected claim is cut off and a reconnect refused.
  {
    auto reg = stack.registry();
    auto record = reg.find_claim_certificate(certificate.id());
    record->expires_at = unix_now() - 1;
    reg.put_claim_certificate(*record);
  }
  CHECK(session.wait_disconnected(2s));
  mqtt_session::Session again(stack.client(files, "installer-phone"));
  CHECK_THROWS(again.connect());
}

TEST_CASE("hygiene: expired ownership tokens are refused, and unregistered certificates removed and audited") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("claim-hygiene"));
  claim.connect();
  device::ProvisioningClient client(claim);
  auto issued = create_certificate(client);
  {
    auto reg = stack.registry();
    database_of(reg).exec("UPDATE certificates SET token_expires_at = " + std::to_string(unix_now() - 10) + " WHERE id = '" +
                        issued.certificate_id + "'");
    database_of(reg).exec("UPDATE certificates SET created_at = " + std::to_string(unix_now() - 7200) + " WHERE id = '" +
                        issued.certificate_id + "'");
  }
  auto expired = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "late"}});
  CHECK(expired.error_code == "CertificateOwnershipTokenExpired");
  stack.provisiond({"janitor"});
  auto reg = stack.registry();
  CHECK_FALSE(reg.find_certificate(issued.certificate_id));
  registry::AuditFilter filter;
  filter.action = "RemoveUnregisteredCertificate";
  filter.subject = issued.certificate_id;
  CHECK(reg.audit_entries(filter).size() == 1);
}

TEST_CASE("a hook may decide the broker, for templates whose assignment policy is hook") {
  Stack stack;
  {
    auto reg = stack.registry();
    reg.put_broker({"near", "mqtts://near.example.com:8883", 1, true, 0, 0, std::nullopt});
    reg.put_broker({"far", "mqtts://far.example.com:8883", 1, true, 0, 0, std::nullopt});
  }
  HookServer server([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"allowProvisioning":true,"broker":"far"})", "application/json");
  });
  configure_template(stack, "DemoFleet", server.hook(), R"({"policy":"hook"})");
  auto outcome = register_serial(stack, "DemoFleet", "hb1");
  INFO(outcome.describe());
  REQUIRE(outcome.accepted());
  CHECK(json::string_member(*json::member(outcome.body, "deviceConfiguration"), "brokerEndpoint") == "mqtts://far.example.com:8883");
}

TEST_CASE("a group enrollment admits every device of its manufacturer CA, with its metadata") {
  Stack stack;
  auto manufacturer = pki::CertificateAuthority::create_root("Globex Factory CA", 3600);
  write_file(stack.dir / "globex-ca.pem", manufacturer.certificate().to_pem(), 0644);
  stack.provisiond({"ca", "register", (stack.dir / "globex-ca.pem").string(), "--name", "globex", "--role", "manufacturer",
                    "--templates", "DemoFleet"});
  REQUIRE(stack.wait_trusted(manufacturer.certificate(), 2s));  // the broker trusts it (no restart)
  configure_template(stack, "DemoFleet", R"({"type":"enrollment"})");
  httplib::Client admin("127.0.0.1", stack.admin_port);
  httplib::Headers auth{{"Authorization", "Bearer " + stack.admin_token}};
  const std::string group_id = manufacturer.certificate().id();
  REQUIRE(admin.Post("/v1/enrollments", auth, R"({"registrationId":")" + group_id + R"(","kind":"group"})", "application/json")->status == 201);

  auto factory_device = [&](const std::string& cn) {
    auto key = pki::PrivateKey::generate_ec();
    pki::IssueOptions options;
    options.subject = {{"CN", cn}};
    auto cert = manufacturer.issue(key.get(), options);
    CertificateFiles files{(stack.dir / (cn + ".pem")).string(), (stack.dir / (cn + ".key")).string()};
    write_file(files.certificate, cert.to_pem(), 0644);
    write_file(files.key, key.to_pem(), 0600);
    return files;
  };
  auto register_factory_device = [&](const std::string& cn) {
    mqtt_session::Session session(stack.client(factory_device(cn), cn));
    session.connect();
    device::ProvisioningClient client(session);
    auto issued = create_certificate(client);
    return client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", cn}});
  };
  CHECK(register_factory_device("GX-1").error_code == "EnrollmentNotAllowed");  // disabled
  REQUIRE(admin.Post("/v1/enrollments/" + group_id + "/activate", auth, R"({"attributes":{"maker":"globex"}})", "application/json")
              ->status == 200);
  for (const char* cn : {"GX-2", "GX-3"}) {
    auto outcome = register_factory_device(cn);
    INFO(outcome.describe());
    CHECK(outcome.accepted());
    CHECK(stack.registry().find_thing(std::string("demo-") + cn)->attributes.at("maker") == "globex");
  }
  CHECK_FALSE(stack.registry().find_enrollment(group_id)->used_at);  // a group enrollment is never used up
}

TEST_CASE("a new self-signed manufacturer CA registered through the admin API is trusted within a second without a restart, and refused once deleted") {
  Stack stack;
  configure_template(stack, "DemoFleet", R"({"type":"enrollment"})");
  httplib::Client admin("127.0.0.1", stack.admin_port);
  httplib::Headers auth{{"Authorization", "Bearer " + stack.admin_token}};
  REQUIRE(admin.Post("/v1/enrollments", auth, R"({"registrationId":"IT-1001"})", "application/json")->status == 201);
  REQUIRE(admin.Post("/v1/enrollments/IT-1001/activate", auth, R"({"attributes":{"maker":"initech"}})", "application/json")->status ==
          200);

  // A manufacturer the broker has never heard of, and one of its devices.
  auto manufacturer = pki::CertificateAuthority::create_root("Initech Factory CA", 3600);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", "IT-1001"}};
  CertificateFiles factory{(stack.dir / "it-1001.pem").string(), (stack.dir / "it-1001.key").string()};
  write_file(factory.certificate, manufacturer.issue(key.get(), options).to_pem(), 0644);
  write_file(factory.key, key.to_pem(), 0600);
  {
    mqtt_session::Session before(stack.client(factory, "IT-1001"));
    CHECK_THROWS(before.connect());  // TLS does not know its CA yet
  }

  rapidjson::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  body.AddMember("name", "initech", a);
  body.AddMember("role", "manufacturer", a);
  body.AddMember("certificatePem", json::string_value(manufacturer.certificate().to_pem(), a), a);
  body.AddMember("templates", json::string_list({"DemoFleet"}, a), a);
  auto registered_at = std::chrono::steady_clock::now();
  auto created = admin.Post("/v1/cas", auth, json::stringify(body), "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);

  // The device connects as soon as the plugin has written the CA into the
  // broker's trust directory (it reloads its own CAs in the same poll): the
  // first handshake after that trusts it, no restart. (A loop of connect
  // attempts would measure the attempts: a failed one looks closer at why.)
  REQUIRE(stack.wait_trusted(manufacturer.certificate(), 2s));
  mqtt_session::Session first(stack.client(factory, "IT-1001"));
  first.connect();
  auto connected_after = std::chrono::steady_clock::now() - registered_at;
  first.disconnect();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  WARN("from POST /v1/cas to the factory device's first successful connect: " << ms(connected_after) << " ms");
  CHECK(connected_after < 1500ms);
  CHECK(wait_for_text(stack.broker_log, "is enrollment enrollment:IT-1001", 2s));

  // And it provisions (provision-device with its factory certificate).
  std::string output;
  auto started = std::chrono::steady_clock::now();
  int code = stack.run({provision_device_binary(), "--port", std::to_string(stack.port), "--ca-file", stack.pki.root_cert.string(),
                        "--factory-cert", factory.certificate, "--factory-key", factory.key, "--template", "DemoFleet",
                        "--param", "SerialNumber=IT-1001", "--out", (stack.dir / "it-1001").string()},
                       output);
  INFO(output);
  CHECK(code == 0);
  WARN("provision-device with the factory certificate took " << ms(std::chrono::steady_clock::now() - started) << " ms");
  auto thing = stack.registry().find_thing("demo-IT-1001");  // its registration id (docs/provisioning.md)
  REQUIRE(thing);
  CHECK(thing->attributes.at("maker") == "initech");

  // Deleted: out of the trust directory, and the device is refused.
  const std::string id = manufacturer.certificate().id();
  REQUIRE(admin.Delete("/v1/cas/" + id, auth)->status == 204);
  CHECK(stack.wait_trusted(manufacturer.certificate(), 2s, false));
  mqtt_session::Session after(stack.client(factory, "IT-1001-after-delete"));
  CHECK_THROWS(after.connect());  // OpenSSL may still hold the CA in its cache: the plugin refuses it
  CHECK(wait_for_text(stack.broker_log, "refused client 'IT-1001-after-delete'", 2s));

  // After a restart TLS itself refuses it: the plugin never hears of the client.
  stack.stop_broker();
  stack.start_broker();
  mqtt_session::Session restarted(stack.client(factory, "IT-1001-after-restart"));
  CHECK_THROWS(restarted.connect());
  std::this_thread::sleep_for(300ms);
  CHECK(count_text(stack.broker_log, "client 'IT-1001-after-restart'") == 0);
}
