#include "config.h"

#include "registry/registry.h"

#include "protocol/schema_validator.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace provision::service {
namespace {

constexpr const char* kSchema = "provisiond-config.schema.json";

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& value) {
  std::filesystem::path p(value);
  return p.is_absolute() ? p : (base / p).lexically_normal();
}

std::string relative_to(const std::filesystem::path& base, const std::filesystem::path& p) {
  if (p.empty()) return "";
  auto rel = p.lexically_relative(base);
  return (rel.empty() || rel.string().starts_with("..")) ? p.string() : rel.string();
}

}  // namespace

ServiceConfig load_config(const std::filesystem::path& file) {
  auto doc = protocol::parse_valid(read_file(file), kSchema, file.string());
  auto base = std::filesystem::absolute(file).parent_path();
  ServiceConfig c;
  // A file (relative to this one) or a postgresql:// URI, as it is.
  const std::string registry = *json::string_member(doc, "registry");
  c.registry = registry::is_database_uri(registry) ? std::filesystem::path(registry) : resolve(base, registry);
  const auto& ca = *json::member(doc, "fleetCa");
  c.fleet_ca_certificate = resolve(base, *json::string_member(ca, "certificate"));
  c.fleet_ca_key = resolve(base, *json::string_member(ca, "key"));
  const auto& mqtt = *json::member(doc, "mqtt");
  c.mqtt_host = json::string_member(mqtt, "host").value_or(c.mqtt_host);
  c.mqtt_port = static_cast<int>(json::int_member(mqtt, "port").value_or(c.mqtt_port));
  if (const auto* brokers = json::member(mqtt, "brokers"))
    for (const auto& b : brokers->GetArray())
      c.mqtt_brokers.emplace_back(*json::string_member(b, "host"), static_cast<int>(*json::int_member(b, "port")));
  c.mqtt_ca_file = resolve(base, *json::string_member(mqtt, "caFile"));
  c.mqtt_certificate = resolve(base, *json::string_member(mqtt, "certificate"));
  c.mqtt_key = resolve(base, *json::string_member(mqtt, "key"));
  c.mqtt_client_id = json::string_member(mqtt, "clientId").value_or(c.mqtt_client_id);
  c.shared_group = json::string_member(mqtt, "sharedGroup").value_or(c.shared_group);
  c.internal_prefix = json::string_member(mqtt, "internalPrefix").value_or(c.internal_prefix);
  c.worker_threads = static_cast<int>(json::int_member(doc, "workerThreads").value_or(c.worker_threads));
  c.registration_threads = static_cast<int>(json::int_member(doc, "registrationThreads").value_or(c.registration_threads));
  c.certificate_validity_days = json::int_member(doc, "certificateValidityDays").value_or(c.certificate_validity_days);
  c.ownership_token_ttl_seconds = json::int_member(doc, "ownershipTokenTtlSeconds").value_or(c.ownership_token_ttl_seconds);
  c.renewal_grace_seconds = json::int_member(doc, "renewalGraceSeconds").value_or(c.renewal_grace_seconds);
  if (auto log = json::string_member(doc, "logFile"); log && !log->empty()) c.log_file = resolve(base, *log);
  if (const auto* claim_ca = json::member(doc, "claimCa")) {
    c.claim_ca_certificate = resolve(base, *json::string_member(*claim_ca, "certificate"));
    c.claim_ca_key = resolve(base, *json::string_member(*claim_ca, "key"));
  }
  if (const auto* b = json::member(doc, "bootstrap")) {
    auto& o = c.bootstrap;
    o.listen = json::string_member(*b, "listen").value_or(o.listen);
    o.port = static_cast<int>(json::int_member(*b, "port").value_or(0));
    if (auto cert = json::string_member(*b, "tlsCertificate")) o.tls_certificate = resolve(base, *cert);
    if (auto key = json::string_member(*b, "tlsKey")) o.tls_key = resolve(base, *key);
    o.mqtt_endpoint = json::string_member(*b, "mqttEndpoint").value_or("");
    if (const auto* proxies = json::member(*b, "trustedProxies")) o.trusted_proxies = json::to_string_list(*proxies);
    o.requests_per_ip_per_minute = static_cast<int>(json::int_member(*b, "requestsPerIpPerMinute").value_or(o.requests_per_ip_per_minute));
    o.requests_per_mac_per_minute = static_cast<int>(json::int_member(*b, "requestsPerMacPerMinute").value_or(o.requests_per_mac_per_minute));
    o.response_floor_ms = static_cast<int>(json::int_member(*b, "responseFloorMs").value_or(o.response_floor_ms));
    o.access_log_retention_days = json::int_member(*b, "accessLogRetentionDays").value_or(o.access_log_retention_days);
    o.threads = static_cast<int>(json::int_member(*b, "threads").value_or(o.threads));
    o.max_connections = static_cast<std::size_t>(json::int_member(*b, "maxConnections").value_or(static_cast<int64_t>(o.max_connections)));
  }
  if (const auto* admin = json::member(doc, "adminApi")) {
    c.admin_listen = json::string_member(*admin, "listen").value_or(c.admin_listen);
    c.admin_port = static_cast<int>(json::int_member(*admin, "port").value_or(0));
    if (auto cert = json::string_member(*admin, "tlsCertificate")) c.admin_tls_certificate = resolve(base, *cert);
    if (auto key = json::string_member(*admin, "tlsKey")) c.admin_tls_key = resolve(base, *key);
    if (const auto* attempts = json::member(*admin, "failedAttempts")) {
      auto burst = json::int_member(*attempts, "burst").value_or(c.admin_failed_attempts_burst);
      auto per_minute = json::int_member(*attempts, "perMinute").value_or(c.admin_failed_attempts_per_minute);
      if (burst < 1 || burst > 1000000 || per_minute < 1 || per_minute > 1000000)
        throw Error("adminApi.failedAttempts: burst and perMinute must be between 1 and 1000000");
      c.admin_failed_attempts_burst = static_cast<int>(burst);
      c.admin_failed_attempts_per_minute = static_cast<int>(per_minute);
    }
  }
  return c;
}

