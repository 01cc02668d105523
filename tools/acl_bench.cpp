// acl-bench: what the broker plugin's decisions cost, measured on the plain
// C++ Gatekeeper (no broker, no network) over a real registry file and a real
// development PKI. Prints a Markdown table; it is a measurement, not a test.
//
//   acl-bench [--quick] [--max-connections N]
//
// Every figure is the median (and the minimum) over several repeats of a
// bounded loop timed with std::chrono::steady_clock, in nanoseconds per call.
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "development_fleet.h"
#include "gatekeeper.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/development_pki.h"
#include "pki/key.h"
#include "registry/registry.h"
#include "util/clock.h"
#include "util/random.h"

using namespace provision;
using namespace provision::plugin;
using Clock = std::chrono::steady_clock;

namespace {

// ------------------------------------------------------------------ set-up

// Policy documents. Every bench policy allows connect with any client id, so
// that connections can reuse certificates under their own client ids.
std::string telemetry_policy() {
  return R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "deny", "actions": ["publish", "subscribe", "receive"], "topics": ["devices/${thingName}/telemetry/secret"]},
    {"effect": "allow", "actions": ["publish", "subscribe", "receive"], "topics": ["devices/${thingName}/telemetry/+"]}
  ]})";
}

// `allows` allow statements (plus one deny and the connect statement); only
// the last allow statement matches devices/<thing>/telemetry/<n>.
std::string sized_policy(int allows) {
  std::string doc = R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "deny", "actions": ["publish", "subscribe", "receive"], "topics": ["devices/${thingName}/telemetry/secret"]})";
  for (int i = 0; i + 1 < allows; ++i)
    doc += ",\n    {\"effect\": \"allow\", \"actions\": [\"publish\", \"subscribe\", \"receive\"], \"topics\": "
           "[\"devices/${thingName}/stream" + std::to_string(i) + "/+\"]}";
  doc += ",\n    {\"effect\": \"allow\", \"actions\": [\"publish\", \"subscribe\", \"receive\"], \"topics\": "
         "[\"devices/${thingName}/telemetry/+\"]}\n  ]}";
  return doc;
}

// The development fleet (claim and fleet CAs, the claim certificate), with
// devices registered as the measurements need them (tests/support/development_fleet.h).
struct Bench : testing::DevelopmentFleet {
  // Registers an ACTIVE device certificate for `thing` with `policy` (call
  // inside a transaction for speed).
  void register_device(const pki::Certificate& cert, const std::string& thing, const std::string& policy) {
    DevelopmentFleet::register_device(cert, thing, registry::kActive, policy, {{"serialNumber", thing}});
  }

  std::unique_ptr<Gatekeeper> gatekeeper() {
    // No logger: the plugin's log lines are still formatted, but not written.
    return std::make_unique<Gatekeeper>(parse_options({{"registry", registry_path.string()}}), Logger{});
  }
};

// ------------------------------------------------------------------ timing

struct Sizes {
  int repeats = 5;
  long hit_iterations = 2'000'000;   // cached checks per repeat
  long miss_iterations = 200'000;    // first checks per repeat (1 allow statement)
  long auth_iterations = 2'000;      // authenticate calls per repeat (small policy)
};

struct Figure {
  double median_ns = 0, min_ns = 0;
  long iterations = 0;
  int repeats = 0;
};

volatile long g_sink = 0;  // keeps results observable

// Runs `body(repeat)` `repeats` times; each call performs `iterations`
// operations and returns how many were allowed. `before(repeat)` runs untimed.
Figure measure(int repeats, long iterations, const std::function<void(int)>& before,
               const std::function<long(int)>& body, long expected_allowed_per_repeat) {
  std::vector<double> per_op;
  for (int r = 0; r < repeats; ++r) {
    if (before) before(r);
    auto start = Clock::now();
    long allowed = body(r);
    auto elapsed = Clock::now() - start;
    if (expected_allowed_per_repeat >= 0 && allowed != expected_allowed_per_repeat)
      throw std::runtime_error("unexpected decisions: " + std::to_string(allowed) + " allowed, expected " +
                               std::to_string(expected_allowed_per_repeat));
    g_sink = g_sink + allowed;
    per_op.push_back(std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(iterations));
  }
  std::sort(per_op.begin(), per_op.end());
  return Figure{per_op[per_op.size() / 2], per_op.front(), iterations, repeats};
}

