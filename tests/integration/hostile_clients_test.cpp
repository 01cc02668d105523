// Slow and hostile MQTT clients against a real broker with the plugin
// (docs/reliability.md, "Slow and hostile clients"): thousands of
// connections that never finish their TLS handshake, clients that never read
// their replies, partial CONNECT packets. Each test measures the broker
// itself (VmRSS in /proc/<pid>/status, /proc/<pid>/fd) before, during and
// after, and has a certificate device provision and publish meanwhile.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "flows.h"
#include "stack.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The broker's resident memory, in KiB (0 when it is gone).
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return 0;
}

int open_fds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// A process's soft limit on open files ("Max open files" in /proc/<pid>/limits).
long fd_limit(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("Max open files")) {
      std::istringstream fields(line.substr(std::string("Max open files").size()));
      std::string soft;
      fields >> soft;
      return soft == "unlimited" ? 1L << 20 : std::stol(soft);
    }
  return 0;
}

// Raises this process's soft limit on open files to its hard limit; a broker
// started afterwards inherits it (mosquitto 2.0.11 does not change its own).
long raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(limit.rlim_cur);
}

// Waits until `condition` holds (polling), at most `timeout`; returns whether it did.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// What the good device takes to be served while the attack goes on: it
// provisions over the claim (CreateCertificateFromCsr, RegisterThing: each
// reply received), connects with its new certificate, subscribes to its
// commands and publishes telemetry at QoS 1 (acknowledged). Seconds.
double serve_good_device(Stack& stack, const std::string& serial) {
  auto started = Clock::now();
  auto device = provision_device(stack, serial);
  mqtt_session::Session session(stack.client(device.files, device.thing_name));
  session.connect();
  auto granted = session.subscribe({"devices/" + device.thing_name + "/commands"});
  REQUIRE(granted.size() == 1);
  CHECK(granted[0] <= 2);
  CHECK(session.publish("devices/" + device.thing_name + "/telemetry", "{\"ok\":true}") == 0);
  session.disconnect();
  return seconds_since(started);
}

// The bytes of a TLS ClientHello, as OpenSSL's client sends them first.
std::string client_hello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(ctx);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // the SSL owns both now
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);  // wants to read the ServerHello: the ClientHello is written
  std::string hello;
  char buffer[4096];
  for (int n; (n = BIO_read(out, buffer, sizeof buffer)) > 0;) hello.append(buffer, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  REQUIRE(hello.size() > 100);
  REQUIRE(hello[0] == 0x16);  // a handshake record
  return hello;
}

// TCP connections to the broker's listener that this test holds open.
struct Connections {
  std::vector<int> fds;
  ~Connections() { close_all(); }
  void close_all() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }
  // Opens `count` connections to 127.0.0.1:`port`, in batches small enough
  // for the listener's accept backlog; each sends what `first_bytes(i)` gives
  // (possibly nothing) and then nothing more. Returns how many opened.
  template <class FirstBytes>
  size_t open(int port, size_t count, FirstBytes first_bytes, pid_t broker) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const int broker_before = open_fds(broker);
    constexpr size_t kBatch = 50;
    for (size_t begin = 0; begin < count; begin += kBatch) {
      std::vector<pollfd> batch;
      for (size_t i = begin; i < std::min(count, begin + kBatch); ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return fds.size();
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
          ::close(fd);
          return fds.size();
        }
        batch.push_back({fd, POLLOUT, 0});
      }
      ::poll(batch.data(), batch.size(), 5000);
      for (size_t j = 0; j < batch.size(); ++j) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(batch[j].fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (!(batch[j].revents & POLLOUT) || error != 0) {
          ::close(batch[j].fd);
          continue;
        }
        const std::string bytes = first_bytes(begin + j);
        if (!bytes.empty()) (void)!::send(batch[j].fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        fds.push_back(batch[j].fd);
      }
      // Let the broker accept this batch before the next (its backlog is 100).
      const size_t opened = fds.size();
      eventually([&] { return open_fds(broker) >= broker_before + static_cast<int>(opened) - 10; }, 2s);
    }
    return fds.size();
  }
};

struct Sample {
  long rss_kib = 0;
  int fds = 0;
};

