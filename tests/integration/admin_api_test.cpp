// The admin HTTP API of provisiond, over real HTTP against a running stack
// (mosquitto + plugin + provisiond): every resource's happy path, the roles
// of openapi.json's x-roles, each error class with nothing written, template
// errors with their JSON path, dry runs, deprovisioning, the audit log, and
// every answer checked against the schemas of schemas/openapi.json.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <fcntl.h>
#include <poll.h>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "flows.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "admin_api.h"
#include "stack.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

// A server that refuses a request before reading its body closes the
// connection: a client still writing then gets EPIPE, not a signal that
// would end the whole test run.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

using Fixture = std::function<Request(World&)>;

// A valid request for each operation of openapi.json, keyed "METHOD pattern";
// whatever it needs is made first.
const std::map<std::string, Fixture>& fixtures() {
  static const std::map<std::string, Fixture> all = {
      {"GET /health", [](World&) { return Request{"GET", "/health", {}}; }},
      {"GET /metrics", [](World&) { return Request{"GET", "/metrics", {}}; }},
      {"GET /v1/templates", [](World&) { return Request{"GET", "/v1/templates?limit=10", {}}; }},
      {"POST /v1/templates", [](World& w) { return Request{"POST", "/v1/templates", template_create(w.unique("New"))}; }},
      // an enrollment names DemoFleet, so that an activator may read it
      {"GET /v1/templates/{name}", [](World& w) { w.new_enrollment(); return Request{"GET", "/v1/templates/DemoFleet", {}}; }},
      {"PATCH /v1/templates/{name}",
       [](World& w) { return Request{"PATCH", "/v1/templates/" + w.new_template(), R"({"description":"patched"})"}; }},
      {"DELETE /v1/templates/{name}", [](World& w) { return Request{"DELETE", "/v1/templates/" + w.new_template(), {}}; }},
      {"POST /v1/templates/{name}/versions",
       [](World& w) {
         return Request{"POST", "/v1/templates/" + w.new_template() + "/versions", R"({"body":)" + kTemplateBody2 + "}"};
       }},
      {"GET /v1/templates/{name}/versions/{version}",
       [](World& w) { w.new_enrollment(); return Request{"GET", "/v1/templates/DemoFleet/versions/1", {}}; }},
      {"DELETE /v1/templates/{name}/versions/{version}",
       [](World& w) { return Request{"DELETE", "/v1/templates/" + w.new_template(2) + "/versions/1", {}}; }},
      {"POST /v1/templates/{name}/dry-run",
       [](World& w) {
         return Request{"POST", "/v1/templates/DemoFleet/dry-run", R"({"parameters":{"SerialNumber":)" + json_text(w.unique("dry")) + "}}"};
       }},
      {"GET /v1/policies", [](World&) { return Request{"GET", "/v1/policies?limit=10", {}}; }},
      {"POST /v1/policies",
       [](World& w) {
         return Request{"POST", "/v1/policies", R"({"name":)" + json_text(w.unique("NewPolicy")) + R"(,"document":)" + kPolicyDocument + "}"};
       }},
      {"GET /v1/policies/{name}", [](World&) { return Request{"GET", "/v1/policies/DemoDevicePolicy", {}}; }},
      {"PUT /v1/policies/{name}",
       [](World& w) { return Request{"PUT", "/v1/policies/" + w.new_policy(), R"({"document":)" + kPolicyDocument2 + "}"}; }},
      {"DELETE /v1/policies/{name}", [](World& w) { return Request{"DELETE", "/v1/policies/" + w.new_policy(), {}}; }},
      {"GET /v1/claims", [](World&) { return Request{"GET", "/v1/claims?limit=10", {}}; }},
      // short-lived and for one template: what an installer may ask for too
      {"POST /v1/claims",
       [](World&) { return Request{"POST", "/v1/claims", R"({"templates":["DemoFleet"],"validitySeconds":300,"description":"new"})"}; }},
      {"GET /v1/claims/{id}", [](World& w) { return Request{"GET", "/v1/claims/" + w.dev_claim_id(), {}}; }},
      {"PATCH /v1/claims/{id}",
       [](World& w) { return Request{"PATCH", "/v1/claims/" + w.new_claim(), R"({"description":"patched"})"}; }},
      {"DELETE /v1/claims/{id}", [](World& w) { return Request{"DELETE", "/v1/claims/" + w.new_claim(), {}}; }},
      {"GET /v1/cas", [](World&) { return Request{"GET", "/v1/cas?limit=10", {}}; }},
      {"POST /v1/cas", [](World& w) { return Request{"POST", "/v1/cas", w.ca_create_body(w.unique("new-maker"))}; }},
      {"GET /v1/cas/{id}", [](World& w) { return Request{"GET", "/v1/cas/" + w.fleet_ca_id(), {}}; }},
      {"PATCH /v1/cas/{id}", [](World& w) { return Request{"PATCH", "/v1/cas/" + w.new_ca(), R"({"status":"INACTIVE"})"}; }},
      {"DELETE /v1/cas/{id}", [](World& w) { return Request{"DELETE", "/v1/cas/" + w.new_ca(), {}}; }},
      {"GET /v1/things", [](World&) { return Request{"GET", "/v1/things?limit=10", {}}; }},
      {"GET /v1/things/{name}", [](World& w) { return Request{"GET", "/v1/things/" + w.new_thing().thing_name, {}}; }},
      {"DELETE /v1/things/{name}", [](World& w) { return Request{"DELETE", "/v1/things/" + w.new_thing().thing_name, {}}; }},
      {"POST /v1/things/{name}/deprovision",
       [](World& w) { return Request{"POST", "/v1/things/" + w.new_thing().thing_name + "/deprovision", {}}; }},
      {"GET /v1/certificates", [](World&) { return Request{"GET", "/v1/certificates?limit=10", {}}; }},
      {"GET /v1/certificates/{id}", [](World& w) { return Request{"GET", "/v1/certificates/" + w.new_thing().certificate_id, {}}; }},
      {"PATCH /v1/certificates/{id}",
       [](World& w) { return Request{"PATCH", "/v1/certificates/" + w.new_thing().certificate_id, R"({"status":"REVOKED"})"}; }},
      {"DELETE /v1/certificates/{id}",
       [](World& w) { return Request{"DELETE", "/v1/certificates/" + w.new_detached_certificate(), {}}; }},
      {"GET /v1/things/{name}/certificates",
       [](World& w) { return Request{"GET", "/v1/things/" + w.new_thing().thing_name + "/certificates", {}}; }},
      {"DELETE /v1/things/{name}/certificates/{id}",
       [](World& w) {
         auto thing = w.new_thing();
         return Request{"DELETE", "/v1/things/" + thing.thing_name + "/certificates/" + thing.certificate_id, {}};
       }},
      {"POST /v1/register",
       [](World& w) {
         return Request{"POST", "/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":)" + json_text(w.unique("p")) + "}}"};
       }},
      {"GET /v1/audit", [](World&) { return Request{"GET", "/v1/audit?limit=10", {}}; }},
      {"GET /v1/tokens", [](World&) { return Request{"GET", "/v1/tokens?limit=10", {}}; }},
      {"POST /v1/tokens",
       [](World& w) { return Request{"POST", "/v1/tokens", R"({"name":)" + json_text(w.unique("new-token")) + R"(,"role":"operator"})"}; }},
      {"DELETE /v1/tokens/{name}",
       [](World& w) {
         std::string name = w.unique("doomed");
         w.new_token("operator", name);
         return Request{"DELETE", "/v1/tokens/" + name, {}};
       }},
      {"GET /v1/enrollments", [](World&) { return Request{"GET", "/v1/enrollments?limit=10", {}}; }},
      {"POST /v1/enrollments",
       [](World& w) {
         return Request{"POST", "/v1/enrollments", R"({"registrationId":)" + json_text(w.unique("SN")) + R"(,"templateName":"DemoFleet"})"};
       }},
      {"GET /v1/enrollments/{id}", [](World& w) { return Request{"GET", "/v1/enrollments/" + w.new_enrollment(), {}}; }},
      {"DELETE /v1/enrollments/{id}", [](World& w) { return Request{"DELETE", "/v1/enrollments/" + w.new_enrollment(), {}}; }},
      {"POST /v1/enrollments/{id}/activate",
       [](World& w) {
         return Request{"POST", "/v1/enrollments/" + w.new_enrollment() + "/activate", R"({"attributes":{"buyer":"acme"}})"};
       }},
      {"POST /v1/enrollments/{id}/reset",
       [](World& w) { return Request{"POST", "/v1/enrollments/" + w.new_enrollment() + "/reset", {}}; }},
      {"POST /v1/enrollments/{id}/disable",
       [](World& w) { return Request{"POST", "/v1/enrollments/" + w.new_enrollment() + "/disable", {}}; }},
      {"GET /v1/brokers", [](World&) { return Request{"GET", "/v1/brokers", {}}; }},
      {"GET /v1/whoami", [](World&) { return Request{"GET", "/v1/whoami", {}}; }},
      {"GET /v1/summary", [](World&) { return Request{"GET", "/v1/summary", {}}; }},
      {"POST /v1/brokers",
       [](World& w) {
         return Request{"POST", "/v1/brokers", R"({"name":)" + json_text(w.unique("broker")) + R"(,"endpoint":"mqtts://b.example.com:8883"})"};
       }},
      {"GET /v1/brokers/{name}", [](World& w) { return Request{"GET", "/v1/brokers/" + w.new_broker(), {}}; }},
      {"PATCH /v1/brokers/{name}", [](World& w) { return Request{"PATCH", "/v1/brokers/" + w.new_broker(), R"({"weight":3})"}; }},
      {"DELETE /v1/brokers/{name}", [](World& w) { return Request{"DELETE", "/v1/brokers/" + w.new_broker(), {}}; }},
      {"GET /v1/firmware", [](World&) { return Request{"GET", "/v1/firmware?productId=1", {}}; }},
      {"GET /v1/things/{name}/credential",
       [](World& w) { return Request{"GET", "/v1/things/" + w.new_password_device() + "/credential", {}}; }},
      {"POST /v1/things/{name}/rotate-secret",
       [](World& w) { return Request{"POST", "/v1/things/" + w.new_password_device() + "/rotate-secret", {}}; }},
      {"GET /v1/bootstrap/access", [](World&) { return Request{"GET", "/v1/bootstrap/access?mac=AA:BB:CC:DD:EE:FF", {}}; }},
      {"POST /v1/firmware",
       [](World& w) { return Request{"POST", "/v1/firmware", w.firmware_body("2." + std::to_string(++w.counter) + ".0")}; }},
      {"GET /v1/firmware/{id}", [](World& w) { return Request{"GET", "/v1/firmware/" + w.new_firmware(), {}}; }},
      {"PATCH /v1/firmware/{id}",
       [](World& w) { return Request{"PATCH", "/v1/firmware/" + w.new_firmware(), R"({"rolloutPercent":25,"enabled":false})"}; }},
      {"DELETE /v1/firmware/{id}", [](World& w) { return Request{"DELETE", "/v1/firmware/" + w.new_firmware(), {}}; }},
      {"GET /v1/service-identities", [](World&) { return Request{"GET", "/v1/service-identities?limit=10", {}}; }},
      {"POST /v1/service-identities",
       [](World& w) { return Request{"POST", "/v1/service-identities", w.service_identity_body(w.unique("line"))}; }},
      {"GET /v1/service-identities/{id}",
       [](World& w) { return Request{"GET", "/v1/service-identities/" + w.new_service_identity(), {}}; }},
      {"PATCH /v1/service-identities/{id}",
       [](World& w) { return Request{"PATCH", "/v1/service-identities/" + w.new_service_identity(), R"({"status":"INACTIVE"})"}; }},
      {"DELETE /v1/service-identities/{id}",
       [](World& w) { return Request{"DELETE", "/v1/service-identities/" + w.new_service_identity(), {}}; }},
  };
  return all;
}

// The pattern with every {parameter} replaced by `value`.
std::string fill(const std::string& pattern, const std::string& value) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      i = pattern.find('}', i);
      out += value;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

Reply send(const Api& api, const Request& request) { return api.call(request.method, request.path, request.body); }

// Writes a certificate and key for an MQTT client.
CertificateFiles write_identity(const Stack& stack, const std::string& name, const std::string& certificate_pem,
                                const std::string& key_pem) {
  CertificateFiles files{(stack.dir / (name + ".pem")).string(), (stack.dir / (name + ".key")).string()};
  write_file(files.certificate, certificate_pem, 0644);
  write_file(files.key, key_pem, 0600);
  return files;
}

}  // namespace

// ======================================================================= resources

