#include "worker_link.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "util/error.h"

namespace provision::service {
namespace {

// mosquitto_loop() returns at least this often, so that stop() is noticed.
constexpr int kLoopWaitMs = 100;
constexpr std::chrono::milliseconds kFirstRetryDelay{100}, kMaxRetryDelay{2000};

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    mosquitto_lib_init();
    std::atexit([] { mosquitto_lib_cleanup(); });
  });
}

std::string describe(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::string("cannot reach the broker (") + std::strerror(errno) + ")";
  return mosquitto_strerror(rc);
}

}  // namespace

std::string LinkMessage::user_property(std::string_view name) const {
  for (const auto& [n, v] : user_properties)
    if (n == name) return v;
  return {};
}

// libmosquitto's callbacks, all on the link's thread (inside mosquitto_loop).
struct WorkerLink::Callbacks {
  static WorkerLink& link(void* self) { return *static_cast<WorkerLink*>(self); }

  static void on_connect(struct mosquitto* mosq, void* self, int reason, int, const mosquitto_property*) {
    WorkerLink& l = link(self);
    if (reason != 0) {
      spdlog::error("the broker refused the worker's connection (reason {}: {}); is this certificate a registered "
                    "service identity?",
                    reason, mosquitto_reason_string(reason));
      return;
    }
    l.pending_subscriptions_ = 0;
    for (const auto& [filter, qos] : l.settings_.subscriptions) {
      int rc = mosquitto_subscribe_v5(mosq, nullptr, filter.c_str(), qos, 0, nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        spdlog::error("cannot subscribe to {}: {}", filter, mosquitto_strerror(rc));
        return;
      }
      ++l.pending_subscriptions_;
    }
    spdlog::info("connected to {}:{} as {}; subscribing", l.settings_.host, l.settings_.port, l.settings_.client_id);
  }

  static void on_subscribe(struct mosquitto*, void* self, int, int count, const int* granted, const mosquitto_property*) {
    WorkerLink& l = link(self);
    for (int i = 0; i < count; ++i) {
      if (granted[i] >= 0x80) {
        spdlog::error("subscription to the internal request topic refused (reason {}); is this certificate a "
                      "registered service identity?",
                      granted[i]);
        return;
      }
    }
    if (--l.pending_subscriptions_ == 0) {
      l.subscribed_ = true;
      if (l.on_ready_) l.on_ready_();
    }
  }

  static void on_disconnect(struct mosquitto*, void* self, int, const mosquitto_property*) {
    link(self).subscribed_ = false;
  }

  static void on_message(struct mosquitto*, void* self, const struct mosquitto_message* message,
                         const mosquitto_property* properties) {
    LinkMessage m;
    m.topic = message->topic ? message->topic : "";
    if (message->payload && message->payloadlen > 0)
      m.payload = std::string_view(static_cast<const char*>(message->payload), static_cast<size_t>(message->payloadlen));
    char* name = nullptr;
    char* value = nullptr;
    for (const mosquitto_property* p = mosquitto_property_read_string_pair(properties, MQTT_PROP_USER_PROPERTY, &name,
                                                                           &value, false);
         p; p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, true)) {
      m.user_properties.emplace_back(name, value);
      std::free(name);
      std::free(value);
    }
    try {
      link(self).on_message_(m);
    } catch (const std::exception& e) {
      spdlog::error("message on {} not handled: {}", m.topic, e.what());
    }
  }
};

