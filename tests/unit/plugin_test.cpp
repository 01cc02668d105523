// Unit tests of the broker plugin's decision code (provision_plugin_core):
// identities at connect, topic access, request/reply routing, options and
// registry robustness. No broker: real files, real OpenSSL, real SQLite.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <sqlite3.h>

#include <cstdlib>

#include <chrono>

#include "gatekeeper.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/development_pki.h"
#include "pki/key.h"
#include "protocol/topics.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "temp_dir.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::plugin;

namespace {

constexpr const char* kCreate = "$provision/certificates/create/json";
constexpr const char* kCreateCbor = "$provision/certificates/create/cbor";
constexpr const char* kCsr = "$provision/certificates/create-from-csr/json";
constexpr const char* kRegister = "$provision/templates/DemoFleet/provision/json";
constexpr const char* kRegisterOther = "$provision/templates/OtherFleet/provision/json";
constexpr const char* kAwsCreate = "$aws/certificates/create/json";
constexpr const char* kAwsCsr = "$aws/certificates/create-from-csr/json";
constexpr const char* kAwsRegister = "$aws/provisioning-templates/DemoFleet/provision/json";
constexpr const char* kRequests = "_provision/requests";
constexpr const char* kReplies = "_provision/replies";

// Like service/defaults/demo-policy.json.
constexpr const char* kDemoPolicy = R"({
  "description": "device uses its own topics only",
  "statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}"]},
    {"effect": "allow", "actions": ["publish"], "topics": ["devices/${thingName}/telemetry", "devices/${thingName}/state"]},
    {"effect": "allow", "actions": ["subscribe", "receive"], "topics": ["devices/${thingName}/commands", "devices/${thingName}/commands/#"]}
  ]})";

// Everything, everywhere (what an over-broad admin policy looks like).
constexpr const char* kEverythingPolicy = R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "allow", "actions": ["publish", "subscribe", "receive"], "topics": ["#"]}
  ]})";

// Everything, plus shared subscriptions.
constexpr const char* kSharingPolicy = R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "allow", "actions": ["publish", "subscribe", "receive"], "topics": ["#", "$share/#"]}
  ]})";

using provision::testing::TempDir;


struct LogLine {
  LogLevel level;
  std::string text;
};

pki::Certificate issue_client(const pki::CertificateAuthority& ca, const std::string& common_name,
                              int64_t validity_seconds = 3600) {
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", common_name}};
  options.validity_seconds = validity_seconds;
  return ca.issue(key.get(), options);
}

struct Fixture {
  TempDir dir;
  pki::DevelopmentPki files = pki::create_development_pki(dir.path / "pki");
  std::filesystem::path registry_path = dir.path / "registry.db";
  registry::Registry reg = registry::Registry::open(registry_path);
  pki::CertificateAuthority fleet_ca = pki::CertificateAuthority::load(files.fleet_ca_cert, files.fleet_ca_key);
  pki::CertificateAuthority claim_ca = pki::CertificateAuthority::load(files.claim_ca_cert, files.claim_ca_key);
  pki::Certificate claim = pki::Certificate::load(files.claim_cert);
  pki::Certificate service = pki::Certificate::load(files.service_cert);
  pki::Certificate device;  // thing-1, ACTIVE, demo policy
  std::vector<LogLine> logs;
  int slots[16] = {};  // connection keys; key(15) is the worker of link_worker()
  int64_t now = unix_now();

  Fixture() : device(issue_client(fleet_ca, "thing-1")) {
    registry::CaRecord claim_ca_row;
    claim_ca_row.id = claim_ca.certificate().id();
    claim_ca_row.name = "Development Claim CA";
    claim_ca_row.role = "claim";
    claim_ca_row.pem = claim_ca.certificate().to_pem();
    claim_ca_row.allowed_templates = {"DemoFleet"};
    reg.put_ca(claim_ca_row);

    registry::CaRecord fleet_ca_row;
    fleet_ca_row.id = fleet_ca.certificate().id();
    fleet_ca_row.name = "Development Fleet CA";
    fleet_ca_row.role = "fleet";
    fleet_ca_row.pem = fleet_ca.certificate().to_pem();
    reg.put_ca(fleet_ca_row);

    registry::ClaimCertificateRecord claim_row;
    claim_row.id = claim.id();
    claim_row.pem = claim.to_pem();
    claim_row.description = "claim-batch-1";
    claim_row.allowed_templates = {"DemoFleet"};
    reg.put_claim_certificate(claim_row);

    registry::ServiceIdentityRecord service_row;
    service_row.certificate_id = service.id();
    service_row.name = "provisiond";
    reg.put_service_identity(service_row);

    reg.put_policy("DemoPolicy", kDemoPolicy);
    reg.put_policy("EverythingPolicy", kEverythingPolicy);
    reg.put_policy("SharingPolicy", kSharingPolicy);
    register_device(device, "thing-1", registry::kActive, "DemoPolicy");
  }

  const void* key(int i) { return &slots[i]; }

  void register_device(const pki::Certificate& cert, const std::string& thing, const std::string& status,
                       const std::string& policy) {
    if (!reg.find_thing(thing)) reg.insert_thing({thing, std::nullopt, {}});
    registry::CertificateRecord r;
    r.id = cert.id();
    r.pem = cert.to_pem();
    r.status = status;
    r.thing_name = thing;
    r.ca_id = fleet_ca.certificate().id();
    r.serial = cert.serial_hex();
    r.not_before = cert.not_before();
    r.not_after = cert.not_after();
    reg.insert_certificate(r);
    reg.attach_policy(cert.id(), policy);
  }

  std::unique_ptr<Gatekeeper> gatekeeper(OptionPairs extra = {}) {
    extra.emplace_back("registry", registry_path.string());
    return std::make_unique<Gatekeeper>(parse_options(extra),
                                        [this](LogLevel level, const std::string& text) { logs.push_back({level, text}); });
  }

  bool logged(const std::string& fragment) const {
    return std::any_of(logs.begin(), logs.end(), [&](const LogLine& l) { return l.text.find(fragment) != std::string::npos; });
  }
  bool logged_at(LogLevel level, const std::string& fragment) const {
    return std::any_of(logs.begin(), logs.end(),
                       [&](const LogLine& l) { return l.level == level && l.text.find(fragment) != std::string::npos; });
  }
};

AuthResult sign_in(Gatekeeper& gk, const void* key, const std::string& client_id, const pki::Certificate& cert,
                   int64_t now_s, const std::string& address = "10.0.0.1") {
  return gk.authenticate(ClientInfo{key, client_id, address}, cert.get(), now_s);
}

AclRequest acl(Access access, std::string_view topic, int qos = 1, uint32_t payload_length = 10, bool retain = false) {
  AclRequest r;
  r.access = access;
  r.topic = topic;
  r.qos = qos;
  r.payload_length = payload_length;
  r.retain = retain;
  return r;
}

bool may(Gatekeeper& gk, const void* key, Access access, std::string_view topic) {
  return gk.check_acl(key, acl(access, topic));
}

const std::string* property(const UserProperties& properties, const std::string& name) {
  for (const auto& [n, v] : properties)
    if (n == name) return &v;
  return nullptr;
}

UserProperties reply_properties(const std::string& request_id, const std::string& outcome) {
  return {{"request-id", request_id}, {"outcome", outcome}};
}

// A provisioning worker linked to the plugin: signed in with the service
// identity and subscribed to the request topic (the plugin answers requests
// itself, 503, while none is). Returns its connection key.
const void* link_worker(Fixture& f, Gatekeeper& gk, const std::string& filter = "$share/provisiond/_provision/requests") {
  REQUIRE(sign_in(gk, f.key(15), "provisiond-worker", f.service, f.now).allowed);
  REQUIRE(gk.check_acl(f.key(15), acl(Access::Subscribe, filter)));
  return f.key(15);
}

// Sends a request from `key` and returns the request id the plugin forwarded it with.
std::string forward(Gatekeeper& gk, const void* key, const std::string& topic, int64_t now_ms,
                    const std::string& payload = "{}", int qos = 1) {
  Actions out;
  gk.on_message(key, topic, payload, qos, {}, now_ms, out);
  REQUIRE(out.messages.size() == 1);
  REQUIRE(out.messages[0].topic == kRequests);
  const std::string* id = property(out.messages[0].user_properties, "request-id");
  REQUIRE(id);
  return *id;
}

}  // namespace

// ---------------------------------------------------------------- authenticate

TEST_CASE("authenticate: registered claim, service and device certificates", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();

  auto claim = sign_in(*gk, f.key(0), "factory-device-7", f.claim, f.now);
  CHECK(claim.allowed);
  CHECK(claim.username == "claim:" + f.claim.id().substr(0, 16));

  auto service = sign_in(*gk, f.key(1), "provisiond-1", f.service, f.now);
  CHECK(service.allowed);
  CHECK(service.username == "service:provisiond");

  auto device = sign_in(*gk, f.key(2), "thing-1", f.device, f.now);
  CHECK(device.allowed);
  CHECK(device.username == "thing:thing-1");

  CHECK(gk->connection_count() == 3);
  CHECK(f.logged("is claim claim:"));
  CHECK(f.logged("is device thing:thing-1"));
}

TEST_CASE("authenticate: a device must use a client id its policy allows", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto r = sign_in(*gk, f.key(0), "thing-2", f.device, f.now);
  CHECK_FALSE(r.allowed);
  CHECK(r.username.empty());
  CHECK(f.logged("refused client 'thing-2'"));
  CHECK(f.logged("policy does not allow connect with client id 'thing-2'"));
  CHECK(gk->connection_count() == 0);
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
}

TEST_CASE("authenticate: a client id is logged escaped, so it cannot forge a log line", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto r = sign_in(*gk, f.key(0), "thing-2\n1970-01-01 provision: client 'admin' is service\x1b[8m", f.device, f.now);
  CHECK_FALSE(r.allowed);
  CHECK(f.logged("refused client 'thing-2\\n1970-01-01 provision: client 'admin' is service\\u001b[8m'"));
  CHECK_FALSE(f.logged("\n1970-01-01"));
}