TEST_CASE("admin API templates: create, get with versions and body, page, add versions, default, disable, delete") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);

  auto created = admin.post("/v1/templates", template_create("Fleet-A"));
  REQUIRE_STATUS(created, 201);
  check_documented("POST", "/v1/templates", created);
  CHECK(created.str("/name") == "Fleet-A");
  CHECK(created.str("/description") == "made by a test");
  CHECK(created.flag("/enabled"));
  CHECK(created.num("/defaultVersion") == 1);
  CHECK(created.strings("/versions", "").size() == 1);
  CHECK(json::stringify(created.at("/body")) == kTemplateBody);
  auto stored = stack.registry().default_template_version("Fleet-A");
  REQUIRE(stored);
  CHECK(stored->version == 1);

  SECTION("get: the versions and the default version's body") {
    auto got = admin.get("/v1/templates/Fleet-A");
    REQUIRE_STATUS(got, 200);
    check_documented("GET", "/v1/templates/{name}", got);
    CHECK(got.num("/versions/0/version") == 1);
    CHECK(json::stringify(got.at("/body")) == kTemplateBody);
  }

  SECTION("list: paging with limit and nextCursor") {
    for (const char* name : {"Fleet-B", "Fleet-C", "Fleet-D"}) REQUIRE_STATUS(admin.post("/v1/templates", template_create(name)), 201);
    int pages = 0;
    auto names = all_pages(admin, "/v1/templates", "name", 2, &pages);
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"DemoFleet", "Fleet-A", "Fleet-B", "Fleet-C", "Fleet-D"});
    CHECK(pages == 3);
    auto first = admin.get("/v1/templates?limit=2");
    check_documented("GET", "/v1/templates", first);
    CHECK(first.size("/items") == 2);
    CHECK(first.has("/nextCursor"));
    // items of a list are summaries, without the body
    CHECK_FALSE(first.has("/items/0/body"));
  }

  SECTION("versions: add, make default, keep default, delete a version, delete the template") {
    auto v2 = admin.post("/v1/templates/Fleet-A/versions", R"({"body":)" + kTemplateBody2 + "}");
    REQUIRE_STATUS(v2, 201);
    check_documented("POST", "/v1/templates/{name}/versions", v2);
    CHECK(v2.num("/version") == 2);
    CHECK(v2.str("/template") == "Fleet-A");
    auto got = admin.get("/v1/templates/Fleet-A");
    CHECK(got.num("/defaultVersion") == 2);  // a new version becomes the default
    CHECK(json::stringify(got.at("/body")) == kTemplateBody2);

    auto v3 = admin.post("/v1/templates/Fleet-A/versions", R"({"body":)" + kTemplateBody + R"(,"makeDefault":false})");
    REQUIRE_STATUS(v3, 201);
    CHECK(v3.num("/version") == 3);
    got = admin.get("/v1/templates/Fleet-A");
    CHECK(got.num("/defaultVersion") == 2);
    CHECK(got.size("/versions") == 3);

    auto version = admin.get("/v1/templates/Fleet-A/versions/2");
    REQUIRE_STATUS(version, 200);
    check_documented("GET", "/v1/templates/{name}/versions/{version}", version);
    CHECK(json::stringify(version.at("/body")) == kTemplateBody2);

    auto set_default = admin.patch("/v1/templates/Fleet-A", R"({"defaultVersion":1})");
    REQUIRE_STATUS(set_default, 200);
    check_documented("PATCH", "/v1/templates/{name}", set_default);
    CHECK(set_default.num("/defaultVersion") == 1);
    CHECK(json::stringify(set_default.at("/body")) == kTemplateBody);
    CHECK(stack.registry().find_template("Fleet-A")->default_version == 1);

    auto removed = admin.del("/v1/templates/Fleet-A/versions/2");
    CHECK_STATUS(removed, 204);
    CHECK(removed.text.empty());
    CHECK_ERROR(admin.get("/v1/templates/Fleet-A/versions/2"), 404, "NotFound");
    got = admin.get("/v1/templates/Fleet-A");
    std::vector<int64_t> versions;
    for (const auto& v : got.at("/versions").GetArray()) versions.push_back(v["version"].GetInt64());
    CHECK(versions == std::vector<int64_t>{1, 3});
    CHECK_FALSE(stack.registry().find_template_version("Fleet-A", 2));

    auto deleted = admin.del("/v1/templates/Fleet-A");
    CHECK_STATUS(deleted, 204);
    CHECK_ERROR(admin.get("/v1/templates/Fleet-A"), 404, "NotFound");
    CHECK_FALSE(stack.registry().find_template("Fleet-A"));
    CHECK(stack.registry().template_versions("Fleet-A").empty());
  }

  SECTION("disable and enable: a disabled template registers nothing") {
    auto disabled = admin.patch("/v1/templates/Fleet-A", R"({"enabled":false,"description":"paused"})");
    REQUIRE_STATUS(disabled, 200);
    CHECK_FALSE(disabled.flag("/enabled"));
    CHECK(disabled.str("/description") == "paused");
    CHECK_FALSE(stack.registry().find_template("Fleet-A")->enabled);
    auto only_disabled = admin.get("/v1/templates?enabled=false");
    CHECK(only_disabled.strings("/items", "name") == std::vector<std::string>{"Fleet-A"});
    auto refused = admin.post("/v1/register", R"({"templateName":"Fleet-A","parameters":{"SerialNumber":"1"}})");
    CHECK_ERROR(refused, 403, "TemplateDisabled");
    CHECK(stack.registry().count_things() == 0);

    auto enabled = admin.patch("/v1/templates/Fleet-A", R"({"enabled":true})");
    REQUIRE_STATUS(enabled, 200);
    CHECK(enabled.flag("/enabled"));
    CHECK_FALSE(contains(admin.get("/v1/templates?enabled=false").strings("/items", "name"), "Fleet-A"));
    CHECK_STATUS(admin.post("/v1/register", R"({"templateName":"Fleet-A","parameters":{"SerialNumber":"1"}})"), 201);
    CHECK(stack.registry().find_thing("t-1"));
  }
}

TEST_CASE("admin API policies: create, get, list, replace, delete") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);

  auto created = admin.post("/v1/policies", R"({"name":"SensorPolicy","document":)" + kPolicyDocument + "}");
  REQUIRE_STATUS(created, 201);
  check_documented("POST", "/v1/policies", created);
  CHECK(created.str("/name") == "SensorPolicy");
  CHECK(json::stringify(created.at("/document")) == kPolicyDocument);
  CHECK(created.num("/attachments") == 0);
  REQUIRE(stack.registry().find_policy("SensorPolicy"));

  auto got = admin.get("/v1/policies/SensorPolicy");
  REQUIRE_STATUS(got, 200);
  CHECK(json::stringify(got.at("/document")) == kPolicyDocument);

  auto listed = admin.get("/v1/policies");
  REQUIRE_STATUS(listed, 200);
  check_documented("GET", "/v1/policies", listed);
  auto names = listed.strings("/items", "name");
  CHECK(contains(names, "SensorPolicy"));
  CHECK(contains(names, "DemoDevicePolicy"));
  auto paged = all_pages(admin, "/v1/policies", "name", 1);
  std::sort(paged.begin(), paged.end());
  CHECK(paged == std::vector<std::string>{"DemoDevicePolicy", "SensorPolicy"});

  auto replaced = admin.put("/v1/policies/SensorPolicy", R"({"document":)" + kPolicyDocument2 + "}");
  REQUIRE_STATUS(replaced, 200);
  check_documented("PUT", "/v1/policies/{name}", replaced);
  CHECK(json::stringify(replaced.at("/document")) == kPolicyDocument2);
  CHECK(json::stringify(json::parse(stack.registry().find_policy("SensorPolicy")->document)) == kPolicyDocument2);

  CHECK_ERROR(admin.put("/v1/policies/NoSuchPolicy", R"({"document":)" + kPolicyDocument2 + "}"), 404, "NotFound");
  CHECK_FALSE(stack.registry().find_policy("NoSuchPolicy"));

  CHECK_STATUS(admin.del("/v1/policies/SensorPolicy"), 204);
  CHECK_ERROR(admin.get("/v1/policies/SensorPolicy"), 404, "NotFound");
  CHECK_FALSE(stack.registry().find_policy("SensorPolicy"));
}

TEST_CASE("admin API claims: a created key is shown once, the claim connects, a disabled claim is cut off and refused") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);

  auto created = admin.post("/v1/claims", R"({"templates":["DemoFleet"],"description":"installer batch 7"})");
  REQUIRE_STATUS(created, 201);
  check_documented("POST", "/v1/claims", created);
  const std::string id = created.str("/id");
  const std::string pem = created.str("/certificatePem");
  const std::string key = created.str("/privateKey");
  CHECK(created.str("/status") == "ACTIVE");
  CHECK(created.strings("/templates", "") == std::vector<std::string>{"DemoFleet"});
  CHECK(key.find("PRIVATE KEY") != std::string::npos);
  auto certificate = pki::Certificate::from_pem(pem);
  CHECK(certificate.id() == id);
  CHECK(certificate.issued_by(pki::Certificate::load(stack.pki.claim_ca_cert)));
  auto record = stack.registry().find_claim_certificate(id);
  REQUIRE(record);
  CHECK(record->description == "installer batch 7");

  // the key is never shown again
  auto got = admin.get("/v1/claims/" + id);
  REQUIRE_STATUS(got, 200);
  check_documented("GET", "/v1/claims/{id}", got);
  CHECK_FALSE(got.has("/privateKey"));
  CHECK(got.str("/certificatePem") == pem);
  auto listed = admin.get("/v1/claims");
  REQUIRE_STATUS(listed, 200);
  CHECK(contains(listed.strings("/items", "id"), id));
  CHECK(listed.text.find("PRIVATE KEY") == std::string::npos);
  CHECK(admin.get("/v1/claims?status=ACTIVE").strings("/items", "id").size() == 2);

  // the claim connects with its key; disabled, it is cut off and refused
  auto files = write_identity(stack, "installer-claim", pem, key);
  {
    mqtt_session::Session session(stack.client(files, "installer-1"));
    REQUIRE_NOTHROW(session.connect());
    auto disabled = admin.patch("/v1/claims/" + id, R"({"status":"INACTIVE"})");
    REQUIRE_STATUS(disabled, 200);
    check_documented("PATCH", "/v1/claims/{id}", disabled);
    CHECK(disabled.str("/status") == "INACTIVE");
    CHECK(stack.registry().find_claim_certificate(id)->status == "INACTIVE");
    CHECK(session.wait_disconnected(2s));
    session.disconnect();
  }
  mqtt_session::Session again(stack.client(files, "installer-2"));
  CHECK_THROWS(again.connect());
  CHECK(wait_for_text(stack.broker_log, "is INACTIVE", 2s));
  CHECK(admin.get("/v1/claims?status=INACTIVE").strings("/items", "id") == std::vector<std::string>{id});

  // an existing claim certificate, registered: no key in the answer
  auto existing = stack.new_claim("factory-line-claim");
  auto existing_pem = read_file(existing.certificate);
  auto registered = admin.post("/v1/claims", R"({"templates":["DemoFleet"],"certificatePem":)" + json_text(existing_pem) + "}");
  REQUIRE_STATUS(registered, 201);
  check_documented("POST", "/v1/claims", registered);
  const std::string registered_id = pki::Certificate::from_pem(existing_pem).id();
  CHECK(registered.str("/id") == registered_id);
  CHECK_FALSE(registered.has("/privateKey"));
  CHECK(stack.registry().find_claim_certificate(registered_id));
  auto before = snapshot(stack);
  CHECK_ERROR(admin.post("/v1/claims", R"({"templates":["DemoFleet"],"certificatePem":)" + json_text(existing_pem) + "}"), 409,
              "Conflict");
  CHECK(snapshot(stack) == before);

  // deleted
  CHECK_STATUS(admin.del("/v1/claims/" + registered_id), 204);
  CHECK_ERROR(admin.get("/v1/claims/" + registered_id), 404, "NotFound");
  CHECK_FALSE(stack.registry().find_claim_certificate(registered_id));
}

TEST_CASE("admin API CAs: register a manufacturer CA, list by role, disable, delete, the issuing fleet CA stays") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  auto root = pki::CertificateAuthority::create_root("Acme Manufacturing Root", 3600);
  const std::string id = root.certificate().id();

  auto created = admin.post("/v1/cas", R"({"name":"acme","role":"manufacturer","templates":["DemoFleet"],)"
                                       R"("registrationIdField":"serialNumber","certificatePem":)" +
                                           json_text(root.certificate().to_pem()) + "}");
  REQUIRE_STATUS(created, 201);
  check_documented("POST", "/v1/cas", created);
  CHECK(created.str("/id") == id);
  CHECK(created.str("/role") == "manufacturer");
  CHECK(created.str("/status") == "ACTIVE");
  CHECK(created.str("/registrationIdField") == "serialNumber");
  CHECK(created.strings("/templates", "") == std::vector<std::string>{"DemoFleet"});
  auto record = stack.registry().find_ca(id);
  REQUIRE(record);
  CHECK(record->role == "manufacturer");
  CHECK(record->registration_id_field == "serialNumber");

  auto got = admin.get("/v1/cas/" + id);
  REQUIRE_STATUS(got, 200);
  CHECK(pki::Certificate::from_pem(got.str("/certificatePem")).id() == id);

  auto manufacturers = admin.get("/v1/cas?role=manufacturer");
  REQUIRE_STATUS(manufacturers, 200);
  check_documented("GET", "/v1/cas", manufacturers);
  CHECK(manufacturers.strings("/items", "id") == std::vector<std::string>{id});
  auto claims = admin.get("/v1/cas?role=claim");
  CHECK(claims.strings("/items", "role") == std::vector<std::string>{"claim"});
  CHECK(all_pages(admin, "/v1/cas", "id", 2).size() == 4);  // root, fleet, claim, acme

  auto disabled = admin.patch("/v1/cas/" + id, R"({"status":"INACTIVE"})");
  REQUIRE_STATUS(disabled, 200);
  check_documented("PATCH", "/v1/cas/{id}", disabled);
  CHECK(disabled.str("/status") == "INACTIVE");
  CHECK(stack.registry().find_ca(id)->status == "INACTIVE");

  CHECK_STATUS(admin.del("/v1/cas/" + id), 204);
  CHECK_ERROR(admin.get("/v1/cas/" + id), 404, "NotFound");
  CHECK_FALSE(stack.registry().find_ca(id));

  // the fleet CA that issues device certificates now cannot be deleted
  auto fleet = admin.get("/v1/cas?role=fleet");
  REQUIRE_STATUS(fleet, 200);
  std::string issuing;
  for (const auto& ca : fleet.at("/items").GetArray())
    if (json::bool_member(ca, "issuing") == true) issuing = *json::string_member(ca, "id");
  REQUIRE_FALSE(issuing.empty());
  CHECK(issuing == pki::Certificate::load(stack.pki.fleet_ca_cert).id());
  auto before = snapshot(stack);
  CHECK_ERROR(admin.del("/v1/cas/" + issuing), 409, "Conflict");
  CHECK(snapshot(stack) == before);
  CHECK(stack.registry().find_ca(issuing));
}