Sample sample(pid_t pid) { return {rss_kib(pid), open_fds(pid)}; }

std::string describe(const Sample& s) {
  return std::to_string(s.rss_kib) + " KiB RSS, " + std::to_string(s.fds) + " fds";
}

// The broker's highest RSS while it lives, sampled every 100 ms on a thread.
class PeakRss {
 public:
  explicit PeakRss(pid_t pid)
      : thread_([this, pid] {
          while (!stop_) {
            peak_ = std::max(peak_.load(), rss_kib(pid));
            std::this_thread::sleep_for(100ms);
          }
        }) {}
  ~PeakRss() { stop(); }
  long stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{0};
  std::thread thread_;
};

// Runs hostile_client.py MODE SECONDS ... on a thread; output() joins it.
class HostileRun {
 public:
  HostileRun(const Stack& stack, const std::string& mode, int seconds)
      : thread_([this, argv = std::vector<std::string>{"/usr/bin/python3", HOSTILE_CLIENT, mode, std::to_string(seconds),
                                                        "127.0.0.1", std::to_string(stack.port), stack.pki.root_cert.string(),
                                                        stack.pki.claim_cert.string(), stack.pki.claim_key.string()},
                 seconds] { status_ = run_command(argv, output_, std::chrono::seconds(seconds + 30)); }) {}
  ~HostileRun() {
    if (thread_.joinable()) thread_.join();
  }
  const std::string& output(int& status) {
    if (thread_.joinable()) thread_.join();
    status = status_;
    return output_;
  }

 private:
  std::string output_;
  int status_ = -1;
  std::thread thread_;
};

}  // namespace

TEST_CASE("2000 connections that never start or never finish their TLS handshake: other devices are served, the "
          "broker's memory is bounded, and its descriptors come back when they close") {
  const long own_limit = raise_fd_limit();
  Stack stack;
  const pid_t broker = stack.broker_pid();
  const long broker_limit = fd_limit(broker);
  serve_good_device(stack, "tls-warm-up");  // the baseline includes a served device
  const Sample baseline = sample(broker);
  // As many as both sides' limits allow, up to 2000 (each costs one
  // descriptor here and one in the broker; mosquitto keeps a spare one to
  // accept and close a connection past its limit).
  const size_t wanted = 2000;
  const size_t count = static_cast<size_t>(
      std::max(0L, std::min({static_cast<long>(wanted), broker_limit - baseline.fds - 64, own_limit - 256})));
  WARN("open files: this test's limit " << own_limit << ", the broker's " << broker_limit << "; baseline " << describe(baseline)
                                        << "; holding " << count << " connections");
  if (count < wanted) WARN("the open-file limits allow only " << count << " of " << wanted << " connections here");
  REQUIRE(count >= 100);

  const std::string hello = client_hello();
  // A third say nothing, a third send half a ClientHello, a third a whole one
  // (the broker answers with its flight and waits for a certificate forever).
  auto first_bytes = [&](size_t i) {
    switch (i % 3) {
      case 0: return std::string();
      case 1: return hello.substr(0, hello.size() / 2);
      default: return hello;
    }
  };
  std::vector<Sample> after_rounds;
  for (int round = 1; round <= 3; ++round) {
    INFO("round " << round);
    Connections held;
    auto started = Clock::now();
    const size_t opened = held.open(stack.port, count, first_bytes, broker);
    CHECK(opened == count);
    CHECK(eventually([&] { return open_fds(broker) >= baseline.fds + static_cast<int>(opened) - 5; }, 10s));
    std::this_thread::sleep_for(1s);  // the broker has answered the whole ClientHellos
    const Sample held_early = sample(broker);
    const double took = serve_good_device(stack, "tls-" + std::to_string(round));
    std::this_thread::sleep_for(2s);
    const Sample held_late = sample(broker);
    WARN("round " << round << ": " << opened << " connections open in " << seconds_since(started) << " s; broker while held: "
                  << describe(held_early) << ", then " << describe(held_late) << "; a device provisioned and published in "
                  << took << " s meanwhile");
    CHECK(took < 10.0);
    CHECK(held_early.fds >= baseline.fds + static_cast<int>(opened) - 5);
    if (memory_checked()) {
      // Bounded: under 64 KiB per connection held (glibc's heap included), and
      // not growing while they idle.
      CHECK(held_early.rss_kib - baseline.rss_kib < static_cast<long>(opened) * 64);
      CHECK(held_late.rss_kib <= held_early.rss_kib + 2048);
    }

    held.close_all();
    auto closed = Clock::now();
    CHECK(eventually([&] { return open_fds(broker) <= baseline.fds + 2; }, 15s));
    std::this_thread::sleep_for(500ms);
    after_rounds.push_back(sample(broker));
    WARN("round " << round << ": after closing them: " << describe(after_rounds.back()) << " (" << seconds_since(closed)
                  << " s to give the descriptors back)");
    CHECK(stack.broker_running());
  }
  // glibc keeps most of what the first round freed, and the next rounds
  // reuse it (measured: 107, 126, 130 MiB after rounds 1 to 3; 131 MiB after
  // rounds 4 to 6): the third costs little more than the second, and all of
  // it stays within one round's bound. Nothing is kept per connection.
  if (memory_checked()) {
    CHECK(after_rounds[2].rss_kib <= after_rounds[1].rss_kib + 8 * 1024);
    CHECK(after_rounds[2].rss_kib - baseline.rss_kib < static_cast<long>(count) * 64);
  }
  CHECK(after_rounds[2].fds <= baseline.fds + 2);
  CHECK(serve_good_device(stack, "tls-after") < 10.0);
}

