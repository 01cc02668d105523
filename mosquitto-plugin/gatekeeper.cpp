#include "gatekeeper.h"

#include <sys/stat.h>

#include <chrono>

#include <algorithm>
#include <unordered_set>

#include "pki/certificate.h"
#include "protocol/payloads.h"
#include "util/error.h"
#include "util/text.h"

namespace provision::plugin {

namespace {

// Who a request comes from, as the workers are told. Services never send
// requests (their messages are replies).
protocol::Identity requester(Role role) {
  switch (role) {
    case Role::Enrollment: return protocol::Identity::Enrollment;
    case Role::Device: return protocol::Identity::Device;
    case Role::Factory: return protocol::Identity::Factory;
    case Role::Claim:
    case Role::Service: break;
  }
  return protocol::Identity::Claim;
}

}  // namespace

Gatekeeper::Gatekeeper(Options options, Logger logger)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      internal_(options_.internal_prefix),
      connects_per_claim_(options_.connect_rate_per_claim),
      connects_per_address_(options_.connect_rate_per_address),
      requests_per_claim_(options_.request_rate_per_claim),
      requests_per_address_(options_.request_rate_per_address),
      router_(options_, internal_) {
  router_.on_settled = [this](const void* key) {
    auto it = connections_.find(key);
    if (it != connections_.end() && it->second.in_flight > 0) --it->second.in_flight;
  };
  router_.current_connection = [this](const std::string& client_id) -> const void* {
    auto it = by_client_id_.find(client_id);
    return it == by_client_id_.end() ? nullptr : it->second;
  };
  if (!options_.trust_dir.empty()) {
    // Written now, at the broker's start (Mosquitto 2.0.11 loads plugins
    // before it opens its listeners), so the first handshake finds it.
    trust_.emplace(options_.trust_dir);
    try {
      if (registry()) sync_trust_directory();
    } catch (const registry::RegistryError& e) {
      log(LogLevel::Warning, std::string("provision: trust directory not written yet (") + e.what() + "); retrying at the next poll");
    }
  }
}

Gatekeeper::~Gatekeeper() = default;

void Gatekeeper::reconfigure(Options options) {
  if (options.internal_prefix != options_.internal_prefix)
    log(LogLevel::Warning, "provision: internal_prefix cannot change without a restart; keeping " + options_.internal_prefix);
  options.internal_prefix = options_.internal_prefix;
  options.trust_dir = options_.trust_dir;  // mosquitto.conf only, like capath
  bool new_registry = options.registry != options_.registry;
  options_ = std::move(options);
  connects_per_claim_.set_rate(options_.connect_rate_per_claim);
  connects_per_address_.set_rate(options_.connect_rate_per_address);
  requests_per_claim_.set_rate(options_.request_rate_per_claim);
  requests_per_address_.set_rate(options_.request_rate_per_address);
  if (new_registry) close_registry("the registry option changed");
  log(LogLevel::Notice, "provision: options reloaded");
}

registry::Registry* Gatekeeper::registry() {
  if (registry_) return &*registry_;
  // A database server that is away may take its connect timeout to say so:
  // the broker thread tries again at most once a second meanwhile, and
  // refuses new clients at once in between (fail closed, fast).
  const bool remote = registry::is_database_uri(options_.registry);
  const auto now = std::chrono::steady_clock::now();
  if (remote && registry_failing_ && now < next_open_attempt_) return nullptr;
  next_open_attempt_ = now + std::chrono::seconds(1);
  try {
    registry_.emplace(registry::Registry::open_read_only(options_.registry));
    resolver_ = std::make_unique<IdentityResolver>(*registry_, options_);
    registry_version_ = registry_->data_version();
    last_change_id_ = registry_->latest_change_id();
    struct stat st {};
    registry_inode_ = !remote && ::stat(options_.registry.c_str(), &st) == 0 ? st.st_ino : 0;
    log(LogLevel::Notice, "provision: registry " + registry::display_location(options_.registry) + " opened");
    registry_failing_ = false;
    trust_stale_ = trust_.has_value();  // it may be another file, or have changed while closed
    return &*registry_;
  } catch (const Error& e) {
    registry_.reset();
    // Logged once per outage, not on every connect or poll.
    if (!registry_failing_)
      log(LogLevel::Error, std::string("provision: registry unavailable, refusing every client until it returns: ") + e.what());
    registry_failing_ = true;
    return nullptr;
  }
}

void Gatekeeper::close_registry(const std::string& why) {
  if (!registry_) return;
  log(LogLevel::Error, "provision: closing the registry (" + why + "); new clients are refused until it is back");
  resolver_.reset();
  registry_.reset();
  registry_failing_ = true;
}

void Gatekeeper::sync_trust_directory() {
  if (!trust_ || !registry_) return;
  std::vector<TrustedCa> cas;
  for (auto& ca : registry_->list_cas())
    if (ca.status == registry::kActive) cas.push_back({ca.id, ca.role, std::move(ca.pem)});
  try {
    TrustSync done = trust_->sync(cas);
    trust_stale_ = false;
    trust_failure_.clear();
    auto names = [](const std::vector<std::string>& list) {
      std::string out;
      for (const auto& name : list) out += (out.empty() ? "" : ", ") + name;
      return out.empty() ? std::string("nothing") : out;
    };
    if (done.changed())
      log(LogLevel::Notice, "provision: trust directory " + trust_->path().string() + " holds " + std::to_string(cas.size()) +
                                " active CAs: wrote " + names(done.written) + "; removed " + names(done.removed));
    for (const auto& id : done.skipped)
      log(LogLevel::Warning, "provision: CA " + id + " in the registry holds no readable certificate; not in the trust directory");
  } catch (const Error& e) {
    trust_stale_ = true;
    if (trust_failure_ != e.what())
      log(LogLevel::Error, std::string("provision: cannot update the trust directory, retrying at every registry poll: ") + e.what());
    trust_failure_ = e.what();
  }
}

void Gatekeeper::index(const void* key, const Connection& c) {
  by_certificate_.emplace(c.identity.certificate_id, key);
  if (c.identity.role == Role::Device) by_thing_.emplace(c.identity.name, key);
}

void Gatekeeper::take_client_id(const void* key, const Connection& c) {
  // The entry is replaced, key included: the old key views the client id
  // string of the connection being taken over, which goes away when the
  // broker disconnects it.
  by_client_id_.erase(c.client_id);
  by_client_id_.emplace(c.client_id, key);
}

void Gatekeeper::release_client_id(const void* key, const Connection& c) {
  auto owner = by_client_id_.find(c.client_id);
  if (owner != by_client_id_.end() && owner->second == key) by_client_id_.erase(owner);
}

void Gatekeeper::unindex(const void* key, const Connection& c) {
  auto erase = [key](std::unordered_multimap<std::string_view, const void*>& map, std::string_view name) {
    auto [first, last] = map.equal_range(name);
    for (auto it = first; it != last; ++it)
      if (it->second == key) {
        map.erase(it);
        return;
      }
  };
  erase(by_certificate_, c.identity.certificate_id);
  if (c.identity.role == Role::Device) erase(by_thing_, c.identity.name);
}

AuthResult Gatekeeper::authenticate(const ClientInfo& client, X509* certificate, int64_t now_s, int64_t now_ms,
                                    const PasswordLogin& login) {
  auto refuse = [&](const std::string& reason) {
    log(LogLevel::Notice, "provision: refused client '" + text::escape(client.client_id) + "' from " + client.address + ": " + reason);
    // The broker disconnects a client it refused, also one asked again on
    // SIGHUP: nothing this connection held outlives the refusal (its client
    // id, which replies would still be delivered to, its pending requests,
    // a worker's link), whether or not its disconnect event follows.
    on_disconnect(client.key);
    return AuthResult{};
  };
  if (!certificate && !options_.password_devices) return refuse("no client certificate (identity comes from the certificate alone)");
  if (!certificate && login.username.empty())
    return refuse("no client certificate, and no username (a password device gives its thing name)");
  if (client.client_id.empty()) return refuse("empty client id");
  auto* reg = registry();
  if (!reg) return refuse("registry unavailable");

  Resolution result;
  try {
    registry::ReadTransaction snapshot(*reg);
    if (certificate) {
      X509_up_ref(certificate);
      auto cert = pki::Certificate::adopt(certificate);
      result = resolver_->resolve(cert, client.client_id, now_s);
    } else {
      result = resolver_->resolve_password(login.username, login.password, client.client_id);
    }
  } catch (const registry::RegistryError& e) {
    // Fail closed. A locked registry is retried on the next connect; any
    // other error reopens the file (it may have been replaced).
    if (!e.busy()) close_registry(e.what());
    return refuse(std::string("registry error: ") + e.what());
  } catch (const std::exception& e) {
    return refuse(std::string("certificate not usable: ") + e.what());
  }
  if (auto* refusal = std::get_if<Refusal>(&result)) return refuse(refusal->reason);
  Identity& identity = std::get<Identity>(result);

  // Mosquitto re-authenticates every connected client on SIGHUP: that is a
  // re-check of a live connection, not a new connect.
  auto existing = connections_.find(client.key);
  const bool recheck = existing != connections_.end() && existing->second.client_id == client.client_id;
  if (identity.role != Role::Service && identity.role != Role::Factory && !recheck) {
    if (!connects_per_address_.take(client.address, now_ms)) return refuse("connect rate limit for this address exceeded");
    if (identity.provisioning() && !connects_per_claim_.take(identity.certificate_id, now_ms))
      return refuse("connect rate limit for this claim certificate exceeded");
  }

  std::string username = identity.username();
  if (recheck) {
    Connection& c = existing->second;
    unindex(client.key, c);
    c.identity = std::move(identity);
    c.decisions.clear();
    index(client.key, c);
    if (c.identity.role != Role::Service) {
      Actions later;
      unlink_worker(c, later);
      for (auto& m : later.messages) queued_.push_back(std::move(m));
    }
    return AuthResult{true, std::move(username)};
  }
  log(LogLevel::Info, "provision: client '" + text::escape(client.client_id) + "' from " + client.address + " is " +
                          std::string(role_name(identity.role)) + " " + username);
  if (identity.renewal_successor) {
    // Tell the workers, who retire the certificate this one renews.
    OutgoingMessage event;
    event.topic = internal_.events;
    event.qos = 1;
    event.user_properties = protocol::encode(protocol::InternalEvent{protocol::kEventCertificateUsed, identity.certificate_id, "", ""});
    queued_.push_back(std::move(event));
  }
  if (identity.password && identity.first_connect) {
    // The workers record the first connect with this secret (the bootstrap
    // listener stops handing it out).
    OutgoingMessage event;
    event.topic = internal_.events;
    event.qos = 1;
    event.user_properties =
        protocol::encode(protocol::InternalEvent{protocol::kEventPasswordDeviceConnected, "", identity.name, identity.secret_hash});
    queued_.push_back(std::move(event));
    identity.first_connect = false;
  }
  // A reconnect on the same connection object replaces the old state.
  on_disconnect(client.key);
  Connection& connection = connections_[client.key];
  connection.identity = std::move(identity);
  connection.client_id = client.client_id;
  connection.address = client.address;
  index(client.key, connection);
  take_client_id(client.key, connection);
  return AuthResult{true, std::move(username)};
}

bool Gatekeeper::check_acl(const void* key, const AclRequest& request) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return false;
  Connection& c = it->second;
  if (c.cut_off) return false;
  if (c.identity.role != Role::Device) {
    bool allowed = decide_acl(c.identity, request, options_, internal_);
    // Mosquitto 2.0.11 has no subscribe event: this check, made for every
    // filter of a SUBSCRIBE and UNSUBSCRIBE, is how the plugin learns that
    // a worker takes requests.
    if (allowed && c.identity.role == Role::Service &&
        (request.access == Access::Subscribe || request.access == Access::Unsubscribe) &&
        takes_requests(request.topic, internal_))
      note_request_subscription(c, request.topic, request.access == Access::Subscribe);
    return allowed;
  }