TEST_CASE("admin API things and certificates: a provisioned device listed, read and revoked") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  auto device = provision_device(stack, "701");
  REQUIRE(device.thing_name == "demo-701");

  auto things = admin.get("/v1/things");
  REQUIRE_STATUS(things, 200);
  check_documented("GET", "/v1/things", things);
  CHECK(things.strings("/items", "name") == std::vector<std::string>{"demo-701"});
  CHECK(admin.get("/v1/things?prefix=demo-7").strings("/items", "name") == std::vector<std::string>{"demo-701"});
  CHECK(admin.get("/v1/things?prefix=other").size("/items") == 0);

  auto thing = admin.get("/v1/things/demo-701");
  REQUIRE_STATUS(thing, 200);
  check_documented("GET", "/v1/things/{name}", thing);
  CHECK(thing.str("/attributes/serialNumber") == "701");
  CHECK(thing.strings("/certificates", "id") == std::vector<std::string>{device.certificate_id});
  CHECK(thing.str("/certificates/0/status") == "ACTIVE");
  CHECK(thing.strings("/certificates/0/policies", "") == std::vector<std::string>{"DemoDevicePolicy"});

  auto certificates = admin.get("/v1/certificates?thing=demo-701&status=ACTIVE");
  REQUIRE_STATUS(certificates, 200);
  check_documented("GET", "/v1/certificates", certificates);
  CHECK(certificates.strings("/items", "id") == std::vector<std::string>{device.certificate_id});
  CHECK(admin.get("/v1/certificates?status=REVOKED").size("/items") == 0);

  auto certificate = admin.get("/v1/certificates/" + device.certificate_id);
  REQUIRE_STATUS(certificate, 200);
  check_documented("GET", "/v1/certificates/{id}", certificate);
  CHECK(certificate.str("/thingName") == "demo-701");
  CHECK(pki::Certificate::from_pem(certificate.str("/certificatePem")).id() == device.certificate_id);

  // revoked: cut off, final, refused at connect
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  auto revoked = admin.patch("/v1/certificates/" + device.certificate_id, R"({"status":"REVOKED"})");
  REQUIRE_STATUS(revoked, 200);
  check_documented("PATCH", "/v1/certificates/{id}", revoked);
  CHECK(revoked.str("/status") == "REVOKED");
  CHECK(stack.registry().find_certificate(device.certificate_id)->status == "REVOKED");
  CHECK(session.wait_disconnected(2s));
  session.disconnect();
  CHECK(admin.get("/v1/certificates?status=REVOKED").strings("/items", "id") == std::vector<std::string>{device.certificate_id});
  auto before = snapshot(stack);
  CHECK_ERROR(admin.patch("/v1/certificates/" + device.certificate_id, R"({"status":"ACTIVE"})"), 409, "Conflict");
  CHECK(snapshot(stack) == before);
  mqtt_session::Session again(stack.client(device.files, device.thing_name));
  CHECK_THROWS(again.connect());
}

TEST_CASE("admin API programmatic registration: with a CSR and with a key made by the service") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  const auto fleet_ca = pki::Certificate::load(stack.pki.fleet_ca_cert);

  SECTION("the service makes the key and returns it once") {
    auto reply = admin.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":"900"}})");
    REQUIRE_STATUS(reply, 201);
    check_documented("POST", "/v1/register", reply);
    CHECK(reply.str("/thingName") == "demo-900");
    CHECK(reply.str("/privateKey").find("PRIVATE KEY") != std::string::npos);
    CHECK(reply.str("/deviceConfiguration/telemetryTopic") == "devices/demo-900/telemetry");
    auto certificate = pki::Certificate::from_pem(reply.str("/certificatePem"));
    CHECK(certificate.id() == reply.str("/certificateId"));
    CHECK(certificate.issued_by(fleet_ca));
    auto thing = admin.get("/v1/things/demo-900");
    REQUIRE_STATUS(thing, 200);
    CHECK(thing.strings("/certificates", "id") == std::vector<std::string>{certificate.id()});
    CHECK(stack.registry().find_certificate(certificate.id())->status == "ACTIVE");
    // the key is not kept anywhere it can be read back
    CHECK(admin.get("/v1/certificates/" + certificate.id()).text.find("PRIVATE KEY") == std::string::npos);
  }

  SECTION("for a CSR: the certificate works with the device's own key") {
    auto key = pki::PrivateKey::generate_ec();
    std::string csr = pki::create_csr(key, {{"CN", "factory-device-901"}});
    auto reply = admin.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":"901"},)"
                                            R"("certificateSigningRequest":)" + json_text(csr) + "}");
    REQUIRE_STATUS(reply, 201);
    check_documented("POST", "/v1/register", reply);
    CHECK_FALSE(reply.has("/privateKey"));
    auto certificate = pki::Certificate::from_pem(reply.str("/certificatePem"));
    CHECK(certificate.issued_by(fleet_ca));
    CHECK(certificate.subject_field("CN") == "factory-device-901");
    REQUIRE(stack.registry().find_thing("demo-901"));
    CHECK(stack.registry().find_certificate(certificate.id())->thing_name == "demo-901");

    auto files = write_identity(stack, "demo-901", certificate.to_pem(), key.to_pem());
    mqtt_session::Session session(stack.client(files, "demo-901"));
    session.connect();
    CHECK(session.publish("devices/demo-901/telemetry", "{}") == 0);
    session.disconnect();
  }

  SECTION("an unusable CSR or a missing parameter registers nothing") {
    auto before = snapshot(stack);
    CHECK_ERROR(admin.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":"902"},)"
                                           R"("certificateSigningRequest":"not a CSR"})"),
                400, "InvalidCsr");
    CHECK_ERROR(admin.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{}})"), 400, "MissingParameter");
    CHECK_ERROR(admin.post("/v1/register", R"({"templateName":"NoSuchTemplate"})"), 404, "TemplateNotFound");
    CHECK(snapshot(stack) == before);
  }
}

TEST_CASE("admin API tokens: made with a role, listed without secrets, refused once deleted") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);

  auto factory = admin.post("/v1/tokens", R"({"name":"factory-line-1","role":"factory"})");
  REQUIRE_STATUS(factory, 201);
  check_documented("POST", "/v1/tokens", factory);
  CHECK(factory.str("/name") == "factory-line-1");
  CHECK(factory.str("/role") == "factory");
  const std::string factory_secret = factory.str("/token");
  REQUIRE(factory_secret.size() >= 20);
  auto operator_reply = admin.post("/v1/tokens", R"({"name":"night-shift","role":"operator"})");
  REQUIRE_STATUS(operator_reply, 201);
  const std::string operator_secret = operator_reply.str("/token");
  CHECK(operator_secret != factory_secret);
  CHECK(stack.registry().find_api_token("factory-line-1")->role == "factory");
  // stored as a hash only
  CHECK(query(stack, "SELECT count(*) FROM api_tokens WHERE token_hash = '" + factory_secret + "'").rows[0][0] == "0");

  Api factory_api(stack.admin_port, factory_secret);
  CHECK_STATUS(factory_api.get("/v1/templates"), 200);
  CHECK_STATUS(Api(stack.admin_port, operator_secret).get("/v1/audit"), 200);

  auto listed = admin.get("/v1/tokens");
  REQUIRE_STATUS(listed, 200);
  check_documented("GET", "/v1/tokens", listed);
  auto names = listed.strings("/items", "name");
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"bootstrap-admin", "factory-line-1", "night-shift"});
  for (const auto& item : listed.at("/items").GetArray()) CHECK_FALSE(item.HasMember("token"));
  for (const auto& secret : {factory_secret, operator_secret, stack.admin_token, sha256_hex(factory_secret), sha256_hex(stack.admin_token)})
    CHECK(listed.text.find(secret) == std::string::npos);

  auto before = snapshot(stack);
  CHECK_ERROR(admin.post("/v1/tokens", R"({"name":"factory-line-1","role":"admin"})"), 409, "Conflict");
  CHECK(snapshot(stack) == before);
  CHECK(stack.registry().find_api_token("factory-line-1")->role == "factory");

  CHECK_STATUS(admin.del("/v1/tokens/factory-line-1"), 204);
  CHECK_ERROR(factory_api.get("/v1/templates"), 401, "Unauthorized");
  CHECK_FALSE(contains(admin.get("/v1/tokens").strings("/items", "name"), "factory-line-1"));
  CHECK_FALSE(stack.registry().find_api_token("factory-line-1"));
  CHECK_ERROR(admin.del("/v1/tokens/factory-line-1"), 404, "NotFound");
}

TEST_CASE("admin API service identities: registered, listed, disabled and cut off, enabled, deleted, and provisiond's own stays") {
  Stack stack;
  World world(stack);
  Api& admin = world.admin;
  const std::string own = pki::Certificate::load(stack.pki.service_cert).id();

  // a factory server's identity: a certificate the broker trusts
  auto files = world.service_certificate("line-7");
  const std::string pem = read_file(files.certificate);
  const std::string id = pki::Certificate::from_pem(pem).id();
  auto created = admin.post("/v1/service-identities", R"({"name":"line-7","kind":"factory","certificatePem":)" + json_text(pem) + "}");
  REQUIRE_STATUS(created, 201);
  check_documented("POST", "/v1/service-identities", created);
  CHECK(created.str("/id") == id);
  CHECK(created.str("/kind") == "factory");
  CHECK(created.str("/status") == "ACTIVE");
  CHECK_FALSE(created.at("/thisProvisiond").GetBool());
  REQUIRE(stack.registry().find_service_identity(id));
  CHECK(stack.registry().find_service_identity(id)->kind == "factory");

  auto listed = admin.get("/v1/service-identities");
  REQUIRE_STATUS(listed, 200);
  check_documented("GET", "/v1/service-identities", listed);
  auto ids = listed.strings("/items", "id");
  std::sort(ids.begin(), ids.end());
  auto expected = std::vector<std::string>{own, id};
  std::sort(expected.begin(), expected.end());
  CHECK(ids == expected);
  for (const auto& item : listed.at("/items").GetArray())
    CHECK(item["thisProvisiond"].GetBool() == (json::string_member(item, "id") == own));
  auto got = admin.get("/v1/service-identities/" + id);
  REQUIRE_STATUS(got, 200);
  check_documented("GET", "/v1/service-identities/{id}", got);
  CHECK(got.str("/name") == "line-7");
  CHECK(Api(stack.admin_port, world.new_token("operator")).get("/v1/service-identities").status == 200);

  // it connects; disabled, it is cut off and refused
  {
    mqtt_session::Session session(stack.client(files, "line-7"));
    REQUIRE_NOTHROW(session.connect());
    auto disabled = admin.patch("/v1/service-identities/" + id, R"({"status":"INACTIVE"})");
    REQUIRE_STATUS(disabled, 200);
    check_documented("PATCH", "/v1/service-identities/{id}", disabled);
    CHECK(disabled.str("/status") == "INACTIVE");
    auto started = std::chrono::steady_clock::now();
    CHECK(session.wait_disconnected(2s));
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
    session.disconnect();
  }
  CHECK_THROWS(mqtt_session::Session(stack.client(files, "line-7b")).connect());
  // registered again: renamed, still disabled
  auto again = admin.post("/v1/service-identities", R"({"name":"line-7-renamed","kind":"factory","certificatePem":)" + json_text(pem) + "}");
  REQUIRE_STATUS(again, 200);
  check_documented("POST", "/v1/service-identities", again);
  CHECK(again.str("/name") == "line-7-renamed");
  CHECK(again.str("/status") == "INACTIVE");
  // enabled: it connects again
  CHECK_STATUS(admin.patch("/v1/service-identities/" + id, R"({"status":"ACTIVE","name":"line-7"})"), 200);
  CHECK(stack.registry().find_service_identity(id)->name == "line-7");
  CHECK_NOTHROW(mqtt_session::Session(stack.client(files, "line-7c")).connect());

  // the identity provisiond links with may not be disabled, deleted or made a factory's
  auto before = snapshot(stack);
  CHECK_ERROR(admin.patch("/v1/service-identities/" + own, R"({"status":"INACTIVE"})"), 409, "Conflict");
  CHECK_ERROR(admin.del("/v1/service-identities/" + own), 409, "Conflict");
  CHECK_ERROR(admin.post("/v1/service-identities", R"({"name":"x","kind":"factory","certificatePem":)" +
                                                      json_text(read_file(stack.pki.service_cert)) + "}"),
              409, "Conflict");
  CHECK(stack.registry().find_service_identity(own)->status == "ACTIVE");
  CHECK(stack.registry().find_service_identity(own)->kind == "worker");
  // bad input, named
  auto bad_pem = admin.post("/v1/service-identities", R"({"name":"x","certificatePem":"not a certificate"})");
  CHECK_ERROR(bad_pem, 400, "InvalidField");
  CHECK(bad_pem.str("/error/field") == "certificatePem");
  auto bad_kind = admin.post("/v1/service-identities", R"({"name":"x","kind":"emperor","certificatePem":)" + json_text(pem) + "}");
  CHECK(bad_kind.status == 400);
  CHECK(bad_kind.str("/error/field") == "kind");
  CHECK_ERROR(admin.patch("/v1/service-identities/" + id, R"({"status":"GONE"})"), 400, "InvalidField");
  CHECK(snapshot(stack) == before);

  // deleted: cut off, refused, gone
  {
    mqtt_session::Session session(stack.client(files, "line-7d"));
    REQUIRE_NOTHROW(session.connect());
    CHECK_STATUS(admin.del("/v1/service-identities/" + id), 204);
    CHECK(session.wait_disconnected(2s));
    session.disconnect();
  }
  CHECK_FALSE(stack.registry().find_service_identity(id));
  CHECK_ERROR(admin.get("/v1/service-identities/" + id), 404, "NotFound");
  CHECK_ERROR(admin.del("/v1/service-identities/" + id), 404, "NotFound");
  CHECK_ERROR(admin.patch("/v1/service-identities/" + id, R"({"status":"ACTIVE"})"), 404, "NotFound");

  // each change in the audit log under its action, with the identity as its subject
  auto audit = admin.get("/v1/audit?subject=" + id);
  std::vector<std::string> done;
  for (const auto& entry : audit.at("/items").GetArray())
    if (json::string_member(entry, "result") == std::string("ok")) done.emplace_back(*json::string_member(entry, "action"));
  CHECK(done == std::vector<std::string>{"DeleteServiceIdentity", "UpdateServiceIdentity", "RegisterServiceIdentity",
                                                                      "UpdateServiceIdentity", "RegisterServiceIdentity"});
  // provisioning still works
  CHECK(provision_device(stack, "after-identities").thing_name == "demo-after-identities");
}

