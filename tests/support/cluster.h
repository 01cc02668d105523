#pragma once
// The topology past one machine, on loopback (docs/scaling.md): one
// PostgreSQL registry, two brokers with the plugin (A and B), two provisiond
// workers each linked to both brokers, and haproxy in TCP mode in front of
// the brokers. Devices connect to haproxy (Stack::port is its port, so
// Stack::claim() and provision_device() go through it). Everything is
// stopped and removed when the Cluster goes away.
#include <memory>
#include <string>
#include <vector>

#include "postgres.h"
#include "process.h"
#include "stack.h"

namespace provision::test {

class Cluster {
 public:
  // On a new database of `server`; more plugin options for both brokers.
  explicit Cluster(PostgresServer& server, std::vector<std::pair<std::string, std::string>> plugin_options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Broker `i` (0: A, 1: B) and worker `i` (0, 1).
  void start_broker(int i);
  void kill_broker(int i);  // SIGKILL
  bool broker_running(int i);
  void start_worker(int i);
  void kill_worker(int i);  // SIGKILL
  bool worker_running(int i);
  pid_t broker_pid(int i) const;

  // A client of broker `i` directly, not through haproxy.
  mqtt_session::ConnectSettings direct(int i, const CertificateFiles& files, const std::string& client_id) const;
  // Which broker a connected client id is on (its log says so), -1 if neither.
  int broker_of(const std::string& client_id) const;

  std::string registry_uri;  // declared before the stack, which is made on it
  Stack stack;               // broker A's directory, PKI and settings; its port: haproxy's
  int broker_ports[2] = {0, 0};
  int admin_ports[2] = {0, 0};
  int balancer_port = 0;
  std::filesystem::path broker_logs[2], worker_logs[2], worker_configs[2], balancer_log;

 private:
  std::unique_ptr<Process> brokers_[2], workers_[2], balancer_;
};

// haproxy from Debian's package.
std::string haproxy_binary();

}  // namespace provision::test
