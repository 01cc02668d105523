// provisionctl as a user runs it, against a whole stack (mosquitto + plugin
// + provisiond with its admin API): judged by exit status and output only.
#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include "flows.h"
#include "pki/authority.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

using Environment = std::map<std::string, std::string>;

// Runs provisionctl in an environment cleared of the settings it reads, so
// that the developer's own configuration never leaks into a test.
class Provisionctl {
 public:
  explicit Provisionctl(const Stack& stack)
      : url_("http://127.0.0.1:" + std::to_string(stack.admin_port)), token_(stack.admin_token), home_(stack.dir / "xdg") {}

  // With --url and --token of the stack's admin API.
  Result operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--url", url_, "--token", token_});
    return bare(args);
  }
  // As given, with `environment` added to the cleared one.
  Result bare(const std::vector<std::string>& args, const Environment& environment = {}) const {
    Environment env{{"PROVISION_ADMIN_URL", ""}, {"PROVISION_ADMIN_TOKEN", ""}, {"ADMIN_URL", ""},
                    {"ADMIN_TOKEN", ""},         {"PROVISION_ADMIN_CA_FILE", ""}, {"XDG_CONFIG_HOME", home_.string()}};
    for (const auto& [name, value] : environment) env[name] = value;
    std::vector<std::string> argv{PROVISIONCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    Result result;
    result.code = run_command(argv, result.output, 60s, env);
    return result;
  }

  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  const fs::path& config_home() const { return home_; }

 private:
  std::string url_, token_;
  fs::path home_;
};

size_t line_count(const std::string& text) {
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  return lines + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

rapidjson::Document parsed_json(const Result& result) {
  std::string error;
  auto document = json::try_parse(result.output, &error);
  INFO(result.output);
  REQUIRE(document);
  return std::move(*document);
}

// The value of a "key: value" line of provisionctl's output.
std::string value_of(const std::string& output, const std::string& key) {
  auto start = output.find(key + ": ");
  REQUIRE(start != std::string::npos);
  start += key.size() + 2;
  return output.substr(start, output.find('\n', start) - start);
}

std::string write(const fs::path& file, const std::string& text) {
  write_file(file, text, 0644);
  return file.string();
}

bool owner_only(const fs::path& file) {
  auto permissions = fs::status(file).permissions() & fs::perms::all;
  return permissions == (fs::perms::owner_read | fs::perms::owner_write);
}

// Connects (retrying while the registry change travels to the plugin)
// until the connect's outcome is `expected`.
bool connect_outcome_becomes(const Stack& stack, const CertificateFiles& files, const std::string& client_id, bool expected) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    mqtt_session::Session session(stack.client(files, client_id));
    bool connected = true;
    try {
      session.connect();
      session.disconnect();
    } catch (const std::exception&) {
      connected = false;
    }
    if (connected == expected) return true;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

const char* kSensorTemplate = R"({
  "Parameters": {"SerialNumber": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["", ["sensor-", {"Ref": "SerialNumber"}]]}}},
    "certificate": {"Type": "AWS::IoT::Certificate",
                    "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DemoDevicePolicy"}}
  }
})";

const char* kPolicy = R"({"statements": [
  {"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}"]},
  {"effect": "allow", "actions": ["publish"], "topics": ["sensors/${thingName}/data"]}]})";

}  // namespace

TEST_CASE("provisionctl takes url and token from flags, then the environment, then a config file") {
  Stack stack;
  Provisionctl ctl(stack);

  SECTION("flags") {
    auto r = ctl({"template", "list"});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(r.output.starts_with("NAME"));
    CHECK(contains(r.output, "DemoFleet"));
  }
  SECTION("PROVISION_ADMIN_URL and PROVISION_ADMIN_TOKEN") {
    auto r = ctl.bare({"template", "list"}, {{"PROVISION_ADMIN_URL", ctl.url()}, {"PROVISION_ADMIN_TOKEN", ctl.token()}});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(contains(r.output, "DemoFleet"));
  }
  SECTION("ADMIN_URL and ADMIN_TOKEN, as scripts/demo --serve writes them") {
    auto r = ctl.bare({"template", "list"}, {{"ADMIN_URL", ctl.url()}, {"ADMIN_TOKEN", ctl.token()}});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(contains(r.output, "DemoFleet"));
  }
  SECTION("a config file named by --config") {
    auto config = write(stack.dir / "ctl.json", R"({"url": ")" + ctl.url() + R"(", "token": ")" + ctl.token() + R"("})");
    auto r = ctl.bare({"--config", config, "template", "list"});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(contains(r.output, "DemoFleet"));
  }
  SECTION("the default config file under XDG_CONFIG_HOME") {
    fs::create_directories(ctl.config_home() / "provisionctl");
    write(ctl.config_home() / "provisionctl" / "config.json",
          R"({"url": ")" + ctl.url() + R"(", "token": ")" + ctl.token() + R"("})");
    auto r = ctl.bare({"template", "list"});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(contains(r.output, "DemoFleet"));
  }
  SECTION("a flag wins over the environment") {
    auto r = ctl.bare({"--token", ctl.token(), "template", "list"},
                      {{"PROVISION_ADMIN_URL", ctl.url()}, {"PROVISION_ADMIN_TOKEN", "not-a-token"}});
    INFO(r.output);
    CHECK(r.code == 0);
    auto refused = ctl.bare({"--token", "not-a-token", "template", "list"},
                            {{"PROVISION_ADMIN_URL", ctl.url()}, {"PROVISION_ADMIN_TOKEN", ctl.token()}});
    INFO(refused.output);
    CHECK(refused.code == 1);
    CHECK(contains(refused.output, "provisionctl: 401 Unauthorized: "));
    CHECK(line_count(refused.output) == 1);
  }
  SECTION("no URL anywhere is bad usage") {
    auto r = ctl.bare({"template", "list"});
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(line_count(r.output) == 1);
    CHECK(contains(r.output, "no admin API URL"));
  }
  SECTION("a --config file that cannot be read is bad usage") {
    auto r = ctl.bare({"--config", (stack.dir / "missing.json").string(), "template", "list"});
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(line_count(r.output) == 1);
  }
}