TEST_CASE("authenticate: no certificate or no client id is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  CHECK_FALSE(gk->authenticate(ClientInfo{f.key(0), "thing-1", "10.0.0.1"}, nullptr, f.now).allowed);
  CHECK(f.logged("no client certificate"));
  CHECK_FALSE(sign_in(*gk, f.key(1), "", f.claim, f.now).allowed);
  CHECK(f.logged("empty client id"));
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("authenticate: a certificate from an unknown CA is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto rogue_ca = pki::CertificateAuthority::create_root("Rogue CA", 3600);
  auto rogue = issue_client(rogue_ca, "thing-1");
  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-1", rogue, f.now).allowed);
  CHECK(f.logged("not a registered identity"));
  CHECK(f.logged("Rogue CA"));

  // Issued by the fleet CA but never registered: not an identity either.
  auto unregistered = issue_client(f.fleet_ca, "thing-1");
  CHECK_FALSE(sign_in(*gk, f.key(1), "thing-1", unregistered, f.now).allowed);
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("authenticate: an inactive or expired claim certificate is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();

  SECTION("INACTIVE") {
    REQUIRE(f.reg.set_claim_status(f.claim.id(), registry::kInactive));
    CHECK_FALSE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
    CHECK(f.logged("is INACTIVE"));
  }
  SECTION("expires_at in the past") {
    auto row = *f.reg.find_claim_certificate(f.claim.id());
    row.expires_at = f.now - 10;
    f.reg.put_claim_certificate(row);
    CHECK_FALSE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
    CHECK(f.logged("expired"));
  }
  SECTION("expires_at in the future is fine") {
    auto row = *f.reg.find_claim_certificate(f.claim.id());
    row.expires_at = f.now + 3600;
    f.reg.put_claim_certificate(row);
    CHECK(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  }
}

TEST_CASE("authenticate: a certificate issued by a claim CA is a claim with the CA's templates", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto batch = issue_client(f.claim_ca, "claim-batch-2");
  REQUIRE_FALSE(f.reg.find_claim_certificate(batch.id()));

  auto r = sign_in(*gk, f.key(0), "factory-9", batch, f.now);
  REQUIRE(r.allowed);
  CHECK(r.username == "claim:" + batch.id().substr(0, 16));
  CHECK(may(*gk, f.key(0), Access::Write, kRegister));
  CHECK(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRegisterOther));

  // The claim certificate id the workers get is this certificate's own id.
  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), kCreate, "{}", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  const std::string* claim_id = property(out.messages[0].user_properties, "claim-certificate-id");
  REQUIRE(claim_id);
  CHECK(*claim_id == batch.id());
}

TEST_CASE("authenticate: the CA's allowed templates are the ones that count", "[plugin][auth]") {
  Fixture f;
  auto row = *f.reg.find_ca(f.claim_ca.certificate().id());
  row.allowed_templates = {"OtherFleet"};
  f.reg.put_ca(row);
  auto gk = f.gatekeeper();
  auto batch = issue_client(f.claim_ca, "claim-batch-2");
  REQUIRE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Write, kRegisterOther));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRegister));
}

TEST_CASE("authenticate: an inactive claim CA issues no claims", "[plugin][auth]") {
  Fixture f;
  auto row = *f.reg.find_ca(f.claim_ca.certificate().id());
  auto batch = issue_client(f.claim_ca, "claim-batch-2");

  SECTION("inactive before the plugin looked") {
    row.status = registry::kInactive;
    f.reg.put_ca(row);
    auto gk = f.gatekeeper();
    CHECK_FALSE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
    CHECK(f.logged("not a registered identity"));
  }
  SECTION("deactivated while running: noticed at the next registry poll") {
    auto gk = f.gatekeeper();
    REQUIRE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
    gk->on_disconnect(f.key(0));
    row.status = registry::kInactive;
    f.reg.put_ca(row);
    Actions out;
    gk->on_tick(1'000'000, out);
    CHECK_FALSE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
  }
  SECTION("a fleet CA is not a claim CA") {
    auto gk = f.gatekeeper();
    auto from_fleet = issue_client(f.fleet_ca, "nobody");
    CHECK_FALSE(sign_in(*gk, f.key(1), "factory-10", from_fleet, f.now).allowed);
  }
}

TEST_CASE("authenticate: a manufacturer CA registered while the plugin runs is used from the next registry poll",
          "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  // The plugin has read its CAs: a claim from the claim CA signed in.
  REQUIRE(sign_in(*gk, f.key(0), "factory-9", issue_client(f.claim_ca, "claim-batch-2"), f.now).allowed);
  auto factory = pki::CertificateAuthority::create_root("Late Factory CA", 3600);
  auto device = issue_client(factory, "SN-7");
  CHECK_FALSE(sign_in(*gk, f.key(1), "sn-7", device, f.now).allowed);  // not registered yet

  registry::CaRecord row;
  row.id = factory.certificate().id();
  row.name = "late-factory";
  row.role = "manufacturer";
  row.pem = factory.certificate().to_pem();
  row.allowed_templates = {"DemoFleet"};
  f.reg.put_ca(row);
  Actions out;
  gk->on_tick(1'000'000, out);
  auto result = sign_in(*gk, f.key(1), "sn-7", device, f.now);
  CHECK(result.allowed);
  CHECK(result.username == "enrollment:SN-7");
  CHECK(out.kicks.empty());  // a new CA takes nothing away from anyone
}

TEST_CASE("authenticate: device certificates that are not ACTIVE are refused", "[plugin][auth]") {
  Fixture f;
  auto revoked = issue_client(f.fleet_ca, "thing-r");
  f.register_device(revoked, "thing-r", registry::kRevoked, "DemoPolicy");
  auto pending = issue_client(f.fleet_ca, "thing-p");
  f.register_device(pending, "thing-p", registry::kPendingActivation, "DemoPolicy");
  auto inactive = issue_client(f.fleet_ca, "thing-i");
  f.register_device(inactive, "thing-i", registry::kInactive, "DemoPolicy");
  auto gk = f.gatekeeper();

  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-r", revoked, f.now).allowed);
  CHECK(f.logged("is REVOKED"));
  CHECK_FALSE(sign_in(*gk, f.key(1), "thing-p", pending, f.now).allowed);
  CHECK(f.logged("is PENDING_ACTIVATION"));
  CHECK_FALSE(sign_in(*gk, f.key(2), "thing-i", inactive, f.now).allowed);
  CHECK(f.logged("is INACTIVE"));
  CHECK(gk->connection_count() == 0);

  // Revoking the active one takes effect for its next connection.
  REQUIRE(sign_in(*gk, f.key(3), "thing-1", f.device, f.now).allowed);
  gk->on_disconnect(f.key(3));
  REQUIRE(f.reg.set_certificate_status(f.device.id(), registry::kRevoked));
  CHECK_FALSE(sign_in(*gk, f.key(3), "thing-1", f.device, f.now).allowed);
}

TEST_CASE("authenticate: a device certificate with no thing, or without connect permission, is refused",
          "[plugin][auth]") {
  Fixture f;
  auto loose = issue_client(f.fleet_ca, "loose");
  registry::CertificateRecord r;
  r.id = loose.id();
  r.pem = loose.to_pem();
  r.status = registry::kActive;
  r.serial = loose.serial_hex();
  r.not_before = loose.not_before();
  r.not_after = loose.not_after();
  f.reg.insert_certificate(r);
  auto gk = f.gatekeeper();
  CHECK_FALSE(sign_in(*gk, f.key(0), "loose", loose, f.now).allowed);
  CHECK(f.logged("not attached to a thing"));

  // No policy at all: nothing allows connect.
  auto bare = issue_client(f.fleet_ca, "thing-bare");
  f.reg.insert_thing({"thing-bare", std::nullopt, {}});
  r.id = bare.id();
  r.pem = bare.to_pem();
  r.thing_name = "thing-bare";
  r.serial = bare.serial_hex();
  f.reg.insert_certificate(r);
  CHECK_FALSE(sign_in(*gk, f.key(1), "thing-bare", bare, f.now).allowed);
  CHECK(f.logged("policy does not allow connect"));
}

TEST_CASE("authenticate: an expired certificate is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  CHECK(sign_in(*gk, f.key(0), "thing-1", f.device, f.device.not_after()).allowed);
  gk->on_disconnect(f.key(0));
  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-1", f.device, f.device.not_after() + 1).allowed);
  CHECK(f.logged("expired"));
  CHECK_FALSE(sign_in(*gk, f.key(1), "dev-1", f.claim, f.claim.not_after() + 1).allowed);
  CHECK_FALSE(sign_in(*gk, f.key(2), "svc", f.service, f.service.not_after() + 1).allowed);
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("authenticate: the gatekeeper keeps its own reference to the certificate", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  {
    // A certificate the caller frees right after the call (as plugin.cpp does).
    auto copy = pki::Certificate::from_pem(f.claim.to_pem());
    REQUIRE(sign_in(*gk, f.key(0), "dev-1", copy, f.now).allowed);
  }
  CHECK(may(*gk, f.key(0), Access::Write, kCreate));
}

// ---------------------------------------------------------------- claims ACL

TEST_CASE("check_acl: a claim may publish only the requests it may use", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  const void* k = f.key(0);
  const uint32_t max = gk->options().max_payload;

  for (const char* topic : {kCreate, kCsr, kRegister, kAwsCreate, kAwsCsr, kAwsRegister}) {
    INFO(topic);
    CHECK(gk->check_acl(k, acl(Access::Write, topic, 1, 100)));
    CHECK(gk->check_acl(k, acl(Access::Write, topic, 0, 0)));
  }
  CHECK(gk->check_acl(k, acl(Access::Write, kCreate, 1, max)));

  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kRegisterOther)));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, "$aws/provisioning-templates/OtherFleet/provision/json")));
  CHECK(gk->check_acl(k, acl(Access::Write, kCreateCbor)));  // CBOR is served like JSON
  CHECK(gk->check_acl(k, acl(Access::Write, "$provision/templates/DemoFleet/provision/cbor")));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, "$provision/templates/OtherFleet/provision/cbor")));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kCreate, 2)));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kCreate, 1, 10, true)));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kCreate, 1, max + 1)));
  // Never on a reply topic, an internal topic or anything else.
  for (std::string topic : {std::string(kCreate) + "/accepted", std::string(kRegister) + "/rejected", std::string(kRequests),
                            std::string(kReplies), std::string("devices/dev-1/telemetry"), std::string("$provision"),
                            std::string("$provision/certificates/create"), std::string("$provision/templates/+/provision/json")}) {
    INFO(topic);
    CHECK_FALSE(may(*gk, k, Access::Write, topic));
  }
}

