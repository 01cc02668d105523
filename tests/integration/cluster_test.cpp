// Past one machine (docs/scaling.md): one PostgreSQL registry, two brokers
// behind haproxy (TCP), two provisiond workers linked to both. Real
// processes on loopback (cluster.h).
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "cluster.h"
#include "flows.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

int64_t ms(std::chrono::steady_clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// Requests a worker's log says it accepted.
size_t answered(const std::filesystem::path& log) { return count_text(log, ": accepted ("); }

}  // namespace

TEST_CASE("cluster: devices provision through haproxy onto both brokers, answered by both workers") {
  Cluster cluster(PostgresServer::shared());
  std::vector<ProvisionedDevice> devices;
  for (int i = 0; i < 8; ++i) devices.push_back(provision_device(cluster.stack, "cl-" + std::to_string(i)));
  // each device's own connection goes through haproxy too
  int on[2] = {0, 0};
  for (const auto& d : devices) {
    mqtt_session::Session session(cluster.stack.client(d.files, d.thing_name));
    session.connect();
    CHECK(session.publish("devices/" + d.thing_name + "/telemetry", "{}") == 0);
    int broker = cluster.broker_of(d.thing_name);
    REQUIRE(broker >= 0);
    ++on[broker];
  }
  INFO("broker A " << on[0] << ", broker B " << on[1]);
  CHECK(on[0] > 0);
  CHECK(on[1] > 0);
  size_t by[2] = {answered(cluster.worker_logs[0]), answered(cluster.worker_logs[1])};
  INFO("worker 1 answered " << by[0] << ", worker 2 " << by[1]);
  CHECK(by[0] > 0);
  CHECK(by[1] > 0);
  for (const auto& d : devices) CHECK(cluster.stack.registry().find_thing(d.thing_name));
}

TEST_CASE("cluster: a device on broker A revoked through worker 2's admin API is cut off within a second") {
  Cluster cluster(PostgresServer::shared());
  auto device = provision_device(cluster.stack, "cross-1");
  mqtt_session::Session session(cluster.direct(0, device.files, device.thing_name));
  session.connect();
  REQUIRE(cluster.broker_of(device.thing_name) == 0);
  httplib::Client admin("127.0.0.1", cluster.admin_ports[1]);
  httplib::Headers auth{{"Authorization", "Bearer " + cluster.stack.admin_token}};
  auto started = std::chrono::steady_clock::now();
  auto revoked = admin.Patch("/v1/certificates/" + device.certificate_id, auth, R"({"status":"REVOKED"})", "application/json");
  REQUIRE(revoked);
  CHECK(revoked->status == 200);
  CHECK(session.wait_disconnected(1000ms));
  WARN("cut off on broker A " << ms(std::chrono::steady_clock::now() - started)
                              << " ms after a revocation through worker 2 (PostgreSQL registry)");
  // and refused on broker B too
  mqtt_session::Session elsewhere(cluster.direct(1, device.files, device.thing_name));
  CHECK_THROWS(elsewhere.connect());
}

TEST_CASE("cluster: one worker killed mid-flood: the other answers, and every device provisions on retry") {
  // A request the dead worker held is answered 503 by the plugin after 3 s (not the default 15).
  Cluster cluster(PostgresServer::shared(), {{"reply_timeout_ms", "3000"}});
  std::atomic<int> done{0};
  std::mutex failures_lock;
  std::vector<std::string> failures;
  std::vector<std::thread> flood;
  constexpr int kThreads = 4, kPerThread = 6;
  for (int t = 0; t < kThreads; ++t)
    flood.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        try {
          provision_with_retries(cluster.stack, "flood-" + std::to_string(t) + "-" + std::to_string(i));
          ++done;
        } catch (const std::exception& e) {
          std::lock_guard lock(failures_lock);
          failures.push_back(e.what());
        }
      }
    });
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (done < 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  cluster.kill_worker(0);
  for (auto& t : flood) t.join();
  INFO(failures.size() << " failures; first: " << (failures.empty() ? "" : failures[0]));
  CHECK(done == kThreads * kPerThread);
  CHECK_FALSE(cluster.worker_running(0));

  // Nothing half-registered: every thing has an ACTIVE certificate, every
  // ACTIVE certificate a thing.
  auto reg = cluster.stack.registry();
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i) {
      const std::string thing = "demo-flood-" + std::to_string(t) + "-" + std::to_string(i);
      CHECK(reg.find_thing(thing));
    }
  registry::Page page;
  page.limit = 1000;
  for (const auto& c : reg.list_certificates(page, std::nullopt, std::string("ACTIVE"))) {
    INFO(c.id);
    REQUIRE(c.thing_name);
    CHECK(reg.find_thing(*c.thing_name));
  }
}