TEST_CASE("provisionctl template apply creates a template, then adds versions") {
  Stack stack;
  Provisionctl ctl(stack);
  auto file = write(stack.dir / "sensor.json", kSensorTemplate);

  auto created = ctl({"template", "apply", file, "--description", "sensors"});
  INFO(created.output);
  REQUIRE(created.code == 0);
  CHECK(contains(created.output, "template sensor created: version 1"));
  auto record = stack.registry().find_template("sensor");
  REQUIRE(record);
  CHECK(record->description == "sensors");

  auto added = ctl({"template", "apply", file});
  INFO(added.output);
  REQUIRE(added.code == 0);
  CHECK(contains(added.output, "version 2"));
  CHECK(stack.registry().find_template("sensor")->default_version == 2);

  auto versions = ctl({"template", "versions", "sensor"});
  INFO(versions.output);
  CHECK(versions.code == 0);
  CHECK(line_count(versions.output) == 3);  // header + 2 versions

  CHECK(ctl({"template", "set-default", "sensor", "1"}).code == 0);
  CHECK(stack.registry().find_template("sensor")->default_version == 1);
  auto one = ctl({"template", "version", "sensor", "1"});
  INFO(one.output);
  CHECK(one.code == 0);
  CHECK(contains(one.output, "version: 1"));
  CHECK(contains(one.output, "AWS::IoT::Thing"));
  CHECK(ctl({"template", "delete-version", "sensor", "2"}).code == 0);
  CHECK(ctl({"template", "disable", "sensor"}).code == 0);
  CHECK_FALSE(stack.registry().find_template("sensor")->enabled);
  CHECK(ctl({"template", "enable", "sensor"}).code == 0);
  CHECK(stack.registry().find_template("sensor")->enabled);

  SECTION("--name overrides the file name") {
    auto named = ctl({"template", "apply", file, "--name", "Other"});
    INFO(named.output);
    CHECK(named.code == 0);
    CHECK(stack.registry().find_template("Other"));
  }
  SECTION("delete removes it") {
    CHECK(ctl({"template", "delete", "sensor"}).code == 0);
    auto gone = ctl({"template", "get", "sensor"});
    INFO(gone.output);
    CHECK(gone.code == 1);
    CHECK(contains(gone.output, "provisionctl: 404 NotFound: "));
  }
}

TEST_CASE("provisionctl template apply of an invalid template exits 1 naming every problem by its JSON path") {
  Stack stack;
  Provisionctl ctl(stack);
  auto file = write(stack.dir / "broken.json", R"({
    "Parameters": {"SerialNumber": {"Type": "Text"}},
    "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Nowhere"}}}}})");
  auto r = ctl({"template", "apply", file});
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(contains(r.output, "provisionctl: 400 InvalidTemplate: "));
  CHECK(contains(r.output, "  $.Parameters.SerialNumber"));
  CHECK(contains(r.output, "  $.Resources.thing.Properties.ThingName"));
  CHECK_FALSE(stack.registry().find_template("broken"));

  SECTION("a file that is not JSON is bad usage") {
    auto not_json = ctl({"template", "apply", write(stack.dir / "x.json", "{ not json")});
    INFO(not_json.output);
    CHECK(not_json.code == 2);
    CHECK(line_count(not_json.output) == 1);
  }
}

TEST_CASE("provisionctl template dry-run shows what would be made and writes nothing") {
  Stack stack;
  Provisionctl ctl(stack);
  int64_t things_before = stack.registry().count_things();
  auto r = ctl({"template", "dry-run", "DemoFleet", "--param", "SerialNumber=dry1"});
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(contains(r.output, "demo-dry1"));
  CHECK(contains(r.output, "written: false"));
  CHECK(stack.registry().count_things() == things_before);
  CHECK_FALSE(stack.registry().find_thing("demo-dry1"));

  auto missing = ctl({"template", "dry-run", "DemoFleet"});
  INFO(missing.output);
  CHECK(missing.code == 1);
  CHECK(contains(missing.output, "provisionctl: 400 "));
}

TEST_CASE("provisionctl policy create, get, update, list and delete") {
  Stack stack;
  Provisionctl ctl(stack);
  auto file = write(stack.dir / "policy.json", kPolicy);
  auto created = ctl({"policy", "create", "SensorPolicy", file});
  INFO(created.output);
  REQUIRE(created.code == 0);
  CHECK(stack.registry().find_policy("SensorPolicy"));

  auto shown = ctl({"policy", "get", "SensorPolicy"});
  INFO(shown.output);
  CHECK(shown.code == 0);
  CHECK(contains(shown.output, "name: SensorPolicy"));
  CHECK(contains(shown.output, "sensors/${thingName}/data"));

  CHECK(ctl({"policy", "update", "SensorPolicy", write(stack.dir / "p2.json", kPolicy)}).code == 0);
  auto listed = ctl({"policy", "list"});
  CHECK(contains(listed.output, "SensorPolicy"));
  CHECK(contains(listed.output, "DemoDevicePolicy"));

  auto duplicate = ctl({"policy", "create", "SensorPolicy", file});
  CHECK(duplicate.code == 1);
  CHECK(contains(duplicate.output, "409 Conflict"));

  CHECK(ctl({"policy", "delete", "SensorPolicy"}).code == 0);
  CHECK_FALSE(stack.registry().find_policy("SensorPolicy"));
  auto gone = ctl({"policy", "get", "SensorPolicy"});
  CHECK(gone.code == 1);
  CHECK(contains(gone.output, "404 NotFound"));
}

TEST_CASE("provisionctl list commands follow every page, or stop at --limit") {
  Stack stack;
  Provisionctl ctl(stack);
  {
    auto registry = stack.registry();
    auto tx = registry.begin();
    for (int i = 0; i < 510; ++i) registry.put_policy("Bulk" + std::to_string(1000 + i), kPolicy);
    tx.commit();
  }
  auto all = ctl({"policy", "list"});
  CHECK(all.code == 0);
  CHECK(line_count(all.output) == 1 + 511);  // header, DemoDevicePolicy and the 510 (two pages)

  auto some = ctl({"policy", "list", "--limit", "5"});
  CHECK(some.code == 0);
  CHECK(line_count(some.output) == 1 + 5);

  auto some_json = parsed_json(ctl({"--json", "policy", "list", "--limit", "5"}));
  CHECK(some_json["items"].Size() == 5);
  CHECK(json::string_member(some_json, "nextCursor"));
}