TEST_CASE("check_acl: a claim may subscribe to and read only the replies of its requests", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  const void* k = f.key(0);

  for (const char* request : {kCreate, kCsr, kRegister, kAwsCreate, kAwsCsr, kAwsRegister}) {
    std::string r(request);
    INFO(r);
    CHECK(may(*gk, k, Access::Subscribe, r + "/accepted"));
    CHECK(may(*gk, k, Access::Subscribe, r + "/rejected"));
    CHECK(may(*gk, k, Access::Subscribe, r + "/+"));
    CHECK(may(*gk, k, Access::Read, r + "/accepted"));
    CHECK(may(*gk, k, Access::Read, r + "/rejected"));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, r));
    CHECK_FALSE(may(*gk, k, Access::Read, r));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, r + "/#"));
  }
  for (std::string filter :
       {std::string("#"), std::string("+/#"), std::string("$provision/#"), std::string("$aws/#"),
        std::string("$provision/certificates/#"), std::string("$provision/templates/+/provision/json/accepted"),
        std::string(kRegisterOther) + "/accepted", std::string(kRegisterOther) + "/+", std::string(kCreateCbor),
        std::string(kRequests), std::string(kReplies), std::string("_provision/#"), std::string("$share/g/") + kRequests,
        std::string("$share/g/") + kCreate + "/accepted", std::string("devices/dev-1/commands")}) {
    INFO(filter);
    CHECK_FALSE(may(*gk, k, Access::Subscribe, filter));
  }
  CHECK_FALSE(may(*gk, k, Access::Read, kRequests));
  CHECK_FALSE(may(*gk, k, Access::Read, kReplies));
  CHECK_FALSE(may(*gk, k, Access::Read, std::string(kRegisterOther) + "/accepted"));
  CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-1/commands"));
  CHECK(may(*gk, k, Access::Unsubscribe, std::string(kCreate) + "/accepted"));
}

TEST_CASE("check_acl: aws_topics false turns the $aws aliases off", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper({{"aws_topics", "false"}});
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  const void* k = f.key(0);
  for (const char* topic : {kAwsCreate, kAwsCsr, kAwsRegister}) {
    std::string t(topic);
    INFO(t);
    CHECK_FALSE(may(*gk, k, Access::Write, t));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, t + "/accepted"));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, t + "/+"));
    CHECK_FALSE(may(*gk, k, Access::Read, t + "/accepted"));
  }
  CHECK(may(*gk, k, Access::Write, kCreate));
  CHECK(may(*gk, k, Access::Write, kRegister));
  CHECK(may(*gk, k, Access::Subscribe, std::string(kRegister) + "/accepted"));
}

TEST_CASE("check_acl: an unknown or disconnected connection is denied everything", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  for (Access access : {Access::Write, Access::Read, Access::Subscribe, Access::Unsubscribe})
    CHECK_FALSE(gk->check_acl(f.key(5), acl(access, kCreate)));
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  REQUIRE(may(*gk, f.key(0), Access::Write, kCreate));
  gk->on_disconnect(f.key(0));
  gk->on_disconnect(f.key(0));  // twice is harmless
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK(gk->connection_count() == 0);
}

// ---------------------------------------------------------------- devices ACL

TEST_CASE("check_acl: a device gets what its policy allows", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  const void* k = f.key(0);

  CHECK(may(*gk, k, Access::Write, "devices/thing-1/telemetry"));
  CHECK(may(*gk, k, Access::Write, "devices/thing-1/state"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-2/telemetry"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-1/commands"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-1/telemetry/extra"));

  CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands"));
  CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands/#"));
  CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands/+"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "devices/thing-2/commands"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "devices/+/commands"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "#"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "devices/thing-1/telemetry"));

  CHECK(may(*gk, k, Access::Read, "devices/thing-1/commands/reboot"));
  CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-2/commands"));

  // A device is not a claim: the provisioning topics are not its own.
  CHECK_FALSE(may(*gk, k, Access::Write, kCreate));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, std::string(kCreate) + "/accepted"));
  CHECK(may(*gk, k, Access::Unsubscribe, "anything"));
}

TEST_CASE("check_acl: internal and provisioning topics are closed to devices whatever their policy", "[plugin][acl]") {
  Fixture f;
  auto wide = issue_client(f.fleet_ca, "thing-wide");
  f.register_device(wide, "thing-wide", registry::kActive, "EverythingPolicy");
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "any-client-id", wide, f.now).allowed);
  const void* k = f.key(0);

  // The policy does grant ordinary topics.
  CHECK(may(*gk, k, Access::Write, "anything/at/all"));
  CHECK(may(*gk, k, Access::Subscribe, "devices/#"));
  CHECK(may(*gk, k, Access::Read, "devices/other/commands"));
  CHECK(may(*gk, k, Access::Write, "_provisioning-not-internal/x"));

  for (std::string topic : {std::string(kRequests), std::string(kReplies), std::string("_provision"),
                            std::string("_provision/other"), std::string(kCreate), std::string(kCreate) + "/accepted",
                            std::string(kRegister), std::string(kAwsCreate), std::string(kAwsRegister) + "/accepted",
                            std::string("$provision")}) {
    INFO(topic);
    CHECK_FALSE(may(*gk, k, Access::Write, topic));
    CHECK_FALSE(may(*gk, k, Access::Read, topic));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, topic));
  }
  for (std::string filter : {std::string("#"), std::string("+/requests"), std::string("+/#"), std::string("_provision/#"),
                             std::string("_provision/+"), std::string("$provision/#"), std::string("$aws/certificates/#"),
                             std::string("$aws/provisioning-templates/+/provision/json/accepted"),
                             std::string("$share/g/") + kRequests}) {
    INFO(filter);
    CHECK_FALSE(may(*gk, k, Access::Subscribe, filter));
  }
}

TEST_CASE("check_acl: device decisions are stable across repeated checks (cache)", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  const void* k = f.key(0);
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    CHECK(may(*gk, k, Access::Write, "devices/thing-1/telemetry"));
    CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-2/telemetry"));
    // Same topic, different access: separate decisions.
    CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-1/commands"));
    CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands"));
    CHECK(may(*gk, k, Access::Read, "devices/thing-1/commands"));
    CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-1/telemetry"));
    CHECK_FALSE(may(*gk, k, Access::Write, kRequests));
  }
  // Beyond the cache bound, decisions stay right.
  for (int i = 0; i < 1100; ++i) CHECK_FALSE(may(*gk, k, Access::Write, "noise/" + std::to_string(i)));
  CHECK(may(*gk, k, Access::Write, "devices/thing-1/telemetry"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-2/telemetry"));

  // A new connection of another device with the same topics decides afresh.
  auto other = issue_client(f.fleet_ca, "thing-2");
  f.register_device(other, "thing-2", registry::kActive, "DemoPolicy");
  REQUIRE(sign_in(*gk, f.key(1), "thing-2", other, f.now).allowed);
  CHECK(may(*gk, f.key(1), Access::Write, "devices/thing-2/telemetry"));
  CHECK_FALSE(may(*gk, f.key(1), Access::Write, "devices/thing-1/telemetry"));
  // Reusing a connection key for another identity drops the old decisions.
  gk->on_disconnect(f.key(0));
  REQUIRE(sign_in(*gk, f.key(0), "thing-2", other, f.now).allowed);
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
  CHECK(may(*gk, f.key(0), Access::Write, "devices/thing-2/telemetry"));
}

TEST_CASE("check_acl: a device may not join the workers' shared subscription, whatever its policy",
          "[plugin][acl]") {
  // SharingPolicy allows subscribe on "$share/#". Mosquitto hands the ACL
  // check the whole "$share/<group>/<filter>" string: the decision must be
  // about the filter behind the share prefix.
  Fixture f;
  auto wide = issue_client(f.fleet_ca, "thing-wide");
  f.register_device(wide, "thing-wide", registry::kActive, "SharingPolicy");
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-wide", wide, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Subscribe, "$share/g/devices/#"));  // ordinary shared subscriptions are fine
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, std::string("$share/provisiond/") + kRequests));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/provisiond/_provision/#"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/provisiond/#"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/g"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share//devices/#"));
}

TEST_CASE("check_acl: a device's shared subscriptions are decided by the filter they take", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Subscribe, "$share/g/devices/thing-1/commands"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/g/devices/thing-2/commands"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/+/devices/thing-1/commands"));
}

TEST_CASE("a device whose certificate is revoked while connected is cut off at the next registry poll",
          "[plugin][acl]") {
  // docs/operations.md, "Live enforcement": a revoked client is cut off after the next registry poll.
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  REQUIRE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
  REQUIRE(f.reg.set_certificate_status(f.device.id(), registry::kRevoked));
  Actions out;
  gk->on_tick(1'000'000, out);
  gk->on_tick(1'000'000 + gk->options().registry_poll_ms, out);
  bool kicked = std::find(out.kicks.begin(), out.kicks.end(), "thing-1") != out.kicks.end();
  bool still_allowed = may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry");
  CHECK((kicked || !still_allowed));
}

