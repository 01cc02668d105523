// Faults injected into real processes (docs/reliability.md): provisiond
// killed with SIGKILL at each point of a RegisterThing (util/fault.h), and
// what the device and the registry see afterwards.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "flows.h"
#include "process.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

struct Snapshot {
  bool thing = false;
  std::string certificate_status;
  bool token_used = false;
};

Snapshot snapshot(Stack& stack, const std::string& thing, const std::string& certificate_id) {
  auto reg = stack.registry();
  Snapshot s;
  s.thing = reg.find_thing(thing).has_value();
  auto certificate = reg.find_certificate(certificate_id);
  REQUIRE(certificate);
  s.certificate_status = certificate->status;
  s.token_used = certificate->token_used_at.has_value();
  return s;
}

}  // namespace

TEST_CASE("provisiond killed at each point of a RegisterThing: nothing half-written, and the device's retry succeeds") {
  // before the transaction and inside it (everything written, not committed): nothing is left;
  // after the commit, before the reply: all of it is there, and the retry is answered as it would have been.
  auto point = GENERATE(as<std::string>{}, "register-thing.before-transaction", "register-thing.before-commit",
                        "register-thing.after-commit");
  INFO(point);
  StackOptions options;
  options.worker_threads = 1;
  options.worker_environment = {{"PROVISION_KILL_AT", point}};
  Stack stack(options);
  mqtt_session::Session claim(stack.claim("fault-" + random_token(4)));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 5s);
  auto issued = create_certificate(client);
  const std::map<std::string, std::string> parameters{{"SerialNumber", "f-1"}};

  auto lost = client.register_thing("DemoFleet", issued.ownership_token, parameters);
  INFO(lost.describe());
  CHECK_FALSE(lost.accepted());
  // the only worker died: the plugin answers at once that none is left (or the device's wait ends)
  CHECK((lost.status_code == 503 || lost.kind == device::Outcome::Kind::Timeout));
  CHECK(stack.stop_worker() == 128 + SIGKILL);

  auto after_crash = snapshot(stack, "demo-f-1", issued.certificate_id);
  if (point == "register-thing.after-commit") {
    CHECK(after_crash.thing);
    CHECK(after_crash.certificate_status == "ACTIVE");
    CHECK(after_crash.token_used);
  } else {
    CHECK_FALSE(after_crash.thing);
    CHECK(after_crash.certificate_status == "PENDING_ACTIVATION");
    CHECK_FALSE(after_crash.token_used);
  }

  stack.set_worker_environment({});
  stack.start_worker();
  auto retried = client.register_thing("DemoFleet", issued.ownership_token, parameters);
  INFO(retried.describe());
  REQUIRE(retried.accepted());
  CHECK(json::string_member(retried.body, "thingName") == "demo-f-1");
  REQUIRE(retried.body.HasMember("deviceConfiguration"));
  auto done = snapshot(stack, "demo-f-1", issued.certificate_id);
  CHECK(done.thing);
  CHECK(done.certificate_status == "ACTIVE");

  // The device holds a working certificate.
  auto files = CertificateFiles{(stack.dir / "f-1.pem").string(), (stack.dir / "f-1.key").string()};
  write_file(files.certificate, issued.certificate_pem, 0644);
  write_file(files.key, issued.private_key_pem, 0600);
  mqtt_session::Session device(stack.client(files, "demo-f-1"));
  CHECK_NOTHROW(device.connect());
}

TEST_CASE("RegisterThing retried with the same token and request gets the same answer, and anything else is refused") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("retry-" + random_token(4)));
  claim.connect();
  device::ProvisioningClient client(claim);
  auto issued = create_certificate(client);
  auto first = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  REQUIRE(first.accepted());
  auto again = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  INFO(again.describe());
  REQUIRE(again.accepted());
  CHECK(json::stringify(again.body) == json::stringify(first.body));
  // the audit log holds one registration, not two
  auto reg = stack.registry();
  registry::AuditFilter filter;
  filter.action = "RegisterThing";
  filter.subject = "demo-r-1";
  CHECK(reg.audit_entries(filter).size() == 1);

  // other parameters, or another claim with the token: the token is used
  auto other = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-2"}});
  CHECK(other.error_code == "CertificateOwnershipTokenUsed");
  auto second_claim = stack.new_claim("other-claim", true, {"DemoFleet"});
  mqtt_session::Session thief(stack.client(second_claim, "thief-" + random_token(4)));
  thief.connect();
  device::ProvisioningClient thief_client(thief);
  auto stolen = thief_client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  CHECK_FALSE(stolen.accepted());
  CHECK(stolen.error_code == "CertificateOwnershipTokenUsed");

  // a revoked certificate is not answered again
  REQUIRE(reg.set_certificate_status(issued.certificate_id, "REVOKED"));
  auto revoked = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  CHECK(revoked.error_code == "CertificateOwnershipTokenUsed");
}

namespace {

// The lines of provisiond's output that are not log lines of its start.
std::vector<std::string> lines_of(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

bool claim_refused(Stack& stack) {
  mqtt_session::Session claim(stack.claim("after-damage-" + random_token(4)));
  try {
    claim.connect();
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

}  // namespace

TEST_CASE("a registry of a newer schema, or a corrupt one: provisiond refuses to start saying why in one line, and the "
          "broker refuses clients") {
  const bool corrupt = GENERATE(false, true);
  INFO((corrupt ? "corrupt" : "newer schema"));
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  const auto file = std::filesystem::path(stack.registry_location);
  if (corrupt) {
    // the header and first pages overwritten, as a failing disk or a stray write would
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const std::string garbage(8192, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  } else {
    std::string out;
    REQUIRE(run_command({"/usr/bin/sqlite3", file.string(), "PRAGMA user_version = 999"}, out) == 0);
  }
  std::string output;
  int status = run_command({provisiond_binary(), "serve", "--config", stack.config_file.string()}, output, 20s);
  INFO(output);
  CHECK(status != 0);
  auto lines = lines_of(output);
  REQUIRE_FALSE(lines.empty());
  const std::string& last = lines.back();
  if (corrupt) CHECK_THAT(last, Catch::Contains("not a database") || Catch::Contains("corrupt"));
  else CHECK_THAT(last, Catch::Contains("newer than this build knows"));
  // A broker (re)started on it fails closed: no client gets in on a
  // registry it cannot read, and its log says why.
  stack.stop_broker();
  stack.start_broker();
  CHECK(claim_refused(stack));
  CHECK(wait_for_text(stack.broker_log, corrupt ? "not a database" : "newer than this build knows", 2s));
}
