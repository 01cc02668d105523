// The device bootstrap listener (docs/bootstrap.md). Each request is one
// door onto provisioning/bootstrap.h and provisioning/firmware.h; this file
// only translates HTTP into those calls and their errors into the answers
// the contract names, and adds the listener's own defences: bounded bodies
// (the gate), per-address and per-MAC limits, one answer for every MAC that
// cannot bootstrap, a response-time floor for every lookup, the access log
// and the metrics.
#include "bootstrap/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "config.h"
#include "http/gate.h"
#include "http/listener.h"
#include "metrics.h"
#include "protocol/payloads.h"
#include "provisioning/assignment.h"
#include "provisioning/bootstrap.h"
#include "provisioning/firmware.h"
#include "provisioning/provisioning_service.h"
#include "registry/registry.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/rate_limits.h"
#include "util/text.h"

namespace provision::service {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxBody = 16 * 1024;
constexpr size_t kMaxLimiterKeys = 100000;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso8601_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string error_json(const std::string& code, const std::string& message, const std::string& field = "") {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value error(rapidjson::kObjectType);
  error.AddMember("code", json::string_value(code, a), a);
  error.AddMember("message", json::string_value(message, a), a);
  if (!field.empty()) error.AddMember("field", json::string_value(field, a), a);
  doc.AddMember("error", error, a);
  return json::stringify(doc);
}

// One registry connection per server thread.
registry::Registry& thread_registry(const std::string& location) {
  thread_local std::unique_ptr<registry::Registry> registry;
  thread_local std::string opened;
  if (!registry || opened != location) {
    registry = std::make_unique<registry::Registry>(registry::Registry::open(location));
    opened = location;
  }
  return *registry;
}

struct Answer {
  int status = 200;
  std::string body;
  std::string outcome = "ok";
  int64_t retry_after = 0;
};

Answer failure(const RequestError& e) {
  std::string outcome = e.status_code == 404 ? "not_found" : e.status_code == 400 ? "bad_request" : e.code;
  // The one answer for every MAC that cannot bootstrap: nothing in it differs.
  if (e.code == "DeviceNotFound") return {404, error_json("DeviceNotFound", "no device is enrolled for this MAC address"), "not_found"};
  return {e.status_code, error_json(e.code, e.what(), e.field), outcome};
}

}  // namespace

struct BootstrapServer::Impl {
  const ServiceConfig& config;
  ProvisioningService& provisioning;
  std::function<bool()> broker_connected;
  std::unique_ptr<http::Gate> gate;
  std::unique_ptr<http::Listener> listener;
  // Per source address and per MAC: a burst of the configured number, then
  // that many a minute (docs/bootstrap.md, "Security model").
  SharedRateLimiter per_ip, per_mac;

  Impl(const ServiceConfig& c, ProvisioningService& p, std::function<bool()> connected)
      : config(c),
        provisioning(p),
        broker_connected(std::move(connected)),
        per_ip(SharedRateLimiter::per_minute(c.bootstrap.requests_per_ip_per_minute), kMaxLimiterKeys),
        per_mac(SharedRateLimiter::per_minute(c.bootstrap.requests_per_mac_per_minute), kMaxLimiterKeys) {}