// ---------------------------------------------------------------- service ACL

TEST_CASE("check_acl: the service touches only the internal topics", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "provisiond-1", f.service, f.now).allowed);
  const void* k = f.key(0);

  CHECK(may(*gk, k, Access::Write, kReplies));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kReplies, 1, 10, true)));
  for (std::string topic : {std::string(kRequests), std::string(kCreate), std::string(kCreate) + "/accepted",
                            std::string(kRegister) + "/rejected", std::string("devices/thing-1/commands"),
                            std::string("_provision"), std::string("_provision/replies/x")}) {
    INFO(topic);
    CHECK_FALSE(may(*gk, k, Access::Write, topic));
  }

  CHECK(may(*gk, k, Access::Subscribe, kRequests));
  CHECK(may(*gk, k, Access::Subscribe, "$share/provisiond/_provision/requests"));
  CHECK(may(*gk, k, Access::Subscribe, "$share/other-group/_provision/requests"));
  for (std::string filter : {std::string("$share/+/_provision/requests"), std::string("$share/#/_provision/requests"),
                             std::string("$share//_provision/requests"), std::string("$share/g/_provision/replies"),
                             std::string("$share/g/_provision/#"), std::string("$share/g/#"), std::string("$share/g"),
                             std::string("$share/g/a/_provision/requests"), std::string(kReplies), std::string("_provision/#"),
                             std::string("_provision/+"), std::string("#"), std::string(kCreate) + "/accepted",
                             std::string("$provision/#")}) {
    INFO(filter);
    CHECK_FALSE(may(*gk, k, Access::Subscribe, filter));
  }

  CHECK(may(*gk, k, Access::Read, kRequests));
  CHECK_FALSE(may(*gk, k, Access::Read, kReplies));
  CHECK_FALSE(may(*gk, k, Access::Read, std::string(kCreate) + "/accepted"));
  CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-1/commands"));
}

TEST_CASE("check_acl: the internal topics follow internal_prefix", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper({{"internal_prefix", "fleet/internal"}});
  REQUIRE(sign_in(*gk, f.key(0), "provisiond-1", f.service, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Write, "fleet/internal/replies"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kReplies));
  CHECK(may(*gk, f.key(0), Access::Subscribe, "$share/w/fleet/internal/requests"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, kRequests));

  REQUIRE(sign_in(*gk, f.key(1), "dev-1", f.claim, f.now).allowed);
  link_worker(f, *gk, "$share/w/fleet/internal/requests");
  Actions out;
  gk->on_message(f.key(1), kCreate, "{}", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].topic == "fleet/internal/requests");
}

// ---------------------------------------------------------------- routing

struct RoutingFixture : Fixture {
  std::unique_ptr<Gatekeeper> gk;
  const void* claim_key = key(0);
  const void* service_key = key(1);
  explicit RoutingFixture(OptionPairs extra = {}) {
    gk = gatekeeper(std::move(extra));
    REQUIRE(sign_in(*gk, claim_key, "dev-A", claim, now, "192.0.2.7").allowed);
    REQUIRE(sign_in(*gk, service_key, "provisiond-1", service, now).allowed);
    REQUIRE(gk->check_acl(service_key, acl(Access::Subscribe, "$share/provisiond/_provision/requests")));
  }
  Actions reply(const std::string& request_id, const std::string& outcome, const std::string& payload = R"({"ok":true})") {
    Actions out;
    gk->on_message(service_key, kReplies, payload, 1, reply_properties(request_id, outcome), 2000, out);
    return out;
  }
};

TEST_CASE("routing: a claim's request goes to the workers with what only the plugin knows", "[plugin][routing]") {
  RoutingFixture f;
  Actions out;
  // A device's own user properties are never forwarded.
  UserProperties forged{{"request-id", "forged"}, {"client-id", "someone-else"}, {"claim-certificate-id", "x"}};
  f.gk->on_message(f.claim_key, kRegister, R"({"parameters":{}})", 1, forged, 1000, out);
  REQUIRE(out.messages.size() == 1);
  const auto& m = out.messages[0];
  CHECK(m.client_id.empty());
  CHECK(m.topic == kRequests);
  CHECK(m.qos == 1);
  CHECK(m.payload == R"({"parameters":{}})");
  CHECK(m.user_properties.size() == 6);
  const std::string* id = property(m.user_properties, "request-id");
  REQUIRE(id);
  CHECK_FALSE(id->empty());
  CHECK(*id != "forged");
  auto value = [&](const char* name) {
    const std::string* v = property(m.user_properties, name);
    return v ? *v : std::string("<missing>");
  };
  CHECK(value("request-topic") == kRegister);
  CHECK(value("client-id") == "dev-A");
  CHECK(value("claim-certificate-id") == f.claim.id());
  CHECK(value("source-address") == "192.0.2.7");
  CHECK(value("identity") == "claim");
  CHECK(out.kicks.empty());
  CHECK(f.gk->pending_requests() == 1);

  // A second request gets another id.
  std::string second = forward(*f.gk, f.claim_key, kCreate, 1001);
  CHECK(second != *id);
}

TEST_CASE("routing: a worker's reply reaches the asking client on the reply topic", "[plugin][routing]") {
  RoutingFixture f;
  SECTION("accepted") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    auto out = f.reply(id, "accepted", R"({"certificateId":"abc"})");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
    CHECK(out.messages[0].topic == std::string(kCreate) + "/accepted");
    CHECK(out.messages[0].payload == R"({"certificateId":"abc"})");
    CHECK(out.messages[0].qos == 1);
    CHECK(out.messages[0].user_properties.empty());
    CHECK(f.gk->pending_requests() == 0);
    // Answered once only.
    CHECK(f.reply(id, "accepted").messages.empty());
  }
  SECTION("rejected") {
    std::string id = forward(*f.gk, f.claim_key, kRegister, 1000);
    auto out = f.reply(id, "rejected", R"({"statusCode":400})");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
    CHECK(out.messages[0].topic == std::string(kRegister) + "/rejected");
    CHECK(out.messages[0].payload == R"({"statusCode":400})");
  }
  SECTION("the AWS alias is answered on the AWS reply topic, with the request's QoS") {
    std::string id = forward(*f.gk, f.claim_key, kAwsRegister, 1000, "{}", 0);
    auto out = f.reply(id, "accepted");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].topic == std::string(kAwsRegister) + "/accepted");
    CHECK(out.messages[0].qos == 0);
  }
  SECTION("a reply without a valid outcome is not delivered; the request stays pending") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    CHECK(f.reply(id, "maybe").messages.empty());
    Actions out;
    f.gk->on_message(f.service_key, kReplies, "{}", 1, {{"request-id", id}}, 2000, out);
    CHECK(out.messages.empty());
    CHECK(f.gk->pending_requests() == 1);
    CHECK(f.reply(id, "accepted").messages.size() == 1);
  }
  SECTION("replies count only from the service on the reply topic") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    Actions out;
    f.gk->on_message(f.service_key, kRequests, "{}", 1, reply_properties(id, "accepted"), 2000, out);
    f.gk->on_message(f.claim_key, kReplies, "{}", 1, reply_properties(id, "accepted"), 2000, out);
    CHECK(out.messages.empty());
    CHECK(f.gk->pending_requests() == 1);
  }
}

TEST_CASE("routing: a reply for an unknown request id is dropped and logged", "[plugin][routing]") {
  RoutingFixture f;
  auto out = f.reply("no-such-request", "accepted");
  CHECK(out.messages.empty());
  CHECK(f.logged_at(LogLevel::Warning, "matches no pending request"));
}

TEST_CASE("routing: no reply reaches a client that went away or was taken over", "[plugin][routing]") {
  RoutingFixture f;
  SECTION("disconnected") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    f.gk->on_disconnect(f.claim_key);
    CHECK(f.gk->pending_requests() == 0);
    CHECK(f.reply(id, "accepted").messages.empty());
  }
  SECTION("taken over by another connection with the same client id") {
    std::string old_id = forward(*f.gk, f.claim_key, kCreate, 1000);
    const void* newer = f.key(2);
    REQUIRE(sign_in(*f.gk, newer, "dev-A", f.claim, f.now, "192.0.2.8").allowed);
    CHECK(f.reply(old_id, "accepted").messages.empty());

    // The new connection's own requests are answered, also after the broker
    // disconnects the old one.
    std::string new_id = forward(*f.gk, newer, kCreate, 1100);
    f.gk->on_disconnect(f.claim_key);
    auto out = f.reply(new_id, "accepted");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
  }
  SECTION("a re-check of the old connection (SIGHUP) does not take the client id back") {
    const void* newer = f.key(2);
    REQUIRE(sign_in(*f.gk, newer, "dev-A", f.claim, f.now, "192.0.2.8").allowed);
    REQUIRE(sign_in(*f.gk, f.claim_key, "dev-A", f.claim, f.now).allowed);  // the broker re-authenticates the old one
    f.gk->on_disconnect(f.claim_key);
    auto out = f.reply(forward(*f.gk, newer, kCreate, 1100), "accepted");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
  }
  SECTION("the old connection's requests do not count against the new one") {
    RoutingFixture g(OptionPairs{{"max_pending_per_client", "1"}});
    forward(*g.gk, g.claim_key, kCreate, 1000);
    REQUIRE(sign_in(*g.gk, g.key(2), "dev-A", g.claim, g.now).allowed);
    forward(*g.gk, g.key(2), kCreate, 1000);
  }
}

