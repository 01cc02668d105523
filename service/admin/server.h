#pragma once
// The admin HTTP API of provisiond (/v1, JSON in and out; GET /health and
// GET /metrics, and the web console at /console/). Binds to loopback by
// default; TLS with the PKI's server certificate as an option. Served by an
// http::Listener (http/listener.h): connections on an event loop, requests
// on a pool of worker threads, each with its own registry connection.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "http/gate.h"
#include "http/message.h"

namespace provision::service {

class ProvisioningService;
struct ServiceConfig;

struct AdminSettings {
  std::string listen = "127.0.0.1";
  int port = 8080;  // 0: any free port (see AdminServer::port)
  std::filesystem::path tls_certificate, tls_key;  // both set: HTTPS
  size_t max_body_bytes = 1 << 20;
  int threads = 8;               // workers (each with a registry connection)
  size_t max_connections = 4096;  // open at once; more are closed as they are accepted
};

class AdminServer {
 public:
  AdminServer(AdminSettings settings, const ServiceConfig& config, const std::filesystem::path& config_file,
              ProvisioningService& provisioning, std::function<bool()> broker_connected);
  ~AdminServer();
  // Binds (throws Error when it cannot) and starts serving in the background.
  void start();
  void stop();
  int port() const;

  // One request through the gate and its route, without a socket (the
  // listener's framing, limits and timeouts aside): what the listener would
  // answer. For tests and the fuzzer; needs no start().
  http::Response handle(http::Request request) const;

 private:
  struct Impl;
  std::function<http::Response(const http::Request&, const http::Admitted&)> serve_() const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace provision::service
