// Who may become which thing: a device never takes over a thing that
// another device registered unless the operator allowed re-provisioning (the
// template's policy, or a pre-provisioning hook's approval), and then the
// old certificates stop working; a device that registers through an
// enrollment gets the thing its registration id names, whatever parameters
// it sends; a used enrollment is used again only when its policy or an
// admin's reset says so.
#include <catch2/catch.hpp>
#include <httplib.h>

#include "flows.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

const char* kHookScript = PROVISION_SOURCE_DIR "/tests/data/hooks/echo_hook.sh";

struct Registration {
  device::Outcome outcome;
  std::string certificate_id;
  CertificateFiles files;  // the device certificate it would use
};

// A device's first boot over `identity` (a claim, or a factory certificate):
// a certificate from a CSR, then RegisterThing with `parameters`.
Registration register_with(Stack& stack, const mqtt_session::ConnectSettings& identity, const std::string& template_name,
                           const std::map<std::string, std::string>& parameters) {
  mqtt_session::Session session(identity);
  session.connect();
  device::ProvisioningClient client(session, protocol::Alias::Provision, 20s);
  auto issued = create_certificate(client);
  Registration r{client.register_thing(template_name, issued.ownership_token, parameters), issued.certificate_id, {}};
  std::string stem = (stack.dir / ("device-" + issued.certificate_id.substr(0, 12))).string();
  r.files = {stem + ".pem", stem + ".key"};
  write_file(r.files.certificate, issued.certificate_pem, 0644);
  write_file(r.files.key, issued.private_key_pem, 0600);
  return r;
}

Registration register_claim_device(Stack& stack, const std::string& template_name, const std::string& serial) {
  return register_with(stack, stack.claim("claim-" + random_token(6)), template_name, {{"SerialNumber", serial}});
}

std::string status_of(Stack& stack, const std::string& certificate_id) {
  auto c = stack.registry().find_certificate(certificate_id);
  return c ? c->status : "(none)";
}

std::vector<std::string> active_certificates(Stack& stack, const std::string& thing) {
  std::vector<std::string> ids;
  for (const auto& c : stack.registry().certificates_of_thing(thing))
    if (c.status == "ACTIVE") ids.push_back(c.id);
  return ids;
}

struct Admin {
  httplib::Client http;
  httplib::Headers auth;
  Admin(Stack& stack) : http("127.0.0.1", stack.admin_port), auth{{"Authorization", "Bearer " + stack.admin_token}} {}
  int post(const std::string& path, const std::string& body = "{}") {
    auto r = http.Post(path, auth, body, "application/json");
    return r ? r->status : -1;
  }
  int patch(const std::string& path, const std::string& body) {
    auto r = http.Patch(path, auth, body, "application/json");
    return r ? r->status : -1;
  }
};

// A manufacturer CA that the registry knows, and so the broker trusts (its
// trust directory), and factory certificates from it.
struct Manufacturer {
  pki::CertificateAuthority ca = pki::CertificateAuthority::create_root("Initech Factory CA", 3600);
  Stack& stack;

  Manufacturer(Stack& s, const std::string& templates) : stack(s) {
    write_file(stack.dir / "initech-ca.pem", ca.certificate().to_pem(), 0644);
    stack.provisiond({"ca", "register", (stack.dir / "initech-ca.pem").string(), "--name", "initech", "--role",
                      "manufacturer", "--templates", templates, "--registration-id", "CN"});
    REQUIRE(stack.wait_trusted(ca.certificate(), 5s));
  }

  // The client settings of a device whose factory certificate says CN=`registration_id`.
  mqtt_session::ConnectSettings device(const std::string& registration_id) {
    auto key = pki::PrivateKey::generate_ec();
    pki::IssueOptions options;
    options.subject = {{"CN", registration_id}};
    auto cert = ca.issue(key.get(), options);
    CertificateFiles files{(stack.dir / (registration_id + "-factory.pem")).string(),
                           (stack.dir / (registration_id + "-factory.key")).string()};
    write_file(files.certificate, cert.to_pem(), 0644);
    write_file(files.key, key.to_pem(), 0600);
    return stack.client(files, "factory-" + registration_id);
  }
};

void add_template(Stack& stack, const std::string& name, const std::string& body, std::optional<std::string> hook = {}) {
  auto reg = stack.registry();
  reg.add_template_version(name, body);
  auto t = reg.find_template(name);
  t->hook = std::move(hook);
  reg.update_template(*t);
  auto claim = reg.find_claim_certificate(pki::Certificate::load(stack.pki.claim_cert).id());
  claim->allowed_templates.push_back(name);
  reg.put_claim_certificate(*claim);
}

// A template whose thing name the device chooses (DeviceId), the impostor's way in.
const std::string kChosenName = R"({
  "Parameters": {"DeviceId": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "DeviceId"}}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DemoDevicePolicy"}}}})";