TEST_CASE("routing: too many requests in flight get a 429 Throttled rejection", "[plugin][routing]") {
  RoutingFixture f;
  const int limit = f.gk->options().max_pending_per_client;
  REQUIRE(limit == 4);
  std::vector<std::string> ids;
  for (int i = 0; i < limit; ++i) ids.push_back(forward(*f.gk, f.claim_key, kCreate, 1000 + i));

  Actions out;
  f.gk->on_message(f.claim_key, kCreate, "{}", 1, {}, 1010, out);
  REQUIRE(out.messages.size() == 1);
  const auto& m = out.messages[0];
  CHECK(m.client_id == "dev-A");
  CHECK(m.topic == std::string(kCreate) + "/rejected");
  auto doc = json::parse(m.payload, "rejection");
  CHECK(json::int_member(doc, "statusCode") == 429);
  CHECK(json::string_member(doc, "errorCode") == "Throttled");
  CHECK(json::string_member(doc, "errorMessage").has_value());
  CHECK(f.gk->pending_requests() == static_cast<size_t>(limit));

  // Another client is not throttled by dev-A's requests.
  REQUIRE(sign_in(*f.gk, f.key(2), "dev-B", f.claim, f.now).allowed);
  forward(*f.gk, f.key(2), kCreate, 1011);

  // One answer frees one slot.
  REQUIRE(f.reply(ids[0], "accepted").messages.size() == 1);
  forward(*f.gk, f.claim_key, kCreate, 1020);
}

TEST_CASE("routing: past max_pending_total, requests get a 503", "[plugin][routing]") {
  RoutingFixture f(OptionPairs{{"max_pending_total", "1"}});
  forward(*f.gk, f.claim_key, kCreate, 1000);
  REQUIRE(sign_in(*f.gk, f.key(2), "dev-B", f.claim, f.now).allowed);
  Actions out;
  f.gk->on_message(f.key(2), kRegister, "{}", 1, {}, 1001, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].client_id == "dev-B");
  CHECK(out.messages[0].topic == std::string(kRegister) + "/rejected");
  auto doc = json::parse(out.messages[0].payload, "rejection");
  CHECK(json::int_member(doc, "statusCode") == 503);
  CHECK(json::string_member(doc, "errorCode") == "ServiceUnavailable");
}

TEST_CASE("routing: a request no worker answers in time gets a 503", "[plugin][routing]") {
  RoutingFixture f(OptionPairs{{"reply_timeout_ms", "1000"}, {"max_pending_per_client", "1"}});
  std::string id = forward(*f.gk, f.claim_key, kCsr, 10'000);

  Actions early;
  f.gk->on_tick(10'999, early);
  CHECK(early.messages.empty());
  CHECK(f.gk->pending_requests() == 1);

  Actions out;
  f.gk->on_tick(11'000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].client_id == "dev-A");
  CHECK(out.messages[0].topic == std::string(kCsr) + "/rejected");
  CHECK(out.messages[0].qos == 1);
  auto doc = json::parse(out.messages[0].payload, "rejection");
  CHECK(json::int_member(doc, "statusCode") == 503);
  CHECK(json::string_member(doc, "errorCode") == "ServiceUnavailable");
  CHECK(f.gk->pending_requests() == 0);

  // Expired once only; a late reply goes nowhere.
  Actions again;
  f.gk->on_tick(20'000, again);
  CHECK(again.messages.empty());
  CHECK(f.reply(id, "accepted").messages.empty());
  // The expired request freed its slot (limit 1).
  forward(*f.gk, f.claim_key, kCsr, 20'001);
}

TEST_CASE("routing: with no worker linked, a request is answered at once with a 503 saying so", "[plugin][routing]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-A", f.claim, f.now).allowed);
  auto no_worker = [&](const std::string& topic) {
    Actions out;
    gk->on_message(f.key(0), topic, "{}", 1, {}, 1000, out);
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
    CHECK(out.messages[0].topic == topic + "/rejected");
    auto doc = json::parse(out.messages[0].payload, "rejection");
    CHECK(json::int_member(doc, "statusCode") == 503);
    CHECK(json::string_member(doc, "errorCode") == "ServiceUnavailable");
    CHECK_THAT(*json::string_member(doc, "errorMessage"), Catch::Contains("no provisioning worker is connected"));
    CHECK(gk->pending_requests() == 0);
  };
  no_worker(kCreate);

  // A worker that is signed in but takes no requests is no worker; nor is one on the events only.
  REQUIRE(sign_in(*gk, f.key(1), "provisiond-1", f.service, f.now).allowed);
  no_worker(kCsr);
  REQUIRE(gk->check_acl(f.key(1), acl(Access::Subscribe, "$share/provisiond/_provision/events")));
  no_worker(kRegister);
  // Refused subscriptions count for nothing.
  REQUIRE(sign_in(*gk, f.key(2), "thing-1", f.device, f.now).allowed);
  REQUIRE_FALSE(gk->check_acl(f.key(2), acl(Access::Subscribe, "$share/provisiond/_provision/requests")));
  no_worker(kCreate);

  // Subscribed to the requests (shared or not): requests go to the workers.
  REQUIRE(gk->check_acl(f.key(1), acl(Access::Subscribe, kRequests)));
  forward(*gk, f.key(0), kCreate, 1000);
  // Unsubscribed again: answered at once again, and the one forwarded
  // while the worker was there is answered on the next TICK.
  REQUIRE(gk->check_acl(f.key(1), acl(Access::Unsubscribe, kRequests)));
  no_worker(kCsr);
  Actions tick;
  gk->on_tick(1001, tick);
  REQUIRE(tick.messages.size() == 1);
  CHECK(tick.messages[0].topic == std::string(kCreate) + "/rejected");
}

TEST_CASE("routing: when the last worker goes away, the requests pending on it are answered at once", "[plugin][routing]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-A", f.claim, f.now).allowed);
  REQUIRE(sign_in(*gk, f.key(1), "dev-B", f.claim, f.now).allowed);
  for (int worker : {4, 5}) {
    REQUIRE(sign_in(*gk, f.key(worker), "provisiond-" + std::to_string(worker), f.service, f.now).allowed);
    REQUIRE(gk->check_acl(f.key(worker), acl(Access::Subscribe, "$share/provisiond/_provision/requests")));
  }
  auto rejected_503 = [](const Actions& out, const std::string& client_id) {
    return std::count_if(out.messages.begin(), out.messages.end(), [&](const OutgoingMessage& m) {
      if (m.client_id != client_id || !m.topic.ends_with("/rejected")) return false;
      auto doc = json::parse(m.payload, "rejection");
      return json::int_member(doc, "statusCode") == 503 &&
             json::string_member(doc, "errorMessage")->find("no provisioning worker is connected") != std::string::npos;
    });
  };

  SECTION("disconnected") {
    forward(*gk, f.key(0), kCreate, 1000);
    forward(*gk, f.key(1), kCsr, 1000);
    Actions first;
    gk->on_disconnect(f.key(4), first);
    CHECK(first.messages.empty());  // another worker is still there
    CHECK(gk->pending_requests() == 2);
    Actions last;
    gk->on_disconnect(f.key(5), last);
    CHECK(last.messages.size() == 2);
    CHECK(rejected_503(last, "dev-A") == 1);
    CHECK(rejected_503(last, "dev-B") == 1);
    CHECK(gk->pending_requests() == 0);
    // Their slots are free (a client's in-flight limit) and nothing expires later.
    Actions later;
    gk->on_tick(1000 + gk->options().reply_timeout_ms, later);
    CHECK(later.messages.empty());
    gk->on_disconnect(f.key(5), later);  // DISCONNECT may come twice
    CHECK(later.messages.empty());
  }
  SECTION("unsubscribed: answered on the next TICK (the ACL check carries out nothing)") {
    forward(*gk, f.key(0), kCreate, 1000);
    REQUIRE(gk->check_acl(f.key(4), acl(Access::Unsubscribe, "$share/provisiond/_provision/requests")));
    REQUIRE(gk->check_acl(f.key(5), acl(Access::Unsubscribe, "$share/provisiond/_provision/requests")));
    Actions out;
    gk->on_tick(1001, out);
    CHECK(rejected_503(out, "dev-A") == 1);
    CHECK(gk->pending_requests() == 0);
  }
  SECTION("the service identities disabled: cut off, and the requests answered in the same TICK") {
    forward(*gk, f.key(0), kCreate, 1000);
    f.reg.put_service_identity({f.service.id(), "provisiond", registry::kInactive, 0, "worker"});
    Actions out;
    gk->on_tick(1001, out);
    CHECK(out.kicks.size() == 2);
    CHECK(rejected_503(out, "dev-A") == 1);
    CHECK(gk->pending_requests() == 0);
  }
  SECTION("a worker's re-check on SIGHUP keeps it linked") {
    REQUIRE(sign_in(*gk, f.key(4), "provisiond-4", f.service, f.now).allowed);
    REQUIRE(sign_in(*gk, f.key(5), "provisiond-5", f.service, f.now).allowed);
    forward(*gk, f.key(0), kCreate, 1000);
  }
}

TEST_CASE("routing: what a claim may not send, and what devices send, goes nowhere", "[plugin][routing]") {
  RoutingFixture f(OptionPairs{{"aws_topics", "false"}});
  for (std::string topic : {std::string(kRegisterOther), std::string("$provision/templates/OtherFleet/provision/cbor"), std::string(kAwsCreate),
                            std::string(kRequests), std::string(kReplies), std::string(kCreate) + "/accepted",
                            std::string("devices/dev-A/telemetry")}) {
    INFO(topic);
    Actions out;
    f.gk->on_message(f.claim_key, topic, "{}", 1, reply_properties("x", "accepted"), 1000, out);
    CHECK(out.messages.empty());
  }
  CHECK(f.gk->pending_requests() == 0);

  REQUIRE(sign_in(*f.gk, f.key(2), "thing-1", f.device, f.now).allowed);
  for (std::string topic : {std::string("devices/thing-1/telemetry"), std::string(kCreate), std::string(kReplies)}) {
    INFO(topic);
    Actions out;
    f.gk->on_message(f.key(2), topic, "{}", 1, {}, 1000, out);
    CHECK(out.messages.empty());
  }
  Actions out;
  f.gk->on_message(f.key(7), kCreate, "{}", 1, {}, 1000, out);  // unknown connection
  CHECK(out.messages.empty());
  CHECK(f.gk->pending_requests() == 0);
}

// ---------------------------------------------------------------- options

TEST_CASE("options: defaults and valid values", "[plugin][options]") {
  auto o = parse_options({{"registry", "/var/lib/provision/registry.db"}});
  CHECK(o.registry == "/var/lib/provision/registry.db");
  CHECK(o.internal_prefix == "_provision");
  CHECK(o.aws_topics);
  CHECK(o.max_pending_per_client == 4);

  o = parse_options({{"registry", "r.db"},
                     {"internal_prefix", "fleet"},
                     {"max_payload", "256"},
                     {"reply_timeout_ms", "600000"},
                     {"max_pending_per_client", "7"},
                     {"max_pending_total", "12"},
                     {"aws_topics", "no"},
                     {"registry_poll_ms", "10"}});
  CHECK(o.internal_prefix == "fleet");
  CHECK(o.max_payload == 256);
  CHECK(o.reply_timeout_ms == 600000);
  CHECK(o.max_pending_per_client == 7);
  CHECK(o.max_pending_total == 12);
  CHECK_FALSE(o.aws_topics);
  CHECK(o.registry_poll_ms == 10);
}

TEST_CASE("options: bad options are refused with a message naming them", "[plugin][options]") {
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"regsitry_path", "x"}}), Catch::Contains("regsitry_path"));
  CHECK_THROWS_AS(parse_options({{"registry", "r.db"}, {"bogus", "1"}}), Error);
  CHECK_THROWS_WITH(parse_options({}), Catch::Contains("registry"));
  CHECK_THROWS_WITH(parse_options({{"registry", ""}}), Catch::Contains("registry"));
  CHECK_THROWS_WITH(parse_options({{"max_payload", "4096"}}), Catch::Contains("plugin_opt_registry"));

  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"max_payload", "abc"},
                                                                            {"max_payload", "100"},
                                                                            {"max_payload", "4096 "},
                                                                            {"reply_timeout_ms", ""},
                                                                            {"reply_timeout_ms", "99"},
                                                                            {"reply_timeout_ms", "1e4"},
                                                                            {"max_pending_per_client", "0"},
                                                                            {"max_pending_per_client", "-1"},
                                                                            {"max_pending_per_client", "5x"},
                                                                            {"max_pending_total", "99999999999999999999"},
                                                                            {"registry_poll_ms", "+50"},
                                                                            {"aws_topics", "maybe"}}) {
    INFO(key << "=" << value);
    CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {key, value}}), Catch::Contains(key));
  }

  for (std::string prefix : {"$internal", "$SYS/x", "", "a/+", "a/#"}) {
    INFO(prefix);
    CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"internal_prefix", prefix}}),
                      Catch::Contains("internal_prefix"));
  }
}

