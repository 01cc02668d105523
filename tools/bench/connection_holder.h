#pragma once
// Many open MQTT connections, held by a child process: it opens them (a
// window at a time, one thread, poll()), reports how many it holds on a pipe,
// and keeps them until the parent lets go.
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mqtt_client.h"

namespace provision::bench {

struct ConnectionSpec {
  std::string client_id;
  std::shared_ptr<const TlsContext> tls;
};

struct HoldReport {
  size_t held = 0, failed = 0;
  std::string first_error;
};

class ConnectionHolder {
 public:
  // Forks; the child opens `specs` against `broker` within `timeout`.
  ConnectionHolder(const std::vector<ConnectionSpec>& specs, const Endpoint& broker, std::chrono::seconds timeout);
  // Lets go (if not done yet).
  ~ConnectionHolder();
  ConnectionHolder(const ConnectionHolder&) = delete;
  ConnectionHolder& operator=(const ConnectionHolder&) = delete;

  // Waits for the child's report until `deadline` (then: everything failed).
  HoldReport wait_until_open(std::chrono::steady_clock::time_point deadline);
  // The child disconnects everything and exits (killed if it takes over 30 s).
  void release();

 private:
  pid_t pid_ = -1;
  int report_fd_ = -1;   // child -> parent: "held failed first_error\n"
  int release_fd_ = -1;  // closing it tells the child to let go
  size_t count_ = 0;
};

// The number of descriptors one libmosquitto client takes once connected.
int descriptors_per_client(const TlsContext& tls);

}  // namespace provision::bench
