// The web console (docs/console.md) in a real browser: each test starts a
// stack (a real broker with the plugin and a real provisiond), prepares what
// its scenario needs through the admin API, and runs
// tests/console/console_browser.py, which drives headless Debian chromium
// through chromedriver and python3-selenium. Each browser has its own
// profile directory under the stack's; the test fails if any process still
// uses it afterwards. A missing browser is a failure, not a skip.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <signal.h>

#include <fstream>

#include "admin_api.h"
#include "flows.h"
#include "pki/certificate.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where python3-selenium lives

void require_browser() {
  for (const char* path : {kPython, "/usr/bin/chromium", "/usr/bin/chromedriver"})
    if (!std::filesystem::exists(path))
      FAIL(path << " is missing: the console tests need Debian's python3, chromium and chromium-driver (scripts/install-deps)");
  std::string output;
  if (run_command({kPython, "-c", "import selenium.webdriver"}, output, 30s) != 0)
    FAIL("selenium is not importable by " << kPython << " (install python3-selenium; scripts/install-deps does): " << output);
}

// Processes whose command line names `path` (a browser left behind).
std::vector<pid_t> processes_using(const std::string& path) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(path) != std::string::npos) found.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return found;
}

struct Console {
  Stack& stack;
  World& world;
  std::map<std::string, std::string> tokens;

  Console(Stack& s, World& w) : stack(s), world(w) {
    require_browser();
    tokens["admin"] = stack.admin_token;
    for (const char* role : {"operator", "factory", "activator", "installer"}) tokens[role] = world.new_token(role, std::string("console-") + role);
  }

  // Runs one scenario of console_browser.py with `data`; REQUIREs it to pass
  // and leave no process behind.
  void run(const std::string& scenario, const std::string& data_json = "{}") {
    std::string profile = (stack.dir / ("chromium-" + scenario)).string();
    std::string context = R"({"url":)" + json_text("http://127.0.0.1:" + std::to_string(stack.admin_port)) + R"(,"profile":)" +
                          json_text(profile) + R"(,"tokens":{)";
    bool first = true;
    for (const auto& [role, token] : tokens) {
      context += (first ? "" : ",") + json_text(role) + ":" + json_text(token);
      first = false;
    }
    context += R"(},"data":)" + data_json + "}";
    auto file = stack.dir / ("console-" + scenario + ".json");
    std::ofstream(file) << context;
    std::map<std::string, std::string> env;
    if (const char* shots = std::getenv("PROVISION_CONSOLE_SCREENSHOTS")) env["PROVISION_CONSOLE_SCREENSHOTS"] = shots;
    std::string output;
    int code = run_command({kPython, CONSOLE_BROWSER, file.string(), scenario}, output, 170s, env);
    auto left = processes_using(profile);
    for (pid_t pid : left) kill(pid, SIGKILL);
    INFO(output);
    CHECK(left.empty());
    REQUIRE(code == 0);
  }
};

device::Outcome register_serial(Stack& stack, const std::string& template_name, const std::string& serial) {
  mqtt_session::Session claim(stack.claim("claim-" + random_token(6)));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 20s);
  auto issued = create_certificate(client);
  return client.register_thing(template_name, issued.ownership_token, {{"SerialNumber", serial}});
}

}  // namespace

TEST_CASE("console roles: each role sees its screens and no other and the server refuses the rest") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  world.new_thing();
  world.new_enrollment();
  world.new_firmware();
  console.run("roles");
}