// ---------------------------------------------------------------- registry robustness

TEST_CASE("a missing registry fails closed, and is picked up once it appears", "[plugin][registry]") {
  TempDir dir;
  auto files = pki::create_development_pki(dir.path / "pki");
  auto claim = pki::Certificate::load(files.claim_cert);
  auto path = dir.path / "later.db";
  std::vector<LogLine> logs;
  Gatekeeper gk(parse_options({{"registry", path.string()}}),
                [&](LogLevel level, const std::string& text) { logs.push_back({level, text}); });
  int k = 0;

  CHECK_FALSE(gk.authenticate(ClientInfo{&k, "dev-1", "10.0.0.1"}, claim.get(), unix_now()).allowed);
  CHECK(gk.connection_count() == 0);
  auto has = [&](LogLevel level, const std::string& fragment) {
    return std::any_of(logs.begin(), logs.end(),
                       [&](const LogLine& l) { return l.level == level && l.text.find(fragment) != std::string::npos; });
  };
  CHECK(has(LogLevel::Error, "registry unavailable, refusing every client"));
  CHECK(has(LogLevel::Error, path.string()));
  CHECK(has(LogLevel::Notice, "refused client 'dev-1'"));
  Actions out;
  CHECK_NOTHROW(gk.on_tick(1000, out));
  CHECK(out.messages.empty());
  CHECK_FALSE(std::filesystem::exists(path));  // the plugin never creates it

  {
    auto reg = registry::Registry::open(path);
    registry::ClaimCertificateRecord row;
    row.id = claim.id();
    row.pem = claim.to_pem();
    row.description = "claim-batch-1";
    row.allowed_templates = {"DemoFleet"};
    reg.put_claim_certificate(row);
  }
  auto r = gk.authenticate(ClientInfo{&k, "dev-1", "10.0.0.1"}, claim.get(), unix_now());
  CHECK(r.allowed);
  CHECK(r.username == "claim:" + claim.id().substr(0, 16));
  CHECK(has(LogLevel::Notice, "opened"));
}

// ---------------------------------------------------------------- issue 3 additions

TEST_CASE("rate limits: token buckets per key refill at their rate and forget idle keys", "[plugin][limits]") {
  RateLimiter limiter(parse_rate("k", "2/3"));
  CHECK(limiter.take("a", 0));
  CHECK(limiter.take("a", 0));
  CHECK(limiter.take("a", 0));
  CHECK_FALSE(limiter.take("a", 0));
  CHECK(limiter.take("b", 0));       // keys are independent
  CHECK_FALSE(limiter.take("a", 400));
  CHECK(limiter.take("a", 500));     // 2 per second: one token after 500 ms
  CHECK_FALSE(limiter.take("a", 500));
  limiter.prune(100'000);            // both buckets are full again: nothing worth keeping
  CHECK(limiter.size() == 0);
  RateLimiter unlimited(parse_rate("k", "0"));
  for (int i = 0; i < 1000; ++i) CHECK(unlimited.take("a", 0));
  CHECK(unlimited.size() == 0);
  CHECK_THROWS_WITH(parse_rate("connect_rate_per_claim", "fast"), Catch::Contains("plugin_opt_connect_rate_per_claim"));
  CHECK_THROWS(parse_rate("k", "5/0"));
  CHECK_THROWS(parse_rate("k", "-1"));
}

TEST_CASE("authenticate: connects over the rate limit are refused, re-checks on reload are not counted", "[plugin][limits]") {
  Fixture f;
  auto gk = f.gatekeeper({{"connect_rate_per_claim", "0.001/2"}});
  CHECK(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(sign_in(*gk, f.key(1), "c1", f.claim, f.now).allowed);
  CHECK_FALSE(sign_in(*gk, f.key(2), "c2", f.claim, f.now).allowed);
  CHECK(f.logged("connect rate limit for this claim certificate exceeded"));
  // Mosquitto re-authenticates connected clients on SIGHUP: not a new connect.
  CHECK(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(gk->connection_count() == 2);
  // the service is never limited
  CHECK(sign_in(*gk, f.key(3), "svc", f.service, f.now).allowed);
}

TEST_CASE("routing: requests over the rate limit get a 429 Throttled rejected reply", "[plugin][limits]") {
  Fixture f;
  auto gk = f.gatekeeper({{"request_rate_per_claim", "0.001/1"}});
  REQUIRE(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  link_worker(f, *gk);
  forward(*gk, f.key(0), kCreate, 1000);
  Actions out;
  gk->on_message(f.key(0), kCreate, "{}", 1, {}, 1001, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].client_id == "c0");
  CHECK(out.messages[0].topic == std::string(kCreate) + "/rejected");
  auto body = json::parse(out.messages[0].payload);
  CHECK(json::int_member(body, "statusCode") == 429);
  CHECK(json::string_member(body, "errorCode") == "Throttled");
}

TEST_CASE("options: an options file adds and overrides options, and refuses bootstrap ones", "[plugin][options]") {
  TempDir dir;
  auto file = dir.path / "plugin.conf";
  write_file(file, "# comment\n\nmax_payload 1000\nplugin_opt_request_rate_per_address 5/10\n", 0644);
  auto o = parse_options({{"registry", "r.db"}, {"max_payload", "2000"}, {"options_file", file.string()}});
  CHECK(o.max_payload == 1000);
  CHECK(o.request_rate_per_address.per_second == 5);
  CHECK(o.request_rate_per_address.burst == 10);
  write_file(file, "registry other.db\n", 0644);
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", file.string()}}),
                    Catch::Contains("belongs in mosquitto.conf"));
  write_file(file, "max_payload\n", 0644);
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", file.string()}}), Catch::Contains(":1:"));
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", (dir.path / "missing").string()}}),
                    Catch::Contains("plugin_opt_options_file"));
}

TEST_CASE("reconfigure: new limits apply at once and the internal prefix stays", "[plugin][options]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(gk->check_acl(f.key(0), acl(Access::Write, kCreate, 1, 5000)));
  auto options = parse_options({{"registry", f.registry_path.string()}, {"max_payload", "4096"}, {"internal_prefix", "other"}});
  gk->reconfigure(options);
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, kCreate, 1, 5000)));
  CHECK(gk->options().internal_prefix == "_provision");
  CHECK(f.logged("internal_prefix cannot change"));
}

