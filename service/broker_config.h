#pragma once
// mosquitto.conf for a broker with the provisioning plugin, with the
// Mosquitto 2.0.11 settings the design depends on (docs/operations.md,
// "mosquitto.conf (generated)").
#include <cstddef>
#include <filesystem>
#include <string>

namespace provision::service {

struct BrokerConfig {
  std::string bind_address = "127.0.0.1";
  int port = 8883;
  std::filesystem::path certificate, key;           // TLS listener
  // Which client CAs TLS accepts: `capath` (the plugin's trust directory,
  // plugin_opt_trust_dir) and/or `cafile`. The generated configuration uses
  // the trust directory alone (see setup.cpp).
  std::filesystem::path trust_dir, ca_file;
  std::filesystem::path plugin;                     // mosquitto_provision.so
  std::filesystem::path registry;
  std::filesystem::path plugin_options_file;        // options re-read on SIGHUP (empty: none)
  std::filesystem::path log_file;                   // empty: no log file
  std::string internal_prefix = "_provision";
  bool aws_topics = true;
  // Password devices' listener (0: none, and the plugin refuses every client
  // without a certificate): TLS with certificate/key but no client
  // certificate, or plain TCP when password_plain (unsafe).
  int password_port = 0;
  bool password_plain = false;
  // Bounds on what one client can make the broker hold (docs/reliability.md,
  // "Limits that bound memory"): the largest packet it may send (room for
  // the largest request the plugin's max_payload may allow, 1 MiB, with its
  // topic and properties), and the QoS 1 payload queued for it behind its
  // in-flight window.
  size_t max_packet_size = (1 << 20) + (128 << 10);
  size_t max_queued_bytes = 64 * 1024 * 1024;
};

std::string render_broker_config(const BrokerConfig& config);
// The plugin options file: the run-time options, documented, with their defaults.
std::string render_plugin_options_file();

}  // namespace provision::service
