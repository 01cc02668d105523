#pragma once
// provisiond's configuration file (JSON, schemas/provisiond-config.schema.json).
// Relative paths are resolved against the directory of the file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace provision::service {

struct ServiceConfig {
  std::filesystem::path registry;  // a SQLite file, or a postgresql:// URI (then kept as it is)
  std::filesystem::path fleet_ca_certificate, fleet_ca_key;
  // MQTT connection of the worker, with its service identity.
  std::string mqtt_host = "127.0.0.1";
  int mqtt_port = 8883;
  // Several brokers (mqtt.brokers): links to each; empty: mqtt_host:mqtt_port.
  std::vector<std::pair<std::string, int>> mqtt_brokers;
  std::filesystem::path mqtt_ca_file, mqtt_certificate, mqtt_key;
  std::string mqtt_client_id = "provisiond";
  std::string shared_group = "provisiond";
  std::string internal_prefix = "_provision";
  int worker_threads = 1;  // MQTT links, each answering on its own thread
  int registration_threads = 16;  // RegisterThing, which may wait on hooks
  int64_t certificate_validity_days = 365;
  int64_t ownership_token_ttl_seconds = 3600;
  int64_t renewal_grace_seconds = 7LL * 24 * 3600;
  std::filesystem::path log_file;  // empty: standard error
  // The claim CA, to create claim certificates through the admin API (optional).
  std::filesystem::path claim_ca_certificate, claim_ca_key;
  // The admin API (port 0: disabled).
  std::string admin_listen = "127.0.0.1";
  int admin_port = 0;
  std::filesystem::path admin_tls_certificate, admin_tls_key;
  // Requests without a valid token allowed per source address: a burst,
  // then so many a minute (docs/admin.md, "Tokens and roles").
  int admin_failed_attempts_burst = 20;
  int admin_failed_attempts_per_minute = 10;
  // The device bootstrap listener (HTTP by MAC address; port 0: disabled). docs/bootstrap.md.
  struct Bootstrap {
    std::string listen = "127.0.0.1";
    int port = 0;
    std::filesystem::path tls_certificate, tls_key;  // both set: HTTPS; else plain HTTP (behind a TLS proxy)
    // Where password devices connect when their broker names no passwordEndpoint.
    std::string mqtt_endpoint;
    std::vector<std::string> trusted_proxies;  // their X-Forwarded-For / X-Real-IP is believed
    int requests_per_ip_per_minute = 10;
    int requests_per_mac_per_minute = 10;
    int response_floor_ms = 100;  // every lookup answers no sooner (0: off)
    int64_t access_log_retention_days = 30;
    int threads = 8;  // workers for lookups and registrations (the floor holds none)
    std::size_t max_connections = 4096;
  } bootstrap;
};

// Throws Error naming the file and the offending field.
ServiceConfig load_config(const std::filesystem::path& file);
// Writes `config` as JSON, with paths relative to the file's directory where possible.
void save_config(const ServiceConfig& config, const std::filesystem::path& file);

}  // namespace provision::service