TEST_CASE("enrollment: a certificate from a manufacturer CA is a provisioning identity named by its registration id",
          "[plugin][auth]") {
  Fixture f;
  auto factory = pki::CertificateAuthority::create_root("Factory CA", 3600);
  registry::CaRecord row;
  row.id = factory.certificate().id();
  row.name = "factory";
  row.role = "manufacturer";
  row.pem = factory.certificate().to_pem();
  row.allowed_templates = {"DemoFleet"};
  row.registration_id_field = "serialNumber";
  f.reg.put_ca(row);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", "sensor"}, {"serialNumber", "SN-42"}};
  auto cert = factory.issue(key.get(), options);

  auto gk = f.gatekeeper();
  auto result = sign_in(*gk, f.key(0), "factory-1", cert, f.now);
  REQUIRE(result.allowed);
  CHECK(result.username == "enrollment:SN-42");
  CHECK(may(*gk, f.key(0), Access::Write, kCsr));
  CHECK(may(*gk, f.key(0), Access::Write, kRegister));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRegisterOther));
  // the registration id travels to the workers, set by the plugin
  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), kCsr, "{}", 1, {{"registration-id", "forged"}}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(*property(out.messages[0].user_properties, "registration-id") == "SN-42");
  CHECK(*property(out.messages[0].user_properties, "identity") == "enrollment");

  // no registration id in the certificate: refused
  registry::CaRecord cn_row = row;
  cn_row.registration_id_field = "CN";
  pki::IssueOptions no_cn;
  no_cn.subject = {{"O", "Acme"}};
  auto anonymous = factory.issue(key.get(), no_cn);
  f.reg.put_ca(cn_row);
  auto gk2 = f.gatekeeper();
  CHECK_FALSE(sign_in(*gk2, f.key(1), "factory-2", anonymous, f.now).allowed);
  CHECK(f.logged("has no CN to use as its registration id"));
  // the certificate serial can be the registration id too
  CHECK(registration_id(cert, "certificateSerial") == cert.serial_hex());
}

TEST_CASE("renewal: only devices may use the renewal topic and their requests carry thing and certificate", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  REQUIRE(sign_in(*gk, f.key(1), "c1", f.claim, f.now).allowed);
  const std::string renew = "$provision/certificates/renew/json";
  CHECK(may(*gk, f.key(0), Access::Write, renew));
  CHECK(may(*gk, f.key(0), Access::Subscribe, renew + "/accepted"));
  CHECK(may(*gk, f.key(0), Access::Subscribe, renew + "/+"));
  CHECK(may(*gk, f.key(0), Access::Read, renew + "/rejected"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, renew + "/accepted"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$provision/#"));
  CHECK_FALSE(may(*gk, f.key(1), Access::Write, renew));
  CHECK_FALSE(may(*gk, f.key(1), Access::Subscribe, renew + "/accepted"));

  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), renew, "{}", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(*property(out.messages[0].user_properties, "identity") == "device");
  CHECK(*property(out.messages[0].user_properties, "thing-name") == "thing-1");
  CHECK(*property(out.messages[0].user_properties, "certificate-id") == f.device.id());
}

TEST_CASE("renewal: the first connect of a renewing certificate is reported to the workers", "[plugin][routing]") {
  Fixture f;
  auto successor = issue_client(f.fleet_ca, "thing-1-renewed");
  f.register_device(successor, "thing-1", registry::kActive, "DemoPolicy");
  auto r = f.reg.find_certificate(successor.id());
  f.reg.delete_certificate(successor.id());
  r->replaces = f.device.id();
  f.reg.insert_certificate(*r);
  f.reg.attach_policy(successor.id(), "DemoPolicy");

  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", successor, f.now).allowed);
  Actions out;
  gk->on_tick(1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].topic == "_provision/events");
  CHECK(*property(out.messages[0].user_properties, "event") == "certificate-used");
  CHECK(*property(out.messages[0].user_properties, "certificate-id") == successor.id());
  // the service may read and subscribe to the events, nobody else
  REQUIRE(sign_in(*gk, f.key(1), "svc", f.service, f.now).allowed);
  CHECK(may(*gk, f.key(1), Access::Subscribe, "$share/provisiond/_provision/events"));
  CHECK(may(*gk, f.key(1), Access::Read, "_provision/events"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "_provision/events"));
}

TEST_CASE("registry changes refresh identities: a new policy applies at once to a connected device", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  REQUIRE_FALSE(may(*gk, f.key(0), Access::Write, "anything/at/all"));
  f.reg.put_policy("DemoPolicy", R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "allow", "actions": ["publish"], "topics": ["anything/#"]}]})");
  Actions out;
  gk->on_tick(1000, out);
  CHECK(out.kicks.empty());
  CHECK(may(*gk, f.key(0), Access::Write, "anything/at/all"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
  // a policy change that no longer allows connect cuts the device off
  f.reg.put_policy("DemoPolicy", R"({"statements": [{"effect": "allow", "actions": ["publish"], "topics": ["#"]}]})");
  gk->on_tick(2000, out);
  CHECK(out.kicks == std::vector<std::string>{"thing-1"});
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "anything/at/all"));
}

TEST_CASE("a registry that cannot be read (locked) refuses clients with a clear log line and recovers", "[plugin][registry]") {
  Fixture f;
  // A copy nobody else has open: in WAL mode only a connection in exclusive
  // locking mode keeps readers out, and it can take that lock only alone.
  database_of(f.reg).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  auto copy = f.dir.path / "copy.db";
  std::filesystem::copy_file(f.registry_path, copy);
  f.registry_path = copy;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(copy.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE things SET version = version; COMMIT;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  auto gk = f.gatekeeper();
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  // a locked registry costs a connect at most the plugin's busy timeout (100 ms), never a stall
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  CHECK(f.logged_at(LogLevel::Error, "registry unavailable, refusing every client until it returns"));
  CHECK(f.logged("refused client 'c0'"));
  sqlite3_close(db);
  CHECK(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(f.logged("registry " + f.registry_path.string() + " opened"));
}

TEST_CASE("decision cache: bounded in entries and topic length", "[plugin][acl]") {
  DecisionCache cache;
  std::string huge(60000, 'x');
  cache.remember(0, huge, true);
  CHECK(cache.size() == 0);  // long topics are decided every time
  CHECK_FALSE(cache.find(0, huge));
  for (int i = 0; i < 1000; ++i) cache.remember(i % 4, "devices/t/" + std::to_string(i), i % 2 == 0);
  CHECK(cache.size() <= DecisionCache::kMaxEntries);
  cache.remember(1, "a/b", false);
  REQUIRE(cache.find(1, "a/b"));
  CHECK_FALSE(*cache.find(1, "a/b"));
  CHECK_FALSE(cache.find(0, "a/b"));  // per access kind
}

TEST_CASE("a device's renewal publish is checked for size every time, not cached", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper({{"max_payload", "1000"}});
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  const std::string renew = "$provision/certificates/renew/json";
  CHECK(gk->check_acl(f.key(0), acl(Access::Write, renew, 1, 100)));
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, renew, 1, 5000)));
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, renew, 1, 100, true)));
}

TEST_CASE("client_id_must_be_thing_name refuses a device under another client id whatever its policy", "[plugin][auth]") {
  Fixture f;
  auto wide = issue_client(f.fleet_ca, "thing-wide");
  f.register_device(wide, "thing-wide", registry::kActive, "EverythingPolicy");
  auto lax = f.gatekeeper();
  CHECK(sign_in(*lax, f.key(0), "not-my-name", wide, f.now).allowed);
  auto strict = f.gatekeeper({{"client_id_must_be_thing_name", "true"}});
  CHECK_FALSE(sign_in(*strict, f.key(1), "not-my-name", wide, f.now).allowed);
  CHECK(f.logged("the client id must be the thing name"));
  CHECK(sign_in(*strict, f.key(2), "thing-wide", wide, f.now).allowed);
}

TEST_CASE("factory identities publish enrollments and nothing else", "[plugin][acl]") {
  Fixture f;
  auto factory = issue_client(pki::CertificateAuthority::load(f.files.root_cert, f.files.root_key), "factory-1");
  f.reg.put_service_identity({factory.id(), "line-1", registry::kActive, 0, "factory"});
  auto gk = f.gatekeeper();
  auto result = sign_in(*gk, f.key(0), "factory-1", factory, f.now);
  REQUIRE(result.allowed);
  CHECK(result.username == "factory:line-1");
  const std::string enrollments = "$provision/factory/enrollments/json";
  CHECK(may(*gk, f.key(0), Access::Write, enrollments));
  CHECK(may(*gk, f.key(0), Access::Subscribe, enrollments + "/+"));
  CHECK(may(*gk, f.key(0), Access::Read, enrollments + "/accepted"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRequests));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "#"));
  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), enrollments, R"({"registrationId":"SN-1"})", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(*property(out.messages[0].user_properties, "identity") == "factory");
  // a claim may not publish enrollments
  REQUIRE(sign_in(*gk, f.key(1), "c1", f.claim, f.now).allowed);
  CHECK_FALSE(may(*gk, f.key(1), Access::Write, enrollments));
}

TEST_CASE("a temporary claim is cut off once its registry expiry passes, while connected", "[plugin][auth]") {
  Fixture f;
  auto record = *f.reg.find_claim_certificate(f.claim.id());
  record.expires_at = f.now + 2;
  f.reg.put_claim_certificate(record);
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "installer-phone", f.claim, f.now).allowed);
  Actions out;
  gk->on_tick(1000, out, f.now + 1);
  CHECK(out.kicks.empty());
  gk->on_tick(1000 + gk->options().registry_poll_ms, out, f.now + 3);
  CHECK(out.kicks == std::vector<std::string>{"installer-phone"});
  CHECK(f.logged("claim certificate expired"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
}

TEST_CASE("a revocation behind a burst of more than one batch of registry changes is still seen at the next poll",
          "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  {
    auto tx = f.reg.begin();
    auto insert = database_of(f.reg).prepare("INSERT INTO registry_changes (kind, subject) VALUES ('thing', ?)");
    for (int i = 0; i < 12000; ++i) {
      insert.bind(1, "bulk-" + std::to_string(i));
      insert.run();
    }
    tx.commit();
  }
  REQUIRE(f.reg.set_certificate_status(f.device.id(), registry::kRevoked));
  Actions out;
  gk->on_tick(1000, out);
  CHECK(out.kicks == std::vector<std::string>{"thing-1"});
}

// ---------------------------------------------------------------- trust directory

namespace {

using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;
using StoreContextPtr = std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)>;