  // Devices: the decision depends only on (access, topic) for as long as the
  // identity stands (a registry change refreshes it and clears this cache).
  // Writes also depend on payload size, QoS and retain only on provisioning
  // topics, which are never cached.
  const int access = static_cast<int>(request.access);
  if (auto cached = c.decisions.find(access, request.topic)) return *cached;
  bool allowed = decide_acl(c.identity, request, options_, internal_);
  if (!protocol::in_provisioning_namespace(request.topic)) c.decisions.remember(access, request.topic, allowed);
  return allowed;
}

void Gatekeeper::note_request_subscription(Connection& c, std::string_view filter, bool subscribed) {
  auto& filters = c.request_filters;
  auto it = std::find(filters.begin(), filters.end(), filter);
  if (subscribed) {
    if (it != filters.end()) return;
    if (filters.empty() && ++linked_workers_ == 1)
      log(LogLevel::Notice, "provision: a provisioning worker is linked ('" + c.client_id + "')");
    filters.emplace_back(filter);
    return;
  }
  if (it == filters.end()) return;
  filters.erase(it);
  if (!filters.empty()) return;
  Actions later;
  worker_left(c, later);
  for (auto& m : later.messages) queued_.push_back(std::move(m));
}

void Gatekeeper::unlink_worker(Connection& c, Actions& out) {
  if (c.request_filters.empty()) return;
  c.request_filters.clear();
  worker_left(c, out);
}