TEST_CASE("admin API audit log: who did what to what from where with which result, filters and paging") {
  Stack stack;
  World world(stack);
  Api& admin = world.admin;
  const std::string factory_secret = world.new_token("factory", "line-7");
  const std::string operator_secret = world.new_token("operator", "auditor");
  Api factory(stack.admin_port, factory_secret), operator_api(stack.admin_port, operator_secret);
  const int64_t start = last_audit_id(stack);

  // changes that succeed, each audited once by its handler
  REQUIRE_STATUS(admin.post("/v1/templates", template_create("Audited")), 201);
  REQUIRE_STATUS(admin.patch("/v1/templates/Audited", R"({"description":"second"})"), 200);
  auto thing = world.new_thing();
  REQUIRE_STATUS(operator_api.patch("/v1/certificates/" + thing.certificate_id, R"({"status":"REVOKED"})"), 200);
  // changes that fail, audited with the status as result
  CHECK_STATUS(factory.post("/v1/templates", template_create("Sneaky")), 403);
  CHECK_STATUS(admin.post("/v1/templates", template_create("Audited")), 409);
  CHECK_STATUS(admin.del("/v1/policies/NoSuchPolicy"), 404);
  CHECK_STATUS(admin.post("/v1/policies", R"({"name":"P","document":{},"colour":"red"})"), 400);
  // reads are not audited
  const int64_t before_reads = last_audit_id(stack);
  CHECK_STATUS(admin.get("/v1/templates/Audited"), 200);
  CHECK_STATUS(operator_api.get("/v1/audit"), 200);
  CHECK(last_audit_id(stack) == before_reads);
  // requests without a valid token are, as failed attempts (docs/admin.md, "Tokens and roles")
  CHECK_STATUS(Api(stack.admin_port, "").post("/v1/templates", template_create("Anonymous")), 401);
  CHECK_STATUS(Api(stack.admin_port, "forged").del("/v1/templates/Audited"), 401);

  auto rows = audit_since(stack, start);
  INFO(describe(rows));
  REQUIRE(rows.size() == 10);  // 3 changes, 1 registration, 4 refused changes, 2 failed attempts
  for (size_t i : {8, 9}) {
    CHECK(rows[i].actor == "unknown");
    CHECK(rows[i].action == "AuthenticationFailed");
    CHECK(rows[i].result == "401");
    CHECK(rows[i].source == "127.0.0.1");
  }
  CHECK(rows[8].subject == "POST /v1/templates");
  CHECK_THAT(rows[8].detail, Catch::Contains("missing bearer token"));
  CHECK(rows[9].subject == "DELETE /v1/templates/{name}");
  CHECK_THAT(rows[9].detail, Catch::Contains("unknown token"));
  auto expect = [&](size_t i, const std::string& actor, const std::string& action, const std::string& subject,
                    const std::string& result) {
    INFO("audit row " << i);
    CHECK(rows[i].actor == actor);
    CHECK(rows[i].action == action);
    CHECK(rows[i].subject == subject);
    CHECK(rows[i].result == result);
    CHECK(rows[i].source == "127.0.0.1");
  };
  expect(0, "api:bootstrap-admin", "CreateTemplate", "Audited", "ok");
  expect(1, "api:bootstrap-admin", "UpdateTemplate", "Audited", "ok");
  expect(2, "api:bootstrap-admin", "RegisterThingProgrammatically", thing.thing_name, "ok");
  expect(3, "api:auditor", "RevokeCertificate", thing.certificate_id, "ok");
  auto detail = json::parse(rows[3].detail);
  CHECK(json::string_member(detail, "from") == std::optional<std::string>("ACTIVE"));
  CHECK(json::string_member(detail, "to") == std::optional<std::string>("REVOKED"));
  // refused changes: the action and subject a success would have had, the request in the detail
  // a role that may not is refused before the body is read (docs/admin.md): the
  // name in the body is not known, the request line is
  expect(4, "api:line-7", "CreateTemplate", "", "403");
  CHECK(json::string_member(json::parse(rows[4].detail), "request") == std::optional<std::string>("POST /v1/templates"));
  expect(5, "api:bootstrap-admin", "CreateTemplate", "Audited", "409");
  expect(6, "api:bootstrap-admin", "DeletePolicy", "NoSuchPolicy", "404");
  expect(7, "api:bootstrap-admin", "CreatePolicy", "P", "400");
  for (size_t i = 4; i < 8; ++i) CHECK(rows[i].source == "127.0.0.1");

  SECTION("GET /v1/audit: the same entries, newest first, filtered by subject, actor and action") {
    auto recent = operator_api.get("/v1/audit?limit=10");
    REQUIRE_STATUS(recent, 200);
    check_documented("GET", "/v1/audit", recent);
    REQUIRE(recent.size("/items") == 10);
    CHECK(recent.num("/items/0/id") == rows[9].id);
    CHECK(recent.num("/items/9/id") == rows[0].id);
    CHECK(recent.str("/items/0/action") == "AuthenticationFailed");
    CHECK(recent.str("/items/6/action") == "RevokeCertificate");
    CHECK(recent.str("/items/6/actor") == "api:auditor");
    CHECK(recent.str("/items/6/detail/to") == "REVOKED");

    auto by_subject = operator_api.get("/v1/audit?subject=Audited");
    REQUIRE_STATUS(by_subject, 200);
    std::vector<std::string> actions;
    for (const auto& item : by_subject.at("/items").GetArray()) {
      CHECK(json::string_member(item, "subject") == std::optional<std::string>("Audited"));
      if (json::string_member(item, "result") == std::optional<std::string>("ok")) actions.push_back(*json::string_member(item, "action"));
    }
    CHECK(actions == std::vector<std::string>{"UpdateTemplate", "CreateTemplate"});
    CHECK(by_subject.strings("/items", "result") == std::vector<std::string>{"409", "ok", "ok"});
    auto by_actor = operator_api.get("/v1/audit?actor=api:line-7");
    CHECK(by_actor.strings("/items", "result") == std::vector<std::string>{"403"});
    auto by_action = operator_api.get("/v1/audit?action=RevokeCertificate");
    CHECK(by_action.strings("/items", "subject") == std::vector<std::string>{thing.certificate_id});
    CHECK(operator_api.get("/v1/audit?until=0").size("/items") == 0);
    CHECK(operator_api.get("/v1/audit?since=" + std::to_string(std::time(nullptr) + 3600)).size("/items") == 0);
  }

  SECTION("paging through one action's entries") {
    for (int i = 1; i <= 5; ++i) REQUIRE_STATUS(admin.post("/v1/templates", template_create("Paged-" + std::to_string(i))), 201);
    int pages = 0;
    auto ids = all_pages(operator_api, "/v1/audit?action=CreateTemplate", "id", 2, &pages);
    REQUIRE(ids.size() == 8);  // Audited, the refused Sneaky and Audited again, and Paged-1..5
    CHECK(pages == 5);         // 2 + 2 + 2 + 2, then an empty last page
    std::vector<int64_t> numbers;
    for (const auto& id : ids) numbers.push_back(std::stoll(id));
    CHECK(std::is_sorted(numbers.rbegin(), numbers.rend()));
    CHECK(std::set<int64_t>(numbers.begin(), numbers.end()).size() == 8);
    auto subjects = all_pages(operator_api, "/v1/audit?action=CreateTemplate", "subject", 4);
    CHECK(subjects.front() == "Paged-5");
    CHECK(subjects.back() == "Audited");
  }
}

// ======================================================================= roles

TEST_CASE("admin API roles: each role may do what x-roles of openapi.json says, and is refused the rest") {
  Stack stack;
  World world(stack);
  const auto& api = openapi();
  auto roles = api.roles();
  CHECK(roles.count("admin") == 1);
  CHECK(roles.count("factory") == 1);
  CHECK(roles.count("operator") == 1);
  std::map<std::string, Api> clients;
  for (const auto& role : roles) clients.emplace(role, Api(stack.admin_port, world.new_token(role, "role-" + role)));

  for (const auto& op : api.operations()) {
    INFO(op.key());
    if (!op.needs_token()) {
      // no token needed, none asked for
      CHECK(Api(stack.admin_port, "").call(op.method, op.pattern).status == 200);
      continue;
    }
    auto fixture = fixtures().find(op.key());
    if (fixture == fixtures().end()) WARN("no valid request known for " + op.key() + ": only refusals are checked");
    for (const auto& role : roles) {
      INFO("role " + role);
      const Api& client = clients.at(role);
      if (contains(op.roles, role)) {
        if (fixture == fixtures().end()) continue;
        auto reply = send(client, fixture->second(world));
        INFO(reply.describe());
        CHECK(reply.status == op.success_status());
        auto problem = api.violation(op, reply);
        INFO(problem.value_or(""));
        CHECK_FALSE(problem.has_value());
      } else {
        Request request = fixture != fixtures().end()
                              ? fixture->second(world)
                              : Request{op.method, fill(op.pattern, "x"), op.has_body() ? std::optional<std::string>("{}") : std::nullopt};
        auto before = snapshot(stack);
        auto reply = send(client, request);
        CHECK_ERROR(reply, 403, "Forbidden");
        CHECK(op.documents(403));
        CHECK(snapshot(stack) == before);
      }
    }
  }

  SECTION("an operator may revoke or disable a certificate but not enable it, an admin may") {
    Api& operator_api = clients.at("operator");
    auto thing = world.new_thing();
    const std::string path = "/v1/certificates/" + thing.certificate_id;
    auto disabled = operator_api.patch(path, R"({"status":"INACTIVE"})");
    CHECK_STATUS(disabled, 200);
    CHECK(stack.registry().find_certificate(thing.certificate_id)->status == "INACTIVE");
    auto before = snapshot(stack);
    CHECK_ERROR(operator_api.patch(path, R"({"status":"ACTIVE"})"), 403, "Forbidden");
    CHECK_ERROR(clients.at("factory").patch(path, R"({"status":"ACTIVE"})"), 403, "Forbidden");
    CHECK(snapshot(stack) == before);
    CHECK_STATUS(world.admin.patch(path, R"({"status":"ACTIVE"})"), 200);
    CHECK(stack.registry().find_certificate(thing.certificate_id)->status == "ACTIVE");
    CHECK_STATUS(operator_api.patch(path, R"({"status":"REVOKED"})"), 200);
    CHECK(stack.registry().find_certificate(thing.certificate_id)->status == "REVOKED");
  }
}

TEST_CASE("admin API roles: an activator looks up and activates and disables enrollments and reads the templates they name and nothing else") {
  Stack stack;
  World world(stack);
  Api activator(stack.admin_port, world.new_token("activator"));
  std::string id = world.new_enrollment();  // names DemoFleet
  std::string broker = world.new_broker();
  CHECK(activator.get("/v1/enrollments/" + id).str("/status") == "DISABLED");
  CHECK_STATUS(activator.get("/v1/enrollments?status=DISABLED"), 200);
  CHECK_STATUS(activator.get("/v1/brokers"), 200);
  CHECK_STATUS(activator.get("/v1/templates/DemoFleet"), 200);
  CHECK_STATUS(activator.get("/v1/templates/DemoFleet/versions/1"), 200);
  auto activated = activator.post("/v1/enrollments/" + id + "/activate",
                                  R"({"attributes":{"chassis":"C-1"},"configuration":{"site":"north"},"broker":)" + json_text(broker) + "}");
  CHECK_STATUS(activated, 200);
  CHECK(activated.str("/status") == "ENABLED");
  CHECK(stack.registry().find_enrollment(id)->broker == broker);
  CHECK(activator.post("/v1/enrollments/" + id + "/disable", "").str("/status") == "DISABLED");
  // a template no enrollment names, and everything else: refused, nothing written
  std::string other = world.new_template();
  auto before = snapshot(stack);
  CHECK_ERROR(activator.get("/v1/templates/" + other), 403, "Forbidden");
  CHECK_ERROR(activator.get("/v1/templates/" + other + "/versions/1"), 403, "Forbidden");
  CHECK_ERROR(activator.get("/v1/templates"), 403, "Forbidden");
  CHECK_ERROR(activator.get("/v1/things"), 403, "Forbidden");
  CHECK_ERROR(activator.get("/v1/audit"), 403, "Forbidden");
  CHECK_ERROR(activator.post("/v1/enrollments", R"({"registrationId":"SN-new","templateName":"DemoFleet"})"), 403, "Forbidden");
  CHECK_ERROR(activator.post("/v1/enrollments/" + id + "/reset", ""), 403, "Forbidden");
  CHECK_ERROR(activator.del("/v1/enrollments/" + id), 403, "Forbidden");
  CHECK_ERROR(activator.post("/v1/tokens", R"({"name":"mine","role":"admin"})"), 403, "Forbidden");
  CHECK(snapshot(stack) == before);
  // the token is made by provisiond too
  CHECK_FALSE(stack.provisiond({"token", "create", "activator-cli", "--role", "activator"}).empty());
  CHECK(stack.registry().find_api_token("activator-cli")->role == "activator");
}