TEST_CASE("provisionctl claim create writes a claim that connects, and claim disable refuses it") {
  Stack stack;
  Provisionctl ctl(stack);
  auto out = stack.dir / "claim-out";
  auto r = ctl({"claim", "create", "--templates", "DemoFleet", "--description", "line 3", "--out", out.string()});
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::string id = r.output.substr(0, r.output.find('\n'));
  CHECK(id.size() == 64);
  CHECK(line_count(r.output) == 1);
  REQUIRE(fs::exists(out / "claim.pem"));
  CHECK(owner_only(out / "claim.key"));
  auto claim = stack.registry().find_claim_certificate(id);
  REQUIRE(claim);
  CHECK(claim->description == "line 3");

  CertificateFiles files{(out / "claim.pem").string(), (out / "claim.key").string()};
  CHECK(connect_outcome_becomes(stack, files, "claim-from-ctl", true));

  auto listed = ctl({"claim", "list"});
  CHECK(contains(listed.output, id));

  auto disabled = ctl({"claim", "disable", id});
  INFO(disabled.output);
  CHECK(disabled.code == 0);
  CHECK(stack.registry().find_claim_certificate(id)->status == "INACTIVE");
  CHECK(connect_outcome_becomes(stack, files, "claim-from-ctl", false));

  SECTION("claim create does not overwrite an existing key") {
    auto again = ctl({"claim", "create", "--templates", "DemoFleet", "--out", out.string()});
    INFO(again.output);
    CHECK(again.code == 2);
    CHECK(line_count(again.output) == 1);
  }
  SECTION("claim enable lets it in again, claim delete removes it") {
    CHECK(ctl({"claim", "enable", id}).code == 0);
    CHECK(connect_outcome_becomes(stack, files, "claim-from-ctl", true));
    CHECK(ctl({"claim", "delete", id}).code == 0);
    CHECK_FALSE(stack.registry().find_claim_certificate(id));
  }
}

TEST_CASE("provisionctl register writes a device certificate the device connects with") {
  Stack stack;
  Provisionctl ctl(stack);

  SECTION("the service makes the key") {
    auto out = stack.dir / "device";
    auto r = ctl({"register", "--template", "DemoFleet", "--param", "SerialNumber=reg1", "--out", out.string()});
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(value_of(r.output, "thingName") == "demo-reg1");
    std::string certificate_id = value_of(r.output, "certificateId");
    CHECK(stack.registry().find_certificate(certificate_id));
    CHECK(owner_only(out / "device.key"));
    CertificateFiles files{(out / "device.pem").string(), (out / "device.key").string()};
    mqtt_session::Session session(stack.client(files, "demo-reg1"));
    session.connect();
    CHECK(session.publish("devices/demo-reg1/telemetry", "{}") == 0);
  }
  SECTION("with a CSR made here") {
    auto key = pki::PrivateKey::generate_ec();
    auto csr = write(stack.dir / "device.csr", pki::create_csr(key, {{"CN", "csr-device"}}));
    auto out = stack.dir / "csr-device";
    auto r = ctl({"register", "--template", "DemoFleet", "--param", "SerialNumber=reg2", "--csr", csr, "--out", out.string()});
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(fs::exists(out / "device.pem"));
    CHECK_FALSE(fs::exists(out / "device.key"));
  }
}

TEST_CASE("provisionctl thing deprovision is idempotent") {
  Stack stack;
  Provisionctl ctl(stack);
  auto device = provision_device(stack, "gone1");
  auto shown = ctl({"thing", "get", device.thing_name});
  CHECK(shown.code == 0);
  CHECK(contains(shown.output, device.certificate_id));

  auto first = ctl({"thing", "deprovision", device.thing_name});
  INFO(first.output);
  CHECK(first.code == 0);
  CHECK(contains(first.output, device.certificate_id));
  CHECK_FALSE(stack.registry().find_thing(device.thing_name));
  auto second = ctl({"thing", "deprovision", device.thing_name});
  INFO(second.output);
  CHECK(second.code == 0);
  CHECK(contains(second.output, "does not exist"));
}

TEST_CASE("provisionctl undoes a registration step by step: certificates, detach, disable, delete, each twice") {
  Stack stack;
  Provisionctl ctl(stack);
  auto device = provision_device(stack, "steps1");
  auto listed = ctl({"thing", "certificates", device.thing_name});
  INFO(listed.output);
  CHECK(listed.code == 0);
  CHECK(contains(listed.output, device.certificate_id));
  CHECK(contains(listed.output, "ACTIVE"));

  auto active = ctl({"certificate", "delete", device.certificate_id});
  CHECK(active.code == 1);
  CHECK(contains(active.output, "set it INACTIVE first"));
  for (int i = 0; i < 2; ++i) {
    auto disabled = ctl({"certificate", "disable", device.certificate_id});
    auto detached = ctl({"thing", "detach", device.thing_name, device.certificate_id});
    INFO(disabled.output << detached.output);
    CHECK(disabled.code == 0);
    CHECK(detached.code == 0);
    CHECK(contains(detached.output, "is not attached to thing " + device.thing_name));
  }
  for (int i = 0; i < 2; ++i) {
    auto deleted = ctl({"certificate", "delete", device.certificate_id});
    auto thing_deleted = ctl({"thing", "delete", device.thing_name});
    INFO(deleted.output << thing_deleted.output);
    CHECK(deleted.code == 0);
    CHECK(thing_deleted.code == 0);
  }
  CHECK_FALSE(stack.registry().find_certificate(device.certificate_id));
  CHECK_FALSE(stack.registry().find_thing(device.thing_name));
}