// Verifies `leaf` the way the broker does with `capath DIR`: a hashed
// directory lookup, nothing else trusted, no chain sent beyond the leaf.
bool verifies_through(const std::filesystem::path& dir, const pki::Certificate& leaf) {
  StorePtr store(X509_STORE_new(), X509_STORE_free);
  REQUIRE(store);
  REQUIRE(X509_STORE_load_path(store.get(), dir.c_str()) == 1);
  StoreContextPtr context(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  REQUIRE(context);
  REQUIRE(X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr) == 1);
  bool ok = X509_verify_cert(context.get()) == 1;
  ERR_clear_error();
  return ok;
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TrustedCa trusted(const pki::CertificateAuthority& ca, const std::string& role = "manufacturer") {
  return {ca.certificate().id(), role, ca.certificate().to_pem()};
}

}  // namespace

TEST_CASE("trust directory: each CA under its OpenSSL hashed name, as openssl rehash names it, and OpenSSL verifies through it",
          "[plugin][trust]") {
  TempDir dir;
  auto trust = dir.path / "trust";
  auto acme = pki::CertificateAuthority::create_root("Acme Factory CA", 3600);
  auto globex = pki::CertificateAuthority::create_root("Globex Factory CA", 3600);
  auto stranger = pki::CertificateAuthority::create_root("Stranger CA", 3600);
  auto done = TrustDirectory(trust).sync({trusted(acme), trusted(globex, "claim")});  // creates the directory
  const std::string acme_file = acme.certificate().subject_name_hash() + ".0";
  const std::string globex_file = globex.certificate().subject_name_hash() + ".0";
  CHECK(files_in(trust) == [&] {
    std::vector<std::string> v{acme_file, globex_file};
    std::sort(v.begin(), v.end());
    return v;
  }());
  CHECK(done.written.size() == 2);
  CHECK(read_file(trust / acme_file).starts_with(TrustDirectory::kMarker));
  CHECK(pki::Certificate::load(trust / acme_file).id() == acme.certificate().id());

  CHECK(verifies_through(trust, issue_client(acme, "SN-1")));
  CHECK(verifies_through(trust, issue_client(globex, "SN-2")));
  CHECK_FALSE(verifies_through(trust, issue_client(stranger, "SN-3")));

  // The names openssl rehash gives the same certificates.
  if (std::system("openssl version >/dev/null 2>&1") == 0) {
    auto rehashed = dir.path / "rehashed";
    std::filesystem::create_directories(rehashed);
    write_file(rehashed / "acme.pem", acme.certificate().to_pem(), 0644);
    write_file(rehashed / "globex.pem", globex.certificate().to_pem(), 0644);
    REQUIRE(std::system(("openssl rehash " + rehashed.string() + " >/dev/null 2>&1").c_str()) == 0);
    std::vector<std::string> links;
    for (const auto& name : files_in(rehashed))
      if (!name.ends_with(".pem")) links.push_back(name);
    CHECK(links == files_in(trust));
  } else {
    WARN("no openssl command: the names were checked against OpenSSL's lookup only");
  }

  // Nothing changed: nothing written.
  auto again = TrustDirectory(trust).sync({trusted(acme), trusted(globex, "claim")});
  CHECK_FALSE(again.changed());
}

TEST_CASE("trust directory: CAs with the same subject take .0, .1 without a gap, also after one goes", "[plugin][trust]") {
  TempDir dir;
  auto first = pki::CertificateAuthority::create_root("Same Name CA", 3600);
  auto second = pki::CertificateAuthority::create_root("Same Name CA", 3600);
  REQUIRE(first.certificate().subject_name_hash() == second.certificate().subject_name_hash());
  const std::string hash = first.certificate().subject_name_hash();
  TrustDirectory trust(dir.path);
  trust.sync({trusted(first), trusted(second)});
  CHECK(files_in(dir.path) == std::vector<std::string>{hash + ".0", hash + ".1"});
  CHECK(verifies_through(dir.path, issue_client(first, "a")));
  CHECK(verifies_through(dir.path, issue_client(second, "b")));

  // Whichever goes, the other is .0: OpenSSL stops at the first missing suffix.
  std::string kept_id = pki::Certificate::load(dir.path / (hash + ".1")).id();
  const auto& kept = kept_id == first.certificate().id() ? first : second;
  const auto& gone = kept_id == first.certificate().id() ? second : first;
  auto done = trust.sync({trusted(kept)});
  CHECK(files_in(dir.path) == std::vector<std::string>{hash + ".0"});
  CHECK(pki::Certificate::load(dir.path / (hash + ".0")).id() == kept.certificate().id());
  CHECK(done.written == std::vector<std::string>{hash + ".0"});
  CHECK(done.removed == std::vector<std::string>{hash + ".1"});
  CHECK(verifies_through(dir.path, issue_client(kept, "c")));
  CHECK_FALSE(verifies_through(dir.path, issue_client(gone, "d")));

  trust.sync({});
  CHECK(files_in(dir.path).empty());
}

TEST_CASE("trust directory: files that are not the plugin's are never touched, and its own are numbered around them",
          "[plugin][trust]") {
  TempDir dir;
  auto mine = pki::CertificateAuthority::create_root("Shared Name CA", 3600);
  auto theirs = pki::CertificateAuthority::create_root("Shared Name CA", 3600);
  const std::string hash = mine.certificate().subject_name_hash();
  // An operator's own CA under the same hash (no marker), a symlink, notes.
  write_file(dir.path / (hash + ".0"), theirs.certificate().to_pem(), 0644);
  write_file(dir.path / "README", "operator notes\n", 0644);
  write_file(dir.path / "theirs.pem", theirs.certificate().to_pem(), 0644);
  std::filesystem::create_symlink("theirs.pem", dir.path / "0badcafe.0");
  auto before = [&](const std::string& name) { return read_file(dir.path / name); };
  const std::string their_file = before(hash + ".0");

  TrustDirectory trust(dir.path);
  auto done = trust.sync({trusted(mine)});
  CHECK(done.written == std::vector<std::string>{hash + ".1"});
  CHECK(read_file(dir.path / (hash + ".0")) == their_file);
  CHECK(verifies_through(dir.path, issue_client(mine, "a")));
  CHECK(verifies_through(dir.path, issue_client(theirs, "b")));

  done = trust.sync({});
  CHECK(done.removed == std::vector<std::string>{hash + ".1"});
  CHECK(files_in(dir.path) == std::vector<std::string>{"0badcafe.0", hash + ".0", "README", "theirs.pem"});
  CHECK(read_file(dir.path / (hash + ".0")) == their_file);
  CHECK(std::filesystem::is_symlink(dir.path / "0badcafe.0"));
}

TEST_CASE("trust directory: the gatekeeper writes the registry's active CAs at start and follows every CA change",
          "[plugin][trust]") {
  Fixture f;
  auto trust = f.dir.path / "trust";
  auto gk = f.gatekeeper({{"trust_dir", trust.string()}});
  // At start, before any client: the fixture's claim and fleet CAs.
  auto claim_file = trust / (f.claim_ca.certificate().subject_name_hash() + ".0");
  auto fleet_file = trust / (f.fleet_ca.certificate().subject_name_hash() + ".0");
  CHECK(files_in(trust).size() == 2);
  CHECK(std::filesystem::exists(claim_file));
  CHECK(std::filesystem::exists(fleet_file));
  CHECK(f.logged("trust directory " + trust.string()));

  auto factory = pki::CertificateAuthority::create_root("Runtime Factory CA", 3600);
  auto factory_file = trust / (factory.certificate().subject_name_hash() + ".0");
  registry::CaRecord row;
  row.id = factory.certificate().id();
  row.name = "runtime-factory";
  row.role = "manufacturer";
  row.pem = factory.certificate().to_pem();
  f.reg.put_ca(row);
  int64_t now_ms = 1'000'000;
  Actions out;
  gk->on_tick(now_ms, out);
  CHECK(std::filesystem::exists(factory_file));
  CHECK(verifies_through(trust, issue_client(factory, "SN-9")));

  row.status = registry::kInactive;  // disabled: no longer offered to TLS
  f.reg.put_ca(row);
  gk->on_tick(now_ms += gk->options().registry_poll_ms, out);
  CHECK_FALSE(std::filesystem::exists(factory_file));
  row.status = registry::kActive;
  f.reg.put_ca(row);
  gk->on_tick(now_ms += gk->options().registry_poll_ms, out);
  CHECK(std::filesystem::exists(factory_file));
  f.reg.delete_ca(row.id);
  gk->on_tick(now_ms += gk->options().registry_poll_ms, out);
  CHECK_FALSE(std::filesystem::exists(factory_file));
  CHECK(std::filesystem::exists(claim_file));

  // trust_dir belongs in mosquitto.conf (it must match the broker's capath).
  auto file = f.dir.path / "plugin.conf";
  write_file(file, "trust_dir /elsewhere\n", 0644);
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", file.string()}}), Catch::Contains("belongs in mosquitto.conf"));
}

TEST_CASE("trust directory: a directory the plugin cannot write is logged once and retried at every poll", "[plugin][trust]") {
  Fixture f;
  auto blocker = f.dir.path / "not-a-directory";
  write_file(blocker, "x", 0644);
  auto gk = f.gatekeeper({{"trust_dir", (blocker / "trust").string()}});
  CHECK(f.logged_at(LogLevel::Error, "cannot update the trust directory"));
  Actions out;
  gk->on_tick(1'000'000, out);
  gk->on_tick(1'000'000 + gk->options().registry_poll_ms, out);
  CHECK(std::count_if(f.logs.begin(), f.logs.end(),
                      [](const LogLine& l) { return l.text.find("cannot update the trust directory") != std::string::npos; }) == 1);
  std::filesystem::remove(blocker);
  std::filesystem::create_directories(blocker);
  gk->on_tick(1'000'000 + 2 * gk->options().registry_poll_ms, out);
  CHECK(files_in(blocker / "trust").size() == 2);
  CHECK(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);  // clients were never affected
}
