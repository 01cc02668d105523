#include "connection_holder.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "util/error.h"

namespace provision::bench {
namespace {

constexpr size_t kConnectWindow = 32;  // handshakes in flight per process (the broker's listen backlog is 100)
constexpr int kHeldKeepAliveSeconds = 1800;  // no PINGREQ needed while held
constexpr int kMaxHoldMs = 15 * 60 * 1000;   // a holder lets go by itself after this

std::vector<int> open_descriptors() {
  std::vector<int> fds;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec))
    fds.push_back(std::stoi(it->path().filename().string()));
  return fds;
}

// In a child: keep only stdio and `keep` (other holders' pipe ends must not
// stay open here, or their children would never see their release).
void close_other_descriptors(int keep_a, int keep_b) {
  for (int fd : open_descriptors())
    if (fd > 2 && fd != keep_a && fd != keep_b) ::close(fd);
}

// Opens every connection, kConnectWindow at a time, driving them all from
// this thread with poll(). Connected clients go to `held`.
HoldReport open_all(const std::vector<ConnectionSpec>& specs, const Endpoint& broker, Clock::time_point deadline,
                    std::vector<std::unique_ptr<MqttClient>>& held) {
  HoldReport report;
  auto fail = [&](const std::string& why) {
    ++report.failed;
    if (report.first_error.empty()) report.first_error = why;
  };
  std::vector<std::unique_ptr<MqttClient>> pending;
  size_t next = 0;
  while ((next < specs.size() || !pending.empty()) && Clock::now() < deadline) {
    while (pending.size() < kConnectWindow && next < specs.size()) {
      const ConnectionSpec& spec = specs[next++];
      try {
        auto client = std::make_unique<MqttClient>(spec.client_id, *spec.tls);
        Failure failure = client->start_connect(broker, kHeldKeepAliveSeconds);
        if (failure.empty()) pending.push_back(std::move(client));
        else fail(failure);
      } catch (const std::exception& e) {
        fail(e.what());
      }
    }
    std::vector<pollfd> fds;
    for (const auto& c : pending)
      fds.push_back({c->socket(), static_cast<short>(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
    if (::poll(fds.data(), fds.size(), 100) < 0 && errno != EINTR) break;
    std::vector<std::unique_ptr<MqttClient>> still_pending;
    for (size_t i = 0; i < pending.size(); ++i) {
      auto& c = pending[i];
      const short events = fds[i].revents;
      if (events) c->pump((events & (POLLIN | POLLHUP | POLLERR)) != 0, (events & POLLOUT) != 0);
      if (c->connected()) {
        held.push_back(std::move(c));
        ++report.held;
      } else if (!c->failure().empty() || c->socket() < 0) {
        fail(c->failure().empty() ? "connection closed" : c->failure());
      } else {
        still_pending.push_back(std::move(c));
      }
    }
    pending.swap(still_pending);
  }
  for (size_t i = 0; i < pending.size(); ++i) fail("timeout waiting for CONNACK");
  for (; next < specs.size(); ++next) fail("not started before the deadline");
  return report;
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void holder_main(const std::vector<ConnectionSpec>& specs, const Endpoint& broker,
                              std::chrono::seconds timeout, int report_fd, int release_fd) {
  close_other_descriptors(report_fd, release_fd);
  std::vector<std::unique_ptr<MqttClient>> held;
  HoldReport report;
  try {
    report = open_all(specs, broker, Clock::now() + timeout, held);
  } catch (const std::exception& e) {
    report.failed = specs.size() - report.held;
    report.first_error = e.what();
  }
  std::string error = report.first_error;
  for (char& c : error)
    if (c == '\n') c = ' ';
  write_all(report_fd, std::to_string(report.held) + " " + std::to_string(report.failed) + " " + error + "\n");
  // Hold until the parent closes its end of the release pipe (bounded).
  pollfd release{release_fd, POLLIN, 0};
  ::poll(&release, 1, kMaxHoldMs);
  for (auto& c : held) c->disconnect();
  held.clear();
  ::_exit(0);
}

}  // namespace

ConnectionHolder::ConnectionHolder(const std::vector<ConnectionSpec>& specs, const Endpoint& broker,
                                   std::chrono::seconds timeout)
    : count_(specs.size()) {
  int report_pipe[2], release_pipe[2];
  if (::pipe2(report_pipe, O_CLOEXEC) != 0) throw Error("pipe failed");
  if (::pipe2(release_pipe, O_CLOEXEC) != 0) {
    ::close(report_pipe[0]);
    ::close(report_pipe[1]);
    throw Error("pipe failed");
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) holder_main(specs, broker, timeout, report_pipe[1], release_pipe[0]);
  ::close(report_pipe[1]);
  ::close(release_pipe[0]);
  report_fd_ = report_pipe[0];
  release_fd_ = release_pipe[1];
  if (pid_ < 0) {
    release();
    throw Error("fork failed");
  }
}

ConnectionHolder::~ConnectionHolder() { release(); }

HoldReport ConnectionHolder::wait_until_open(Clock::time_point deadline) {
  std::string line;
  char buffer[512];
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || report_fd_ < 0) break;
    pollfd p{report_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) <= 0) continue;
    ssize_t n = ::read(report_fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // the holder died
    line.append(buffer, static_cast<size_t>(n));
  }
  HoldReport report;
  std::istringstream in(line);
  if (!(in >> report.held >> report.failed)) return {0, count_, "no report from the holder process"};
  std::getline(in >> std::ws, report.first_error);
  return report;
}

void ConnectionHolder::release() {
  if (release_fd_ >= 0) ::close(release_fd_);
  release_fd_ = -1;
  if (pid_ > 0) {
    bool exited = false;
    for (int i = 0; i < 600 && !exited; ++i) {  // 30 s
      exited = ::waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (report_fd_ >= 0) ::close(report_fd_);
  report_fd_ = -1;
}

int descriptors_per_client(const TlsContext& tls) {
  const size_t before = open_descriptors().size();
  MqttClient probe("descriptor-probe", tls);
  const size_t after = open_descriptors().size();
  return static_cast<int>(after - before) + 1;  // + the socket, once connected
}

}  // namespace provision::bench