TEST_CASE("provisionctl template allow-reprovisioning, enrollment reset and --reprovisioning") {
  Stack stack;
  Provisionctl ctl(stack);
  auto allowed = ctl({"template", "allow-reprovisioning", "DemoFleet"});
  INFO(allowed.output);
  CHECK(allowed.code == 0);
  CHECK(stack.registry().find_template("DemoFleet")->reprovisioning == "replace");
  CHECK(ctl({"template", "forbid-reprovisioning", "DemoFleet"}).code == 0);
  CHECK(stack.registry().find_template("DemoFleet")->reprovisioning == "never");

  CHECK(ctl({"enrollment", "add", "SN-7", "--reprovisioning", "replace"}).code == 0);
  CHECK(stack.registry().find_enrollment("SN-7")->reprovisioning == "replace");
  CHECK(ctl({"enrollment", "activate", "SN-7", "--reprovisioning", "never"}).code == 0);
  CHECK(stack.registry().find_enrollment("SN-7")->reprovisioning == "never");
  {
    auto reg = stack.registry();
    auto e = *reg.find_enrollment("SN-7");
    e.used_at = 1000;
    reg.update_enrollment(e);
  }
  auto reset = ctl({"enrollment", "reset", "SN-7"});
  INFO(reset.output);
  CHECK(reset.code == 0);
  CHECK(contains(reset.output, "enrollment SN-7 reset"));
  CHECK_FALSE(stack.registry().find_enrollment("SN-7")->used_at);
  auto bad = ctl({"enrollment", "add", "SN-8", "--reprovisioning", "sometimes"});
  CHECK(bad.code == 2);
  CHECK(contains(ctl({"policy", "--help"}).output, "list policies"));
}

TEST_CASE("provisionctl certificate revoke cuts the device off and is in the audit log") {
  Stack stack;
  Provisionctl ctl(stack);
  auto device = provision_device(stack, "revoked1");
  auto listed = ctl({"certificate", "list", "--thing", device.thing_name});
  INFO(listed.output);
  CHECK(line_count(listed.output) == 2);
  CHECK(contains(listed.output, "ACTIVE"));

  auto r = ctl({"certificate", "revoke", device.certificate_id});
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(stack.registry().find_certificate(device.certificate_id)->status == "REVOKED");
  CHECK(connect_outcome_becomes(stack, device.files, device.thing_name, false));

  auto audit = ctl({"audit", "--subject", device.certificate_id});
  INFO(audit.output);
  CHECK(audit.code == 0);
  CHECK(audit.output.starts_with("ID"));
  CHECK(contains(audit.output, "api:bootstrap-admin"));
  CHECK(line_count(audit.output) >= 2);
  auto none = ctl({"audit", "--subject", "no-such-subject"});
  CHECK(line_count(none.output) == 1);  // the header only
}

TEST_CASE("provisionctl token create makes a token whose lesser role is refused admin changes") {
  Stack stack;
  Provisionctl ctl(stack);
  auto created = ctl({"token", "create", "night-shift", "--role", "operator"});
  INFO(created.output);
  REQUIRE(created.code == 0);
  std::string secret = value_of(created.output, "token");
  CHECK(contains(ctl({"token", "list"}).output, "night-shift"));

  auto operator_ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--url", ctl.url(), "--token", secret});
    return ctl.bare(args);
  };
  CHECK(operator_ctl({"template", "list"}).code == 0);
  auto refused = operator_ctl({"template", "apply", write(stack.dir / "sensor.json", kSensorTemplate)});
  INFO(refused.output);
  CHECK(refused.code == 1);
  CHECK(contains(refused.output, "provisionctl: 403 Forbidden: "));
  CHECK(line_count(refused.output) == 1);
  CHECK_FALSE(stack.registry().find_template("sensor"));

  CHECK(ctl({"token", "delete", "night-shift"}).code == 0);
  CHECK(operator_ctl({"template", "list"}).code == 1);
}

TEST_CASE("provisionctl identity: register, list, disable, enable, delete a service identity, and provisiond's own stays") {
  Stack stack;
  Provisionctl ctl(stack);
  auto root = pki::CertificateAuthority::load(stack.pki.root_cert, stack.pki.root_key);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", "line-3"}};
  auto certificate = root.issue(key.get(), options);
  auto file = write(stack.dir / "line-3.pem", certificate.to_pem());
  auto registered = ctl({"identity", "register", file, "--name", "line-3", "--kind", "factory"});
  INFO(registered.output);
  REQUIRE(registered.code == 0);
  CHECK(registered.output == certificate.id() + "\n");
  auto listed = ctl({"identity", "list"});
  CHECK(contains(listed.output, "line-3"));
  CHECK(contains(listed.output, "factory"));
  CHECK(ctl({"identity", "disable", certificate.id()}).code == 0);
  CHECK(stack.registry().find_service_identity(certificate.id())->status == "INACTIVE");
  CHECK(ctl({"identity", "enable", certificate.id()}).code == 0);
  CHECK(stack.registry().find_service_identity(certificate.id())->status == "ACTIVE");
  const std::string own = pki::Certificate::load(stack.pki.service_cert).id();
  auto refused = ctl({"identity", "disable", own});
  CHECK(refused.code == 1);
  CHECK(contains(refused.output, "409 Conflict"));
  CHECK(ctl({"identity", "delete", certificate.id()}).code == 0);
  CHECK_FALSE(stack.registry().find_service_identity(certificate.id()));
}

TEST_CASE("provisionctl token create makes an activator token that is refused all but enrollments") {
  Stack stack;
  Provisionctl ctl(stack);
  auto created = ctl({"token", "create", "maker", "--role", "activator"});
  INFO(created.output);
  REQUIRE(created.code == 0);
  CHECK(stack.registry().find_api_token("maker")->role == "activator");
  std::string secret = value_of(created.output, "token");
  auto activator_ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--url", ctl.url(), "--token", secret});
    return ctl.bare(args);
  };
  CHECK(activator_ctl({"enrollment", "list"}).code == 0);
  auto refused = activator_ctl({"template", "list"});
  INFO(refused.output);
  CHECK(refused.code == 1);
  CHECK(contains(refused.output, "provisionctl: 403 Forbidden: "));
}

