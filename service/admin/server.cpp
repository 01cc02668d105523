#include "admin/server.h"

#include <spdlog/spdlog.h>

#include <chrono>
// GCC 12 with -fsanitize=address reports false "may be used uninitialized"
// warnings inside libstdc++'s <regex> (std::function in the NFA states);
// silence them for that header only (as templates/language.h does).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <variant>

#include "admin/api.h"
#include "config.h"
#include "console/console.h"
#include "http/gate.h"
#include "http/listener.h"
#include "metrics.h"
#include "pki/authority.h"
#include "provisioning/provisioning_service.h"
#include "templates/template.h"
#include "protocol/schema_validator.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/json.h"
#include "util/rate_limits.h"
#include "util/text.h"

namespace provision::service {

using namespace admin;

namespace admin {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::Admin: return "admin";
    case Role::Factory: return "factory";
    case Role::Operator: return "operator";
    case Role::Installer: return "installer";
    case Role::Activator: return "activator";
  }
  return "operator";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "admin") return Role::Admin;
  if (name == "factory") return Role::Factory;
  if (name == "operator") return Role::Operator;
  if (name == "installer") return Role::Installer;
  if (name == "activator") return Role::Activator;
  return std::nullopt;
}

const rapidjson::Value& Call::body_as(std::string_view schema) const {
  if (auto violation = protocol::openapi_violation(schema, body)) {
    // "<json pointer>: <what>" -> the field by name
    auto colon = violation->find(": ");
    std::string pointer = colon == std::string::npos ? "" : violation->substr(0, colon);
    std::string field = pointer == "/" ? "" : protocol::field_name(pointer);
    std::string what = colon == std::string::npos ? *violation : violation->substr(colon + 2);
    if (what.starts_with("missing required field ")) {
      std::string missing = what.substr(23);
      field = field.empty() ? missing : field + "." + missing;
      what = "is required";
    } else if (what.starts_with("unexpected field ")) {
      std::string extra = what.substr(17);
      field = field.empty() ? extra : field + "." + extra;
      what = "is not a field of " + std::string(schema);
    }
    throw ApiError(400, "InvalidField", (field.empty() ? "body" : field) + ": " + what, field);
  }
  return body;
}

std::optional<std::string> Call::query_string(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> Call::query_int(const std::string& name) const {
  auto text = query_string(name);
  if (!text) return std::nullopt;
  try {
    size_t used = 0;
    int64_t value = std::stoll(*text, &used);
    if (used != text->size()) throw std::invalid_argument(name);
    return value;
  } catch (const std::exception&) {
    throw ApiError(400, "InvalidField", name + ": must be an integer", name);
  }
}

registry::Page Call::page() const {
  registry::Page p;
  if (auto limit = query_int("limit")) {
    if (*limit < 1 || *limit > 500) throw ApiError(400, "InvalidField", "limit: must be between 1 and 500", "limit");
    p.limit = static_cast<int>(*limit);
  }
  p.after = query_string("after").value_or("");
  return p;
}

fleet::Context Call::fleet() const {
  fleet::Context c;
  c.actor = {actor, source};
  c.config = context.config;
  c.config_file = context.config_file;
  if (auto* provisioning = context.provisioning) {
    c.issuing_fleet_ca = [provisioning] { return provisioning->fleet_ca()->id(); };
    c.use_fleet_ca = [provisioning](const pki::CertificateAuthority& ca) { provisioning->set_fleet_ca(ca); };
  }
  return c;
}

Response json_response(int status, rapidjson::Document body) { return Response{status, std::move(body)}; }
Response no_content() { return Response{204, rapidjson::Document()}; }

Response page_response(rapidjson::Document items, const registry::Page& page, const std::string& last_key) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  bool full = items.Size() == static_cast<rapidjson::SizeType>(page.limit);
  rapidjson::Value list;
  list.CopyFrom(items, a);
  doc.AddMember("items", list, a);
  if (full && !last_key.empty()) doc.AddMember("nextCursor", json::string_value(last_key, a), a);
  return json_response(200, std::move(doc));
}


}  // namespace admin