TEST_CASE("cluster: a broker killed: its devices reconnect through haproxy to the other") {
  Cluster cluster(PostgresServer::shared());
  std::vector<ProvisionedDevice> devices;
  for (int i = 0; i < 4; ++i) devices.push_back(provision_device(cluster.stack, "bk-" + std::to_string(i)));
  // one device on each broker, directly, so that the test knows which
  auto on_b = devices[0];
  mqtt_session::Session session(cluster.direct(1, on_b.files, on_b.thing_name));
  session.connect();
  cluster.kill_broker(1);
  CHECK(session.wait_disconnected(2000ms));
  // the device reconnects to the address it knows (haproxy): broker A takes it
  auto started = std::chrono::steady_clock::now();
  bool reconnected = false;
  while (!reconnected && std::chrono::steady_clock::now() - started < 10s) {
    try {
      mqtt_session::Session again(cluster.stack.client(on_b.files, on_b.thing_name));
      again.connect();
      reconnected = again.publish("devices/" + on_b.thing_name + "/telemetry", "{}") == 0;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  CHECK(reconnected);
  WARN("reconnected through haproxy " << ms(std::chrono::steady_clock::now() - started) << " ms after broker B died");
  // and provisioning goes on through the broker that is left
  auto late = provision_with_retries(cluster.stack, "bk-late");
  CHECK(cluster.stack.registry().find_thing(late.thing_name));
}

TEST_CASE("cluster: requests racing across the workers for one token and for one thing name: exactly one wins each") {
  Cluster cluster(PostgresServer::shared());
  // Two claim connections on broker A: the broker hands consecutive requests
  // to different members of its shared subscription (both workers' links).
  auto claim_a = cluster.stack.claim("race-a");
  claim_a.endpoint.port = cluster.broker_ports[0];
  auto claim_b = cluster.stack.claim("race-b");
  claim_b.endpoint.port = cluster.broker_ports[0];
  mqtt_session::Session a(claim_a), b(claim_b);
  a.connect();
  b.connect();
  device::ProvisioningClient client_a(a, protocol::Alias::Provision, 20s), client_b(b, protocol::Alias::Provision, 20s);
  auto race = [&](const std::string& token_a, const std::string& serial_a, const std::string& token_b, const std::string& serial_b) {
    device::Outcome first, second;
    std::thread ta([&] { first = client_a.register_thing("DemoFleet", token_a, {{"SerialNumber", serial_a}}); });
    std::thread tb([&] { second = client_b.register_thing("DemoFleet", token_b, {{"SerialNumber", serial_b}}); });
    ta.join();
    tb.join();
    return std::pair{std::move(first), std::move(second)};
  };

  for (int round = 0; round < 3; ++round) {
    // one token, two registrations
    auto issued = create_certificate(client_a);
    auto [x, y] = race(issued.ownership_token, "tok-" + std::to_string(round) + "-a", issued.ownership_token,
                       "tok-" + std::to_string(round) + "-b");
    INFO(x.describe() << "\n" << y.describe());
    CHECK(x.accepted() != y.accepted());
    CHECK((x.accepted() ? y : x).error_code == "CertificateOwnershipTokenUsed");

    // two tokens, one thing name
    auto one = create_certificate(client_a), two = create_certificate(client_b);
    const std::string serial = "name-" + std::to_string(round);
    auto [p, q] = race(one.ownership_token, serial, two.ownership_token, serial);
    INFO(p.describe() << "\n" << q.describe());
    CHECK(p.accepted() != q.accepted());
    CHECK((p.accepted() ? q : p).error_code == "ReprovisioningNotAllowed");
    auto reg = cluster.stack.registry();
    CHECK(reg.certificates_of_thing("demo-" + serial).size() == 1);
  }
  // both workers took part (their logs are flushed every second)
  CHECK(wait_for_text(cluster.worker_logs[0], "RegisterThing DemoFleet", 3s));
  CHECK(wait_for_text(cluster.worker_logs[1], "RegisterThing DemoFleet", 3s));
}