// The documented way: the thing is named after the registration id.
const std::string kBoundName = R"({
  "Parameters": {"Site": {"Type": "String", "Default": "none"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing",
              "Properties": {"ThingName": {"Fn::Join": ["", ["demo-", {"Ref": "Provision::RegistrationId"}]]},
                             "AttributePayload": {"site": {"Ref": "Site"}}}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DemoDevicePolicy"}}},
  "DeviceConfiguration": {"telemetryTopic": {"Fn::Sub": "devices/demo-${Provision::RegistrationId}/telemetry"}}})";

}  // namespace

TEST_CASE("a claim device naming a thing another device registered is refused, and the thing keeps its one certificate") {
  Stack stack;
  auto first = register_claim_device(stack, "DemoFleet", "777");
  REQUIRE(first.outcome.accepted());
  auto second = register_claim_device(stack, "DemoFleet", "777");
  INFO(second.outcome.describe());
  CHECK(second.outcome.status_code == 409);
  CHECK(second.outcome.error_code == "ReprovisioningNotAllowed");
  CHECK(active_certificates(stack, "demo-777") == std::vector<std::string>{first.certificate_id});
  CHECK(status_of(stack, second.certificate_id) == "PENDING_ACTIVATION");  // nothing was written
  CHECK_FALSE(stack.registry().find_certificate(second.certificate_id)->thing_name);
  // the impostor's certificate opens nothing
  mqtt_session::Session impostor(stack.client(second.files, "demo-777"));
  CHECK_THROWS(impostor.connect());
}

TEST_CASE("a template that allows re-provisioning gives the thing to the new device and revokes the old certificate") {
  Stack stack;
  auto first = register_claim_device(stack, "DemoFleet", "778");
  REQUIRE(first.outcome.accepted());
  mqtt_session::Session old_device(stack.client(first.files, "demo-778"));
  old_device.connect();

  Admin admin(stack);
  REQUIRE(admin.patch("/v1/templates/DemoFleet", R"({"reprovisioning":"replace"})") == 200);
  auto second = register_claim_device(stack, "DemoFleet", "778");
  INFO(second.outcome.describe());
  REQUIRE(second.outcome.accepted());
  CHECK(active_certificates(stack, "demo-778") == std::vector<std::string>{second.certificate_id});
  CHECK(status_of(stack, first.certificate_id) == "REVOKED");
  CHECK(old_device.wait_disconnected(1500ms));  // cut off within a second (plus the poll)
  mqtt_session::Session new_device(stack.client(second.files, "demo-778"));
  CHECK_NOTHROW(new_device.connect());
  registry::AuditFilter filter;
  filter.action = "RegisterThing";
  filter.subject = "demo-778";
  auto entries = stack.registry().audit_entries(filter);
  REQUIRE(!entries.empty());
  CHECK(entries.front().detail.find(first.certificate_id) != std::string::npos);  // the revocation is in its audit entry
}