namespace {

std::string error_body(int status, const std::string& code, const std::string& message, const std::string& field = {},
                       const std::vector<std::pair<std::string, std::string>>& details = {}) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value error(rapidjson::kObjectType);
  error.AddMember("code", json::string_value(code, a), a);
  error.AddMember("message", json::string_value(message, a), a);
  if (!field.empty()) error.AddMember("field", json::string_value(field, a), a);
  if (!details.empty()) {
    rapidjson::Value list(rapidjson::kArrayType);
    for (const auto& [path, text] : details) {
      rapidjson::Value d(rapidjson::kObjectType);
      d.AddMember("path", json::string_value(path, a), a);
      d.AddMember("message", json::string_value(text, a), a);
      list.PushBack(d, a);
    }
    error.AddMember("details", list, a);
  }
  doc.AddMember("error", error, a);
  (void)status;
  return json::stringify(doc);
}

// "/v1/templates/{name}" -> regex and the names of its parameters.
std::pair<std::string, std::vector<std::string>> compile_pattern(const std::string& pattern) {
  std::string regex;
  std::vector<std::string> names;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      size_t end = pattern.find('}', i);
      names.push_back(pattern.substr(i + 1, end - i - 1));
      regex += "([^/]+)";
      i = end;
    } else if (std::string("\\^$.|?*+()[]").find(pattern[i]) != std::string::npos) {
      regex += '\\';
      regex += pattern[i];
    } else {
      regex += pattern[i];
    }
  }
  return {regex, names};
}

// One registry connection per server thread.
registry::Registry& thread_registry(const std::filesystem::path& path) {
  thread_local std::unique_ptr<registry::Registry> registry;
  thread_local std::filesystem::path opened;
  if (!registry || opened != path) {
    registry = std::make_unique<registry::Registry>(registry::Registry::open(path));
    opened = path;
  }
  return *registry;
}

// The action a refused change is audited under: the route's, or what its
// body says it was (when the body is JSON).
const char* refused_action(const Change& change, const std::string& body) {
  if (change.of_body)
    if (auto parsed = json::try_parse(body, nullptr); parsed && parsed->IsObject()) return change.of_body(*parsed);
  return change.action;
}

// What a change is about: the path parameter its route names (default: the
// first one), else the name in its body (none when the body was not read).
std::string change_subject(const Change& change, const std::vector<std::string>& names, const std::vector<std::string>& path,
                           const std::string& body) {
  if (change.subject)
    for (size_t i = 0; i < names.size() && i < path.size(); ++i)
      if (names[i] == change.subject) return path[i];
  if (!path.empty()) return path[0];
  if (auto parsed = json::try_parse(body, nullptr); parsed && parsed->IsObject())
    for (const char* field : {"name", "registrationId", "templateName"})
      if (auto value = json::string_member(*parsed, field)) return *value;
  return "";
}

// A route with its path as a regular expression and the names of its parameters.
struct CompiledRoute {
  Route route;
  std::regex regex;
  std::vector<std::string> names;
};

}  // namespace

struct AdminServer::Impl {
  AdminSettings settings;
  ApiContext context;
  std::vector<CompiledRoute> routes;
  std::unique_ptr<http::Gate> gate;
  std::unique_ptr<http::Listener> listener;
  std::mutex touch_mutex;
  std::map<std::string, int64_t> last_touch;  // token name -> when last_used_at was written
  // Requests with a missing or unknown token, per source address: a burst,
  // then so many a minute (adminApi.failedAttempts); past that the address
  // is answered 429 without its token being looked at (docs/admin.md,
  // "Tokens and roles"). At most 100,000 addresses are followed.
  SharedRateLimiter failures{Rate{}, 100000};