TEST_CASE("console seed flow: the factory enrolls and the manufacturer activates with metadata in the portal and the device boots") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  Api& admin = world.admin;
  REQUIRE_STATUS(admin.patch("/v1/templates/DemoFleet",
                             R"({"preProvisioningHook":{"type":"enrollment","registrationIdParameter":"SerialNumber"}})"),
                 200);
  REQUIRE_STATUS(admin.post("/v1/brokers", R"({"name":"eu-1","endpoint":"mqtts://eu-1.example.com:8883"})"), 201);
  REQUIRE_STATUS(admin.post("/v1/brokers", R"({"name":"us-1","endpoint":"mqtts://us-1.example.com:8883"})"), 201);
  // the factory enrolls three units through the API (disabled)
  Api factory(stack.admin_port, console.tokens["factory"]);
  for (const char* serial : {"SN-500", "SN-501", "SN-502"})
    REQUIRE_STATUS(factory.post("/v1/enrollments", std::string(R"({"registrationId":")") + serial + R"(","templateName":"DemoFleet"})"), 201);
  CHECK(register_serial(stack, "DemoFleet", "SN-500").error_code == "EnrollmentNotAllowed");  // not yet activated

  console.run("activation", R"({"registrationId":"SN-500","template":"DemoFleet","broker":"us-1","bulk":["SN-501","SN-502"],
    "metadata":{"attributes":{"chassis":"CH-7731","owner":"acme"},"configuration":{"firmwareChannel":"stable","tags":["press","line-2"]}}})");

  auto enrollment = stack.registry().find_enrollment("SN-500");
  REQUIRE(enrollment);
  CHECK(enrollment->status == "ENABLED");
  CHECK(enrollment->broker == "us-1");
  // the device's first boot over MQTT: its reply carries the metadata and the chosen broker
  auto first_boot = register_serial(stack, "DemoFleet", "SN-500");
  INFO(first_boot.describe());
  REQUIRE(first_boot.accepted());
  const auto& configuration = *json::member(first_boot.body, "deviceConfiguration");
  CHECK(json::string_member(configuration, "firmwareChannel") == "stable");
  CHECK(json::string_member(configuration, "brokerEndpoint") == "mqtts://us-1.example.com:8883");
  auto thing = stack.registry().find_thing("demo-SN-500");
  REQUIRE(thing);
  CHECK(thing->attributes.at("chassis") == "CH-7731");
  CHECK(thing->attributes.at("owner") == "acme");
  // the bulk file's two good lines were activated
  CHECK(stack.registry().find_enrollment("SN-501")->status == "ENABLED");
  CHECK(stack.registry().find_enrollment("SN-502")->broker == "us-1");
  // the activator's changes are in the audit log under its name: three, and the refused unknown device
  auto audit = admin.get("/v1/audit?action=ActivateEnrollment&actor=api:console-activator");
  CHECK(audit.strings("/items", "result") == std::vector<std::string>{"ok", "404", "ok", "ok"});
}

TEST_CASE("console templates: a template saved with an error shows it at its path and line and nothing is saved") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  auto versions = stack.registry().template_versions("DemoFleet").size();
  auto before = snapshot(stack);
  console.run("template_error", R"({"versions":)" + std::to_string(versions) + "}");
  CHECK(snapshot(stack) == before);
}

TEST_CASE("console templates: a dry run shows what would be made and writes nothing") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  auto before = snapshot(stack);
  console.run("dry_run", R"({"serial":"dry-1"})");
  CHECK(snapshot(stack) == before);
  CHECK_FALSE(stack.registry().find_thing("demo-dry-1"));
}

TEST_CASE("console things: revoking a certificate in the console cuts the connected device off within a second") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  auto device = provision_device(stack, "rv-1");
  console.run("revoke", R"({"thing":)" + json_text(device.thing_name) + R"(,"certificate":)" + json_text(device.certificate_id) +
                            R"(,"port":)" + std::to_string(stack.port) + R"(,"ca":)" + json_text(stack.pki.root_cert.string()) +
                            R"(,"cert":)" + json_text(device.files.certificate) + R"(,"key":)" + json_text(device.files.key) + "}");
  CHECK(stack.registry().find_certificate(device.certificate_id)->status == "REVOKED");
}

TEST_CASE("console things: a thing named with markup renders as text") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  const std::string name = "<img src=x onerror=alert(1)>";
  const std::string attribute = "<script>window.__xss = 1</script>";
  stack.registry().insert_thing({name, std::nullopt, {{"note", attribute}}, 1, 1700000000, 1700000000});
  console.run("markup", R"({"thing":)" + json_text(name) + R"(,"attribute":)" + json_text(attribute) + "}");
}

