// provisiond's HTTP listeners (the admin API and the device bootstrap,
// http/listener.h) against slow and hostile clients, over real sockets: a
// slow or idle client holds a socket, never a thread; one that never reads
// its answers holds one answer; every one of them is cut off by the
// listener's timeouts; the others are served meanwhile, in bounded memory.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "admin_api.h"
#include "util/files.h"
#include "util/json.h"
#include "stack.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

int open_connection(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Whether the server closed `fd` (a read returns 0 or fails) within `wait`.
bool closed_by_server(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char buffer[4096];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN;
  }
}

long open_files(pid_t pid) {
  long n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

void raise_file_limit(rlim_t wanted) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// A served request's latency, in milliseconds (-1: no answer).
int64_t timed_health(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  auto started = std::chrono::steady_clock::now();
  auto res = client.Get("/health");
  if (!res || res->status != 200) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
}

// Both listeners answer /health within a second.
void both_answer_within_a_second(const Stack& stack) {
  for (int port : {stack.admin_port, stack.bootstrap_port}) {
    auto ms = timed_health(port);
    INFO("port " << port << ": /health in " << ms << " ms");
    CHECK(ms >= 0);
    CHECK(ms < 1000);
  }
}

StackOptions with_bootstrap() {
  StackOptions o;
  o.password_listener = true;
  o.bootstrap_listener = true;
  o.bootstrap_settings = R"("responseFloorMs":0,"requestsPerIpPerMinute":0,"requestsPerMacPerMinute":0,"threads":2)";
  return o;
}

}  // namespace

TEST_CASE("HTTP listeners: a thousand slow-loris and idle connections hold no thread, and are cut off by the header timeout") {
  raise_file_limit(8192);
  Stack stack(with_bootstrap());
  const pid_t pid = stack.worker_pid();
  for (int port : {stack.admin_port, stack.bootstrap_port}) REQUIRE(timed_health(port) >= 0);
  const long rss_before = resident_kib(pid), files_before = open_files(pid);

  // On each listener: 400 that send a request line and part of the headers,
  // then a byte a second; 100 that send nothing. More than any thread pool.
  std::vector<int> slow, idle;
  for (int port : {stack.admin_port, stack.bootstrap_port}) {
    for (int i = 0; i < 400; ++i) {
      int fd = open_connection(port);
      const std::string head = "POST /device/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      REQUIRE(send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
      slow.push_back(fd);
    }
    for (int i = 0; i < 100; ++i) idle.push_back(open_connection(port));
  }
  std::this_thread::sleep_for(300ms);
  const long rss_during = resident_kib(pid), files_during = open_files(pid);
  INFO("provisiond: RSS " << rss_before << " KiB before, " << rss_during << " KiB with 1000 open connections; files " << files_before
                          << " -> " << files_during);
  CHECK(files_during - files_before >= 900);  // they are all open
  if (memory_checked()) CHECK(rss_during - rss_before < 32 * 1024);

  // Both listeners serve others at once, however many slow clients they hold.
  both_answer_within_a_second(stack);
  CHECK_STATUS(Api(stack.admin_port, stack.admin_token).get("/v1/templates"), 200);

  // The slow ones keep trickling; the header timeout (10 s) ends them all.
  const auto started = std::chrono::steady_clock::now();
  size_t cut = 0;
  std::vector<bool> done(slow.size(), false);
  while (cut < slow.size() && std::chrono::steady_clock::now() - started < 14s) {
    for (size_t i = 0; i < slow.size(); ++i) {
      if (done[i]) continue;
      if (send(slow[i], "a", 1, MSG_NOSIGNAL) != 1 || closed_by_server(slow[i], 0ms)) {
        done[i] = true;
        ++cut;
      }
    }
    std::this_thread::sleep_for(1s);
  }
  const auto cut_after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  INFO(cut << " of " << slow.size() << " slow connections cut off after " << cut_after.count() << " ms");
  CHECK(cut == slow.size());
  size_t idle_cut = 0;
  for (int fd : idle) idle_cut += closed_by_server(fd, 100ms) ? 1 : 0;
  CHECK(idle_cut == idle.size());
  for (int fd : slow) close(fd);
  for (int fd : idle) close(fd);
  std::this_thread::sleep_for(300ms);
  const long files_after = open_files(pid);
  INFO("files after: " << files_after);
  CHECK(files_after - files_before < 20);
  CHECK(stack.worker_running());
}

TEST_CASE("HTTP listeners: clients that pipeline requests and never read their answers hold one answer each") {
  raise_file_limit(8192);
  Stack stack(with_bootstrap());
  const pid_t pid = stack.worker_pid();
  for (int port : {stack.admin_port, stack.bootstrap_port}) REQUIRE(timed_health(port) >= 0);
  const long rss_before = resident_kib(pid);
  // 20 clients per listener, each writing 2 MiB of pipelined requests
  // (as much as the socket takes) and reading nothing.
  std::string burst;
  while (burst.size() < (2u << 20)) burst += "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::vector<int> readers_never;
  for (int port : {stack.admin_port, stack.bootstrap_port})
    for (int i = 0; i < 20; ++i) {
      int fd = open_connection(port);
      timeval timeout{0, 200000};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      size_t sent = 0;
      for (int tries = 0; tries < 20 && sent < burst.size(); ++tries) {
        ssize_t n = send(fd, burst.data() + sent, burst.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      readers_never.push_back(fd);
    }
  std::this_thread::sleep_for(500ms);
  const long rss_during = resident_kib(pid);
  INFO("provisiond RSS: " << rss_before << " KiB before, " << rss_during << " KiB with 40 clients that never read");
  if (memory_checked()) CHECK(rss_during - rss_before < 32 * 1024);
  both_answer_within_a_second(stack);
  for (int fd : readers_never) close(fd);
  CHECK(stack.worker_running());
}

TEST_CASE("HTTP listeners: the admin API over HTTPS with the PKI's server certificate, a stalled TLS handshake cut off") {
  Stack stack;
  stack.stop_worker();
  auto config = json::parse(read_file(stack.config_file));
  auto& a = config.GetAllocator();
  config["adminApi"].AddMember("tlsCertificate", "pki/broker.pem", a);
  config["adminApi"].AddMember("tlsKey", "pki/broker.key", a);
  write_file(stack.config_file, json::stringify(config), 0644);
  stack.start_worker();
  httplib::SSLClient client("localhost", stack.admin_port);
  client.set_ca_cert_path(stack.pki.root_cert.c_str());
  client.enable_server_certificate_verification(true);
  auto templates = client.Get("/v1/templates", {{"Authorization", "Bearer " + stack.admin_token}});
  REQUIRE(templates);
  CHECK(templates->status == 200);
  auto refused = client.Get("/v1/templates", {{"Authorization", "Bearer not-a-token"}});
  REQUIRE(refused);
  CHECK(refused->status == 401);
  // a client that opens TCP and never says hello holds a socket, not a thread, and only for the handshake timeout
  int fd = open_connection(stack.admin_port);
  auto ms = [&] {
    httplib::SSLClient other("localhost", stack.admin_port);
    other.set_ca_cert_path(stack.pki.root_cert.c_str());
    auto started = std::chrono::steady_clock::now();
    auto res = other.Get("/health");
    CHECK(res);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  }();
  CHECK(ms < 1000);
  CHECK(closed_by_server(fd, 12s));
  close(fd);
}
