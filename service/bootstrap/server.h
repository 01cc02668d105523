#pragma once
// The device bootstrap listener of provisiond (docs/bootstrap.md): POST
// /device/info, POST /firmware/check, GET /health, separate from the admin
// API. TLS with the PKI's server certificate, or plain HTTP behind a proxy.
#include <functional>
#include <memory>

#include "http/gate.h"
#include "http/message.h"

namespace provision::service {

class ProvisioningService;
struct ServiceConfig;

class BootstrapServer {
 public:
  BootstrapServer(const ServiceConfig& config, ProvisioningService& provisioning, std::function<bool()> broker_connected);
  ~BootstrapServer();
  // Binds (throws Error when it cannot) and starts serving in the background.
  void start();
  void stop();
  int port() const;
  // One request without a socket: what the listener would answer (the
  // response-time floor is its not_before). For tests and the fuzzer.
  http::Response handle(http::Request request) const;

 private:
  struct Impl;
  std::function<http::Response(const http::Request&, const http::Admitted&)> serve_() const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace provision::service