WorkerLink::WorkerLink(LinkSettings settings, MessageHandler on_message, ReadyHandler on_ready)
    : settings_(std::move(settings)), on_message_(std::move(on_message)), on_ready_(std::move(on_ready)) {
  init_library();
  mosq_.reset(mosquitto_new(settings_.client_id.c_str(), true, this));
  if (!mosq_) throw Error("cannot create the MQTT client " + settings_.client_id);
  mosquitto_int_option(mosq_.get(), MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  // Without it each reply waits on Nagle's algorithm behind the broker's delayed ACK (~40 ms).
  mosquitto_int_option(mosq_.get(), MOSQ_OPT_TCP_NODELAY, 1);
  // Publishes from other threads (replies of hook-bound registrations) only
  // queue and wake this link's thread: one thread uses the TLS connection.
  mosquitto_threaded_set(mosq_.get(), true);
  int rc = mosquitto_tls_set(mosq_.get(), settings_.ca_file.c_str(), nullptr, settings_.certificate.c_str(),
                             settings_.private_key.c_str(), nullptr);
  if (rc != MOSQ_ERR_SUCCESS) {
    throw Error("TLS files of the worker (" + settings_.ca_file + ", " + settings_.certificate + ", " +
                settings_.private_key + "): " + mosquitto_strerror(rc));
  }
  mosquitto_connect_v5_callback_set(mosq_.get(), &Callbacks::on_connect);
  mosquitto_subscribe_v5_callback_set(mosq_.get(), &Callbacks::on_subscribe);
  mosquitto_disconnect_v5_callback_set(mosq_.get(), &Callbacks::on_disconnect);
  mosquitto_message_v5_callback_set(mosq_.get(), &Callbacks::on_message);
}

WorkerLink::~WorkerLink() { stop(); }

void WorkerLink::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void WorkerLink::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

bool WorkerLink::publish(const std::string& topic, std::string_view payload, int qos,
                         const protocol::UserProperties& user_properties) {
  if (!subscribed_) return false;
  mosquitto_property* properties = nullptr;
  for (const auto& [name, value] : user_properties) {
    if (mosquitto_property_add_string_pair(&properties, MQTT_PROP_USER_PROPERTY, name.c_str(), value.c_str()) !=
        MOSQ_ERR_SUCCESS) {
      mosquitto_property_free_all(&properties);
      return false;
    }
  }
  int rc = mosquitto_publish_v5(mosq_.get(), nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, false,
                                properties);
  mosquitto_property_free_all(&properties);
  return rc == MOSQ_ERR_SUCCESS;
}

void WorkerLink::run() {
  auto delay = kFirstRetryDelay;
  auto pause = [&] {
    for (auto waited = std::chrono::milliseconds(0); waited < delay && !stopping_; waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    delay = std::min(delay * 2, kMaxRetryDelay);
  };
  bool first = true;
  while (!stopping_) {
    // mosquitto_connect() once; then mosquitto_reconnect(), which reuses the
    // settings and leaves alone the wake-up socket pair that publishes from
    // other threads write to (mosquitto_connect replaces it).
    int rc = first ? mosquitto_connect(mosq_.get(), settings_.host.c_str(), settings_.port, settings_.keep_alive_seconds)
                   : mosquitto_reconnect(mosq_.get());
    first = false;
    if (rc != MOSQ_ERR_SUCCESS) {
      spdlog::warn("cannot connect to {}:{}: {}; retrying", settings_.host, settings_.port, describe(rc));
      pause();
      continue;
    }
    // Bounded by stop(): each turn waits at most kLoopWaitMs.
    while (!stopping_ && (rc = mosquitto_loop(mosq_.get(), kLoopWaitMs, 1)) == MOSQ_ERR_SUCCESS) {
      if (subscribed_) delay = kFirstRetryDelay;
    }
    subscribed_ = false;
    if (stopping_) break;
    spdlog::warn("connection to the broker lost ({}); reconnecting", describe(rc));
    pause();
  }
  subscribed_ = false;
  if (mosquitto_disconnect_v5(mosq_.get(), 0, nullptr) == MOSQ_ERR_SUCCESS) {
    // The DISCONNECT is queued (threaded mode): let the loop write it (bounded).
    for (int i = 0; i < 10 && mosquitto_want_write(mosq_.get()); ++i) mosquitto_loop_write(mosq_.get(), 1);
  }
}

}  // namespace provision::service