  // The client's address: the peer's, or what a trusted proxy says it forwarded.
  std::string source(const http::Request& req) const {
    const auto& trusted = config.bootstrap.trusted_proxies;
    if (std::find(trusted.begin(), trusted.end(), req.remote_addr) == trusted.end()) return req.remote_addr;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t") + 1);
      return s;
    };
    if (req.has_header("X-Forwarded-For")) {
      // The address the last trusted proxy saw: the rightmost one that is not itself a trusted proxy.
      std::string header = req.header("X-Forwarded-For");
      std::vector<std::string> hops;
      size_t start = 0;
      while (start <= header.size()) {
        size_t comma = header.find(',', start);
        hops.push_back(trim(header.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      for (auto it = hops.rbegin(); it != hops.rend(); ++it)
        if (!it->empty() && it->size() <= 64 && std::find(trusted.begin(), trusted.end(), *it) == trusted.end()) return *it;
    }
    if (req.has_header("X-Real-IP")) {
      auto real = trim(req.header("X-Real-IP"));
      if (!real.empty() && real.size() <= 64) return real;
    }
    return req.remote_addr;
  }

  static http::Response write(const Answer& answer) {
    http::Response res;
    res.status = answer.status;
    if (answer.retry_after) res.set_header("Retry-After", std::to_string(answer.retry_after));
    res.set_content(answer.body, "application/json");
    return res;
  }

  // `answered`: when the client gets its answer (the floor included).
  void record(const std::string& endpoint, const std::string& source, const std::string& mac, const Answer& answer,
              Clock::time_point started, Clock::time_point answered) {
    const int64_t latency = std::chrono::duration_cast<std::chrono::milliseconds>(answered - started).count();
    metrics().increment("provision_bootstrap_requests_total",
                        {{"endpoint", endpoint}, {"outcome", answer.outcome}, {"status", std::to_string(answer.status)}});
    metrics().observe("provision_bootstrap_request_duration_seconds", {{"endpoint", endpoint}}, static_cast<double>(latency) / 1000.0);
    try {
      auto& registry = thread_registry(config.registry.string());
      registry.log_bootstrap_access({0, wall_ms(), source, mac, endpoint, answer.outcome, answer.status, latency});
    } catch (const std::exception& e) {
      spdlog::warn("bootstrap access log: {}", e.what());
    }
  }

  // A lookup: limits, body, MAC, then `lookup`, answered no sooner than
  // the floor. The floor is the answer's not_before: the listener holds
  // the answer on a timer, not a thread (http/listener.h).
  http::Response serve_lookup(const std::string& endpoint, const http::Request& req,
                              const std::function<Answer(registry::Registry&, const rapidjson::Value&, const std::string& mac)>& lookup) {
    const auto started = req.received;
    const std::string from = source(req);
    std::string mac;
    Answer answer;
    if (int64_t wait = per_ip.take_or_retry_after(from, steady_ms())) {
      metrics().increment("provision_bootstrap_rate_limited_total", {{"limit", "ip"}});
      answer = {429, error_json("TooManyRequests", "too many requests from this address; retry after " + std::to_string(wait) + " s"),
                "rate_limited", wait};
    } else {
      try {
        answer = parse_and_lookup(req.body, mac, lookup);
      } catch (const std::exception& e) {  // never a crash: a JSON 500
        spdlog::error("bootstrap request failed: {}", e.what());
        answer = {500, error_json("InternalError", "internal failure; nothing was changed"), "internal_error"};
      }
    }
    http::Response res = write(answer);
    auto answered = Clock::now();
    if (config.bootstrap.response_floor_ms > 0 && answer.status != 400 && answer.status != 429) {
      res.not_before = started + std::chrono::milliseconds(config.bootstrap.response_floor_ms);
      answered = std::max(answered, res.not_before);
    }
    record(endpoint, from, mac, answer, started, answered);
    return res;
  }

  Answer parse_and_lookup(const std::string& body, std::string& mac,
                          const std::function<Answer(registry::Registry&, const rapidjson::Value&, const std::string&)>& lookup) {
    std::string error;
    auto doc = json::try_parse(body, &error);
    if (!doc || !doc->IsObject()) return {400, error_json("InvalidBody", "the body must be a JSON object" + (error.empty() ? "" : ": " + error)), "bad_request"};
    const auto* mac_value = json::member(*doc, "mac_address");
    if (!mac_value || !mac_value->IsString())
      return {400, error_json("InvalidField", "mac_address: is required (a string)", "mac_address"), "bad_request"};
    auto normalised = normalise_mac(json::view(*mac_value));
    if (!normalised)
      return {400, error_json("InvalidField", "mac_address: must be a MAC address (AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff, aabbccddeeff or AABB.CCDD.EEFF)", "mac_address"),
              "bad_request"};
    mac = *normalised;
    for (const char* field : {"firmware_version", "hardware_version", "current_version"}) {
      const auto* v = json::member(*doc, field);
      if (v && (!v->IsString() || v->GetStringLength() > 64))
        return {400, error_json("InvalidField", std::string(field) + ": must be a string of at most 64 characters", field), "bad_request"};
    }
    if (const auto* v = json::member(*doc, "product_id"); v && (!v->IsInt64() || v->GetInt64() < 0))
      return {400, error_json("InvalidField", "product_id: must be a non-negative integer", "product_id"), "bad_request"};
    if (int64_t wait = per_mac.take_or_retry_after(mac, steady_ms())) {
      metrics().increment("provision_bootstrap_rate_limited_total", {{"limit", "mac"}});
      return {429, error_json("TooManyRequests", "too many requests for this MAC address; retry after " + std::to_string(wait) + " s"),
              "rate_limited", wait};
    }
    try {
      return lookup(thread_registry(config.registry.string()), *doc, mac);
    } catch (const RequestError& e) {
      return failure(e);
    } catch (const registry::RegistryError& e) {
      auto answer = registry::as_request_error(e);
      return {answer.status_code, error_json(answer.code, answer.what()), "registry_error"};
    } catch (const std::exception& e) {
      spdlog::error("bootstrap request failed: {}", e.what());
      return {500, error_json("InternalError", "internal failure; nothing was changed"), "internal_error"};
    }
  }

  // X-Provision-Timestamp and X-Provision-Signature (docs/bootstrap.md,
  // "Signed requests"): well formed and fresh, before any lookup; whether
  // they prove the device is for its enrollment's key to tell.
  static std::optional<BootstrapInput::Signature> signature_of(const http::Request& req) {
    if (!req.has_header("X-Provision-Signature") && !req.has_header("X-Provision-Timestamp")) return std::nullopt;
    if (req.header_count("X-Provision-Timestamp") != 1 || req.header_count("X-Provision-Signature") != 1)
      throw RequestError(400, "InvalidSignature", "a signed request has one X-Provision-Timestamp and one X-Provision-Signature header");
    BootstrapInput::Signature signature;
    const std::string timestamp = req.header("X-Provision-Timestamp");
    if (timestamp.empty() || timestamp.size() > 12 || timestamp.find_first_not_of("0123456789") != std::string::npos)
      throw RequestError(400, "InvalidSignature", "X-Provision-Timestamp: must be Unix seconds");
    signature.timestamp = std::stoll(timestamp);
    signature.value = req.header("X-Provision-Signature");
    if (signature.value.size() != 71 || !signature.value.starts_with("sha256=") ||
        signature.value.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
      throw RequestError(400, "InvalidSignature", "X-Provision-Signature: must be sha256=<64 lowercase hex digits>");
    const int64_t skew = unix_now() - signature.timestamp;
    if (skew > kSignatureWindowSeconds || skew < -kSignatureWindowSeconds)
      throw RequestError(401, "StaleSignature",
                         "X-Provision-Timestamp is " + std::to_string(skew < 0 ? -skew : skew) + " s from the service's clock; at most " +
                             std::to_string(kSignatureWindowSeconds) + " s are allowed");
    signature.body = req.body;
    return signature;
  }

  Answer device_info(registry::Registry& registry, const rapidjson::Value& body, const std::string& mac, const http::Request& req) {
    BootstrapInput input;
    input.mac = mac;
    input.source = source(req);
    input.signature = signature_of(req);
    input.firmware_version = json::string_member(body, "firmware_version").value_or("");
    input.hardware_version = json::string_member(body, "hardware_version").value_or("");
    if (const auto* csr = json::member(body, "csr")) {
      if (!csr->IsString() || csr->GetStringLength() == 0 || csr->GetStringLength() > 8192)
        throw RequestError(400, "InvalidField", "csr: must be a PEM certificate signing request of at most 8 KiB", "csr");
      input.csr_pem = std::string(json::view(*csr));
    }
    auto result = provisioning.bootstrap_device(registry, input);
    FirmwareAnswer firmware;
    firmware.current_version = input.firmware_version;
    if (!input.firmware_version.empty()) {
      FirmwareCheck check;
      check.current_version = input.firmware_version;
      check.hardware_version = input.hardware_version.empty() ? std::nullopt : std::optional(input.hardware_version);
      check.device_id = result.thing_name;
      try {
        auto read = registry.read();
        firmware = check_firmware(registry, check);
      } catch (const RequestError&) {
        // no product id (or a firmware version that is not semantic): no update offered
      }
    }
    return {200, json::stringify(device_info_json(result, mac, firmware)), result.registered ? "registered" : "ok"};
  }

  rapidjson::Document device_info_json(const BootstrapResult& r, const std::string& mac, const FirmwareAnswer& firmware) {
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("device_id", json::string_value(r.thing_name, a), a);
    doc.AddMember("device_uuid", json::string_value(r.device_uuid, a), a);
    if (r.secret) doc.AddMember("device_secret", json::string_value(*r.secret, a), a);
    doc.AddMember("mac_address", json::string_value(mac, a), a);
    rapidjson::Value mqtt(rapidjson::kObjectType);
    std::string endpoint = r.broker && r.broker->password_endpoint ? *r.broker->password_endpoint : config.bootstrap.mqtt_endpoint;
    if (r.certificate_pem) {
      // A certificate device: the mutual-TLS listener.
      endpoint = r.broker ? r.broker->endpoint : "mqtts://" + config.mqtt_host + ":" + std::to_string(config.mqtt_port);
      doc.AddMember("certificate_id", json::string_value(*r.certificate_id, a), a);
      doc.AddMember("certificate_pem", json::string_value(*r.certificate_pem, a), a);
      std::string chain = *r.ca_pem;
      try {
        chain += read_file(config.mqtt_ca_file);  // the root, which also verifies the broker
      } catch (const std::exception&) {
      }
      doc.AddMember("ca_chain", json::string_value(chain, a), a);
    }
    if (auto e = parse_endpoint(endpoint)) {
      mqtt.AddMember("broker", json::string_value(e->host, a), a);
      mqtt.AddMember("port", e->port, a);
      mqtt.AddMember("use_ssl", e->tls, a);
      mqtt.AddMember("url", json::string_value(endpoint, a), a);
    }
    mqtt.AddMember("username", json::string_value(r.thing_name, a), a);
    if (r.secret) mqtt.AddMember("password", json::string_value(*r.secret, a), a);
    mqtt.AddMember("client_id", json::string_value(r.device_uuid, a), a);
    rapidjson::Value topics(rapidjson::kObjectType), endpoints(rapidjson::kObjectType);
    rapidjson::Value api(rapidjson::kObjectType);
    if (r.device_configuration.IsObject())
      for (const auto& m : r.device_configuration.GetObject()) {
        if (!m.value.IsString()) continue;
        std::string name(json::view(m.name));
        if (name.size() > 5 && name.ends_with("Topic"))
          topics.AddMember(json::string_value(name.substr(0, name.size() - 5), a), json::string_value(json::view(m.value), a), a);
        else if (name == "apiServer")
          api.AddMember("server", json::string_value(json::view(m.value), a), a);
        else if (name.size() > 8 && name.ends_with("Endpoint") && name != "brokerEndpoint")
          endpoints.AddMember(json::string_value(name.substr(0, name.size() - 8), a), json::string_value(json::view(m.value), a), a);
      }
    mqtt.AddMember("topics", topics, a);
    doc.AddMember("mqtt_config", mqtt, a);
    if (!api.HasMember("server")) api.AddMember("server", rapidjson::Value(rapidjson::kNullType), a);
    api.AddMember("endpoints", endpoints, a);
    doc.AddMember("api_config", api, a);
    doc.AddMember("firmware_update", firmware_update_json(firmware, a), a);
    doc.AddMember("message",
                  json::string_value(r.secret ? "device registered; keep device_secret: it is shown until the device first connects with it"
                                              : "device registered; credentials were issued already (an admin can rotate them)",
                                     a),
                  a);
    if (!r.secret) doc.AddMember("credentials_issued", true, a);
    doc.AddMember("timestamp", json::string_value(iso8601_now(), a), a);
    return doc;
  }

  Answer firmware_check(registry::Registry& registry, const rapidjson::Value& body, const std::string& mac) {
    std::string thing;
    {
      auto read = registry.read();
      auto enrollment = registry.find_enrollment(mac);
      if (!enrollment || enrollment->status != "ENABLED" || !enrollment->thing_name) unknown_device();
      auto credential = registry.find_device_credential(*enrollment->thing_name);
      if (!credential || credential->status != registry::kActive) unknown_device();
      thing = *enrollment->thing_name;
    }
    auto check = firmware_check_from(body, thing);
    FirmwareAnswer answer;
    {
      auto read = registry.read();
      answer = check_firmware(registry, check);
    }
    metrics().increment("provision_firmware_checks_total", {{"door", "http"}, {"update", answer.release ? "yes" : "no"}});
    return {200, json::stringify(firmware_answer_json(answer)), "ok"};
  }

  http::Response health() {
    http::Response res;
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    std::string reason;
    try {
      thread_registry(config.registry.string()).check();
    } catch (const std::exception& e) {
      reason = std::string("registry unavailable: ") + e.what();
    }
    if (reason.empty() && broker_connected && !broker_connected()) reason = "not connected to the broker";
    doc.AddMember("status", json::string_value(reason.empty() ? "healthy" : "unhealthy", a), a);
    doc.AddMember("timestamp", json::string_value(iso8601_now(), a), a);
    doc.AddMember("version", PROVISION_VERSION, a);
    if (!reason.empty()) doc.AddMember("reason", json::string_value(reason, a), a);
    res.status = reason.empty() ? 200 : 503;
    res.set_content(json::stringify(doc), "application/json");
    return res;
  }

  http::Response serve(const http::Request& req) {
    if (req.path == "/health") return health();
    if (req.path == "/device/info")
      return serve_lookup(req.path, req, [this, &req](registry::Registry& r, const rapidjson::Value& b, const std::string& mac) {
        return device_info(r, b, mac, req);
      });
    return serve_lookup(req.path, req, [this](registry::Registry& r, const rapidjson::Value& b, const std::string& mac) {
      return firmware_check(r, b, mac);
    });
  }
};

BootstrapServer::BootstrapServer(const ServiceConfig& config, ProvisioningService& provisioning, std::function<bool()> broker_connected)
    : impl_(std::make_unique<Impl>(config, provisioning, std::move(broker_connected))) {
  http::GateSettings gate_settings;
  gate_settings.max_body_bytes = kMaxBody;
  impl_->gate = std::make_unique<http::Gate>(
      gate_settings,
      [](const http::Request& req) -> std::variant<http::Admitted, http::Refusal> {
        if ((req.method == "POST" && (req.path == "/device/info" || req.path == "/firmware/check")) ||
            ((req.method == "GET" || req.method == "HEAD") && req.path == "/health"))
          return http::Admitted{};
        return http::Refusal{404, "NotFound", "no such endpoint: " + text::escape(req.method, 16) + " " + text::quote(req.path, 64)};
      },
      [](const http::Refusal& r) { return error_json(r.code, r.message); });
}

BootstrapServer::~BootstrapServer() { stop(); }

// The routes, as the listener and handle() both run them.
std::function<http::Response(const http::Request&, const http::Admitted&)> BootstrapServer::serve_() const {
  return [impl = impl_.get()](const http::Request& req, const http::Admitted&) { return impl->serve(req); };
}

http::Response BootstrapServer::handle(http::Request request) const {
  return http::answer(*impl_->gate, serve_(),
                      std::move(request));
}

void BootstrapServer::start() {
  const auto& s = impl_->config.bootstrap;
  http::ListenerSettings listener;
  listener.name = "bootstrap listener";
  listener.address = s.listen;
  listener.port = s.port;
  if (!s.tls_certificate.empty() && !s.tls_key.empty()) {
    listener.tls_certificate = s.tls_certificate;
    listener.tls_key = s.tls_key;
  }
  listener.threads = std::max(1, s.threads);
  listener.max_connections = s.max_connections;
  listener.max_pending = s.max_connections;  // bodies of at most 16 KiB
  impl_->listener = std::make_unique<http::Listener>(
      listener, *impl_->gate, serve_());
  impl_->listener->start();
  spdlog::info("bootstrap listener on {}://{}:{}", s.tls_certificate.empty() ? "http" : "https", s.listen, impl_->listener->port());
}

void BootstrapServer::stop() {
  if (impl_->listener) impl_->listener->stop();
}

int BootstrapServer::port() const { return impl_->listener ? impl_->listener->port() : -1; }

}  // namespace provision::service