TEST_CASE("clients that flood requests and never read their replies are cut off, ones that never read within "
          "their limits hold a bounded queue: the broker's memory stays bounded and other devices are served") {
  Stack stack;
  const pid_t broker = stack.broker_pid();
  serve_good_device(stack, "noread-warm-up");
  const Sample baseline = sample(broker);
  std::vector<Sample> after_rounds;
  for (int round = 1; round <= 2; ++round) {
    INFO("round " << round);
    constexpr int kSeconds = 12;
    // Three at once, each on its own connection: requests as fast as it can
    // send them, requests paced within the in-flight limit, and QoS 1
    // publishes (each owed a PUBACK); none ever reads.
    long peak = 0;
    double took = 0;
    std::string flood, paced, qos1;
    {
      PeakRss peak_rss(broker);
      HostileRun flooding(stack, "--noread-flood", kSeconds), pacing(stack, "--noread-paced", kSeconds),
          publishing(stack, "--noread-qos1", kSeconds);
      std::this_thread::sleep_for(2s);
      took = serve_good_device(stack, "noread-" + std::to_string(round));
      int status = 0;
      flood = flooding.output(status);
      CHECK(status == 0);
      paced = pacing.output(status);
      CHECK(status == 0);
      qos1 = publishing.output(status);
      CHECK(status == 0);
      peak = peak_rss.stop();
    }
    std::this_thread::sleep_for(1s);
    after_rounds.push_back(sample(broker));
    WARN("round " << round << ":\n  " << flood << "  " << paced << "  " << qos1 << "  broker: baseline " << describe(baseline)
                  << ", peak " << peak << " KiB RSS, after " << describe(after_rounds.back())
                  << "; a device provisioned and published in " << took << " s meanwhile");
    // The flooder provokes rejections past rejection_rate_per_client: cut off.
    CHECK_THAT(flood, Catch::Contains("closed by the broker"));
    // The PUBACK flood: Debian's 2.0.11 drops its unsent packets past
    // max_queued_messages and disconnects it.
    CHECK_THAT(qos1, Catch::Contains("closed by the broker"));
    CHECK_THAT(paced, Catch::Contains("noread-paced: sent"));
    CHECK(took < 10.0);
    if (memory_checked()) CHECK(peak - baseline.rss_kib < 64 * 1024);
    CHECK(stack.broker_running());
  }
  CHECK(count_text(stack.broker_log, "it keeps sending requests over its limits") >= 2);
  // Nothing is kept once they are gone: the second round ends where the first did.
  if (memory_checked()) {
    CHECK(after_rounds[1].rss_kib <= after_rounds[0].rss_kib + 4096);
    CHECK(after_rounds[1].rss_kib - baseline.rss_kib < 16 * 1024);
  }
  CHECK(eventually([&] { return open_fds(broker) <= baseline.fds + 2; }, 5s));
}