void Gatekeeper::worker_left(const Connection& c, Actions& out) {
  if (--linked_workers_ > 0) return;
  log(LogLevel::Warning, "provision: no provisioning worker is linked any more ('" + c.client_id + "' was the last); " +
                             std::to_string(router_.pending()) + " pending requests answered 503, new ones at once");
  router_.reject_all(503, "ServiceUnavailable",
                     "no provisioning worker is connected any more (the last one went away before answering); retry later",
                     out);
}

void Gatekeeper::forward_request(const void* key, Connection& c, const protocol::RequestTopic& request,
                                 std::string_view payload, int qos, int64_t now_ms, Actions& out) {
  RequestOrigin origin{key, {}};
  origin.who.client_id = c.client_id;
  origin.who.source_address = c.address;
  origin.who.identity = requester(c.identity.role);
  origin.who.certificate_id = c.identity.certificate_id;
  if (c.identity.role == Role::Device) origin.who.thing_name = c.identity.name;
  if (c.identity.role == Role::Enrollment) {
    origin.who.registration_id = c.identity.name;
    origin.who.issuer_id = c.identity.issuer_ca_id;
  }
  bool within_limits = c.identity.role == Role::Factory ||
                       (requests_per_address_.take(c.address, now_ms) &&
                        (c.identity.role == Role::Device || requests_per_claim_.take(c.identity.certificate_id, now_ms)));
  Actions answer;
  bool forwarded = false;
  if (!within_limits) {
    router_.reject_now(origin, request, qos, 429, "Throttled",
                       "request rate limit exceeded for this " +
                           std::string(c.identity.role == Role::Device ? "address" : "claim certificate or address") +
                           "; retry later",
                       answer);
  } else if (linked_workers_ == 0) {
    router_.reject_now(origin, request, qos, 503, "ServiceUnavailable", "no provisioning worker is connected; retry later", answer);
  } else {
    forwarded = router_.on_request(origin, request, payload, qos, now_ms, c.in_flight, answer);
  }
  // A rejection answered here costs the client nothing to provoke: past its
  // budget the connection is cut off rather than answered (Options::rejection_rate_per_client).
  if (!forwarded && !c.rejections.take(options_.rejection_rate_per_client, now_ms)) {
    log(LogLevel::Notice, "provision: cutting off client '" + text::escape(c.client_id) + "' from " + c.address +
                              ": it keeps sending requests over its limits (more rejections than rejection_rate_per_client " +
                              "allows; it does not wait for its replies)");
    c.cut_off = true;
    kicks_due_.push_back(key);
    return;
  }
  for (auto& m : answer.messages) out.messages.push_back(std::move(m));
}