  static int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  // A request without a valid token: counted against its address, and audited.
  http::Refusal failed_attempt(const http::Request& req, const std::string& action, const std::string& reason) {
    failures.take(req.remote_addr, steady_ms());
    metrics().increment("provision_admin_auth_failures_total");
    try {
      auto& registry = thread_registry(context.config->registry);
      registry.audit({0, 0, "unknown", "AuthenticationFailed", action, "401", req.remote_addr,
                      detail({{"reason", reason}, {"request", text::escape(req.method, 16) + " " + text::quote(req.path, 200)}})});
    } catch (const std::exception&) {
      // the refusal stands when the audit log cannot be written
    }
    return http::Refusal{401, "Unauthorized", reason};
  }

  // The route a request names, and its path parameters.
  const CompiledRoute* find_route(const http::Request& req, std::vector<std::string>& parameters, int& index) const {
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    std::smatch match;
    for (size_t i = 0; i < routes.size(); ++i) {
      const auto& r = routes[i];
      if (r.route.method == method && std::regex_match(req.path, match, r.regex)) {
        parameters.clear();
        for (size_t m = 1; m < match.size(); ++m) parameters.push_back(match[m]);
        index = static_cast<int>(i);
        return &r;
      }
    }
    return nullptr;
  }

  static bool own_path(const http::Request& req) {
    return (req.method == "GET" || req.method == "HEAD") &&
           (req.path == "/health" || req.path == "/metrics" || req.path == "/console" || req.path.starts_with("/console/"));
  }

