// Unit tests of provisiond's code that needs no broker: broker assignment,
// pre-provisioning hooks (exec, signatures, answers), re-provisioning under
// each OverrideSettings value, and the pool of registry connections.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <thread>

#include "broker_config.h"
#include "util/rate_limits.h"
#include "fleet/housekeeping.h"
#include "provisioning/bootstrap.h"
#include "metrics.h"
#include "provisioning/assignment.h"
#include "hooks/hook.h"
#include "provisioning/registration.h"
#include "registry_pool.h"
#include "temp_dir.h"
#include "util/encoding.h"
#include "util/error.h"

using namespace provision;
using namespace provision::service;
using namespace std::chrono_literals;

namespace {

registry::BrokerRecord broker(const std::string& name, int64_t weight, bool enabled = true) {
  registry::BrokerRecord b;
  b.name = name;
  b.endpoint = "mqtts://" + name + ".example.com:8883";
  b.weight = weight;
  b.enabled = enabled;
  return b;
}

hooks::HookConfig exec_hook(std::vector<std::string> args, std::chrono::milliseconds timeout = 2s) {
  hooks::HookConfig c;
  c.type = hooks::HookConfig::Type::Exec;
  c.command = {PROVISION_SOURCE_DIR "/tests/data/hooks/echo_hook.sh"};
  c.command.insert(c.command.end(), args.begin(), args.end());
  c.timeout = timeout;
  return c;
}

hooks::HookInput sample_input() {
  return {"claim-id", "cert-id", "-----BEGIN CERTIFICATE-----", "DemoFleet", "client-1", {{"SerialNumber", "42"}}};
}

std::string code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const RequestError& e) {
    return e.code;
  }
  return "none";
}

}  // namespace

TEST_CASE("hashed assignment spreads 1000 thing names across weighted brokers within 5% of the weights, stably") {
  std::vector<registry::BrokerRecord> brokers{broker("a", 1), broker("b", 2), broker("c", 5)};
  std::map<std::string, int> counts;
  std::map<std::string, std::string> first;
  for (int i = 0; i < 1000; ++i) {
    std::string thing = "thing-" + std::to_string(i);
    auto chosen = choose_hashed(brokers, thing);
    REQUIRE(chosen);
    ++counts[chosen->name];
    first[thing] = chosen->name;
  }
  // expected shares 1/8, 2/8, 5/8 of 1000; within 5% of the total
  CHECK(std::abs(counts["a"] - 125) <= 50);
  CHECK(std::abs(counts["b"] - 250) <= 50);
  CHECK(std::abs(counts["c"] - 625) <= 50);
  WARN("a=" << counts["a"] << " b=" << counts["b"] << " c=" << counts["c"] << " (expected 125/250/625)");
  // stable: the same name always gets the same broker
  for (int i = 0; i < 1000; ++i) CHECK(choose_hashed(brokers, "thing-" + std::to_string(i))->name == first["thing-" + std::to_string(i)]);

  // disabling a broker moves only its things; the others stay where they were
  brokers[1].enabled = false;
  int moved_elsewhere = 0;
  for (const auto& [thing, name] : first) {
    auto now = choose_hashed(brokers, thing)->name;
    CHECK(now != "b");
    if (name != "b" && now != name) ++moved_elsewhere;
  }
  CHECK(moved_elsewhere == 0);
  CHECK_FALSE(choose_hashed({broker("x", 0), broker("y", 3, false)}, "t"));
}

TEST_CASE("assignment policies are validated") {
  CHECK(parse_assignment(R"({"policy":"static","broker":"b1"})").broker == "b1");
  CHECK(parse_assignment(R"({"policy":"hashed"})").kind == AssignmentPolicy::Kind::Hashed);
  CHECK(parse_assignment(R"({"policy":"hook"})").kind == AssignmentPolicy::Kind::Hook);
  CHECK_THROWS_WITH(parse_assignment(R"({"policy":"static"})"), Catch::Contains("/broker"));
  CHECK_THROWS_WITH(parse_assignment(R"({"policy":"random"})"), Catch::Contains("brokerAssignment"));
}