TEST_CASE("console claims and enrollments and policies: a claim's key is shown once with a download and an import names each bad line and a wrong policy is not saved") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  console.run("fleet");
  CHECK(stack.registry().find_enrollment("SN-900"));
  CHECK(stack.registry().find_enrollment("SN-903"));
  CHECK_FALSE(stack.registry().find_enrollment("SN-902"));
}

TEST_CASE("console templates: the default version and enabled state and broker assignment set in the console") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  console.run("settings");
  auto t = stack.registry().find_template("DemoFleet");
  REQUIRE(t);
  CHECK(t->default_version == 2);
  CHECK(t->enabled);
  CHECK_FALSE(stack.registry().find_api_token("console-operator"));
}

TEST_CASE("console overview: counts by status and the last hour's requests and rejections by errorCode") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  provision_device(stack, "ov-1");
  REQUIRE_STATUS(world.admin.patch("/v1/templates/DemoFleet", R"({"preProvisioningHook":{"type":"enrollment"}})"), 200);
  CHECK(register_serial(stack, "DemoFleet", "ov-unknown").error_code == "EnrollmentNotAllowed");
  auto things = stack.registry().count_things();
  console.run("overview", R"({"things":)" + std::to_string(things) + "}");
}

TEST_CASE("console firmware: a release published with every field and bad fields named, disabled, enabled, deleted") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  REQUIRE_STATUS(world.admin.post("/v1/firmware", R"({"productId":8,"version":"2.0.0","downloadUrl":"https://fw.example.com/2.bin",)"
                                                  R"("fileSize":10,"sha256":")" + std::string(64, 'c') + R"("})"),
                 201);
  console.run("firmware", R"({"other":"2.0.0"})");
  registry::FirmwareFilter seven;
  seven.product_id = 7;
  CHECK(stack.registry().list_firmware_releases(seven).empty());
  registry::FirmwareFilter eight;
  eight.product_id = 8;
  CHECK(stack.registry().list_firmware_releases(eight).size() == 1);
}

namespace {
httplib::Result bootstrap_post(int port, const std::string& path, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  return client.Post(path.c_str(), body, "application/json");
}
}  // namespace

TEST_CASE("console bootstrap log: the listener's requests filtered by MAC and outcome and endpoint and time, and a thing's last access") {
  StackOptions options;
  options.password_listener = true;
  options.bootstrap_listener = true;
  options.bootstrap_settings = R"("responseFloorMs":0,"requestsPerIpPerMinute":0,"requestsPerMacPerMinute":0)";
  Stack stack(options);
  World world(stack);
  Console console(stack, world);
  const std::string mac = "AA:BB:CC:DD:EE:01", unknown = "AA:BB:CC:DD:EE:99";
  REQUIRE_STATUS(world.admin.post("/v1/enrollments", R"({"registrationId":")" + mac + R"(","templateName":"MacBootstrap"})"), 201);
  REQUIRE_STATUS(world.admin.post("/v1/enrollments/" + mac + "/activate", R"({"attributes":{"site":"hall 2"}})"), 200);
  const std::string info = R"({"mac_address":")" + mac + R"(","firmware_version":"1.0.0","hardware_version":"ESP32-S3"})";
  for (int i = 0; i < 2; ++i) {
    auto answer = bootstrap_post(stack.bootstrap_port, "/device/info", info);
    REQUIRE(answer);
    INFO(answer->body);
    REQUIRE(answer->status == 200);
  }
  auto check = bootstrap_post(stack.bootstrap_port, "/firmware/check", R"({"mac_address":")" + mac + R"(","current_version":"1.0.0","product_id":7})");
  REQUIRE(check);
  CHECK(check->status == 200);
  auto missing = bootstrap_post(stack.bootstrap_port, "/device/info", R"({"mac_address":")" + unknown + R"(","firmware_version":"1.0.0"})");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  const std::string thing = "esp-AABBCCDDEE01";
  auto credential = stack.registry().find_device_credential(thing);
  REQUIRE(credential);
  REQUIRE(credential->last_seen_at);
  console.run("bootstrap_log", R"({"mac":)" + json_text(mac) + R"(,"unknown":)" + json_text(unknown) + R"(,"thing":)" + json_text(thing) +
                                   R"(,"lastSeenAt":)" + std::to_string(*credential->last_seen_at) + "}");
}