TEST_CASE("provisionctl --json prints one JSON document") {
  Stack stack;
  Provisionctl ctl(stack);
  auto list = parsed_json(ctl({"--json", "template", "list"}));
  REQUIRE(list["items"].IsArray());
  CHECK(json::string_member(list["items"][0], "name") == "DemoFleet");
  auto one = parsed_json(ctl({"template", "get", "DemoFleet", "--json"}));
  CHECK(json::string_member(one, "name") == "DemoFleet");
  CHECK(json::member(one, "body"));
  auto deprovision = parsed_json(ctl({"--json", "thing", "deprovision", "nothing-here"}));
  CHECK(json::bool_member(deprovision, "existed") == false);
  auto health = parsed_json(ctl({"--json", "health"}));
  CHECK(json::string_member(health, "status") == "ok");
}

TEST_CASE("provisionctl health and metrics") {
  Stack stack;
  Provisionctl ctl(stack);
  auto health = ctl.bare({"--url", ctl.url(), "health"});  // needs no token
  INFO(health.output);
  CHECK(health.code == 0);
  CHECK(contains(health.output, "status: ok"));
  auto metrics = ctl({"metrics"});
  CHECK(metrics.code == 0);
  CHECK(contains(metrics.output, "# TYPE"));
}

TEST_CASE("provisionctl refuses bad usage with exit status 2 and one line") {
  Stack stack;
  Provisionctl ctl(stack);
  for (const auto& args : std::vector<std::vector<std::string>>{{"template", "list", "--bogus"},
                                                                {"template", "get"},
                                                                {"frobnicate"},
                                                                {"claim", "create"},
                                                                {"template", "dry-run", "DemoFleet", "--param", "novalue"},
                                                                {"policy", "create", "P", "/nonexistent/policy.json"},
                                                                {"ca", "register", "/nonexistent/ca.pem", "--name", "x", "--role", "root"}}) {
    auto r = ctl(args);
    INFO(args.front() << " " << args.at(1 % args.size()) << ": " << r.output);
    CHECK(r.code == 2);
    CHECK(line_count(r.output) == 1);
    CHECK(r.output.starts_with("provisionctl: "));
  }
}

TEST_CASE("provisionctl says in one line that an unreachable URL cannot be reached") {
  std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  std::string output;
  int code = run_command({PROVISIONCTL_BIN, "--url", url, "--token", "x", "thing", "list"}, output, 60s,
                         {{"XDG_CONFIG_HOME", "/nonexistent"}});
  INFO(output);
  CHECK(code == 1);
  CHECK(line_count(output) == 1);
  CHECK(contains(output, url));
}

TEST_CASE("provisionctl speaks https and verifies the server with --ca-file") {
  Stack stack;
  stack.stop_worker();
  auto config = json::parse(read_file(stack.config_file));
  auto& admin = config["adminApi"];
  auto& a = config.GetAllocator();
  admin.AddMember("tlsCertificate", json::string_value(stack.pki.broker_cert.string(), a), a);
  admin.AddMember("tlsKey", json::string_value(stack.pki.broker_key.string(), a), a);
  write_file(stack.config_file, json::pretty(config), 0600);
  stack.start_worker();

  std::string url = "https://localhost:" + std::to_string(stack.admin_port);
  Provisionctl ctl(stack);
  auto verified = ctl.bare({"--url", url, "--token", ctl.token(), "--ca-file", stack.pki.root_cert.string(), "template", "list"});
  INFO(verified.output);
  CHECK(verified.code == 0);
  CHECK(contains(verified.output, "DemoFleet"));

  auto unverified = ctl.bare({"--url", url, "--token", ctl.token(), "template", "list"});
  INFO(unverified.output);
  CHECK(unverified.code == 1);
  CHECK(line_count(unverified.output) == 1);
}

TEST_CASE("provisionctl enrollment add, get, activate with metadata and a broker, disable and delete") {
  Stack stack;
  Provisionctl ctl(stack);
  REQUIRE(ctl({"broker", "add", "edge-1", "mqtts://edge-1.example.com:8883"}).code == 0);

  auto created = ctl({"enrollment", "add", "SN-1001"});
  INFO(created.output);
  REQUIRE(created.code == 0);
  CHECK(contains(created.output, "enrollment SN-1001 created"));
  auto again = ctl({"enrollment", "add", "SN-1001"});
  INFO(again.output);
  CHECK(again.code == 0);
  CHECK(contains(again.output, "enrollment SN-1001 already there"));
  CHECK(ctl({"enrollment", "add", "SN-1002", "--kind", "group", "--template", "DemoFleet"}).code == 0);
  auto group = stack.registry().find_enrollment("SN-1002");
  REQUIRE(group);
  CHECK(group->kind == "group");
  CHECK(group->template_name == "DemoFleet");

  auto shown = ctl({"enrollment", "get", "SN-1001"});
  INFO(shown.output);
  CHECK(shown.code == 0);
  CHECK(contains(shown.output, "registrationId: SN-1001"));
  CHECK(contains(shown.output, "status: DISABLED"));

  auto configuration = write(stack.dir / "configuration.json", R"({"telemetryIntervalSeconds": 60, "site": "lyon"})");
  auto activated = ctl({"enrollment", "activate", "SN-1001", "--attribute", "color=red", "--attribute", "line=3",
                        "--configuration", configuration, "--broker", "edge-1"});
  INFO(activated.output);
  REQUIRE(activated.code == 0);
  CHECK(contains(activated.output, "enrollment SN-1001 activated"));
  auto record = stack.registry().find_enrollment("SN-1001");
  REQUIRE(record);
  CHECK(record->status == "ENABLED");
  CHECK(record->attributes == std::map<std::string, std::string>{{"color", "red"}, {"line", "3"}});
  CHECK(json::int_member(json::parse(record->configuration), "telemetryIntervalSeconds") == 60);
  CHECK(record->broker == "edge-1");

  auto enabled = ctl({"enrollment", "list", "--status", "ENABLED"});
  INFO(enabled.output);
  CHECK(enabled.code == 0);
  CHECK(enabled.output.starts_with("ID"));
  CHECK(line_count(enabled.output) == 2);
  CHECK(contains(enabled.output, "edge-1"));
  CHECK(line_count(ctl({"enrollment", "list"}).output) == 3);

  auto unknown_broker = ctl({"enrollment", "activate", "SN-1002", "--broker", "nowhere"});
  INFO(unknown_broker.output);
  CHECK(unknown_broker.code == 1);
  CHECK(contains(unknown_broker.output, "provisionctl: 400 InvalidField: "));
  CHECK(stack.registry().find_enrollment("SN-1002")->status == "DISABLED");
  auto bad_attribute = ctl({"enrollment", "activate", "SN-1002", "--attribute", "novalue"});
  INFO(bad_attribute.output);
  CHECK(bad_attribute.code == 2);
  CHECK(line_count(bad_attribute.output) == 1);

  auto disabled = ctl({"enrollment", "disable", "SN-1001"});
  INFO(disabled.output);
  CHECK(disabled.code == 0);
  CHECK(stack.registry().find_enrollment("SN-1001")->status == "DISABLED");

  CHECK(ctl({"enrollment", "delete", "SN-1001"}).code == 0);
  CHECK_FALSE(stack.registry().find_enrollment("SN-1001"));
  auto gone = ctl({"enrollment", "get", "SN-1001"});
  INFO(gone.output);
  CHECK(gone.code == 1);
  CHECK(contains(gone.output, "provisionctl: 404 NotFound: "));
}