// ======================================================================= errors

TEST_CASE("admin API errors: 400 names the field, 401, 403, 404, 409, 413, and nothing is written") {
  Stack stack;
  World world(stack);
  Api& admin = world.admin;
  // a device whose certificate holds DemoDevicePolicy; DemoFleet is allowed by the claim
  auto thing = world.new_thing();
  auto before = snapshot(stack);
  world.new_policy();  // the snapshot sees a change
  CHECK(snapshot(stack) != before);
  before = snapshot(stack);
  auto unchanged = [&] {
    auto after = snapshot(stack);
    CHECK(after == before);
  };
  auto check_field = [&](const Reply& reply, const std::string& field) {
    CHECK_ERROR(reply, 400, "InvalidField");
    CHECK(reply.str("/error/field") == field);
    CHECK(reply.str("/error/message").find(field) != std::string::npos);
    unchanged();
  };

  SECTION("400: missing required field, wrong type, unknown field, bad query parameters, bad JSON") {
    check_field(admin.post("/v1/templates", R"({"body":{}})"), "name");
    check_field(admin.post("/v1/policies", R"({"name":"P"})"), "document");
    check_field(admin.patch("/v1/certificates/" + thing.certificate_id, R"({})"), "status");
    check_field(admin.post("/v1/templates", R"({"name":5,"body":{}})"), "name");
    check_field(admin.post("/v1/claims", R"({"templates":"DemoFleet"})"), "templates");
    check_field(admin.patch("/v1/templates/DemoFleet", R"({"enabled":"no"})"), "enabled");
    check_field(admin.post("/v1/policies", R"({"name":"P","document":)" + kPolicyDocument + R"(,"colour":"red"})"), "colour");
    check_field(admin.post("/v1/tokens", R"({"name":"t","role":"admin","expires":1})"), "expires");
    check_field(admin.post("/v1/claims", R"({"templates":["DemoFleet","NoSuchTemplate"]})"), "templates[1]");
    check_field(admin.post("/v1/claims", R"({"templates":["DemoFleet"],"validitySeconds":5})"), "validitySeconds");
    check_field(admin.post("/v1/tokens", R"({"name":"t","role":"superuser"})"), "role");
    check_field(admin.patch("/v1/templates/DemoFleet", R"({"defaultVersion":7})"), "defaultVersion");
    check_field(admin.get("/v1/templates?limit=0"), "limit");
    check_field(admin.get("/v1/things?limit=501"), "limit");
    check_field(admin.get("/v1/certificates?limit=ten"), "limit");
    check_field(admin.get("/v1/templates?enabled=maybe"), "enabled");
    check_field(admin.get("/v1/certificates?status=GONE"), "status");
    check_field(admin.get("/v1/audit?since=yesterday"), "since");
    check_field(admin.get("/v1/audit?after=abc"), "after");
    check_field(admin.get("/v1/templates/DemoFleet/versions/first"), "version");
    auto bad_json = admin.post("/v1/templates", R"({"name":"x","body":{)");
    CHECK_ERROR(bad_json, 400, "InvalidJson");
    unchanged();
    // a wrong nested field is named by its path
    auto nested = admin.post("/v1/policies", R"({"name":"P","document":{"statements":[{"effect":"allow","actions":["fly"]}]}})");
    CHECK_ERROR(nested, 400, "InvalidPolicy");
    CHECK(nested.str("/error/field").starts_with("document.statements[0].actions"));
    unchanged();
  }

  SECTION("401: no token, an unknown token, another scheme") {
    CHECK_ERROR(Api(stack.admin_port, "").get("/v1/templates"), 401, "Unauthorized");
    CHECK_ERROR(Api(stack.admin_port, "").post("/v1/templates", template_create("X")), 401, "Unauthorized");
    CHECK_ERROR(Api(stack.admin_port, "not-a-token").del("/v1/templates/DemoFleet"), 401, "Unauthorized");
    CHECK_ERROR(Api::with_authorization(stack.admin_port, "Basic " + stack.admin_token).get("/v1/templates"), 401, "Unauthorized");
    CHECK_ERROR(Api::with_authorization(stack.admin_port, "Bearer ").get("/v1/templates"), 401, "Unauthorized");
    CHECK_ERROR(Api(stack.admin_port, stack.admin_token + "x").get("/v1/templates"), 401, "Unauthorized");
    unchanged();
  }

  SECTION("403: a role that may not") {
    Api factory(stack.admin_port, world.new_token("factory"));
    before = snapshot(stack);
    CHECK_ERROR(factory.post("/v1/templates", template_create("X")), 403, "Forbidden");
    CHECK_ERROR(factory.del("/v1/policies/DemoDevicePolicy"), 403, "Forbidden");
    CHECK_ERROR(factory.patch("/v1/certificates/" + thing.certificate_id, R"({"status":"ACTIVE"})"), 403, "Forbidden");
    CHECK_ERROR(factory.get("/v1/audit"), 403, "Forbidden");
    unchanged();
  }

  SECTION("404: unknown resources and unknown routes") {
    CHECK_ERROR(admin.get("/v1/templates/NoSuchTemplate"), 404, "NotFound");
    CHECK_ERROR(admin.patch("/v1/templates/NoSuchTemplate", R"({"enabled":false})"), 404, "NotFound");
    CHECK_ERROR(admin.del("/v1/policies/NoSuchPolicy"), 404, "NotFound");
    CHECK_ERROR(admin.get("/v1/things/no-such-thing"), 404, "NotFound");
    CHECK_ERROR(admin.get("/v1/things/no-such-thing/certificates"), 404, "NotFound");
    CHECK_ERROR(admin.patch("/v1/certificates/" + std::string(64, 'a'), R"({"status":"REVOKED"})"), 404, "NotFound");
    CHECK_ERROR(admin.del("/v1/claims/" + std::string(64, 'b')), 404, "NotFound");
    CHECK_ERROR(admin.get("/v1/cas/" + std::string(64, 'c')), 404, "NotFound");
    CHECK_ERROR(admin.del("/v1/templates/DemoFleet/versions/99"), 404, "NotFound");
    CHECK_ERROR(admin.get("/v1/nonexistent"), 404, "NotFound");
    CHECK_ERROR(admin.get("/v2/templates"), 404, "NotFound");
    CHECK_ERROR(admin.post("/v1/templates/DemoFleet/publish", "{}"), 404, "NotFound");
    unchanged();
  }

  SECTION("409: names taken, a version in use, an attached policy, a template a claim allows") {
    CHECK_ERROR(admin.post("/v1/templates", template_create("DemoFleet")), 409, "Conflict");
    CHECK_ERROR(admin.post("/v1/policies", R"({"name":"DemoDevicePolicy","document":)" + kPolicyDocument + "}"), 409, "Conflict");
    CHECK_ERROR(admin.del("/v1/templates/DemoFleet/versions/1"), 409, "Conflict");
    CHECK_ERROR(admin.del("/v1/policies/DemoDevicePolicy"), 409, "Conflict");
    CHECK_ERROR(admin.del("/v1/templates/DemoFleet"), 409, "Conflict");
    unchanged();
    CHECK(stack.registry().find_template("DemoFleet")->default_version == 1);
    CHECK(stack.registry().find_policy("DemoDevicePolicy"));
  }

  SECTION("413: a body over 1 MiB, and the server goes on serving") {
    std::string big = R"({"name":"Big","body":{"Description":")" + std::string(1 << 20, 'x') + R"("}})";
    auto reply = admin.post("/v1/templates", big);
    CHECK_ERROR(reply, 413, "PayloadTooLarge");
    auto policy = admin.put("/v1/policies/DemoDevicePolicy", R"({"document":{"description":")" + std::string((1 << 20) + 1, 'y') + R"("}})");
    CHECK_ERROR(policy, 413, "PayloadTooLarge");
    unchanged();
    CHECK_FALSE(stack.registry().find_template("Big"));
    CHECK_STATUS(admin.get("/v1/templates"), 200);
  }
}

TEST_CASE("admin API templates with errors are refused with the JSON path of each problem") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  auto before = snapshot(stack);

  auto refused = admin.post("/v1/templates", template_create("Broken", R"({"Parameters":{"P":{"Type":"Integer","Colour":"x"}}})"));
  CHECK_ERROR(refused, 400, "InvalidTemplate");
  check_documented("POST", "/v1/templates", refused);
  CHECK(refused.str("/error/field") == "body.Parameters.P.Type");
  CHECK(refused.strings("/error/details", "path") == std::vector<std::string>{"$.Parameters.P.Type", "$.Parameters.P.Colour"});
  for (const auto& message : refused.strings("/error/details", "message")) CHECK_FALSE(message.empty());
  CHECK_FALSE(stack.registry().find_template("Broken"));

  auto deep = admin.post("/v1/templates/DemoFleet/versions",
                         R"({"body":{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"t"},)"
                         R"("OverrideSettings":{"ThingName":"REPLACE"}}}}})");
  CHECK_ERROR(deep, 400, "InvalidTemplate");
  check_documented("POST", "/v1/templates/{name}/versions", deep);
  CHECK(deep.str("/error/field") == "body.Resources.thing.OverrideSettings.ThingName");
  CHECK(deep.strings("/error/details", "path") == std::vector<std::string>{"$.Resources.thing.OverrideSettings.ThingName"});
  CHECK(stack.registry().template_versions("DemoFleet").size() == 1);

  CHECK(snapshot(stack) == before);
}

// ======================================================================= dry run, deprovision

TEST_CASE("admin API dry run: says what a registration would do and writes nothing") {
  Stack stack;
  World world(stack);
  Api factory(stack.admin_port, world.new_token("factory"));
  // a thing that exists (serialNumber kept-1), and templates that would keep, merge or refuse its attributes
  REQUIRE_STATUS(world.admin.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":"kept-1"}})"), 201);
  auto overriding = [](const char* mode) {
    return std::string(R"({"Parameters":{"SerialNumber":{"Type":"String"},"Batch":{"Type":"String"}},)"
                       R"("Resources":{"thing":{"Type":"AWS::IoT::Thing","OverrideSettings":{"AttributePayload":")") +
           mode +
           R"("},"Properties":{"ThingName":{"Fn::Join":["",["demo-",{"Ref":"SerialNumber"}]]},)"
           R"("AttributePayload":{"batch":{"Ref":"Batch"}}}}}})";
  };
  // (re-provisioning the device's thing is what these templates allow)
  auto reprovisioning = [](const std::string& create) { return create.substr(0, create.size() - 1) + R"(,"reprovisioning":"replace"})"; };
  REQUIRE_STATUS(world.admin.post("/v1/templates", reprovisioning(template_create("Merging", overriding("MERGE")))), 201);
  REQUIRE_STATUS(world.admin.post("/v1/templates", reprovisioning(template_create("Failing", overriding("FAIL")))), 201);
  REQUIRE_STATUS(world.admin.post("/v1/templates", reprovisioning(template_create("Keeping", overriding("DO_NOTHING")))), 201);
  const auto before = snapshot(stack);
  const int64_t things = stack.registry().count_things();
  const int64_t certificates = count_rows(stack, "certificates");
  const int64_t audit = last_audit_id(stack);

  auto created = factory.post("/v1/templates/DemoFleet/dry-run", R"({"parameters":{"SerialNumber":"new-1"}})");
  REQUIRE_STATUS(created, 200);
  check_documented("POST", "/v1/templates/{name}/dry-run", created);
  CHECK(created.str("/template") == "DemoFleet");
  CHECK(created.num("/version") == 1);
  CHECK(created.str("/thing/name") == "demo-new-1");
  CHECK(created.str("/thing/action") == "create");
  CHECK_FALSE(created.flag("/thing/exists"));
  CHECK(created.str("/thing/attributes/serialNumber") == "new-1");
  CHECK(created.str("/certificateStatus") == "ACTIVE");
  CHECK(created.strings("/policies", "name") == std::vector<std::string>{"DemoDevicePolicy"});
  CHECK(created.flag("/policies/0/exists"));
  CHECK(created.str("/deviceConfiguration/telemetryTopic") == "devices/demo-new-1/telemetry");
  CHECK_FALSE(created.flag("/written"));

  // DemoFleet does not allow re-provisioning: another device's thing is refused
  auto taken = factory.post("/v1/templates/DemoFleet/dry-run", R"({"parameters":{"SerialNumber":"kept-1"}})");
  REQUIRE_STATUS(taken, 200);
  check_documented("POST", "/v1/templates/{name}/dry-run", taken);
  CHECK(taken.flag("/thing/exists"));
  CHECK(taken.num("/thing/registeredCertificates") == 1);
  CHECK(taken.str("/thing/action") == "fail");
  CHECK(taken.str("/thing/failure").starts_with("ReprovisioningNotAllowed: "));

  auto kept = factory.post("/v1/templates/Keeping/dry-run", R"({"parameters":{"SerialNumber":"kept-1","Batch":"b7"}})");
  REQUIRE_STATUS(kept, 200);
  CHECK(kept.flag("/thing/exists"));
  CHECK(kept.str("/thing/action") == "keep");

  auto merged = world.admin.post("/v1/templates/Merging/dry-run", R"({"parameters":{"SerialNumber":"kept-1","Batch":"b7"}})");
  REQUIRE_STATUS(merged, 200);
  check_documented("POST", "/v1/templates/{name}/dry-run", merged);
  CHECK(merged.str("/thing/action") == "update");
  CHECK(merged.str("/thing/attributes/batch") == "b7");
  CHECK(merged.str("/thing/attributes/serialNumber") == "kept-1");

  auto failing = world.admin.post("/v1/templates/Failing/dry-run", R"({"parameters":{"SerialNumber":"kept-1","Batch":"b7"}})");
  REQUIRE_STATUS(failing, 200);
  CHECK(failing.str("/thing/action") == "fail");

  // with a sample certificate
  auto sample = factory.post("/v1/templates/DemoFleet/dry-run",
                             R"({"parameters":{"SerialNumber":"new-2"},"certificatePem":)" +
                                 json_text(read_file(stack.pki.claim_cert)) + R"(,"version":1})");
  CHECK_STATUS(sample, 200);

  CHECK(snapshot(stack) == before);
  CHECK(stack.registry().count_things() == things);
  CHECK(count_rows(stack, "certificates") == certificates);
  CHECK(last_audit_id(stack) == audit);
  CHECK(stack.registry().find_thing("demo-kept-1")->attributes == std::map<std::string, std::string>{{"serialNumber", "kept-1"}});
  CHECK_FALSE(stack.registry().find_thing("demo-new-1"));
}