TEST_CASE("a pre-provisioning hook that approves a registration may re-provision a registered thing") {
  Stack stack;
  auto first = register_claim_device(stack, "DemoFleet", "779");
  REQUIRE(first.outcome.accepted());
  {
    auto reg = stack.registry();
    auto t = reg.find_template("DemoFleet");
    t->hook = std::string(R"({"type":"exec","command":[")") + kHookScript + R"(","slow","0"]})";
    reg.update_template(*t);
  }
  auto second = register_claim_device(stack, "DemoFleet", "779");
  INFO(second.outcome.describe());
  REQUIRE(second.outcome.accepted());
  CHECK(status_of(stack, first.certificate_id) == "REVOKED");
  CHECK(active_certificates(stack, "demo-779") == std::vector<std::string>{second.certificate_id});
}

TEST_CASE("an enrolled factory device gets the thing its registration id names, not one it chooses") {
  Stack stack;
  add_template(stack, "ChosenName", kChosenName, R"({"type":"enrollment","registrationIdParameter":"SerialNumber"})");
  add_template(stack, "BoundName", kBoundName, R"({"type":"enrollment","registrationIdParameter":"SerialNumber"})");
  Manufacturer initech(stack, "ChosenName,BoundName,DemoFleet");
  Admin admin(stack);
  for (const char* id : {"IT-1001", "1234"}) {
    REQUIRE(admin.post("/v1/enrollments", std::string(R"({"registrationId":")") + id + R"("})") == 201);
    REQUIRE(admin.post(std::string("/v1/enrollments/") + id + "/activate") == 200);
  }

  SECTION("a thing name from a device parameter is refused") {
    auto impostor = register_with(stack, initech.device("IT-1001"), "ChosenName", {{"DeviceId", "impostor-1"}});
    INFO(impostor.outcome.describe());
    CHECK(impostor.outcome.status_code == 403);
    CHECK(impostor.outcome.error_code == "ThingNameNotBound");
    CHECK_FALSE(stack.registry().find_thing("impostor-1"));
    CHECK_FALSE(stack.registry().find_enrollment("IT-1001")->used_at);
  }
  SECTION("the registration id parameter cannot name another device") {
    auto other = register_with(stack, initech.device("IT-1001"), "BoundName", {{"SerialNumber", "IT-2002"}});
    INFO(other.outcome.describe());
    CHECK(other.outcome.error_code == "RegistrationIdMismatch");
  }
  SECTION("a template that refers to Provision::RegistrationId names the thing after it") {
    auto bound = register_with(stack, initech.device("IT-1001"), "BoundName", {{"Site", "lyon"}});
    INFO(bound.outcome.describe());
    REQUIRE(bound.outcome.accepted());
    CHECK(json::string_member(bound.outcome.body, "thingName") == "demo-IT-1001");
    CHECK(json::string_member(*json::member(bound.outcome.body, "deviceConfiguration"), "telemetryTopic") ==
          "devices/demo-IT-1001/telemetry");
    CHECK(stack.registry().find_thing("demo-IT-1001")->attributes.at("site") == "lyon");
    CHECK(stack.registry().find_enrollment("IT-1001")->thing_name == "demo-IT-1001");
  }
  SECTION("an enrolled device whose registration id names a thing a claim device registered does not get it") {
    auto claim_device = register_claim_device(stack, "DemoFleet", "1234");
    REQUIRE(claim_device.outcome.accepted());
    auto takeover = register_with(stack, initech.device("1234"), "BoundName", {});
    INFO(takeover.outcome.describe());
    CHECK(takeover.outcome.error_code == "ReprovisioningNotAllowed");
    CHECK(active_certificates(stack, "demo-1234") == std::vector<std::string>{claim_device.certificate_id});
  }
}

TEST_CASE("a factory-reset device re-provisions only after its enrollment is reset, or when its policy is replace") {
  Stack stack;
  {
    auto reg = stack.registry();
    auto t = reg.find_template("DemoFleet");
    t->hook = R"({"type":"enrollment","registrationIdParameter":"SerialNumber"})";
    reg.update_template(*t);
  }
  Admin admin(stack);
  REQUIRE(admin.post("/v1/enrollments", R"({"registrationId":"SN-5"})") == 201);
  REQUIRE(admin.post("/v1/enrollments/SN-5/activate") == 200);
  auto first = register_claim_device(stack, "DemoFleet", "SN-5");
  REQUIRE(first.outcome.accepted());

  // factory reset: the device boots again with its claim, and is refused ...
  auto again = register_claim_device(stack, "DemoFleet", "SN-5");
  CHECK(again.outcome.error_code == "EnrollmentNotAllowed");
  // ... also after its buyer disabled and activated it again
  REQUIRE(admin.post("/v1/enrollments/SN-5/disable") == 200);
  REQUIRE(admin.post("/v1/enrollments/SN-5/activate") == 200);
  CHECK(register_claim_device(stack, "DemoFleet", "SN-5").outcome.error_code == "EnrollmentNotAllowed");

  // an admin resets the enrollment: the device gets its own thing back, the old certificate is revoked
  REQUIRE(admin.post("/v1/enrollments/SN-5/reset") == 200);
  auto reset = register_claim_device(stack, "DemoFleet", "SN-5");
  INFO(reset.outcome.describe());
  REQUIRE(reset.outcome.accepted());
  CHECK(json::string_member(reset.outcome.body, "thingName") == "demo-SN-5");
  CHECK(status_of(stack, first.certificate_id) == "REVOKED");
  CHECK(active_certificates(stack, "demo-SN-5") == std::vector<std::string>{reset.certificate_id});
  CHECK(register_claim_device(stack, "DemoFleet", "SN-5").outcome.error_code == "EnrollmentNotAllowed");  // used again

  // an enrollment whose policy is replace may be used again and again, each time revoking the last certificate
  REQUIRE(admin.post("/v1/enrollments", R"({"registrationId":"SN-6","reprovisioning":"replace"})") == 201);
  REQUIRE(admin.post("/v1/enrollments/SN-6/activate") == 200);
  auto one = register_claim_device(stack, "DemoFleet", "SN-6");
  REQUIRE(one.outcome.accepted());
  auto two = register_claim_device(stack, "DemoFleet", "SN-6");
  INFO(two.outcome.describe());
  REQUIRE(two.outcome.accepted());
  CHECK(status_of(stack, one.certificate_id) == "REVOKED");
  CHECK(active_certificates(stack, "demo-SN-6") == std::vector<std::string>{two.certificate_id});
  CHECK(stack.registry().find_enrollment("SN-6")->thing_name == "demo-SN-6");
}
