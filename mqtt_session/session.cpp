#include "mqtt_session/session.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace provision::mqtt_session {

bool await_library_threads(std::chrono::milliseconds limit) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer runs a background thread of its own from the first
  // thread a program creates on: it never ends.
  constexpr int ours = 2;
#else
  constexpr int ours = 1;
#endif
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int threads = 0;
    if (DIR* dir = opendir("/proc/self/task")) {
      while (dirent* entry = readdir(dir))
        if (entry->d_name[0] != '.') ++threads;
      closedir(dir);
    }
    if (threads <= ours) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Endpoint::uri() const { return "ssl://" + host + ":" + std::to_string(port); }

int disable_nagle_towards(const Endpoint& endpoint) {
  // The broker's addresses.
  std::vector<sockaddr_storage> targets;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(), &hints, &found) != 0) return 0;
  for (addrinfo* a = found; a; a = a->ai_next) {
    sockaddr_storage target{};
    std::memcpy(&target, a->ai_addr, a->ai_addrlen);
    targets.push_back(target);
  }
  freeaddrinfo(found);
  auto same = [](const sockaddr_storage& x, const sockaddr_storage& y) {
    if (x.ss_family != y.ss_family) return false;
    if (x.ss_family == AF_INET) {
      const auto& a = reinterpret_cast<const sockaddr_in&>(x);
      const auto& b = reinterpret_cast<const sockaddr_in&>(y);
      return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
    }
    if (x.ss_family == AF_INET6) {
      const auto& a = reinterpret_cast<const sockaddr_in6&>(x);
      const auto& b = reinterpret_cast<const sockaddr_in6&>(y);
      return a.sin6_port == b.sin6_port && std::memcmp(&a.sin6_addr, &b.sin6_addr, sizeof a.sin6_addr) == 0;
    }
    return false;
  };
  int changed = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  while (dirent* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == dirfd(dir)) continue;
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;  // not a connected socket
    if (std::none_of(targets.begin(), targets.end(), [&](const auto& t) { return same(t, peer); })) continue;
    int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0) ++changed;
  }
  closedir(dir);
  return changed;
}

PahoOptions::PahoOptions(const ConnectSettings& s) {
  auto ssl_builder = mqtt::ssl_options_builder();
  ssl_builder.trust_store(s.tls.ca_file).enable_server_cert_auth(true).verify(true);
  if (!s.tls.certificate.empty()) ssl_builder.key_store(s.tls.certificate).private_key(s.tls.private_key);
  ssl = ssl_builder.finalize();
  auto builder = mqtt::connect_options_builder();
  if (s.protocol == Protocol::V5) {
    // set_mqtt_version(5) clears clean session: set clean start after it.
    builder.mqtt_version(MQTTVERSION_5).clean_start(s.clean_start);
  } else {
    builder.mqtt_version(MQTTVERSION_3_1_1).clean_session(s.clean_start);
  }
  builder.keep_alive_interval(s.keep_alive).connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(s.timeout));
  if (!s.tls.plain) builder.ssl(ssl);
  if (s.auto_reconnect) builder.automatic_reconnect(std::chrono::milliseconds(200), std::chrono::seconds(5));
  if (s.username) builder.user_name(*s.username);
  if (s.password) builder.password(*s.password);
  connect = builder.finalize();
}

class Session::Callback : public virtual mqtt::callback {
 public:
  explicit Callback(Session& s) : s_(s) {}
  void message_arrived(mqtt::const_message_ptr msg) override {
    Received r;
    r.topic = msg->get_topic();
    r.payload = msg->to_string();
    r.qos = msg->get_qos();
    const auto& props = msg->get_properties();
    for (size_t i = 0, n = props.count(mqtt::property::USER_PROPERTY); i < n; ++i) {
      auto pair = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i);
      r.user_properties.emplace_back(std::get<0>(pair), std::get<1>(pair));
    }
    {
      std::lock_guard lock(s_.mutex_);
      s_.inbox_.push_back(std::move(r));
    }
    s_.cv_.notify_all();
  }
  void connection_lost(const std::string&) override {
    {
      std::lock_guard lock(s_.mutex_);
      s_.lost_ = true;
    }
    s_.cv_.notify_all();
  }

 private:
  Session& s_;
};