void Gatekeeper::on_message(const void* key, std::string_view topic, std::string_view payload, int qos,
                            const UserProperties& properties, int64_t now_ms, Actions& out) {
  auto it = connections_.find(key);
  if (it == connections_.end() || it->second.cut_off) return;
  Connection& c = it->second;

  if (c.identity.role == Role::Service) {
    if (topic != internal_.replies) return;
    if (!router_.on_reply(properties, payload, out))
      log(LogLevel::Warning, "provision: dropped a worker reply that matches no pending request (late or unknown)");
    return;
  }
  auto request = protocol::parse_request_topic(topic);
  if (!request) return;
  bool allowed = c.identity.role == Role::Device    ? (request->operation == protocol::Operation::RenewCertificate ||
                                                      request->operation == protocol::Operation::CheckFirmware)
                 : c.identity.role == Role::Factory ? request->operation == protocol::Operation::PublishEnrollment
                                                    : claim_may_request(c.identity, *request, options_);
  if (!allowed) return;  // the ACL check already refused these
  forward_request(key, c, *request, payload, qos, now_ms, out);
}

void Gatekeeper::refresh(const void* key, Connection& c, int64_t now_s, Actions& out) {
  if (c.cut_off) return;
  Resolution result = resolver_->refresh(c.identity, c.client_id, now_s);
  if (auto* refusal = std::get_if<Refusal>(&result)) {
    log(LogLevel::Notice, "provision: cutting off client '" + text::escape(c.client_id) + "' from " + c.address + ": " + refusal->reason);
    c.cut_off = true;
    out.kicks.push_back(c.client_id);
    unlink_worker(c, out);  // its replies are no longer taken
    return;
  }
  unindex(key, c);
  c.identity = std::move(std::get<Identity>(result));
  c.decisions.clear();
  index(key, c);
}