  // The gate's check, from the request line and headers: which route, who
  // is asking, and whether their role may call it. Nothing of the body has
  // been read (docs/admin.md, "Requests").
  std::variant<http::Admitted, http::Refusal> admit(const http::Request& req) {
    if (own_path(req)) return http::Admitted{};
    std::vector<std::string> parameters;
    int index = -1;
    const CompiledRoute* route = find_route(req, parameters, index);
    if (!route)
      return http::Refusal{404, "NotFound", "no such resource: " + text::escape(req.method, 16) + " " + text::quote(req.path, 200)};
    const std::string action = route->route.method + " " + route->route.pattern;
    const int64_t wait = failures.wait_ms(req.remote_addr, steady_ms());
    if (wait > 0) {
      int seconds = static_cast<int>((wait + 999) / 1000);
      return http::Refusal{429, "TooManyFailedAttempts",
                           "too many requests without a valid token from this address; retry in " + std::to_string(seconds) + " s",
                           seconds};
    }
    std::string header = req.header("Authorization");
    if (!header.starts_with("Bearer ") || header.size() <= 7)
      return failed_attempt(req, action, "missing bearer token (Authorization: Bearer <token>)");
    try {
      auto& registry = thread_registry(context.config->registry);
      // Looked up by its SHA-256: what is compared is a hash of the token,
      // so the time an answer takes says nothing about the token's bytes.
      auto token = registry.find_api_token_by_hash(sha256_hex(header.substr(7)));
      if (!token) return failed_attempt(req, action, "unknown token");
      Role role = parse_role(token->role).value_or(Role::Installer);
      const auto& roles = route->route.roles;
      if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
        audit_refusal(*route, req, parameters, "", "api:" + token->name, 403);
        return http::Refusal{403, "Forbidden", "a token with role " + token->role + " may not " + action};
      }
      touch(registry, token->name);
      return http::Admitted{token->name, token->role, index, std::move(parameters)};
    } catch (const registry::RegistryError& e) {
      if (e.busy()) return http::Refusal{503, "ServiceUnavailable", "the registry is busy; retry"};
      spdlog::error("admin API {}: {}", action, e.what());
      return http::Refusal{500, "InternalError", "registry failure"};
    }
  }

  http::Response serve(const http::Request& req, const http::Admitted& admitted) {
    if (admitted.route < 0) return serve_own(req);
    const CompiledRoute& compiled = routes.at(static_cast<size_t>(admitted.route));
    const Route& route = compiled.route;
    std::string action = route.method + " " + route.pattern;
    std::string actor = "api:" + admitted.principal;
    http::Response res;
    try {
      auto& registry = thread_registry(context.config->registry);
      Role role = parse_role(admitted.role).value_or(Role::Installer);
      Call call{context, registry, role, actor, req.remote_addr, {}, {}, rapidjson::Document(rapidjson::kObjectType)};
      for (size_t i = 0; i < compiled.names.size() && i < admitted.parameters.size(); ++i)
        call.path[compiled.names[i]] = admitted.parameters[i];
      call.query = req.query;
      if (!req.body.empty()) {
        std::string error;
        auto parsed = json::try_parse(req.body, &error);
        if (!parsed) throw ApiError(400, "InvalidJson", "request body: " + error);
        call.body = std::move(*parsed);
      }
      Response response = route.handler(call);
      res.status = response.status;
      if (response.status != 204) res.set_content(json::stringify(response.body), "application/json");
    } catch (const RequestError& e) {
      fail(res, e.status_code, e.code, e.what(), e.field, e.details);
    } catch (const registry::RegistryError& e) {
      auto answer = registry::as_request_error(e);
      fail(res, answer.status_code, answer.code, answer.what());
      if (!e.constraint() && !e.busy()) spdlog::error("admin API {}: {}", action, e.what());
    } catch (const std::exception& e) {
      spdlog::error("admin API {}: {}", action, e.what());
      fail(res, 500, "InternalError", "internal failure; nothing was changed");
    }
    if (res.status >= 400 && res.status != 401) audit_refusal(compiled, req, admitted.parameters, req.body, actor, res.status);
    return res;
  }

  // /health, /metrics and the web console: its files, compiled in; it signs
  // in with a token and calls this API (docs/console.md).
  http::Response serve_own(const http::Request& req) {
    http::Response res;
    if (req.path == "/health") return health();
    if (req.path == "/metrics") {
      res.set_content(metrics().render(), "text/plain; version=0.0.4");
      return res;
    }
    if (req.path == "/console") {
      res.status = 301;
      res.set_header("Location", "/console/");
      res.set_content("", "text/plain");
      return res;
    }
    auto file = console::find(req.path);
    if (!file) {
      fail(res, 404, "NotFound", "no such resource: GET " + text::quote(req.path, 200));
      return res;
    }
    res.set_header("Content-Security-Policy", console::kContentSecurityPolicy);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(file->content.data(), file->content.size()), file->content_type);
    return res;
  }

  // Refused changes are audited too, under the action and subject a success
  // would have had (successes are audited by the fleet's change, in its
  // transaction). Requests without a valid token are not.
  void audit_refusal(const CompiledRoute& compiled, const http::Request& req, const std::vector<std::string>& path,
                     const std::string& body, const std::string& actor, int status) {
    const Change& change = compiled.route.change;
    if (!change.action) return;
    try {
      auto& registry = thread_registry(context.config->registry);
      registry.audit({0, 0, actor, refused_action(change, body), change_subject(change, compiled.names, path, body),
                      std::to_string(status), req.remote_addr, detail({{"request", req.method + " " + req.path}})});
    } catch (const std::exception&) {
    }
  }

  static void fail(http::Response& res, int status, const std::string& code, const std::string& message,
                   const std::string& field = {}, const std::vector<std::pair<std::string, std::string>>& details = {}) {
    res.status = status;
    res.set_content(error_body(status, code, message, field, details), "application/json");
  }

  // last_used_at, written at most once a minute per token.
  void touch(registry::Registry& registry, const std::string& name) {
    int64_t now = unix_now();
    {
      std::lock_guard lock(touch_mutex);
      auto& last = last_touch[name];
      if (now - last < 60) return;
      last = now;
    }
    registry.touch_api_token(name, now);
  }

  http::Response health() {
    bool registry_ok = true;
    try {
      auto& registry = thread_registry(context.config->registry);
      registry.check();
    } catch (const std::exception&) {
      registry_ok = false;
    }
    bool broker = context.broker_connected && context.broker_connected();
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("status", json::string_value(registry_ok && broker ? "ok" : "degraded", a), a);
    doc.AddMember("registry", json::string_value(registry_ok ? "ok" : "unavailable", a), a);
    doc.AddMember("broker", json::string_value(broker ? "connected" : "disconnected", a), a);
    doc.AddMember("version", json::string_value(PROVISION_VERSION, a), a);
    http::Response res;
    res.status = registry_ok && broker ? 200 : 503;
    res.set_content(json::stringify(doc), "application/json");
    return res;
  }

  void add(Route route) {
    auto [regex, names] = compile_pattern(route.pattern);
    routes.push_back({std::move(route), std::regex(regex), std::move(names)});
  }
};