Session::Session(ConnectSettings settings)
    : settings_(std::move(settings)),
      options_(settings_),
      callback_(std::make_unique<Callback>(*this)),
      client_(std::make_unique<mqtt::async_client>(
          settings_.tls.plain ? "tcp://" + settings_.endpoint.host + ":" + std::to_string(settings_.endpoint.port) : settings_.endpoint.uri(),
          settings_.client_id,
          mqtt::create_options(settings_.protocol == Protocol::V5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1), nullptr)) {
  client_->set_callback(*callback_);
  // An MQTT v5 broker says goodbye with a DISCONNECT packet (e.g. 0x98,
  // administrative action) rather than just closing the connection.
  client_->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode) {
    {
      std::lock_guard lock(mutex_);
      lost_ = true;
    }
    cv_.notify_all();
  });
}

Session::~Session() {
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (...) {
  }
  // No callback may run once the members it uses are gone.
  client_->disable_callbacks();
  client_.reset();
}

ConnectError::ConnectError(const mqtt::exception& cause, ConnectDiagnosis diagnosis)
    : mqtt::exception(cause), diagnosis_(std::move(diagnosis)), message_(diagnosis_.explanation + " (" + cause.what() + ")") {}

void Session::connect() {
  {
    std::lock_guard lock(mutex_);
    lost_ = false;
  }
  try {
    // Paho's connect timeout (settings_.timeout) normally ends an attempt;
    // this bound holds even when it does not (a connection that went away
    // mid-handshake while the broker restarted once left a caller waiting
    // for good), so that no caller waits for ever.
    auto token = client_->connect(options_.connect);
    if (!token->wait_for(settings_.timeout + std::chrono::seconds(5)))
      throw mqtt::exception(MQTTASYNC_OPERATION_INCOMPLETE, "no answer to CONNECT in time");
  } catch (const mqtt::exception& e) {
    throw ConnectError(e, diagnose_connect_failure(settings_, e.get_return_code()));
  }
  disable_nagle_towards(settings_.endpoint);
}

void Session::disconnect() {
  if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(5));
}

bool Session::connected() const { return client_->is_connected(); }

std::vector<int> Session::subscribe(const std::vector<std::string>& filters, int qos) {
  auto topics = mqtt::string_collection::create(filters);
  std::vector<int> qoss(filters.size(), qos);
  auto token = client_->subscribe(topics, qoss);
  std::vector<int> codes;
  try {
    token->wait_for(settings_.timeout);
  } catch (const mqtt::exception& e) {
    // Paho fails the whole token when the broker refuses a filter; it does
    // not say which, so every filter is reported with that reason.
    int reason = e.get_reason_code() ? e.get_reason_code() : 0x80;
    return std::vector<int>(filters.size(), reason);
  }
  auto response = token->get_subscribe_response();  // by value: keep it alive while iterating
  for (auto rc : response.get_reason_codes()) codes.push_back(static_cast<int>(rc));
  return codes;
}

int Session::publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
  auto msg = mqtt::make_message(topic, payload, qos, retain);
  auto token = client_->publish(msg);
  try {
    if (!token->wait_for(settings_.timeout)) return -1;
  } catch (const mqtt::exception& e) {
    return e.get_reason_code() ? e.get_reason_code() : -1;
  }
  return static_cast<int>(token->get_reason_code());
}

std::optional<Received> Session::next_message(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return !inbox_.empty(); })) return std::nullopt;
  Received r = std::move(inbox_.front());
  inbox_.pop_front();
  return r;
}

std::optional<Received> Session::next_message_on(const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::optional<Received> found;
  cv_.wait_for(lock, timeout, [&] {
    auto it = std::find_if(inbox_.begin(), inbox_.end(), [&](const Received& r) {
      return std::find(topics.begin(), topics.end(), r.topic) != topics.end();
    });
    if (it == inbox_.end()) return false;
    found = std::move(*it);
    inbox_.erase(it);
    return true;
  });
  return found;
}

bool Session::wait_disconnected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return lost_; });
}

}  // namespace provision::mqtt_session
