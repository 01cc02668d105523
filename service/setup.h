#pragma once
// `provisiond init`: a development deployment in one directory — the
// development PKI, an initialised registry (CAs, the claim certificate, the
// worker's service identity, a demo policy and template), provisiond.json and
// mosquitto.conf.
#include <filesystem>
#include <string>

#include "pki/development_pki.h"

namespace provision::service {

struct InitOptions {
  std::filesystem::path dir;
  int mqtt_port = 8883;
  std::filesystem::path plugin;  // path of mosquitto_provision.so
  std::string broker_host = "127.0.0.1";  // how the worker reaches the broker (also a SAN of the broker certificate)
  std::string listen_address = "127.0.0.1";  // where the broker listens
  bool aws_topics = true;
  int worker_threads = 1;
  int admin_port = 8080;  // 0: no admin API
  // A listener for password devices (HTTP bootstrap): TLS with the broker's
  // certificate, no client certificate; 0: none. password_plain makes it
  // plain TCP (unsafe: secrets and traffic in clear; only behind a TLS
  // terminating proxy or on a trusted network).
  int password_port = 0;
  bool password_plain = false;
  int bootstrap_port = 0;  // the device bootstrap listener on 127.0.0.1, plain HTTP (0: none)
  // The registry: empty for DIR/registry.db, or a postgresql:// URI of an
  // empty database (several brokers and workers may then share it).
  std::string registry;
};

struct InitResult {
  explicit InitResult(pki::DevelopmentPki made) : pki(std::move(made)) {}
  pki::DevelopmentPki pki;
  std::filesystem::path registry, service_config, broker_config, broker_log, service_log;
  std::filesystem::path trust_dir;  // the broker's capath, kept by the plugin from the registry's CAs
  std::string claim_certificate_id;
  std::filesystem::path admin_token_file;  // the bootstrap admin token (0600)
  std::string admin_url;                   // empty when there is no admin API
  std::string template_name;  // the demo template; its only required parameter is SerialNumber
};

inline constexpr const char* kDemoTemplate = "DemoFleet";
inline constexpr const char* kDemoPolicy = "DemoDevicePolicy";
inline constexpr const char* kBootstrapTemplate = "MacBootstrap";  // provisiond init --bootstrap-port

// Throws Error when the directory already holds a deployment.
InitResult initialise(const InitOptions& options);

}  // namespace provision::service