TEST_CASE("a client that trickles a partial CONNECT holds nothing others need: one announcing more than "
          "max_packet_size is dropped at once, one within it costs the broker no more than it sent") {
  Stack stack;
  const pid_t broker = stack.broker_pid();
  serve_good_device(stack, "trickle-warm-up");
  const Sample baseline = sample(broker);
  {
    // The most MQTT can announce (256 MB): before max_packet_size the broker
    // allocated all of it and waited for it, 4 bytes a second.
    HostileRun huge(stack, "--trickle-connect", 10);
    int status = 0;
    const std::string& output = huge.output(status);
    WARN(output);
    CHECK(status == 0);
    CHECK_THAT(output, Catch::Contains("closed by the broker after 0."));
  }
  {
    // 60000 bytes, within max_packet_size, 4 bytes a second for 20 s, four at once.
    constexpr int kSeconds = 20;
    std::vector<std::unique_ptr<HostileRun>> tricklers;
    for (int i = 0; i < 4; ++i) tricklers.push_back(std::make_unique<HostileRun>(stack, "--trickle-connect=60000", kSeconds));
    auto started = Clock::now();
    std::this_thread::sleep_for(2s);
    const Sample early = sample(broker);
    const double took = serve_good_device(stack, "trickle-1");
    while (seconds_since(started) < kSeconds - 2) std::this_thread::sleep_for(200ms);
    const Sample late = sample(broker);
    std::string outputs;
    for (auto& t : tricklers) {
      int status = 0;
      outputs += t->output(status);
      CHECK(status == 0);
    }
    WARN(outputs << "broker: baseline " << describe(baseline) << ", after 2 s " << describe(early) << ", after "
                 << kSeconds - 2 << " s " << describe(late) << "; a device provisioned and published in " << took
                 << " s meanwhile");
    CHECK(took < 10.0);
    if (memory_checked()) CHECK(late.rss_kib <= early.rss_kib + 1024);  // what they announced is not resident
    // Mosquitto 2.0.11 refreshes a client's keepalive whenever it reads part
    // of a packet with more than 1000 bytes to come (lib/packet_mosq.c), so a
    // client that keeps trickling is not dropped by the 90 s connect timeout:
    // this is bounded by max_packet_size per connection and by the open-file
    // limit (docs/reliability.md).
    if (outputs.find("still connected") == std::string::npos)
      WARN("the broker dropped a trickling CONNECT within " << kSeconds << " s: docs/reliability.md says it does not");
  }
  CHECK(stack.broker_running());
  CHECK(eventually([&] { return open_fds(broker) <= baseline.fds + 2; }, 5s));
}

// Mosquitto's own connect timeout: a connection that sent no complete packet
// is dropped once 1.5 times the default keepalive (60 s) has passed, checked
// every 5 s: 90 to 95 s. Too long for the suite (hidden: run it by hand,
// build/tests/hostile_clients_tests '[connect-timeout]').
TEST_CASE("connections that stall before their first packet are dropped after 90 to 95 s", "[.][connect-timeout]") {
  Stack stack;
  const pid_t broker = stack.broker_pid();
  const Sample baseline = sample(broker);
  Connections silent;
  const std::string hello = client_hello();
  silent.open(stack.port, 100, [&](size_t i) { return i % 2 ? hello : std::string(); }, broker);
  REQUIRE(silent.fds.size() == 100);
  HostileRun stalled(stack, "--stall-connect", 110);
  HostileRun trickling(stack, "--trickle-connect=60000", 110);
  auto started = Clock::now();
  CHECK(eventually([&] { return open_fds(broker) >= baseline.fds + 100; }, 5s));
  CHECK(eventually([&] { return open_fds(broker) <= baseline.fds + 2; }, 110s));  // the trickler's one stays
  WARN("the broker closed 100 silent connections after " << seconds_since(started) << " s");
  int status = 0;
  const std::string& stall = stalled.output(status);
  WARN(stall);
  CHECK_THAT(stall, Catch::Contains("closed by the broker after 9"));
  const std::string& trickle = trickling.output(status);
  WARN(trickle);
}