TEST_CASE("provisionctl enrollment import adds every good line and reports the bad ones by file and line") {
  Stack stack;
  Provisionctl ctl(stack);

  SECTION("CSV with a line missing its registrationId in the middle") {
    auto file = write(stack.dir / "factory.csv",
                      "registrationId,kind,templateName\r\n"
                      "csv-1,individual,DemoFleet\r\n"
                      "csv-2,group,\r\n"
                      ",individual,DemoFleet\r\n"
                      "\"csv-3\",,\r\n");
    auto r = ctl({"enrollment", "import", file});
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(contains(r.output, file + ":4: missing registrationId"));
    CHECK(contains(r.output, "3 added, 0 already there, 1 refused"));
    CHECK(line_count(r.output) == 2);
    auto first = stack.registry().find_enrollment("csv-1");
    REQUIRE(first);
    CHECK(first->template_name == "DemoFleet");
    CHECK(stack.registry().find_enrollment("csv-2")->kind == "group");
    CHECK(stack.registry().find_enrollment("csv-3"));
    CHECK(line_count(ctl({"enrollment", "list"}).output) == 1 + 3);  // nothing for the bad line

    auto again = ctl({"enrollment", "import", file});
    INFO(again.output);
    CHECK(again.code == 1);
    CHECK(contains(again.output, file + ":4: missing registrationId"));
    CHECK(contains(again.output, "0 added, 3 already there, 1 refused"));
  }
  SECTION("JSON lines with an unknown field on line 3 and a line the server refuses") {
    auto file = write(stack.dir / "factory.jsonl",
                      "{\"registrationId\": \"jl-1\"}\n"
                      "# line 2 is a comment\n"
                      "{\"registrationId\": \"jl-2\", \"color\": \"red\"}\n"
                      "\n"
                      "{\"registrationId\": \"jl-3\", \"kind\": \"group\", \"templateName\": \"DemoFleet\"}\n"
                      "{\"registrationId\": \"jl-4\", \"templateName\": \"NoSuchTemplate\"}\n");
    auto r = ctl({"enrollment", "import", file});
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(contains(r.output, file + ":3: unknown field 'color'"));
    CHECK(contains(r.output, file + ":6: 400 "));
    CHECK(contains(r.output, "2 added, 0 already there, 2 refused"));
    CHECK(stack.registry().find_enrollment("jl-1"));
    CHECK(stack.registry().find_enrollment("jl-3"));
    CHECK_FALSE(stack.registry().find_enrollment("jl-2"));
    CHECK_FALSE(stack.registry().find_enrollment("jl-4"));

    auto again = ctl({"enrollment", "import", file});
    INFO(again.output);
    CHECK(again.code == 1);
    CHECK(contains(again.output, "0 added, 2 already there, 2 refused"));
    CHECK_FALSE(stack.registry().find_enrollment("jl-2"));
  }
  SECTION("a file of good lines exits 0, --format overriding the extension") {
    auto file = write(stack.dir / "factory.txt", "{\"registrationId\": \"ok-1\"}\n{\"registrationId\": \"ok-2\"}\n");
    auto unknown_format = ctl({"enrollment", "import", file});
    INFO(unknown_format.output);
    CHECK(unknown_format.code == 2);
    CHECK(line_count(unknown_format.output) == 1);
    auto r = ctl({"enrollment", "import", file, "--format", "jsonl"});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(contains(r.output, "2 added, 0 already there, 0 refused"));
    CHECK(stack.registry().find_enrollment("ok-2"));
  }
  SECTION("a wrong header or an unreadable file exits 2 and adds nothing") {
    auto file = write(stack.dir / "wrong.csv", "serialNumber,kind\nwrong-1,individual\n");
    auto r = ctl({"enrollment", "import", file});
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(line_count(r.output) == 1);
    CHECK(contains(r.output, "serialNumber"));
    CHECK_FALSE(stack.registry().find_enrollment("wrong-1"));
    auto no_id_column = ctl({"enrollment", "import", write(stack.dir / "kinds.csv", "kind\ngroup\n")});
    INFO(no_id_column.output);
    CHECK(no_id_column.code == 2);
    auto missing = ctl({"enrollment", "import", (stack.dir / "missing.csv").string()});
    INFO(missing.output);
    CHECK(missing.code == 2);
    CHECK(line_count(missing.output) == 1);
  }
}