struct Row {
  std::string group, what, setting;
  Figure figure;
};

std::string format_ns(double ns) {
  char buffer[64];
  if (ns >= 1e6) std::snprintf(buffer, sizeof buffer, "%.2f ms", ns / 1e6);
  else if (ns >= 1e4) std::snprintf(buffer, sizeof buffer, "%.1f µs", ns / 1e3);
  else if (ns >= 1e3) std::snprintf(buffer, sizeof buffer, "%.2f µs", ns / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%.0f ns", ns);
  return buffer;
}

std::string format_rate(double ns) {
  char buffer[64];
  double per_s = 1e9 / ns;
  if (per_s >= 1e6) std::snprintf(buffer, sizeof buffer, "%.1f M/s", per_s / 1e6);
  else if (per_s >= 1e3) std::snprintf(buffer, sizeof buffer, "%.1f k/s", per_s / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%.0f /s", per_s);
  return buffer;
}

// ------------------------------------------------------------------ workloads

const char* access_name(Access a) {
  switch (a) {
    case Access::Write: return "publish (Write)";
    case Access::Subscribe: return "subscribe";
    case Access::Read: return "receive (Read)";
    case Access::Unsubscribe: return "unsubscribe";
  }
  return "?";
}

constexpr Access kAccesses[] = {Access::Write, Access::Subscribe, Access::Read};

AclRequest request(Access access, std::string_view topic) {
  AclRequest r;
  r.access = access;
  r.topic = topic;
  r.qos = 1;
  r.payload_length = 64;
  return r;
}

// One connection slot per key: the Gatekeeper only uses the address.
struct Connections {
  std::vector<char> slots;
  std::vector<std::string> things;  // thing name of each connection
  explicit Connections(size_t n) : slots(n), things(n) {}
  const void* key(size_t i) const { return &slots[i]; }
};

// Authenticates `count` connections, connection i with certificate i % certs.
// Returns the mean cost of one authenticate.
double connect_all(Gatekeeper& gk, Connections& conns, const std::vector<pki::Certificate>& certs,
                   const std::vector<std::string>& cert_things, int64_t now) {
  auto start = Clock::now();
  for (size_t i = 0; i < conns.slots.size(); ++i) {
    size_t c = i % certs.size();
    auto result = gk.authenticate(ClientInfo{conns.key(i), "bench-client-" + std::to_string(i), "127.0.0.1"},
                                  certs[c].get(), now);
    if (!result.allowed) throw std::runtime_error("bench device " + std::to_string(i) + " was refused");
    conns.things[i] = cert_things[c];
  }
  auto elapsed = Clock::now() - start;
  if (gk.connection_count() != conns.slots.size()) throw std::runtime_error("connection count mismatch");
  return std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(conns.slots.size());
}

// The cached / first-check workloads over `conns` (all in `gk`).
// hits: every connection checks a few topics it already checked, in a
// shuffled order; misses: every check is a new (connection, access, topic).
struct CheckFigures {
  Figure hit[3], miss_allowed[3], miss_denied[3];
};

CheckFigures measure_checks(Gatekeeper& gk, const Connections& conns, const Sizes& sizes, long miss_iterations,
                            bool with_hits, bool with_denied, uint64_t& topic_counter) {
  CheckFigures out;
  const size_t n = conns.slots.size();
  std::mt19937 rng(12345);

  // --- first checks: distinct topics, on connections picked at random (as
  // for the cached checks below). Build the topic strings untimed.
  std::vector<std::pair<const void*, std::string>> work(static_cast<size_t>(miss_iterations));
  std::uniform_int_distribution<size_t> any_connection(0, n - 1);
  auto build = [&](bool allowed) {
    for (long i = 0; i < miss_iterations; ++i) {
      size_t c = any_connection(rng);
      const std::string& thing = allowed ? conns.things[c] : conns.things[(c + 1) % n] + "-other";
      work[static_cast<size_t>(i)] = {conns.key(c), "devices/" + thing + "/telemetry/" + std::to_string(topic_counter++)};
    }
  };
  for (int a = 0; a < 3; ++a) {
    Access access = kAccesses[a];
    auto run = [&](int) {
      long allowed = 0;
      for (const auto& [key, topic] : work) allowed += gk.check_acl(key, request(access, topic));
      return allowed;
    };
    out.miss_allowed[a] = measure(sizes.repeats, miss_iterations, [&](int) { build(true); }, run, miss_iterations);
    if (with_denied) out.miss_denied[a] = measure(sizes.repeats, miss_iterations, [&](int) { build(false); }, run, 0);
  }
  if (!with_hits) return out;

  // --- cached checks: 8 topics per connection and access, checked once
  // beforehand, then re-checked in a shuffled (connection, topic) order.
  constexpr int kTopicsPerConnection = 8;
  std::vector<std::string> topics(n * kTopicsPerConnection);
  for (size_t c = 0; c < n; ++c)
    for (int t = 0; t < kTopicsPerConnection; ++t)
      topics[c * kTopicsPerConnection + static_cast<size_t>(t)] = "devices/" + conns.things[c] + "/telemetry/cached-" + std::to_string(t);
  std::vector<uint32_t> order(static_cast<size_t>(std::max<long>(sizes.hit_iterations, 1)));
  std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(topics.size() - 1));
  for (auto& o : order) o = pick(rng);
  const long hits = static_cast<long>(order.size());
  for (int a = 0; a < 3; ++a) {
    Access access = kAccesses[a];
    for (size_t i = 0; i < topics.size(); ++i)
      if (!gk.check_acl(conns.key(i / kTopicsPerConnection), request(access, topics[i])))
        throw std::runtime_error("cached topic refused: " + topics[i]);
    out.hit[a] = measure(
        sizes.repeats, hits, nullptr,
        [&](int) {
          long allowed = 0;
          for (uint32_t o : order) allowed += gk.check_acl(conns.key(o / kTopicsPerConnection), request(access, topics[o]));
          return allowed;
        },
        hits);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"acl-bench: cost of the broker plugin's ACL and authentication decisions (no broker, no network)"};
  bool quick = false;
  long max_connections = 10000;
  app.add_flag("--quick", quick, "small iteration counts (a smoke run of a few seconds)");
  app.add_option("--max-connections", max_connections, "largest number of connected devices to measure with")
      ->check(CLI::Range(1L, 1'000'000L));
  CLI11_PARSE(app, argc, argv);

  try {
    Sizes sizes;
    if (quick) sizes = Sizes{3, 20'000, 4'000, 40};

    std::fprintf(stderr, "acl-bench: setting up a development PKI and registry...\n");
    Bench bench;
    std::vector<Row> rows;

    // --- device certificates: a pool reused across connections.
    const int certificate_pool = static_cast<int>(std::min<long>(200, max_connections));
    std::vector<pki::Certificate> pool;
    std::vector<std::string> pool_things;
    auto setup_start = Clock::now();
    {
      auto tx = bench.reg.begin();
      bench.reg.put_policy("BenchTelemetry", telemetry_policy());
      for (int i = 0; i < certificate_pool; ++i) {
        std::string thing = "bench-" + std::to_string(i);
        pool.push_back(bench.issue(bench.fleet_ca, thing));
        pool_things.push_back(thing);
        bench.register_device(pool.back(), thing, "BenchTelemetry");
      }
      tx.commit();
    }
    double setup_ms = std::chrono::duration<double, std::milli>(Clock::now() - setup_start).count();
    std::fprintf(stderr, "acl-bench: issued and registered %d device certificates in %.0f ms\n", certificate_pool, setup_ms);

    uint64_t topic_counter = 0;

    // --- 1. one connection: cached and first checks, per access.
    {
      auto gk = bench.gatekeeper();
      Connections one(1);
      connect_all(*gk, one, pool, pool_things, bench.now);
      auto f = measure_checks(*gk, one, sizes, sizes.miss_iterations, true, true, topic_counter);
      for (int a = 0; a < 3; ++a) {
        std::string access = access_name(kAccesses[a]);
        rows.push_back({"check, 1 connection", access + ", cached", "1 allow + 1 deny", f.hit[a]});
        rows.push_back({"check, 1 connection", access + ", first check, allowed", "1 allow + 1 deny", f.miss_allowed[a]});
        rows.push_back({"check, 1 connection", access + ", first check, denied", "1 allow + 1 deny", f.miss_denied[a]});
      }
    }

    // --- 2. policy size: first checks where only the last allow matches,
    // and authenticate (policy compile) with that policy.
    for (int statements : {1, 10, 100, 1000}) {
      std::string policy = "Bench" + std::to_string(statements);
      std::string thing = "sized-" + std::to_string(statements);
      auto cert = bench.issue(bench.fleet_ca, thing);
      {
        auto tx = bench.reg.begin();
        bench.reg.put_policy(policy, sized_policy(statements));
        bench.register_device(cert, thing, policy);
        tx.commit();
      }
      auto gk = bench.gatekeeper();
      Connections one(1);
      connect_all(*gk, one, {cert}, {thing}, bench.now);
      long iterations = std::max<long>(quick ? 200 : 1000, sizes.miss_iterations / (1 + statements / 10));
      auto f = measure_checks(*gk, one, sizes, iterations, false, false, topic_counter);
      std::string setting = std::to_string(statements) + " allow + 1 deny";
      for (int a = 0; a < 3; ++a)
        rows.push_back({"policy size", std::string(access_name(kAccesses[a])) + ", first check (last statement matches)",
                        setting, f.miss_allowed[a]});

      long auth_iterations = std::max<long>(quick ? 5 : 50, sizes.auth_iterations / (1 + statements / 10));
      int slot = 0;
      auto auth = measure(
          sizes.repeats, auth_iterations, nullptr,
          [&](int) {
            long allowed = 0;
            for (long i = 0; i < auth_iterations; ++i)
              allowed += gk->authenticate(ClientInfo{&slot, "sized-client", "127.0.0.1"}, cert.get(), bench.now).allowed;
            return allowed;
          },
          auth_iterations);
      rows.push_back({"policy size", "authenticate device (lookup + policy compile)", setting, auth});
    }

    // --- 3. number of connected devices (and the plugin's heap per connection).
    struct Memory {
      long connections;
      double per_connection, per_connection_after_checks;
    };
    std::vector<Memory> memory;
    std::vector<long> counts;
    for (long c : {10L, 1000L, 10000L})
      if (c <= max_connections) counts.push_back(c);
    if (counts.empty() || counts.back() != max_connections) counts.push_back(max_connections);
    for (long count : counts) {
      auto gk = bench.gatekeeper();
      Connections conns(static_cast<size_t>(count));
      // The registry is opened on the first authenticate: do that first.
      {
        int warm = 0;
        gk->authenticate(ClientInfo{&warm, "warm-up", "127.0.0.1"}, pool[0].get(), bench.now);
        gk->on_disconnect(&warm);
      }
      size_t heap_before = mallinfo2().uordblks;
      double connect_ns = connect_all(*gk, conns, pool, pool_things, bench.now);
      size_t heap_connected = mallinfo2().uordblks;
      std::string setting = std::to_string(count) + " connections";
      rows.push_back({"connections", "authenticate device, filling the gatekeeper (mean, 1 run)", setting,
                      Figure{connect_ns, connect_ns, count, 1}});
      auto f = measure_checks(*gk, conns, sizes, sizes.miss_iterations, true, false, topic_counter);
      size_t heap_checked = mallinfo2().uordblks;
      memory.push_back({count, static_cast<double>(heap_connected - heap_before) / static_cast<double>(count),
                        static_cast<double>(heap_checked - heap_before) / static_cast<double>(count)});
      for (int a = 0; a < 3; ++a) {
        std::string access = access_name(kAccesses[a]);
        rows.push_back({"connections", access + ", cached", setting, f.hit[a]});
        rows.push_back({"connections", access + ", first check, allowed", setting, f.miss_allowed[a]});
      }
    }

    // --- 4. authenticate: device, registered claim, claim through the claim CA.
    {
      auto gk = bench.gatekeeper();
      auto ca_claim = bench.issue(bench.claim_ca, "claim-batch-2");  // not registered: a claim through its CA
      struct Case {
        const char* what;
        const pki::Certificate* cert;
        const char* client_id;
      } cases[] = {{"authenticate device (3-statement policy)", &pool[0], "bench-auth-device"},
                   {"authenticate claim (registered claim certificate)", &bench.claim, "factory-device-1"},
                   {"authenticate claim (through the claim CA)", &ca_claim, "factory-device-2"}};
      int slot = 0;
      for (const auto& c : cases) {
        auto figure = measure(
            sizes.repeats, sizes.auth_iterations, nullptr,
            [&](int) {
              long allowed = 0;
              for (long i = 0; i < sizes.auth_iterations; ++i)
                allowed += gk->authenticate(ClientInfo{&slot, c.client_id, "127.0.0.1"}, c.cert->get(), bench.now).allowed;
              return allowed;
            },
            sizes.auth_iterations);
        rows.push_back({"authenticate", c.what, "1 connection", figure});
      }
    }

    // --- the table.
    std::printf("# acl-bench%s\n\n", quick ? " (--quick: small iteration counts, figures are rough)" : "");
    std::printf("| group | measurement | setting | median / call | min / call | calls/s (median) | calls × repeats |\n");
    std::printf("|---|---|---|---:|---:|---:|---:|\n");
    for (const auto& r : rows)
      std::printf("| %s | %s | %s | %s | %s | %s | %ld × %d |\n", r.group.c_str(), r.what.c_str(), r.setting.c_str(),
                  format_ns(r.figure.median_ns).c_str(), format_ns(r.figure.min_ns).c_str(),
                  format_rate(r.figure.median_ns).c_str(), r.figure.iterations, r.figure.repeats);
    std::printf("\n| plugin heap per connected device | connected | after its ACL checks (cache filled) |\n|---|---:|---:|\n");
    for (const auto& m : memory)
      std::printf("| %ld connections | %.0f bytes | %.0f bytes |\n", m.connections, m.per_connection, m.per_connection_after_checks);
    std::printf(
        "\nNotes:\n"
        "- Heap per connection: glibc mallinfo2() bytes in use, before and after authenticating the connections\n"
        "  (and after their ACL checks), divided by their number: the gatekeeper's state, its indexes and the\n"
        "  compiled policies; not TLS or the broker's own per-client memory.\n"
        "- One thread, Gatekeeper::check_acl / authenticate called directly: no broker, no TLS, no network.\n"
        "- \"cached\": the (connection, access, topic) was checked before; 8 topics per connection, picked at random.\n"
        "- \"first check\": every check is a new topic (devices/<thing>/telemetry/<n>) on a random connection;\n"
        "  inserting into the per-connection cache (at most 8 entries, then replaced round robin) is part of the cost.\n"
        "  \"denied\": another thing's topic, which no statement matches. Topic strings are built untimed.\n"
        "- Policy size: N allow statements plus one deny, only the last allow statement matches.\n"
        "- Connections: %d device certificates were issued and reused across connections, each connection with\n"
        "  its own key (connection object) and client id; the bench policy allows connect with any client id.\n"
        "  authenticate() looks the certificate up by its id and compiles its policies, which reuse does not\n"
        "  change; but the registry holds %d things rather than one per connection, and up to N/%d connections\n"
        "  share a certificate (which only per-certificate bookkeeping in the gatekeeper would notice).\n"
        "- authenticate repeats on one connection object (each call replaces the previous state); the log\n"
        "  lines are formatted but not written (no logger).\n",
        certificate_pool, certificate_pool, certificate_pool);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acl-bench: %s\n", e.what());
    return 1;
  }
}