AdminServer::AdminServer(AdminSettings settings, const ServiceConfig& config, const std::filesystem::path& config_file,
                         ProvisioningService& provisioning, std::function<bool()> broker_connected)
    : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
  impl_->context = ApiContext{&config, config_file, &provisioning, std::move(broker_connected)};
  impl_->failures.set_rate(
      Rate{config.admin_failed_attempts_per_minute / 60.0, static_cast<double>(config.admin_failed_attempts_burst)});
  for (auto routes : {template_routes(), policy_routes(), claim_and_ca_routes(), thing_routes(), audit_and_token_routes(),
                      enrollment_routes(), broker_routes(), firmware_routes(), device_routes(), summary_routes()})
    for (auto& route : routes) impl_->add(std::move(route));
  // Requests are admitted, and their bodies read within the limit, by the gate (http/gate.h).
  http::GateSettings gate_settings;
  gate_settings.max_body_bytes = impl_->settings.max_body_bytes;
  // Every answer of the API (refusals by the gate included) is counted.
  // No answer is cached, sniffed, framed or leaks where it came from; API
  // answers are JSON that no browser renders (the console's files set a
  // policy of their own).
  gate_settings.headers = {{"Cache-Control", "no-store"},
                           {"X-Content-Type-Options", "nosniff"},
                           {"X-Frame-Options", "DENY"},
                           {"Referrer-Policy", "no-referrer"},
                           {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"}};
  gate_settings.on_answer = [](const http::Request& req, const http::Response& res) {
    if (req.path.starts_with("/v1/"))
      metrics().increment("provision_admin_requests_total", {{"method", req.method}, {"status", std::to_string(res.status)}});
  };
  impl_->gate = std::make_unique<http::Gate>(
      gate_settings, [this](const http::Request& req) { return impl_->admit(req); },
      [](const http::Refusal& r) { return error_body(r.status, r.code, r.message); });
}

AdminServer::~AdminServer() { stop(); }

// The routes, as the listener and handle() both run them.
std::function<http::Response(const http::Request&, const http::Admitted&)> AdminServer::serve_() const {
  return [impl = impl_.get()](const http::Request& req, const http::Admitted& admitted) { return impl->serve(req, admitted); };
}

http::Response AdminServer::handle(http::Request request) const {
  return http::answer(*impl_->gate, serve_(),
                      std::move(request));
}

void AdminServer::start() {
  auto& s = impl_->settings;
  http::ListenerSettings listener;
  listener.name = "admin API";
  listener.address = s.listen;
  listener.port = s.port;
  listener.tls_certificate = s.tls_certificate;
  listener.tls_key = s.tls_key;
  listener.threads = s.threads;
  listener.max_connections = s.max_connections;
  // Bodies of up to max_body_bytes each: fewer of them in memory at once.
  listener.max_pending = 64;
  impl_->listener = std::make_unique<http::Listener>(
      listener, *impl_->gate, serve_());
  impl_->listener->start();
  spdlog::info("admin API listening on {}://{}:{}", s.tls_certificate.empty() ? "http" : "https", s.listen, impl_->listener->port());
}

void AdminServer::stop() {
  if (impl_->listener) impl_->listener->stop();
}

int AdminServer::port() const { return impl_->listener ? impl_->listener->port() : -1; }

}  // namespace provision::service