TEST_CASE("hook documents are validated and described without their secret") {
  auto http = hooks::parse_hook(R"({"type":"http","url":"https://hooks.example.com/check","secret":"0123456789abcdef0123","timeoutMs":2000})");
  CHECK(http.type == hooks::HookConfig::Type::Http);
  CHECK(http.timeout == 2000ms);
  auto described = hooks::describe_hook(http);
  CHECK_THAT(described, !Catch::Contains("0123456789abcdef"));
  CHECK_THAT(described, Catch::Contains("secretSet"));
  CHECK(hooks::parse_hook(R"({"type":"exec","command":["/bin/true"]})").timeout == 5000ms);  // default 5 s
  CHECK_THROWS_WITH(hooks::parse_hook(R"({"type":"http","url":"ftp://x"})"), Catch::Contains("/url"));
  CHECK_THROWS_WITH(hooks::parse_hook(R"({"type":"exec"})"), Catch::Contains("/command"));
  CHECK_THROWS_WITH(hooks::parse_hook(R"({"type":"http","url":"http://x","secret":"short"})"), Catch::Contains("/secret"));
  CHECK_THROWS(hooks::parse_hook(R"({"type":"webhook"})"));
}

TEST_CASE("hook input follows the AWS contract and signatures are HMAC-SHA256 over timestamp and body") {
  auto input = hooks::input_json(sample_input());
  CHECK_THAT(input, Catch::Contains(R"("claimCertificateId":"claim-id")"));
  CHECK_THAT(input, Catch::Contains(R"("parameters":{"SerialNumber":"42"})"));
  CHECK(hooks::signature("key", "1700000000", "{}") == "sha256=" + to_hex(hmac_sha256("key", "1700000000.{}")));
  // RFC 4231 test case 2
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("hook answers: allow with overrides, deny, malformed") {
  auto d = hooks::parse_output(R"({"allowProvisioning":true,"parameterOverrides":{"SerialNumber":"x"},"broker":"b2"})");
  CHECK(d.allow);
  CHECK(d.parameter_overrides.at("SerialNumber") == "x");
  CHECK(d.broker == "b2");
  CHECK_FALSE(hooks::parse_output(R"({"allowProvisioning":false})").allow);
  CHECK(code_of([] { hooks::parse_output("nope"); }) == "HookInvalidResponse");
  CHECK(code_of([] { hooks::parse_output(R"({"parameterOverrides":{}})"); }) == "HookInvalidResponse");
  CHECK(code_of([] { hooks::parse_output(R"({"allowProvisioning":"yes"})"); }) == "HookInvalidResponse");
  CHECK(code_of([] { hooks::parse_output(R"({"allowProvisioning":true,"parameterOverrides":{"a":1}})"); }) ==
        "HookInvalidResponse");
}

TEST_CASE("exec hooks: allow, deny, garbage, failure and timeout each reject with their own errorCode") {
  auto decision = hooks::run(exec_hook({"allow"}), sample_input());
  CHECK(decision.parameter_overrides.at("SerialNumber") == "hooked-42");
  CHECK(code_of([] { hooks::run(exec_hook({"deny"}), sample_input()); }) == "HookDenied");
  CHECK(code_of([] { hooks::run(exec_hook({"garbage"}), sample_input()); }) == "HookInvalidResponse");
  CHECK(code_of([] { hooks::run(exec_hook({"fail"}), sample_input()); }) == "HookFailed");
  auto started = std::chrono::steady_clock::now();
  CHECK(code_of([] { hooks::run(exec_hook({"sleep"}, 300ms), sample_input()); }) == "HookTimeout");
  // killed at its timeout, not waited for
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  hooks::HookConfig missing = exec_hook({});
  missing.command = {"/nonexistent/hook"};
  CHECK(code_of([&] { hooks::run(missing, sample_input()); }) == "HookFailed");
}

namespace {
templates::ThingPlan thing_plan(templates::Override attributes, templates::Override type, templates::Override groups) {
  templates::ThingPlan p;
  p.name = "t1";
  p.attributes = {{"fw", "2"}, {"site", "b"}};
  p.has_attributes = true;
  p.thing_type = "sensor-v2";
  p.groups = {"new-group"};
  p.has_groups = true;
  p.attributes_override = attributes;
  p.thing_type_override = type;
  p.groups_override = groups;
  return p;
}
registry::ThingRecord existing_thing() {
  registry::ThingRecord t;
  t.name = "t1";
  t.thing_type = "sensor-v1";
  t.attributes = {{"fw", "1"}, {"owner", "acme"}};
  return t;
}
}  // namespace

TEST_CASE("re-provisioning under each OverrideSettings value") {
  using O = templates::Override;
  const std::vector<std::string> old_groups{"old-group"};
  SECTION("a new thing takes everything") {
    auto c = decide_thing(thing_plan(O::Fail, O::Fail, O::Fail), std::nullopt);
    CHECK(c.action == ThingChange::Action::Create);
    CHECK(c.record.attributes.at("fw") == "2");
    CHECK(c.groups == std::vector<std::string>{"new-group"});
  }
  SECTION("DO_NOTHING keeps the existing thing") {
    auto c = decide_thing(thing_plan(O::DoNothing, O::DoNothing, O::DoNothing), existing_thing(), old_groups);
    CHECK(c.action == ThingChange::Action::Keep);
    CHECK(c.record.attributes == existing_thing().attributes);
    CHECK(c.record.thing_type == "sensor-v1");
    CHECK(c.groups == old_groups);
  }
  SECTION("REPLACE takes the template's values") {
    auto c = decide_thing(thing_plan(O::Replace, O::Replace, O::Replace), existing_thing(), old_groups);
    CHECK(c.action == ThingChange::Action::Update);
    CHECK(c.record.attributes == std::map<std::string, std::string>{{"fw", "2"}, {"site", "b"}});
    CHECK(c.record.thing_type == "sensor-v2");
    CHECK(c.groups == std::vector<std::string>{"new-group"});
  }
  SECTION("MERGE merges attributes and groups") {
    auto c = decide_thing(thing_plan(O::Merge, O::DoNothing, O::Merge), existing_thing(), old_groups);
    CHECK(c.record.attributes == std::map<std::string, std::string>{{"fw", "2"}, {"owner", "acme"}, {"site", "b"}});
    CHECK(c.groups == std::vector<std::string>{"new-group", "old-group"});
  }
  SECTION("FAIL rejects a registration of an existing thing with ResourceConflict") {
    CHECK(code_of([&] { decide_thing(thing_plan(O::Fail, O::DoNothing, O::DoNothing), existing_thing()); }) == "ResourceConflict");
    CHECK(code_of([&] { decide_thing(thing_plan(O::DoNothing, O::Fail, O::DoNothing), existing_thing()); }) == "ResourceConflict");
    CHECK(code_of([&] { decide_thing(thing_plan(O::DoNothing, O::DoNothing, O::Fail), existing_thing()); }) == "ResourceConflict");
  }
}

TEST_CASE("the registry pool lends the most recently returned connection first, and opens at most its capacity") {
  testing::TempDir dir("service-test-");
  int opened = 0;
  RegistryPool pool(
      [&] {
        ++opened;
        return registry::Registry::open(dir.path / "registry.db");
      },
      2);
  const registry::Registry* first = nullptr;
  const registry::Registry* second = nullptr;
  {
    auto a = pool.acquire();
    auto b = pool.acquire();  // overlaps a: needs a connection of its own
    first = &*a;
    second = &*b;
    CHECK(first != second);
    CHECK(opened == 2);
    CHECK(pool.idle() == 0);
  }  // b goes back, then a: a is now the warmest
  CHECK(pool.idle() == 2);
  {
    auto c = pool.acquire();
    CHECK(&*c == first);
    c->put_broker({"b1", "mqtts://b1.example.com:8883", 1, true, 0, 0, std::nullopt});
  }
  for (int i = 0; i < 3; ++i) {  // requests one after another stay on the warm connection
    auto d = pool.acquire();
    CHECK(&*d == first);
    CHECK(d->list_brokers().size() == 1);
  }
  CHECK(opened == 2);
}

TEST_CASE("with every connection lent, a borrower waits until one comes back") {
  testing::TempDir dir("service-test-");
  RegistryPool pool([&] { return registry::Registry::open(dir.path / "registry.db"); }, 1);
  std::optional<RegistryPool::Lease> held(pool.acquire());
  const registry::Registry* lent = &**held;
  std::atomic<bool> borrowed{false};
  const registry::Registry* second = nullptr;
  std::thread waiter([&] {
    auto lease = pool.acquire();
    second = &*lease;
    borrowed = true;
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(borrowed.load());  // still waiting: the only connection is lent
  held.reset();
  waiter.join();
  CHECK(borrowed.load());
  CHECK(second == lent);  // the same connection, not a new one
}

TEST_CASE("a request's access borrows on first use and gives the connection back for others while it waits") {
  testing::TempDir dir("service-test-");
  RegistryPool pool([&] { return registry::Registry::open(dir.path / "registry.db"); }, 1);
  RegistryAccess request(pool);
  CHECK_FALSE(request.holding());
  CHECK(pool.idle() == 0);
  request.registry().put_broker({"b1", "mqtts://b1.example.com:8883", 1, true, 0, 0, std::nullopt});
  CHECK(request.holding());
  request.give_back();  // e.g. before a hook
  CHECK_FALSE(request.holding());
  {
    RegistryAccess other(pool);  // does not wait: the connection is free
    CHECK(other.registry().list_brokers().size() == 1);
  }
  CHECK(request.registry().find_broker("b1").has_value());  // borrows again
  CHECK(pool.idle() == 0);
}

TEST_CASE("a registry that cannot be opened is an error of the request, and the pool lends nothing broken") {
  testing::TempDir dir("service-test-");
  RegistryPool pool([&] { return registry::Registry::open(dir.path / "missing-dir" / "registry.db"); }, 1);
  CHECK_THROWS(pool.acquire());
  CHECK_THROWS(pool.acquire());  // the failed open does not count against the capacity
  CHECK(pool.idle() == 0);
}

TEST_CASE("housekeeping prunes the bootstrap access log past its retention") {
  testing::TempDir dir("service-test-");
  auto reg = registry::Registry::open(dir.path / "r.db");
  const int64_t now = 1'000'000;
  reg.log_bootstrap_access({0, (now - 3601) * 1000, "10.0.0.1", "", "/health", "ok", 200, 1});
  reg.log_bootstrap_access({0, (now - 60) * 1000, "10.0.0.1", "", "/health", "ok", 200, 1});
  auto done = fleet::housekeep(reg, now, 3600, 0, 3600);
  CHECK(done.access_log == 1);
  CHECK(reg.bootstrap_access({}).size() == 1);
  CHECK(fleet::describe(done).find("pruned 1 bootstrap access log entries") != std::string::npos);
}

TEST_CASE("bootstrap: MAC addresses in every common notation are normalised, anything else refused") {
  for (const char* ok : {"AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff", "aabbccddeeff", "AABB.CCDD.EEFF", "aAbB.cCdD.eEfF"}) {
    INFO(ok);
    CHECK(service::normalise_mac(ok) == std::string("AA:BB:CC:DD:EE:FF"));
  }
  for (const char* bad : {"", "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:FF:00", "AA:BB:CC-DD:EE:FF", "GG:BB:CC:DD:EE:FF", "AABB:CCDD:EEFF",
                          "A:ABB:CC:DD:EE:FF", "AABBCCDDEEF", " AA:BB:CC:DD:EE:FF", "AA.BB.CC.DD.EE.FF", "aabbccddeeff00"}) {
    INFO(bad);
    CHECK_FALSE(service::normalise_mac(bad));
  }
}

TEST_CASE("bootstrap: the listener's limit is n a minute in bursts of n, says when to retry, and stays bounded under a flood of keys") {
  SharedRateLimiter limiter(SharedRateLimiter::per_minute(3), 1000);
  CHECK(limiter.take_or_retry_after("a", 0) == 0);
  CHECK(limiter.take_or_retry_after("a", 10) == 0);
  CHECK(limiter.take_or_retry_after("a", 20) == 0);
  CHECK(limiter.take_or_retry_after("a", 30) == 20);  // one more every 20 s
  CHECK(limiter.take_or_retry_after("a", 10'030) == 10);
  CHECK(limiter.take_or_retry_after("b", 10'030) == 0);  // another key is not limited
  CHECK(limiter.take_or_retry_after("a", 20'030) == 0);  // refilled by one
  CHECK(limiter.take_or_retry_after("a", 20'040) > 0);
  // a flood of new keys: never more than max_keys tracked; past that new keys are refused (fail closed)
  int refused = 0;
  for (int i = 0; i < 200'000; ++i) refused += limiter.take_or_retry_after("flood-" + std::to_string(i), 61'000) != 0;
  CHECK(limiter.size() <= 1000);
  CHECK(refused >= 199'000);
  // once their buckets have refilled they are forgotten, and new keys are let in again
  CHECK(limiter.take_or_retry_after("late", 125'000) == 0);
  CHECK(limiter.size() < 10);
  SharedRateLimiter off(SharedRateLimiter::per_minute(0), 10);
  for (int i = 0; i < 100; ++i) CHECK(off.take_or_retry_after("x", i) == 0);
}

TEST_CASE("metrics: a counter kept minute by minute gives the last hour's increments by one label") {
  using provision::service::Metrics;
  Metrics m;
  m.declare_counter("requests_total", "test");
  m.declare_counter("other_total", "test");
  m.keep_minutes("requests_total", "outcome");
  m.increment("requests_total", {{"operation", "RegisterThing"}, {"outcome", "accepted"}});
  m.increment("requests_total", {{"operation", "CreateKeysAndCertificate"}, {"outcome", "accepted"}});
  m.increment("requests_total", {{"operation", "RegisterThing"}, {"outcome", "EnrollmentNotAllowed"}}, 3);
  m.increment("other_total");
  auto hour = m.last_hour("requests_total");
  REQUIRE(hour.size() == 60);
  for (size_t i = 1; i < hour.size(); ++i) CHECK(hour[i].at == hour[i - 1].at + 60);
  // the increments were made in the last minute, or the one before if it just turned
  const auto& now = hour.back().by.empty() ? hour[58] : hour.back();
  CHECK(now.by.at("accepted") == 2);
  CHECK(now.by.at("EnrollmentNotAllowed") == 3);
  CHECK(m.counter_value("requests_total", {{"operation", "RegisterThing"}, {"outcome", "accepted"}}) == 1);
  // a counter not kept has no minutes, only zeros
  for (const auto& minute : m.last_hour("other_total")) CHECK(minute.by.empty());
  CHECK_THROWS(m.keep_minutes("no_such_total", "x"));
}

TEST_CASE("the generated mosquitto.conf bounds what one client can make the broker hold") {
  service::BrokerConfig config;
  config.certificate = "broker.pem";
  config.key = "broker.key";
  config.plugin = "mosquitto_provision.so";
  config.registry = "registry.db";
  const std::string text = service::render_broker_config(config);
  CHECK_THAT(text, Catch::Contains("\nmax_packet_size 1179648\n"));
  CHECK_THAT(text, Catch::Contains("\nmax_queued_messages 100000\n"));
  CHECK_THAT(text, Catch::Contains("\nmax_queued_bytes 67108864\n"));
  // global settings, before the first listener
  CHECK(text.find("max_packet_size") < text.find("\nlistener "));
  CHECK_THAT(service::render_plugin_options_file(), Catch::Contains("# rejection_rate_per_client 10/100"));
}