TEST_CASE("provisionctl broker add, list, update, disable and delete") {
  Stack stack;
  Provisionctl ctl(stack);
  auto added = ctl({"broker", "add", "eu-1", "mqtts://eu-1.example.com:8883", "--weight", "3"});
  INFO(added.output);
  REQUIRE(added.code == 0);
  CHECK(contains(added.output, "broker eu-1 added"));
  CHECK(ctl({"broker", "add", "us-1", "mqtts://us-1.example.com:8883"}).code == 0);
  auto eu = stack.registry().find_broker("eu-1");
  REQUIRE(eu);
  CHECK(eu->weight == 3);
  CHECK(eu->endpoint == "mqtts://eu-1.example.com:8883");

  auto duplicate = ctl({"broker", "add", "eu-1", "mqtts://elsewhere:8883"});
  INFO(duplicate.output);
  CHECK(duplicate.code == 1);
  CHECK(contains(duplicate.output, "409 Conflict"));

  auto listed = ctl({"broker", "list"});
  INFO(listed.output);
  CHECK(listed.code == 0);
  CHECK(listed.output.starts_with("NAME"));
  CHECK(line_count(listed.output) == 3);
  CHECK(contains(listed.output, "mqtts://us-1.example.com:8883"));

  CHECK(ctl({"broker", "update", "eu-1", "--weight", "5", "--endpoint", "mqtts://eu-1b.example.com:8883"}).code == 0);
  CHECK(stack.registry().find_broker("eu-1")->weight == 5);
  CHECK(stack.registry().find_broker("eu-1")->endpoint == "mqtts://eu-1b.example.com:8883");
  auto nothing = ctl({"broker", "update", "eu-1"});
  INFO(nothing.output);
  CHECK(nothing.code == 2);
  CHECK(line_count(nothing.output) == 1);

  CHECK(ctl({"broker", "disable", "us-1"}).code == 0);
  CHECK_FALSE(stack.registry().find_broker("us-1")->enabled);
  CHECK(contains(ctl({"broker", "get", "us-1"}).output, "enabled: false"));
  CHECK(ctl({"broker", "enable", "us-1"}).code == 0);
  CHECK(stack.registry().find_broker("us-1")->enabled);

  CHECK(ctl({"broker", "delete", "us-1"}).code == 0);
  CHECK_FALSE(stack.registry().find_broker("us-1"));
  auto gone = ctl({"broker", "get", "us-1"});
  INFO(gone.output);
  CHECK(gone.code == 1);
  CHECK(contains(gone.output, "404 NotFound"));
}

