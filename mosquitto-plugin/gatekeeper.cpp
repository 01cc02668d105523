#include "gatekeeper.h"

#include "pki/certificate.h"
#include "util/error.h"

namespace provision::plugin {

Gatekeeper::Gatekeeper(Options options, Logger logger)
    : options_(std::move(options)), logger_(std::move(logger)), internal_(options_.internal_prefix),
      router_(options_, internal_) {
  router_.on_settled = [this](const void* key) {
    auto it = connections_.find(key);
    if (it != connections_.end() && it->second.in_flight > 0) --it->second.in_flight;
  };
  router_.current_connection = [this](const std::string& client_id) -> const void* {
    auto it = by_client_id_.find(client_id);
    return it == by_client_id_.end() ? nullptr : it->second;
  };
}

Gatekeeper::~Gatekeeper() = default;

registry::Registry* Gatekeeper::registry() {
  if (registry_) return &*registry_;
  try {
    registry_.emplace(registry::Registry::open_read_only(options_.registry));
    resolver_ = std::make_unique<IdentityResolver>(*registry_);
    registry_version_ = registry_->data_version();
    log(LogLevel::Notice, "provision: registry " + options_.registry + " opened");
    registry_failing_ = false;
    return &*registry_;
  } catch (const Error& e) {
    // Logged once per outage, not on every connect or poll.
    if (!registry_failing_)
      log(LogLevel::Error, std::string("provision: registry unavailable, refusing every client until it returns: ") + e.what());
    registry_failing_ = true;
    return nullptr;
  }
}

AuthResult Gatekeeper::authenticate(const ClientInfo& client, X509* certificate, int64_t now_s) {
  auto refuse = [&](const std::string& reason) {
    log(LogLevel::Notice, "provision: refused client '" + client.client_id + "' from " + client.address + ": " + reason);
    return AuthResult{};
  };
  if (!certificate) return refuse("no client certificate (identity comes from the certificate alone)");
  if (client.client_id.empty()) return refuse("empty client id");
  auto* reg = registry();
  if (!reg) return refuse("registry unavailable");

  std::variant<Identity, Refusal> result;
  try {
    X509_up_ref(certificate);
    auto cert = pki::Certificate::adopt(certificate);
    result = resolver_->resolve(cert, client.client_id, now_s);
  } catch (const registry::RegistryError& e) {
    // Fail closed, and reopen on the next attempt (the file may have been replaced).
    resolver_.reset();
    registry_.reset();
    return refuse(std::string("registry error: ") + e.what());
  } catch (const std::exception& e) {
    return refuse(std::string("certificate not usable: ") + e.what());
  }
  if (auto* refusal = std::get_if<Refusal>(&result)) return refuse(refusal->reason);

  Identity& identity = std::get<Identity>(result);
  std::string username = identity.username();
  log(LogLevel::Info, "provision: client '" + client.client_id + "' from " + client.address + " is " +
                          std::string(role_name(identity.role)) + " " + username);
  // A reconnect on the same connection object replaces the old state.
  on_disconnect(client.key);
  Connection& connection = connections_[client.key];
  connection.identity = std::move(identity);
  connection.client_id = client.client_id;
  connection.address = client.address;
  by_client_id_[client.client_id] = client.key;
  return AuthResult{true, std::move(username)};
}

bool Gatekeeper::check_acl(const void* key, const AclRequest& request) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return false;
  Connection& c = it->second;
  if (c.identity.role != Role::Device) return decide_acl(c.identity, request, options_, internal_);

  // Devices: the decision depends on (access, topic) only, as long as the
  // connection lives (registry changes re-authenticate or kick it).
  // Writes also depend on nothing else; cache them all.
  auto& cache = c.decisions[static_cast<int>(request.access)];
  auto found = cache.find(std::string(request.topic));
  if (found != cache.end()) return found->second;
  bool allowed = decide_acl(c.identity, request, options_, internal_);
  if (cache.size() >= 1024) cache.clear();  // bounded: a client cannot grow it without limit
  cache.emplace(std::string(request.topic), allowed);
  return allowed;
}

void Gatekeeper::on_message(const void* key, std::string_view topic, std::string_view payload, int qos,
                            const UserProperties& properties, int64_t now_ms, Actions& out) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  Connection& c = it->second;

  if (c.identity.role == Role::Service) {
    if (topic != internal_.replies) return;
    if (!router_.on_reply(properties, payload, out))
      log(LogLevel::Warning, "provision: dropped a worker reply that matches no pending request (late or unknown)");
    return;
  }
  if (c.identity.role != Role::Claim) return;
  auto request = protocol::parse_request_topic(topic);
  if (!request || !claim_may_request(c.identity, *request, options_)) return;  // the ACL check already refused these
  RequestOrigin origin{key, c.client_id, c.identity.certificate_id, c.address, std::string(role_name(c.identity.role))};
  router_.on_request(origin, *request, payload, qos, now_ms, c.in_flight, out);
}

void Gatekeeper::on_tick(int64_t now_ms, Actions& out) {
  router_.expire(now_ms, out);
  if (now_ms < next_registry_poll_ms_) return;
  next_registry_poll_ms_ = now_ms + options_.registry_poll_ms;
  auto* reg = registry();
  if (!reg) return;
  try {
    int64_t version = reg->data_version();
    if (version != registry_version_) {
      registry_version_ = version;
      resolver_->invalidate();
    }
  } catch (const registry::RegistryError& e) {
    log(LogLevel::Error, std::string("provision: registry error: ") + e.what());
    resolver_.reset();
    registry_.reset();
  }
}

void Gatekeeper::on_disconnect(const void* key) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  if (it->second.in_flight > 0) router_.forget(key);
  auto owner = by_client_id_.find(it->second.client_id);
  if (owner != by_client_id_.end() && owner->second == key) by_client_id_.erase(owner);
  connections_.erase(it);
}

}  // namespace provision::plugin