TEST_CASE("admin API deprovision: cuts a connected device off, removes its certificates and thing, and is idempotent") {
  Stack stack;
  World world(stack);
  Api operator_api(stack.admin_port, world.new_token("operator", "ops"));
  auto device = provision_device(stack, "801");
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  REQUIRE(session.publish("devices/demo-801/telemetry", "{}") == 0);

  auto first = operator_api.post("/v1/things/demo-801/deprovision");
  REQUIRE_STATUS(first, 200);
  check_documented("POST", "/v1/things/{name}/deprovision", first);
  CHECK(first.str("/thingName") == "demo-801");
  CHECK(first.flag("/existed"));
  CHECK(first.strings("/certificatesRemoved", "") == std::vector<std::string>{device.certificate_id});
  CHECK(session.wait_disconnected(2s));
  session.disconnect();

  CHECK_FALSE(stack.registry().find_thing("demo-801"));
  CHECK_FALSE(stack.registry().find_certificate(device.certificate_id));
  CHECK(stack.registry().certificates_of_thing("demo-801").empty());
  CHECK_ERROR(operator_api.get("/v1/things/demo-801"), 404, "NotFound");
  CHECK_ERROR(operator_api.get("/v1/certificates/" + device.certificate_id), 404, "NotFound");
  CHECK(stack.registry().count_policy_attachments("DemoDevicePolicy") == 0);
  auto audited = audit_since(stack, 0);
  CHECK(std::any_of(audited.begin(), audited.end(), [](const AuditRow& r) {
    return r.action == "DeprovisionThing" && r.subject == "demo-801" && r.actor == "api:ops" && r.result == "ok";
  }));

  mqtt_session::Session again(stack.client(device.files, device.thing_name));
  CHECK_THROWS(again.connect());

  auto second = operator_api.post("/v1/things/demo-801/deprovision");
  REQUIRE_STATUS(second, 200);
  check_documented("POST", "/v1/things/{name}/deprovision", second);
  CHECK_FALSE(second.flag("/existed"));
  CHECK(second.size("/certificatesRemoved") == 0);
}

// ======================================================================= the contract

TEST_CASE("admin API factory: registers and unregisters things, in one call or step by step, each step idempotent") {
  Stack stack;
  World world(stack);
  Api factory(stack.admin_port, world.new_token("factory", "line-9"));

  SECTION("deprovision in one call") {
    auto device = provision_device(stack, "901");
    auto done = factory.post("/v1/things/demo-901/deprovision");
    REQUIRE_STATUS(done, 200);
    CHECK(done.strings("/certificatesRemoved", "") == std::vector<std::string>{device.certificate_id});
    CHECK_FALSE(stack.registry().find_thing("demo-901"));
  }

  SECTION("step by step, as a programmatic client undoes a registration") {
    auto registered = factory.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":"902"}})");
    REQUIRE_STATUS(registered, 201);
    const std::string id = registered.str("/certificateId");
    mqtt_session::Session session(stack.client({(stack.dir / "902.pem").string(), (stack.dir / "902.key").string()}, "demo-902"));
    write_file(stack.dir / "902.pem", registered.str("/certificatePem"), 0644);
    write_file(stack.dir / "902.key", registered.str("/privateKey"), 0600);
    session.connect();

    auto listed = factory.get("/v1/things/demo-902/certificates");
    REQUIRE_STATUS(listed, 200);
    check_documented("GET", "/v1/things/{name}/certificates", listed);
    CHECK(listed.strings("/items", "id") == std::vector<std::string>{id});

    // an ACTIVE or attached certificate is not deleted
    CHECK_ERROR(factory.del("/v1/certificates/" + id), 409, "Conflict");
    auto disabled = factory.patch("/v1/certificates/" + id, R"({"status":"INACTIVE"})");
    REQUIRE_STATUS(disabled, 200);
    CHECK(session.wait_disconnected(2s));  // an inactive certificate is cut off
    CHECK_ERROR(factory.patch("/v1/certificates/" + id, R"({"status":"ACTIVE"})"), 403, "Forbidden");
    REQUIRE_STATUS(factory.patch("/v1/certificates/" + id, R"({"status":"INACTIVE"})"), 200);  // again: the same
    CHECK_ERROR(factory.del("/v1/certificates/" + id), 409, "Conflict");                      // still attached

    for (int i = 0; i < 2; ++i) {
      auto detached = factory.del("/v1/things/demo-902/certificates/" + id);
      INFO(i);
      REQUIRE_STATUS(detached, 204);
      check_documented("DELETE", "/v1/things/{name}/certificates/{id}", detached);
    }
    CHECK_FALSE(stack.registry().find_certificate(id)->thing_name);
    CHECK(factory.get("/v1/things/demo-902/certificates").json["items"].Size() == 0);

    for (int i = 0; i < 2; ++i) {
      auto deleted = factory.del("/v1/certificates/" + id);
      INFO(i);
      REQUIRE_STATUS(deleted, 204);
      check_documented("DELETE", "/v1/certificates/{id}", deleted);
    }
    CHECK_FALSE(stack.registry().find_certificate(id));
    for (int i = 0; i < 2; ++i) {
      auto deleted = factory.del("/v1/things/demo-902");
      INFO(i);
      REQUIRE_STATUS(deleted, 204);
      check_documented("DELETE", "/v1/things/{name}", deleted);
    }
    CHECK_FALSE(stack.registry().find_thing("demo-902"));
    // each step is in the audit log under the factory's token
    auto audit = world.admin.get("/v1/audit?actor=api:line-9&limit=50");
    REQUIRE_STATUS(audit, 200);
    auto actions = audit.strings("/items", "action");
    for (const char* action : {"RegisterThingProgrammatically", "DeactivateCertificate", "DetachCertificate", "DeleteCertificate", "DeleteThing"})
      CHECK(std::count(actions.begin(), actions.end(), action) >= 1);
  }
}

TEST_CASE("admin API conformance: every operation of openapi.json answers as documented") {
  // Every operation is also called without a token: more failed attempts
  // from one address than the default allows before 429.
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  {
    auto config = json::parse(read_file(stack.config_file), "provisiond.json");
    auto& a = config.GetAllocator();
    rapidjson::Value attempts(rapidjson::kObjectType);
    attempts.AddMember("burst", 100000, a);
    attempts.AddMember("perMinute", 100000, a);
    config["adminApi"].AddMember("failedAttempts", attempts, a);
    write_file(stack.config_file, json::stringify(config), 0644);
  }
  stack.start_worker();
  World world(stack);
  const auto& api = openapi();
  std::map<std::string, Api> clients;
  for (const auto& role : api.roles()) clients.emplace(role, Api(stack.admin_port, world.new_token(role, "conformance-" + role)));
  Api anonymous(stack.admin_port, "");
  REQUIRE(api.operations().size() >= 40);
  {
    // the checker itself: a body that breaks the schema is caught
    auto wrong = Reply{};
    wrong.status = 200;
    wrong.content_type = "application/json";
    wrong.json.Parse(R"({"items":[{"name":5}]})");
    CHECK(api.violation(*api.find("GET", "/v1/templates"), wrong).has_value());
    wrong.status = 299;
    CHECK(api.violation(*api.find("GET", "/v1/templates"), wrong).has_value());
  }

  for (const auto& op : api.operations()) {
    INFO(op.key());
    auto fixture = fixtures().find(op.key());
    CHECK(fixture != fixtures().end());  // a documented operation this test cannot exercise
    if (fixture == fixtures().end()) continue;
    const Api& client = op.needs_token() ? clients.at(op.roles.at(0)) : anonymous;

    // a valid request
    auto request = fixture->second(world);
    auto reply = send(client, request);
    INFO(reply.describe());
    CHECK(reply.status >= 200);
    CHECK(reply.status < 300);
    auto problem = api.violation(op, reply);
    INFO(problem.value_or(""));
    CHECK_FALSE(problem.has_value());
    if (!op.needs_token()) continue;

    // without a token
    auto unauthorised = send(anonymous, request);
    CHECK(unauthorised.status == 401);
    CHECK_FALSE(api.violation(op, unauthorised).has_value());

    // for something that does not exist
    if (op.pattern.find('{') != std::string::npos) {
      Request missing{op.method, fill(op.pattern, op.pattern.find("{version}") != std::string::npos ? "999" : "no-such-thing"),
                      request.body};
      auto absent = send(client, missing);
      INFO(absent.describe());
      CHECK_FALSE(api.violation(op, absent).has_value());
      CHECK(((absent.status >= 200 && absent.status < 300) || absent.status == 404 || absent.status == 400));
    }
    // with a field no schema has
    if (op.has_body()) {
      Request target = fixture->second(world);
      auto before = snapshot(stack);
      auto unknown = send(client, Request{target.method, target.path, R"({"noSuchField":1})"});
      INFO(unknown.describe());
      CHECK(unknown.status == 400);
      CHECK(unknown.str("/error/field") == "noSuchField");
      CHECK_FALSE(api.violation(op, unknown).has_value());
      // over the size limit
      auto large = send(client, Request{target.method, target.path, R"({"x":")" + std::string(1 << 20, 'x') + R"("})"});
      INFO(large.describe());
      CHECK(large.status == 413);
      CHECK_FALSE(api.violation(op, large).has_value());
      CHECK(snapshot(stack) == before);
    }
    // with a bad page size
    if (op.has_query("limit")) {
      auto bad = client.get(op.pattern + "?limit=0");
      CHECK(bad.status == 400);
      CHECK(bad.str("/error/field") == "limit");
      CHECK_FALSE(api.violation(op, bad).has_value());
    }
  }

  SECTION("what the server answers is documented: other methods and paths are 404/405 with a JSON error") {
    const auto& admin = clients.at("admin");
    std::set<std::string> patterns;
    for (const auto& op : api.operations()) patterns.insert(op.pattern);
    for (const auto& pattern : patterns) {
      std::string path = fill(pattern, "x");
      for (const char* method : kMethods) {
        if (api.find(upper(method), pattern)) continue;
        auto reply = admin.call(upper(method), path, upper(method) == "GET" || upper(method) == "DELETE"
                                                         ? std::nullopt
                                                         : std::optional<std::string>("{}"));
        INFO(reply.describe());
        CHECK((reply.status == 404 || reply.status == 405));
        CHECK_FALSE(openapi().component_violation("Error", reply.json).has_value());
      }
    }
    for (const char* path : {"/v1/nonexistent", "/v1", "/", "/v1/templates/DemoFleet/versions", "/v1/things/x/certificates"}) {
      auto reply = admin.get(path);
      INFO(reply.describe());
      CHECK(reply.status == 404);
      CHECK(reply.str("/error/code") == "NotFound");
      CHECK_FALSE(openapi().component_violation("Error", reply.json).has_value());
    }
  }
}

TEST_CASE("admin API audit actions: each change is audited under its documented x-audit-action, done or refused") {
  Stack stack;
  World world(stack);
  const auto& api = openapi();
  std::map<std::string, Api> clients;
  for (const auto& role : api.roles()) clients.emplace(role, Api(stack.admin_port, world.new_token(role, "audited-" + role)));
  int changes = 0;
  for (const auto& op : api.operations()) {
    INFO(op.key());
    auto actions = op.audit_actions();
    auto fixture = fixtures().find(op.key());
    REQUIRE(fixture != fixtures().end());
    if (actions.empty()) {  // a read: it writes no audit entry (a change that does has not documented its action)
      if (!op.needs_token()) continue;
      auto request = fixture->second(world);
      const int64_t before = last_audit_id(stack);
      auto read = send(clients.at(op.roles.at(0)), request);
      INFO(read.describe());
      CHECK(read.status == 200);
      CHECK(audit_since(stack, before).empty());
      continue;
    }
    ++changes;
    auto in = [&](const std::string& action) { return std::find(actions.begin(), actions.end(), action) != actions.end(); };

    auto request = fixture->second(world);
    const int64_t before = last_audit_id(stack);
    auto done = send(clients.at(op.roles.at(0)), request);
    INFO(done.describe());
    CHECK(done.status < 300);
    auto rows = audit_since(stack, before);
    INFO(describe(rows));
    REQUIRE(rows.size() >= 1);
    CHECK(in(rows.back().action));
    CHECK(rows.back().result == "ok");
    CHECK(rows.back().actor == "api:audited-" + op.roles.at(0));

    // a role that may not: refused, and audited under the same action
    std::string refused_role;
    for (const auto& role : api.roles())
      if (std::find(op.roles.begin(), op.roles.end(), role) == op.roles.end()) refused_role = role;
    if (refused_role.empty()) continue;
    auto again = fixture->second(world);
    const int64_t before_refusal = last_audit_id(stack);
    auto refused = send(clients.at(refused_role), again);
    CHECK(refused.status == 403);
    auto refusal = audit_since(stack, before_refusal);
    INFO(describe(refusal));
    REQUIRE(refusal.size() == 1);
    CHECK(in(refusal.back().action));
    CHECK(refusal.back().result == "403");
  }
  CHECK(changes >= 30);
}