void Gatekeeper::apply_registry_changes(int64_t now_s, Actions& out) {
  std::unordered_set<const void*> affected;
  bool all_devices = false, all_provisioning = false;
  // Every change since the last one seen, in batches (a bulk import or a mass
  // revocation may write many more than one batch between two polls).
  constexpr int kBatch = 10000;
  for (;;) {
    auto changes = registry_->changes_after(last_change_id_, kBatch);
    if (changes.empty()) break;
    last_change_id_ = changes.back().id;
    note_changes(changes, affected, all_devices, all_provisioning);
    if (changes.size() < static_cast<size_t>(kBatch)) break;
  }
  if (affected.empty() && !all_devices && !all_provisioning) return;
  if (all_devices || all_provisioning)
    for (const auto& [key, c] : connections_)
      if ((all_devices && c.identity.role == Role::Device) || (all_provisioning && c.identity.provisioning()))
        affected.insert(key);
  for (const void* key : affected)
    if (auto it = connections_.find(key); it != connections_.end()) refresh(key, it->second, now_s, out);
}

void Gatekeeper::note_changes(const std::vector<registry::Change>& changes, std::unordered_set<const void*>& affected,
                              bool& all_devices, bool& all_provisioning) {
  for (const auto& change : changes) {
    if (change.kind == "certificate" || change.kind == "claim" || change.kind == "service") {
      auto [first, last] = by_certificate_.equal_range(change.subject);
      for (auto i = first; i != last; ++i) affected.insert(i->second);
    } else if (change.kind == "thing") {
      auto [first, last] = by_thing_.equal_range(change.subject);
      for (auto i = first; i != last; ++i) affected.insert(i->second);
    } else if (change.kind == "policy") {
      all_devices = true;  // rare: re-check every device rather than index policy names
    } else if (change.kind == "ca") {
      all_provisioning = true;
      resolver_->invalidate();
      trust_stale_ = trust_.has_value();
    }
  }
}

void Gatekeeper::on_tick(int64_t now_ms, Actions& out, int64_t now_s) {
  if (now_s == 0) now_s = static_cast<int64_t>(std::time(nullptr));
  router_.expire(now_ms, out);
  for (auto& message : queued_) out.messages.push_back(std::move(message));
  queued_.clear();
  for (const void* key : kicks_due_) {
    auto it = connections_.find(key);
    if (it == connections_.end() || !it->second.cut_off) continue;  // gone already
    auto owner = by_client_id_.find(it->second.client_id);
    if (owner != by_client_id_.end() && owner->second == key) out.kicks.push_back(it->second.client_id);
  }
  kicks_due_.clear();
  if (now_ms < next_registry_poll_ms_) return;
  next_registry_poll_ms_ = now_ms + options_.registry_poll_ms;

  for (auto* limiter : {&connects_per_claim_, &connects_per_address_, &requests_per_claim_, &requests_per_address_})
    limiter->prune(now_ms);
  // Temporary claims stop working at their expiry, connected or not.
  for (auto& [key, c] : connections_)
    if (!c.cut_off && c.identity.expires_at && *c.identity.expires_at < now_s) {
      log(LogLevel::Notice, "provision: cutting off client '" + text::escape(c.client_id) + "' from " + c.address + ": claim certificate expired");
      c.cut_off = true;
      out.kicks.push_back(c.client_id);
    }

  // The file the registry option names must still be the file we have open.
  struct stat st {};
  if (registry_ && !registry::is_database_uri(options_.registry)) {
    if (::stat(options_.registry.c_str(), &st) != 0) close_registry("the file " + options_.registry + " is missing");
    else if (st.st_ino != registry_inode_) close_registry("the file " + options_.registry + " was replaced");
  }
  auto* reg = registry();
  if (!reg) return;
  try {
    int64_t version = reg->data_version();
    if (version == registry_version_ && !trust_stale_) return;
    registry::ReadTransaction snapshot(*reg);
    if (version != registry_version_) {
      registry_version_ = version;
      apply_registry_changes(now_s, out);
    }
    if (trust_stale_) sync_trust_directory();
  } catch (const registry::RegistryError& e) {
    // A busy registry is read again on the next poll (data_version is
    // unchanged for us until we succeed).
    registry_version_ = -1;
    if (!e.busy()) close_registry(e.what());
  }
}

void Gatekeeper::on_disconnect(const void* key) {
  Actions later;
  on_disconnect(key, later);
  for (auto& m : later.messages) queued_.push_back(std::move(m));
}

void Gatekeeper::on_disconnect(const void* key, Actions& out) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  unlink_worker(it->second, out);
  if (it->second.in_flight > 0) router_.forget(key);
  unindex(key, it->second);
  release_client_id(key, it->second);
  connections_.erase(it);
}

}  // namespace provision::plugin