void save_config(const ServiceConfig& c, const std::filesystem::path& file) {
  auto base = std::filesystem::absolute(file).parent_path();
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto str = [&](const std::string& s) { return json::string_value(s, a); };
  doc.AddMember("registry", str(registry::is_database_uri(c.registry.string()) ? c.registry.string() : relative_to(base, c.registry)), a);
  rapidjson::Value ca(rapidjson::kObjectType);
  ca.AddMember("certificate", str(relative_to(base, c.fleet_ca_certificate)), a);
  ca.AddMember("key", str(relative_to(base, c.fleet_ca_key)), a);
  doc.AddMember("fleetCa", ca, a);
  rapidjson::Value mqtt(rapidjson::kObjectType);
  mqtt.AddMember("host", str(c.mqtt_host), a);
  mqtt.AddMember("port", c.mqtt_port, a);
  if (!c.mqtt_brokers.empty()) {
    rapidjson::Value brokers(rapidjson::kArrayType);
    for (const auto& [host, port] : c.mqtt_brokers) {
      rapidjson::Value b(rapidjson::kObjectType);
      b.AddMember("host", str(host), a);
      b.AddMember("port", port, a);
      brokers.PushBack(b, a);
    }
    mqtt.AddMember("brokers", brokers, a);
  }
  mqtt.AddMember("caFile", str(relative_to(base, c.mqtt_ca_file)), a);
  mqtt.AddMember("certificate", str(relative_to(base, c.mqtt_certificate)), a);
  mqtt.AddMember("key", str(relative_to(base, c.mqtt_key)), a);
  mqtt.AddMember("clientId", str(c.mqtt_client_id), a);
  mqtt.AddMember("sharedGroup", str(c.shared_group), a);
  mqtt.AddMember("internalPrefix", str(c.internal_prefix), a);
  doc.AddMember("mqtt", mqtt, a);
  doc.AddMember("workerThreads", c.worker_threads, a);
  doc.AddMember("registrationThreads", c.registration_threads, a);
  doc.AddMember("certificateValidityDays", c.certificate_validity_days, a);
  doc.AddMember("ownershipTokenTtlSeconds", c.ownership_token_ttl_seconds, a);
  doc.AddMember("renewalGraceSeconds", c.renewal_grace_seconds, a);
  if (!c.log_file.empty()) doc.AddMember("logFile", str(relative_to(base, c.log_file)), a);
  if (!c.claim_ca_certificate.empty()) {
    rapidjson::Value claim_ca(rapidjson::kObjectType);
    claim_ca.AddMember("certificate", str(relative_to(base, c.claim_ca_certificate)), a);
    claim_ca.AddMember("key", str(relative_to(base, c.claim_ca_key)), a);
    doc.AddMember("claimCa", claim_ca, a);
  }
  if (c.admin_port) {
    rapidjson::Value admin(rapidjson::kObjectType);
    admin.AddMember("listen", str(c.admin_listen), a);
    admin.AddMember("port", c.admin_port, a);
    if (!c.admin_tls_certificate.empty()) {
      admin.AddMember("tlsCertificate", str(relative_to(base, c.admin_tls_certificate)), a);
      admin.AddMember("tlsKey", str(relative_to(base, c.admin_tls_key)), a);
    }
    if (c.admin_failed_attempts_burst != ServiceConfig{}.admin_failed_attempts_burst ||
        c.admin_failed_attempts_per_minute != ServiceConfig{}.admin_failed_attempts_per_minute) {
      rapidjson::Value attempts(rapidjson::kObjectType);
      attempts.AddMember("burst", c.admin_failed_attempts_burst, a);
      attempts.AddMember("perMinute", c.admin_failed_attempts_per_minute, a);
      admin.AddMember("failedAttempts", attempts, a);
    }
    doc.AddMember("adminApi", admin, a);
  }
  if (c.bootstrap.port) {
    const auto& o = c.bootstrap;
    rapidjson::Value b(rapidjson::kObjectType);
    b.AddMember("listen", str(o.listen), a);
    b.AddMember("port", o.port, a);
    if (!o.tls_certificate.empty()) {
      b.AddMember("tlsCertificate", str(relative_to(base, o.tls_certificate)), a);
      b.AddMember("tlsKey", str(relative_to(base, o.tls_key)), a);
    }
    if (!o.mqtt_endpoint.empty()) b.AddMember("mqttEndpoint", str(o.mqtt_endpoint), a);
    b.AddMember("trustedProxies", json::string_list(o.trusted_proxies, a), a);
    b.AddMember("requestsPerIpPerMinute", o.requests_per_ip_per_minute, a);
    b.AddMember("requestsPerMacPerMinute", o.requests_per_mac_per_minute, a);
    b.AddMember("responseFloorMs", o.response_floor_ms, a);
    b.AddMember("accessLogRetentionDays", o.access_log_retention_days, a);
    b.AddMember("threads", o.threads, a);
    b.AddMember("maxConnections", static_cast<int64_t>(o.max_connections), a);
    doc.AddMember("bootstrap", b, a);
  }
  write_file(file, json::pretty(doc) + "\n", 0644);
}

}  // namespace provision::service