TEST_CASE("console enrollments: a used enrollment reset and another deleted after a confirmation") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  REQUIRE_STATUS(world.admin.patch("/v1/templates/DemoFleet",
                                   R"({"preProvisioningHook":{"type":"enrollment","registrationIdParameter":"SerialNumber"}})"),
                 200);
  for (const char* serial : {"SN-700", "SN-701"})
    REQUIRE_STATUS(world.admin.post("/v1/enrollments", std::string(R"({"registrationId":")") + serial + R"(","templateName":"DemoFleet"})"), 201);
  REQUIRE_STATUS(world.admin.post("/v1/enrollments/SN-700/activate", "{}"), 200);
  auto first = register_serial(stack, "DemoFleet", "SN-700");
  INFO(first.describe());
  REQUIRE(first.accepted());
  CHECK(register_serial(stack, "DemoFleet", "SN-700").error_code == "EnrollmentNotAllowed");  // used up
  console.run("enrollments", R"({"used":"SN-700","other":"SN-701","thing":"demo-SN-700"})");
  CHECK_FALSE(stack.registry().find_enrollment("SN-701"));
  // reset in the console: its device registers once more, for its own thing
  auto again = register_serial(stack, "DemoFleet", "SN-700");
  INFO(again.describe());
  CHECK(again.accepted());
  CHECK(json::string_member(again.body, "thingName") == std::string("demo-SN-700"));
}

TEST_CASE("console service identities: registered and disabled and enabled and deleted, provisiond's own refused") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  auto files = world.service_certificate("line-9");
  const std::string pem = read_file(files.certificate);
  const std::string id = pki::Certificate::from_pem(pem).id();
  const std::string own = pki::Certificate::load(stack.pki.service_cert).id();
  console.run("identities", R"({"pem":)" + json_text(pem) + R"(,"id":)" + json_text(id) + R"(,"own":)" + json_text(own) + "}");
  CHECK_FALSE(stack.registry().find_service_identity(id));
  CHECK(stack.registry().find_service_identity(own)->status == "ACTIVE");
  auto audit = world.admin.get("/v1/audit?subject=" + id + "&actor=api:bootstrap-admin");
  CHECK(audit.strings("/items", "action") ==
        std::vector<std::string>{"DeleteServiceIdentity", "UpdateServiceIdentity", "UpdateServiceIdentity", "RegisterServiceIdentity"});
}

TEST_CASE("console claims and CAs: a claim's templates and description and expiry and a CA's templates and status changed") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  const std::string extra = world.new_template();
  const std::string ca = world.new_ca();
  const std::string claim = world.dev_claim_id();
  console.run("claims_cas", R"({"claim":)" + json_text(claim) + R"(,"template":)" + json_text(extra) + R"(,"ca":)" + json_text(ca) + "}");
  auto c = stack.registry().find_claim_certificate(claim);
  REQUIRE(c);
  CHECK(c->allowed_templates == std::vector<std::string>{"DemoFleet", extra});
  CHECK(c->description == "line 4 installers");
  CHECK_FALSE(c->expires_at);
  auto a = stack.registry().find_ca(ca);
  REQUIRE(a);
  CHECK(a->allowed_templates == std::vector<std::string>{extra});
  CHECK(a->status == "ACTIVE");
}

TEST_CASE("console things: a certificate disabled and re-enabled and the thing deprovisioned, checked on the server") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  auto device = provision_device(stack, "ta-1");
  console.run("thing_actions", R"({"thing":)" + json_text(device.thing_name) + R"(,"certificate":)" + json_text(device.certificate_id) + "}");
  CHECK_FALSE(stack.registry().find_thing(device.thing_name));
  CHECK_FALSE(stack.registry().find_certificate(device.certificate_id));
}

TEST_CASE("console activation: a CSV file with a good line and a bad line and an unknown device, each with its result") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  Api factory(stack.admin_port, console.tokens["factory"]);
  REQUIRE_STATUS(factory.post("/v1/enrollments", R"({"registrationId":"SN-610","templateName":"DemoFleet"})"), 201);
  console.run("bulk_csv", R"({"good":"SN-610"})");
  auto e = stack.registry().find_enrollment("SN-610");
  REQUIRE(e);
  CHECK(e->status == "ENABLED");
  CHECK(e->attributes == std::map<std::string, std::string>{{"chassis", "CH-1"}, {"colour", "red"}});
  CHECK_FALSE(stack.registry().find_enrollment("SN-611"));
}

