#pragma once
// The admin HTTP API of provisiond (/v1, JSON in and out; GET /health and
// GET /metrics). Binds to loopback by default; TLS with the PKI's server
// certificate as an option. Requests are served by the HTTP library's thread
// pool, each thread with its own registry connection.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace provision::service {

class ProvisioningService;
struct ServiceConfig;

struct AdminSettings {
  std::string listen = "127.0.0.1";
  int port = 8080;  // 0: any free port (see AdminServer::port)
  std::filesystem::path tls_certificate, tls_key;  // both set: HTTPS
  size_t max_body_bytes = 1 << 20;
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace provision::service