TEST_CASE("admin API health and Prometheus metrics, without a token") {
  Stack stack;
  Api anonymous(stack.admin_port, "");

  auto health = anonymous.get("/health");
  REQUIRE_STATUS(health, 200);
  check_documented("GET", "/health", health);
  CHECK(health.str("/status") == "ok");
  CHECK(health.str("/registry") == "ok");
  CHECK(health.str("/broker") == "connected");

  const std::string accepted = R"(provision_requests_total{operation="RegisterThing",outcome="accepted"} )";
  auto before = anonymous.get("/metrics");
  REQUIRE_STATUS(before, 200);
  check_documented("GET", "/metrics", before);
  CHECK(before.text.find(accepted) == std::string::npos);

  provision_device(stack, "m-1");
  provision_device(stack, "m-2");
  auto after = anonymous.get("/metrics");
  REQUIRE_STATUS(after, 200);
  CHECK(after.content_type.starts_with("text/plain"));
  INFO(after.text);
  CHECK(after.text.find("# TYPE provision_requests_total counter\n") != std::string::npos);
  auto at = after.text.find("\n" + accepted);
  REQUIRE(at != std::string::npos);
  auto end = after.text.find('\n', at + 1);
  CHECK(after.text.substr(at + 1 + accepted.size(), end - at - 1 - accepted.size()) == "2");
  // the admin API counts its own requests
  CHECK(after.text.find("provision_admin_requests_total{") == std::string::npos);
  Api(stack.admin_port, stack.admin_token).get("/v1/templates");
  CHECK(anonymous.get("/metrics").text.find(R"(provision_admin_requests_total{method="GET",status="200"} 1)") != std::string::npos);

  // without its broker the service says it is degraded
  stack.stop_broker();
  Reply degraded;
  for (int i = 0; i < 50; ++i) {
    degraded = anonymous.get("/health");
    if (degraded.status != 200) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK_STATUS(degraded, 503);
  check_documented("GET", "/health", degraded);
  CHECK(degraded.str("/status") == "degraded");
  CHECK(degraded.str("/broker") == "disconnected");
  CHECK(degraded.str("/registry") == "ok");
}

// ======================================================================= defects found

TEST_CASE("admin API audit: a refused change can be found by its subject like a successful one") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  Api factory(stack.admin_port, World(stack).new_token("factory", "line-9"));
  CHECK_STATUS(admin.del("/v1/templates/DemoFleet"), 409);
  CHECK_STATUS(factory.patch("/v1/templates/DemoFleet", R"({"enabled":false})"), 403);
  // provisionctl audit --subject DemoFleet (docs/admin.md) shows what happened to DemoFleet, refusals included
  auto entries = admin.get("/v1/audit?subject=DemoFleet");
  REQUIRE_STATUS(entries, 200);
  auto results = entries.strings("/items", "result");
  CHECK(contains(results, "409"));
  CHECK(contains(results, "403"));
}

TEST_CASE("admin API: a POST with Content-Length 0 and no body is served") {
  // cpp-httplib 0.11 reads a POST without Content-Length until the client
  // closes (docs/admin.md tells clients to send Content-Length, as
  // provisionctl and curl -d '' do); with Content-Length: 0 it is served at once.
  Stack stack;
  std::string answer;
  int status = raw_http_status(stack.admin_port,
                               "POST /v1/things/no-such-thing/deprovision HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Authorization: Bearer " + stack.admin_token + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                               &answer);
  INFO((answer.empty() ? "no answer within 3 s" : answer));
  CHECK(status == 200);
}

TEST_CASE("admin API: a filter value that is not one of the documented ones is refused, not an empty list") {
  // ?status=inactive (lower case) on /v1/claims answers an empty list, as if no claim were disabled,
  // where /v1/certificates?status= and /v1/templates?enabled= answer 400 naming the field.
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  auto claims = admin.get("/v1/claims?status=active");
  INFO(claims.describe());
  CHECK(claims.status == 400);
  CHECK(claims.str("/error/field") == "status");
  auto cas = admin.get("/v1/cas?role=Fleet");
  INFO(cas.describe());
  CHECK(cas.status == 400);
  CHECK(cas.str("/error/field") == "role");
}

TEST_CASE("admin API brokers: a broker in use cannot be deleted, and a static assignment must name a broker") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  REQUIRE_STATUS(admin.post("/v1/brokers", R"({"name":"eu-1","endpoint":"mqtts://eu-1.example.com:8883"})"), 201);
  CHECK_STATUS(admin.patch("/v1/templates/DemoFleet", R"({"brokerAssignment":{"policy":"static","broker":"nosuch"}})"), 400);
  REQUIRE_STATUS(admin.patch("/v1/templates/DemoFleet", R"({"brokerAssignment":{"policy":"static","broker":"eu-1"}})"), 200);
  CHECK_STATUS(admin.del("/v1/brokers/eu-1"), 409);
  REQUIRE_STATUS(admin.patch("/v1/templates/DemoFleet", R"({"brokerAssignment":null})"), 200);
  REQUIRE_STATUS(admin.post("/v1/enrollments", R"({"registrationId":"SN-1"})"), 201);
  REQUIRE_STATUS(admin.post("/v1/enrollments/SN-1/activate", R"({"broker":"eu-1"})"), 200);
  CHECK_STATUS(admin.del("/v1/brokers/eu-1"), 409);
  REQUIRE_STATUS(admin.del("/v1/enrollments/SN-1"), 204);
  CHECK_STATUS(admin.del("/v1/brokers/eu-1"), 204);
}

TEST_CASE("provisiond whose admin port is taken exits 1 with one line naming it, and stops what it started") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  int taken = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(taken >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(stack.admin_port));
  int one = 1;
  setsockopt(taken, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool bound = bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(taken, 1) == 0;
  if (!bound) close(taken);
  REQUIRE(bound);

  std::string output;
  int code = stack.run({provisiond_binary(), "serve", "--config", stack.config_file.string()}, output);
  close(taken);
  INFO(output);
  CHECK(code == 1);  // not an abort from a thread left running
  CHECK(output.find("provisiond: admin API: cannot listen on 127.0.0.1:" + std::to_string(stack.admin_port)) !=
        std::string::npos);
}

// ======================================================================= hostile bodies (docs/admin.md, "Requests")

TEST_CASE("admin API: 300,000 nested arrays are refused, and provisiond stays up") {
  Stack stack;
  World world(stack);
  const std::string nested = std::string(300000, '[') + std::string(300000, ']');  // 600 KB, under the body limit
  Api installer(stack.admin_port, world.new_token("installer"));  // the least-privileged token
  // The outside tester's request, on a route the token may not call: 403
  // (the audit entry of the refusal parsed the body, and crashed provisiond).
  // Refused before its body is read, on a connection then closed: a client
  // that writes on past the socket's buffers cannot read the answer, this
  // one reads while it writes.
  const std::string head = "POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Authorization: Bearer " + world.new_token("installer") + "\r\nContent-Length: " +
                           std::to_string(nested.size()) + "\r\n\r\n";
  CHECK_ERROR(parse_answer(stream_request(stack.admin_port, head + nested, 0, false, false).answer), 403, "Forbidden");
  // On a route it may call the body is parsed, and refused for its depth.
  auto parsed = installer.post("/v1/claims", nested);
  CHECK_ERROR(parsed, 400, "InvalidJson");
  CHECK(parsed.str("/error/message") == "request body: nesting deeper than 64 at offset 64");
  CHECK_ERROR(world.admin.post("/v1/tokens", nested), 400, "InvalidJson");
  std::string objects;
  for (int i = 0; i < 150000; ++i) objects += "{\"a\":";
  CHECK_ERROR(world.admin.post("/v1/templates", objects), 400, "InvalidJson");
  CHECK(stack.worker_running());
  CHECK_STATUS(world.admin.get("/v1/templates"), 200);
  CHECK_STATUS(installer.post("/v1/claims", R"({"templates":["DemoFleet"],"validitySeconds":300})"), 201);
}

TEST_CASE("admin API: a large chunked POST without a token gets 401 before its body is read") {
  Stack stack;
  const pid_t pid = stack.worker_pid();
  // every server thread has served a request (their stacks and buffers are in the baseline)
  for (int i = 0; i < 10; ++i) CHECK_STATUS(Api(stack.admin_port, "").post("/v1/templates", "{}"), 401);
  const long before = resident_kib(pid);
  const std::string head =
      "POST /v1/templates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

  SECTION("the client would send 64 MiB: it is answered long before") {
    auto streamed = stream_request(stack.admin_port, head, 64 << 20, true, true);
    CHECK_ERROR(parse_answer(streamed.answer), 401, "Unauthorized");
    CHECK_FALSE(streamed.finished);
    CHECK(streamed.sent_after_head < (16u << 20));
    CHECK(streamed.answered_after < std::chrono::milliseconds(2000));  // not after a read timeout (5 s)
  }
  SECTION("the client stops sending after 1 MiB, before the end of the body: still 401") {
    auto streamed = stream_request(stack.admin_port, head, 1 << 20, true, false);
    CHECK_ERROR(parse_answer(streamed.answer), 401, "Unauthorized");
    CHECK(streamed.answered_after < std::chrono::milliseconds(2000));
  }
  SECTION("a token whose role may not call the route: 403, also before the body") {
    World world(stack);
    const std::string token = world.new_token("operator");
    std::string with_token = head;
    with_token.insert(with_token.size() - 2, "Authorization: Bearer " + token + "\r\n");
    auto streamed = stream_request(stack.admin_port, with_token, 64 << 20, true, true);
    CHECK_ERROR(parse_answer(streamed.answer), 403, "Forbidden");
    CHECK_FALSE(streamed.finished);
    CHECK(streamed.answered_after < std::chrono::milliseconds(2000));
  }
  SECTION("a declared Content-Length of 64 MiB, without a token: 401 at once") {
    const std::string declared =
        "POST /v1/templates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n";
    auto streamed = stream_request(stack.admin_port, declared, 1 << 20, false, false);
    CHECK_ERROR(parse_answer(streamed.answer), 401, "Unauthorized");
    CHECK(streamed.answered_after < std::chrono::milliseconds(2000));
  }
  SECTION("Expect: 100-continue without a token: 401 instead of 100 Continue") {
    const std::string expecting = "POST /v1/templates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 67108864\r\nExpect: 100-continue\r\n\r\n";
    auto streamed = stream_request(stack.admin_port, expecting, 0, false, false);
    INFO(streamed.answer.substr(0, 200));
    CHECK(streamed.answer.starts_with("HTTP/1.1 401 "));
    CHECK_ERROR(parse_answer(streamed.answer), 401, "Unauthorized");
  }
  const long after = resident_kib(pid);
  INFO("provisiond's RSS: " << before << " KiB before, " << after << " KiB after");
  if (memory_checked()) CHECK(after - before < 4096);
  CHECK(stack.worker_running());
  CHECK_STATUS(Api(stack.admin_port, stack.admin_token).get("/v1/templates"), 200);
}

TEST_CASE("admin API: a chunked body over the limit gets 413, whoever sends it") {
  Stack stack;
  const pid_t pid = stack.worker_pid();
  const std::string head = "POST /v1/templates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Authorization: Bearer " + stack.admin_token + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto before_snapshot = snapshot(stack);
  SECTION("2 MiB, sent whole") {
    auto streamed = stream_request(stack.admin_port, head, 2 << 20, true, true);
    CHECK_ERROR(parse_answer(streamed.answer), 413, "PayloadTooLarge");
  }
  SECTION("one that would go on for 64 MiB: answered before its end") {
    for (int i = 0; i < 10; ++i) CHECK_STATUS(Api(stack.admin_port, stack.admin_token).get("/v1/templates"), 200);
    const long before = resident_kib(pid);
    auto streamed = stream_request(stack.admin_port, head, 64 << 20, true, true);
    CHECK_ERROR(parse_answer(streamed.answer), 413, "PayloadTooLarge");
    CHECK_FALSE(streamed.finished);
    const long after = resident_kib(pid);
    INFO("provisiond's RSS: " << before << " KiB before, " << after << " KiB after");
    if (memory_checked()) CHECK(after - before < 4096);
  }
  SECTION("exactly the limit is read, one byte more is not") {
    // 1 MiB is within the limit: read, parsed and refused for its name
    std::string prefix = R"({"name":"not a name!","description":")", suffix = R"(","body":{}})";
    std::string body = prefix + std::string((1 << 20) - prefix.size() - suffix.size(), 'd') + suffix;
    REQUIRE(body.size() == (1u << 20));
    std::ostringstream chunked;
    chunked << std::hex << body.size() << "\r\n" << body << "\r\n0\r\n\r\n";
    auto answer = stream_request(stack.admin_port, head + chunked.str(), 0, false, false);
    auto reply = parse_answer(answer.answer);
    INFO(reply.describe());
    CHECK(reply.status != 413);
    CHECK(reply.status == 400);
    CHECK(reply.str("/error/field") == "name");
    body.insert(prefix.size(), "d");
    std::ostringstream over;
    over << std::hex << body.size() << "\r\n" << body << "\r\n0\r\n\r\n";
    CHECK_ERROR(parse_answer(stream_request(stack.admin_port, head + over.str(), 0, false, false).answer), 413,
                "PayloadTooLarge");
  }
  CHECK(snapshot(stack) == before_snapshot);
  CHECK_STATUS(Api(stack.admin_port, stack.admin_token).get("/v1/templates"), 200);
}

TEST_CASE("admin API: a body that is not application/json gets 415, a request without a body is unaffected") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  const std::string body = R"({"name":"Typed","document":)" + kPolicyDocument + "}";
  auto before = snapshot(stack);
  for (const char* type : {"text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                           "text/json", "application/jsonp", "application/json-patch+json", "application/json; charset=latin1",
                           "application/json; charset=utf-16", "json", ""}) {
    INFO("Content-Type: " << type);
    auto reply = admin.call("POST", "/v1/policies", body, type);
    CHECK_ERROR(reply, 415, "UnsupportedMediaType");
    check_documented("POST", "/v1/policies", reply);
  }
  CHECK_ERROR(admin.call("PUT", "/v1/policies/DemoDevicePolicy", R"({"document":)" + kPolicyDocument + "}", "text/plain"), 415,
              "UnsupportedMediaType");
  CHECK_ERROR(admin.call("PATCH", "/v1/templates/DemoFleet", R"({"enabled":false})", "application/xml"), 415,
              "UnsupportedMediaType");
  CHECK(snapshot(stack) == before);
  // JSON, with or without parameters
  int n = 0;
  for (const char* type : {"application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\"",
                           "application/json ; charset=UTF-8"}) {
    INFO("Content-Type: " << type);
    auto name = "Typed-" + std::to_string(++n);
    CHECK_STATUS(admin.call("POST", "/v1/policies", R"({"name":")" + name + R"(","document":)" + kPolicyDocument + "}", type), 201);
  }
  // no body, whatever the type says
  CHECK_STATUS(admin.call("POST", "/v1/things/no-such-thing/deprovision", std::nullopt, "text/plain"), 200);
  CHECK_STATUS(admin.call("GET", "/v1/templates", std::nullopt, "text/plain"), 200);
  CHECK_STATUS(admin.call("DELETE", "/v1/policies/Typed-1", std::nullopt, "application/xml"), 204);
}