TEST_CASE("console tokens and brokers: a token created and used and deleted, a broker added and disabled and deleted") {
  Stack stack;
  World world(stack);
  Console console(stack, world);
  console.run("tokens_brokers");
  CHECK_FALSE(stack.registry().find_api_token("night-shift"));
  auto brokers = stack.registry().list_brokers();
  CHECK(std::none_of(brokers.begin(), brokers.end(), [](const auto& b) { return b.name == "eu-9"; }));
}

TEST_CASE("console files: compiled into provisiond with their content types and strict security headers") {
  Stack stack;
  httplib::Client client("127.0.0.1", stack.admin_port);
  const std::string csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                          "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/console/", "text/html; charset=utf-8"},
           {"/console/app.js", "text/javascript; charset=utf-8"},
           {"/console/console.css", "text/css; charset=utf-8"},
           {"/console/vendor/bootstrap.min.css", "text/css; charset=utf-8"},
           {"/console/vendor/chart.min.js", "text/javascript; charset=utf-8"}}) {
    INFO(path);
    auto answer = client.Get(path.c_str());
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(answer->get_header_value("Content-Type") == type);
    CHECK(answer->get_header_value("Content-Security-Policy") == csp);
    CHECK(answer->get_header_value("X-Frame-Options") == "DENY");
    CHECK(answer->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(answer->get_header_value("Referrer-Policy") == "no-referrer");
    CHECK_FALSE(answer->body.empty());
  }
  // the page itself: no inline script or style for the policy to refuse
  auto index = client.Get("/console/");
  REQUIRE(index);
  CHECK(index->body.find("<script>") == std::string::npos);
  CHECK(index->body.find("style=") == std::string::npos);
  CHECK(index->body.find("<style") == std::string::npos);
  // the console's own code puts API values in as text only
  for (const auto& entry : std::filesystem::directory_iterator(PROVISION_SOURCE_DIR "/console")) {
    const std::string name = entry.path().filename();
    if (!name.ends_with(".js")) continue;
    INFO(name);
    auto served = client.Get(("/console/" + name).c_str());
    REQUIRE(served);
    CHECK(served->status == 200);
    for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("})
      CHECK(served->body.find(sink) == std::string::npos);
  }
  // the Debian library is the installed file, byte for byte
  std::ifstream in("/usr/share/javascript/chart.js/chart.min.js", std::ios::binary);
  std::string installed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(client.Get("/console/vendor/chart.min.js")->body == installed);
  // /console goes to /console/; what is not there is a JSON 404
  auto bare = client.Get("/console");
  REQUIRE(bare);
  CHECK(bare->status == 301);
  CHECK(bare->get_header_value("Location") == "/console/");
  auto missing = client.Get("/console/nothing.js");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->get_header_value("Content-Type") == "application/json");
  CHECK(missing->body.find("NotFound") != std::string::npos);
  // API answers, refusals included: never cached, sniffed or framed
  httplib::Headers auth{{"Authorization", "Bearer " + stack.admin_token}};
  for (auto* path : {"/v1/whoami", "/v1/templates?limit=0", "/v1/nothing"}) {
    auto answer = client.Get(path, auth);
    REQUIRE(answer);
    INFO(answer->status << " " << answer->body);
    CHECK(answer->get_header_value("Cache-Control") == "no-store");
    CHECK(answer->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(answer->get_header_value("X-Frame-Options") == "DENY");
    CHECK(answer->get_header_value("Content-Security-Policy") == "default-src 'none'; frame-ancestors 'none'");
  }
  CHECK(client.Get("/v1/templates")->get_header_value("Cache-Control") == "no-store");  // a 401 too
  auto whoami = client.Get("/v1/whoami", auth);
  CHECK(whoami->body == R"({"name":"bootstrap-admin","role":"admin"})");
}