TEST_CASE("provisionctl template hook and assignment set and remove them, and template get shows them without the secret") {
  Stack stack;
  Provisionctl ctl(stack);
  const std::string secret = "s3cret-of-the-hook-0123456789";
  auto hook = write(stack.dir / "hook.json",
                    R"({"type": "http", "url": "https://hooks.example.com/check", "secret": ")" + secret + R"(", "timeoutMs": 2000})");
  auto assignment = write(stack.dir / "assignment.json", R"({"policy": "hashed"})");

  auto set_hook = ctl({"template", "hook", "DemoFleet", hook});
  INFO(set_hook.output);
  REQUIRE(set_hook.code == 0);
  CHECK(contains(set_hook.output, "template DemoFleet: pre-provisioning hook set"));
  CHECK_FALSE(contains(set_hook.output, secret));
  auto set_assignment = ctl({"template", "assignment", "DemoFleet", assignment});
  INFO(set_assignment.output);
  REQUIRE(set_assignment.code == 0);

  auto shown = ctl({"template", "get", "DemoFleet", "--json"});
  CHECK_FALSE(contains(shown.output, secret));
  auto document = parsed_json(shown);
  const auto* shown_hook = json::member(document, "preProvisioningHook");
  REQUIRE(shown_hook);
  CHECK(json::string_member(*shown_hook, "type") == "http");
  CHECK(json::string_member(*shown_hook, "url") == "https://hooks.example.com/check");
  CHECK(json::bool_member(*shown_hook, "secretSet") == true);
  CHECK_FALSE(json::member(*shown_hook, "secret"));
  const auto* shown_assignment = json::member(document, "brokerAssignment");
  REQUIRE(shown_assignment);
  CHECK(json::string_member(*shown_assignment, "policy") == "hashed");
  auto human = ctl({"template", "get", "DemoFleet"});
  INFO(human.output);
  CHECK(contains(human.output, "preProvisioningHook: "));
  CHECK(contains(human.output, "brokerAssignment: "));
  CHECK_FALSE(contains(human.output, secret));

  auto invalid = ctl({"template", "hook", "DemoFleet", write(stack.dir / "bad-hook.json", R"({"type": "exec"})")});
  INFO(invalid.output);
  CHECK(invalid.code == 1);
  CHECK(contains(invalid.output, "provisionctl: 400 InvalidField: "));
  for (const auto& args : std::vector<std::vector<std::string>>{{"template", "hook", "DemoFleet"},
                                                                {"template", "assignment", "DemoFleet", assignment, "--remove"}}) {
    auto r = ctl(args);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(line_count(r.output) == 1);
  }

  CHECK(ctl({"template", "hook", "DemoFleet", "--remove"}).code == 0);
  CHECK(ctl({"template", "assignment", "DemoFleet", "--remove"}).code == 0);
  auto removed = parsed_json(ctl({"template", "get", "DemoFleet", "--json"}));
  CHECK_FALSE(json::member(removed, "preProvisioningHook"));
  CHECK_FALSE(json::member(removed, "brokerAssignment"));
  auto record = stack.registry().find_template("DemoFleet");
  CHECK_FALSE(record->hook);
  CHECK_FALSE(record->assignment);
}

TEST_CASE("provisionctl template apply sets the hook and assignment on create and with a new version") {
  Stack stack;
  Provisionctl ctl(stack);
  auto file = write(stack.dir / "sensor.json", kSensorTemplate);
  auto hook = write(stack.dir / "hook.json", R"({"type": "enrollment", "registrationIdParameter": "SerialNumber"})");
  auto hashed = write(stack.dir / "hashed.json", R"({"policy": "hashed"})");
  auto created = ctl({"template", "apply", file, "--hook", hook, "--assignment", hashed});
  INFO(created.output);
  REQUIRE(created.code == 0);
  auto record = stack.registry().find_template("sensor");
  REQUIRE(record);
  REQUIRE(record->hook);
  CHECK(contains(*record->hook, "enrollment"));
  REQUIRE(record->assignment);
  CHECK(contains(*record->assignment, "hashed"));

  REQUIRE(ctl({"broker", "add", "eu-1", "mqtts://eu-1.example.com:8883"}).code == 0);
  auto pinned = write(stack.dir / "static.json", R"({"policy": "static", "broker": "eu-1"})");
  auto added = ctl({"template", "apply", file, "--assignment", pinned, "--description", "v2"});
  INFO(added.output);
  REQUIRE(added.code == 0);
  CHECK(contains(added.output, "version 2"));
  record = stack.registry().find_template("sensor");
  CHECK(record->default_version == 2);
  CHECK(record->description == "v2");
  REQUIRE(record->assignment);
  CHECK(contains(*record->assignment, "static"));
  CHECK(record->hook);  // left as it was

  auto unreadable = ctl({"template", "apply", file, "--hook", (stack.dir / "missing.json").string()});
  INFO(unreadable.output);
  CHECK(unreadable.code == 2);
  CHECK(stack.registry().find_template("sensor")->default_version == 2);  // nothing sent
}

TEST_CASE("provisionctl firmware publish, list, update, disable and delete, and broker --password-endpoint") {
  Stack stack;
  Provisionctl ctl(stack);
  const std::string sha(64, 'c');
  auto published = ctl({"firmware", "publish", "1", "1.10.0", "--url", "https://fw.example.com/1.10.0.bin", "--size", "2048",
                        "--sha256", sha, "--hardware", "ESP32-S3", "--hardware", "ESP32-C3", "--rollout", "20", "--min-version",
                        "1.0.0", "--changelog", "fixes"});
  INFO(published.output);
  REQUIRE(published.code == 0);
  CHECK(contains(published.output, "published: product 1 version 1.10.0"));
  auto releases = stack.registry().list_firmware_releases({});
  REQUIRE(releases.size() == 1);
  const std::string id = std::to_string(releases[0].id);
  CHECK(releases[0].rollout_percent == 20);
  CHECK(releases[0].hardware_versions == std::vector<std::string>{"ESP32-S3", "ESP32-C3"});
  CHECK(releases[0].min_current_version == std::string("1.0.0"));
  auto bad = ctl({"firmware", "publish", "1", "1.10", "--url", "https://x/y", "--size", "1", "--sha256", sha});
  INFO(bad.output);
  CHECK(bad.code == 1);
  CHECK(contains(bad.output, "version"));
  CHECK(ctl({"firmware", "publish", "1", "2.0.0"}).code == 2);  // no --url/--size/--sha256

  auto listed = ctl({"firmware", "list", "--product", "1"});
  INFO(listed.output);
  CHECK(listed.output.starts_with("ID"));
  CHECK(contains(listed.output, "1.10.0"));
  CHECK(line_count(ctl({"firmware", "list", "--product", "2"}).output) == 1);  // the header only
  CHECK(ctl({"firmware", "update", id, "--rollout", "60", "--no-min-version"}).code == 0);
  CHECK(stack.registry().find_firmware_release(releases[0].id)->rollout_percent == 60);
  CHECK_FALSE(stack.registry().find_firmware_release(releases[0].id)->min_current_version);
  CHECK(ctl({"firmware", "disable", id}).code == 0);
  CHECK_FALSE(stack.registry().find_firmware_release(releases[0].id)->enabled);
  CHECK(contains(ctl({"firmware", "get", id}).output, "enabled: false"));
  CHECK(ctl({"firmware", "delete", id}).code == 0);
  CHECK(stack.registry().list_firmware_releases({}).empty());

  CHECK(ctl({"broker", "add", "eu-1", "mqtts://eu-1.example.com:8883", "--password-endpoint", "mqtts://eu-1.example.com:8884"}).code == 0);
  CHECK(stack.registry().find_broker("eu-1")->password_endpoint == std::string("mqtts://eu-1.example.com:8884"));
  CHECK(ctl({"broker", "update", "eu-1", "--password-endpoint", "mqtt://eu-1.example.com:1884"}).code == 0);
  CHECK(stack.registry().find_broker("eu-1")->password_endpoint == std::string("mqtt://eu-1.example.com:1884"));
}

TEST_CASE("provisionctl device credential, rotate-secret and access") {
  Stack stack;
  Provisionctl ctl(stack);
  {
    auto reg = stack.registry();
    reg.insert_thing({"pw-ctl", std::nullopt, {}});
    registry::DeviceCredentialRecord c;
    c.thing_name = "pw-ctl";
    c.device_uuid = "2b0c8f0e-2f7e-4a59-9c39-1f3f1f0b7c11";
    c.secret_hash = std::string(64, '0');
    c.issued_at = 1;
    reg.insert_device_credential(c);
    reg.log_bootstrap_access({0, 5000, "192.0.2.1", "AA:BB:CC:DD:EE:FF", "/device/info", "not_found", 404, 100});
  }
  auto shown = ctl({"device", "credential", "pw-ctl"});
  INFO(shown.output);
  CHECK(shown.code == 0);
  CHECK(contains(shown.output, "2b0c8f0e-2f7e-4a59-9c39-1f3f1f0b7c11"));
  auto rotated = ctl({"device", "rotate-secret", "pw-ctl"});
  INFO(rotated.output);
  CHECK(rotated.code == 0);
  CHECK(contains(rotated.output, "new secret (shown once)"));
  CHECK(stack.registry().find_device_credential("pw-ctl")->secret_hash != std::string(64, '0'));
  auto access = ctl({"device", "access", "--mac", "AA:BB:CC:DD:EE:FF"});
  INFO(access.output);
  CHECK(access.code == 0);
  CHECK(contains(access.output, "192.0.2.1"));
  CHECK(line_count(ctl({"device", "access", "--mac", "00:00:00:00:00:00"}).output) == 1);
  CHECK(ctl({"device", "rotate-secret", "nobody"}).code == 1);
}