TEST_CASE("admin API: a body that is not UTF-8 or holds a NUL byte gets 400, and every error is valid JSON") {
  using namespace std::string_literals;
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  auto before = snapshot(stack);
  auto refused = [&](const std::string& method, const std::string& path, const std::string& body, const std::string& message) {
    auto reply = admin.call(method, path, body);
    CHECK_ERROR(reply, 400, "InvalidJson");
    CHECK(reply.str("/error/message") == message);
    CHECK(strict_json(reply.text));
  };
  const std::string bad_name = "{\"name\":\"\xff\xfe\",\"document\":{\"statements\":[]}}";
  refused("POST", "/v1/policies", bad_name, "request body: invalid UTF-8 at offset 9");
  refused("POST", "/v1/tokens", "{\"name\":\"t\xed\xa0\x80\",\"role\":\"admin\"}", "request body: invalid UTF-8 at offset 10");
  refused("POST", "/v1/tokens", "{}\0 this is not JSON {{{"s, "request body: trailing bytes at offset 2");
  const std::string then_more = "{\"name\":\"t\",\"role\":\"admin\"}\0{\"role\":\"x\"}"s;
  refused("POST", "/v1/tokens", then_more, "request body: trailing bytes at offset " + std::to_string(then_more.find('\0')));
  refused("PUT", "/v1/policies/DemoDevicePolicy", "{\"document\":\0{}}"s, "request body: NUL byte at offset 12");
  refused("POST", "/v1/tokens", "{\"name\":\"a\0b\",\"role\":\"admin\"}"s, "request body: NUL byte at offset 10");
  CHECK(snapshot(stack) == before);
  // a path that is not UTF-8 once decoded is refused too, with an error that is JSON
  for (const char* path : {"/v1/templates/%FF%FE", "/v1/things/%ED%A0%80", "/v1/templates?after=%C0%80"}) {
    INFO(path);
    auto reply = admin.get(path);
    CHECK_ERROR(reply, 400, "InvalidRequest");
    CHECK(strict_json(reply.text));
  }
  auto deleted = admin.del("/v1/templates/%FF%FE");
  CHECK_ERROR(deleted, 400, "InvalidRequest");
  CHECK(strict_json(deleted.text));
  // control characters in a name are quoted escaped
  auto missing = admin.get("/v1/templates/a%0Ab%1B");
  CHECK_ERROR(missing, 404, "NotFound");
  CHECK(missing.str("/error/message") == R"(template "a\nb\u001b" does not exist)");
  CHECK(snapshot(stack) == before);
}

TEST_CASE("admin API: a refused request's body is never read as the next request, and framings it cannot read are refused") {
  Stack stack;
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  // A body that is itself a request, with a valid token: answered 401 once,
  // and the connection closed before the server could read the rest.
  const std::string inner = "GET /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + stack.admin_token + "\r\n\r\n";
  std::string answer;
  int status = raw_http_status(stack.admin_port,
                               "POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                               "Content-Length: " + std::to_string(inner.size()) + "\r\n\r\n" + inner,
                               &answer);
  INFO(answer);
  CHECK(status == 401);
  CHECK(count(answer, "HTTP/1.1 ") == 1);
  CHECK(answer.find("Connection: close") != std::string::npos);
  CHECK(answer.find("bootstrap-admin") == std::string::npos);

  // Framings the server does not read safely, refused before the body whoever sends them.
  const std::string auth = "Authorization: Bearer " + stack.admin_token + "\r\n";
  struct Case {
    std::string request;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
       "NotImplemented"},
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
       "Content-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400, "InvalidRequest"},
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
       400, "InvalidRequest"},
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}", 400, "InvalidRequest"},
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
       415, "UnsupportedMediaType"},
      {"GET /v1/tokens HTTP/1.1\r\n" + auth + "Content-Length: 2\r\n\r\n{}", 400, "InvalidRequest"},
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
       501, "NotImplemented"},
      {"GET /v1/tokens HTTP/1.1\r\n" + auth + "X-Long: " + std::string(20000, 'a') + "\r\n\r\n", 431, "RequestHeaderFieldsTooLarge"},
      {"GET /v1/tokens HTTP/9.9\r\n\r\n", 400, "InvalidRequest"},
      {"POST /v1/tokens HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{}", 413,
       "PayloadTooLarge"},
      {"POST /v1/nowhere HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{}", 404, "NotFound"},
  };
  for (const auto& c : cases) {
    INFO(c.request.substr(0, 200));
    std::string text;
    CHECK(raw_http_status(stack.admin_port, c.request, &text) == c.status);
    auto reply = parse_answer(text);
    CHECK_ERROR(reply, c.status, c.code);
    CHECK(strict_json(reply.text));
    CHECK(text.find("Connection: close") != std::string::npos);
    CHECK(count(text, "HTTP/1.1 ") == 1);
  }
  CHECK_FALSE(stack.registry().find_api_token("x"));
  CHECK(stack.worker_running());
}

TEST_CASE("admin API brute force: guesses from one address are audited, then refused 429 with Retry-After, tokens untouched") {
  Stack stack;
  httplib::Client client("127.0.0.1", stack.admin_port);
  int unauthorised = 0;
  std::optional<httplib::Result> throttled;
  for (int i = 0; i < 40; ++i) {
    auto r = client.Get("/v1/templates", {{"Authorization", "Bearer guess-" + std::to_string(i)}});
    REQUIRE(r);
    if (r->status == 401) {
      ++unauthorised;
      continue;
    }
    CHECK(r->status == 429);
    CHECK(r->get_header_value("Retry-After") != "");
    CHECK(std::stoi(r->get_header_value("Retry-After")) >= 1);
    CHECK_THAT(r->body, Catch::Contains("TooManyFailedAttempts"));
    throttled = std::move(r);
    break;
  }
  CHECK(unauthorised == 20);  // the documented burst
  REQUIRE(throttled);
  // while it lasts, the address is refused whatever it sends (its token is not even looked at)
  auto with_valid = client.Get("/v1/templates", {{"Authorization", "Bearer " + stack.admin_token}});
  REQUIRE(with_valid);
  CHECK(with_valid->status == 429);
  // every failed attempt is in the audit log, with its address and why
  auto reg = stack.registry();
  registry::AuditFilter filter;
  filter.action = "AuthenticationFailed";
  filter.limit = 100;
  auto entries = reg.audit_entries(filter);
  CHECK(entries.size() == 20);
  for (const auto& e : entries) {
    CHECK(e.source == "127.0.0.1");
    CHECK(e.result == "401");
    CHECK(e.subject == "GET /v1/templates");
    CHECK_THAT(e.detail, Catch::Contains("unknown token"));
  }
  // health and metrics stay open, and count the failures
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body, Catch::Contains("provision_admin_auth_failures_total 20"));
}

TEST_CASE("admin API firmware: publish, list by product and channel, change the rollout, delete, bad fields named") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  World world(stack);
  auto published = admin.post("/v1/firmware", world.firmware_body("1.10.0"));
  REQUIRE_STATUS(published, 201);
  check_documented("POST", "/v1/firmware", published);
  const std::string id = std::to_string(published.json["id"].GetInt64());
  CHECK(published.str("/channel") == "stable");
  CHECK(published.json["rolloutPercent"].GetInt64() == 100);
  CHECK_STATUS(admin.post("/v1/firmware", world.firmware_body("1.10.0")), 409);  // the same version on the same channel
  auto beta = admin.post("/v1/firmware", R"({"productId":1,"version":"2.0.0-rc.1","channel":"beta","downloadUrl":"https://fw.example.com/2.bin","fileSize":5,"sha256":"sha256:)" +
                                             std::string(64, 'B') + R"(","minCurrentVersion":"1.0.0","changelog":"new"})");
  REQUIRE_STATUS(beta, 201);
  CHECK(beta.str("/sha256") == std::string(64, 'b'));  // stored lowercase, without the prefix
  CHECK(beta.str("/minCurrentVersion") == "1.0.0");
  CHECK(admin.get("/v1/firmware?productId=1").json["items"].Size() == 2);
  CHECK(admin.get("/v1/firmware?productId=1&channel=beta").json["items"].Size() == 1);
  CHECK(admin.get("/v1/firmware?productId=2").json["items"].Size() == 0);
  auto changed = admin.patch("/v1/firmware/" + id, R"({"rolloutPercent":10,"minCurrentVersion":"1.2.0"})");
  REQUIRE_STATUS(changed, 200);
  CHECK(changed.json["rolloutPercent"].GetInt64() == 10);
  CHECK(admin.patch("/v1/firmware/" + id, R"({"minCurrentVersion":""})").json.HasMember("minCurrentVersion") == false);
  CHECK(admin.get("/v1/firmware?enabled=true").json["items"].Size() == 2);

  struct Bad {
    std::string body, field;
  };
  const std::string ok_tail = R"(,"downloadUrl":"https://x/y","fileSize":1,"sha256":")" + std::string(64, 'a') + R"("})";
  for (const auto& bad : std::vector<Bad>{{R"({"productId":1,"version":"1.2")" + ok_tail, "version"},
                                          {R"({"productId":1,"version":"1.2.3","minCurrentVersion":"x")" + ok_tail, "minCurrentVersion"},
                                          {R"({"productId":1,"version":"1.2.3","downloadUrl":"ftp://x","fileSize":1,"sha256":")" + std::string(64, 'a') + R"("})", "downloadUrl"},
                                          {R"({"productId":1,"version":"1.2.3","downloadUrl":"https://x","fileSize":1,"sha256":"abc"})", "sha256"},
                                          {R"({"productId":1,"version":"1.2.3","rolloutPercent":101)" + ok_tail, "rolloutPercent"},
                                          {R"({"productId":1,"version":"1.2.3","channel":"no spaces")" + ok_tail, "channel"}}) {
    auto reply = admin.post("/v1/firmware", bad.body);
    INFO(reply.describe());
    CHECK(reply.status == 400);
    CHECK(reply.str("/error/field") == bad.field);
  }
  CHECK_STATUS(admin.get("/v1/firmware/abc"), 400);
  CHECK_STATUS(admin.del("/v1/firmware/" + id), 204);
  CHECK_STATUS(admin.get("/v1/firmware/" + id), 404);
  auto audit = admin.get("/v1/audit?subject=firmware:" + id);
  auto actions = audit.strings("/items", "action");
  CHECK(contains(actions, "PublishFirmwareRelease"));
  CHECK(contains(actions, "UpdateFirmwareRelease"));
  CHECK(contains(actions, "DeleteFirmwareRelease"));
}

TEST_CASE("admin API brokers keep a password devices' endpoint, checked") {
  Stack stack;
  Api admin(stack.admin_port, stack.admin_token);
  auto created = admin.post("/v1/brokers", R"({"name":"eu-1","endpoint":"mqtts://eu-1.example.com:8883","passwordEndpoint":"mqtts://eu-1.example.com:8884"})");
  REQUIRE_STATUS(created, 201);
  check_documented("POST", "/v1/brokers", created);
  CHECK(created.str("/passwordEndpoint") == "mqtts://eu-1.example.com:8884");
  auto bad = admin.patch("/v1/brokers/eu-1", R"({"passwordEndpoint":"http://x:1"})");
  CHECK(bad.status == 400);
  CHECK(bad.str("/error/field") == "passwordEndpoint");
  CHECK(admin.patch("/v1/brokers/eu-1", R"({"passwordEndpoint":""})").json.HasMember("passwordEndpoint") == false);
}
