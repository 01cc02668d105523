#include "mqtt_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "util/error.h"

namespace provision::bench {
namespace {

constexpr int kKeepAliveSeconds = 60;
// mosquitto_loop() waits at most this long per call, so deadlines are checked often.
constexpr int kMaxLoopWaitMs = 100;

MqttClient* client_of(void* self) { return static_cast<MqttClient*>(self); }

std::string hex_reason(int reason) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", reason & 0xff);
  return text;
}

}  // namespace

void init_mosquitto_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    mosquitto_lib_init();
    std::atexit([] { mosquitto_lib_cleanup(); });
  });
}

MqttClient::MqttClient(const std::string& client_id, const TlsContext& tls) {
  init_mosquitto_library();
  mosq_.reset(mosquitto_new(client_id.c_str(), true, this));
  if (!mosq_) throw Error("mosquitto_new failed for client " + client_id);
  mosquitto_int_option(mosq_.get(), MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(mosq_.get(), MOSQ_OPT_TCP_NODELAY, 1);  // Nagle stalls TLS request/response
  // The context as it is (it verifies the broker itself); libmosquitto takes a reference.
  int rc = mosquitto_int_option(mosq_.get(), MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_void_option(mosq_.get(), MOSQ_OPT_SSL_CTX, tls.get());
  if (rc != MOSQ_ERR_SUCCESS) {
    throw Error("TLS settings for client " + client_id + ": " + mosquitto_strerror(rc));
  }
  mosquitto_connect_v5_callback_set(mosq_.get(), &MqttClient::on_connect);
  mosquitto_disconnect_v5_callback_set(mosq_.get(), &MqttClient::on_disconnect);
  mosquitto_subscribe_v5_callback_set(mosq_.get(), &MqttClient::on_subscribe);
  mosquitto_publish_v5_callback_set(mosq_.get(), &MqttClient::on_publish);
  mosquitto_message_v5_callback_set(mosq_.get(), &MqttClient::on_message);
}

MqttClient::~MqttClient() = default;

// --------------------------------------------------------------- callbacks

void MqttClient::on_connect(struct mosquitto*, void* self, int reason, int, const mosquitto_property*) {
  MqttClient* c = client_of(self);
  if (reason == 0) {
    c->connected_ = true;
  } else if (c->failure_.empty()) {
    c->failure_ = "refused by CONNACK " + hex_reason(reason);
  }
}

void MqttClient::on_disconnect(struct mosquitto*, void* self, int, const mosquitto_property*) {
  MqttClient* c = client_of(self);
  c->connected_ = false;
  if (!c->disconnecting_ && c->failure_.empty()) c->failure_ = "connection lost";
}

void MqttClient::on_subscribe(struct mosquitto*, void* self, int mid, int count, const int* granted,
                              const mosquitto_property*) {
  client_of(self)->subscribe_acks_[mid] = std::vector<int>(granted, granted + std::max(count, 0));
}

void MqttClient::on_publish(struct mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
  client_of(self)->publish_acks_[mid] = reason;
}

void MqttClient::on_message(struct mosquitto*, void* self, const struct mosquitto_message* message,
                            const mosquitto_property*) {
  const char* payload = static_cast<const char*>(message->payload);
  client_of(self)->messages_.push_back(
      {message->topic, std::string(payload ? payload : "", static_cast<size_t>(std::max(message->payloadlen, 0)))});
}

// ---------------------------------------------------------------- blocking

void MqttClient::note_loop_error(int rc) {
  if (rc == MOSQ_ERR_SUCCESS || !failure_.empty()) return;
  failure_ = rc == MOSQ_ERR_TLS ? "TLS error" : rc == MOSQ_ERR_CONN_LOST ? "connection lost"
                                                                         : std::string("loop: ") + mosquitto_strerror(rc);
}

template <typename Done>
Failure MqttClient::drive_until(Done done, Clock::time_point deadline, std::string_view waiting_for) {
  // Bounded: every pass either returns or waits up to kMaxLoopWaitMs, and the
  // deadline ends it.
  for (;;) {
    if (done()) return {};
    if (!failure_.empty()) return failure_;
    auto now = Clock::now();
    if (now >= deadline) return "timeout waiting for " + std::string(waiting_for);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int rc = mosquitto_loop(mosq_.get(), static_cast<int>(std::clamp<int64_t>(left, 1, kMaxLoopWaitMs)), 1);
    if (rc != MOSQ_ERR_SUCCESS && !done()) {
      note_loop_error(rc);
      return failure_;
    }
  }
}

Failure MqttClient::connect(const Endpoint& broker, Clock::time_point deadline) {
  int rc = mosquitto_connect(mosq_.get(), broker.host.c_str(), broker.port, kKeepAliveSeconds);
  if (rc != MOSQ_ERR_SUCCESS) {
    note_loop_error(rc);
    return rc == MOSQ_ERR_ERRNO ? "TCP connect failed" : failure_;
  }
  return drive_until([this] { return connected_; }, deadline, "CONNACK");
}

Failure MqttClient::subscribe(const std::vector<std::string>& filters, Clock::time_point deadline) {
  std::vector<std::string> copies = filters;
  std::vector<char*> pointers;
  for (auto& f : copies) pointers.push_back(f.data());
  int mid = 0;
  int rc = mosquitto_subscribe_multiple(mosq_.get(), &mid, static_cast<int>(pointers.size()), pointers.data(), 1, 0, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return std::string("subscribe: ") + mosquitto_strerror(rc);
  Failure failure = drive_until([&] { return subscribe_acks_.count(mid) > 0; }, deadline, "SUBACK");
  if (!failure.empty()) return failure;
  for (int reason : subscribe_acks_[mid])
    if (reason >= 0x80) return "subscription refused " + hex_reason(reason);
  subscribe_acks_.erase(mid);
  return {};
}

Failure MqttClient::publish_qos1(const std::string& topic, std::string_view payload, int& mid) {
  int rc = mosquitto_publish_v5(mosq_.get(), &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false,
                                nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return std::string("publish: ") + mosquitto_strerror(rc);
  return {};
}

Failure MqttClient::publish(const std::string& topic, std::string_view payload, Clock::time_point deadline) {
  int mid = 0;
  Failure failure = publish_qos1(topic, payload, mid);
  if (failure.empty()) failure = drive_until([&] { return publish_acks_.count(mid) > 0; }, deadline, "PUBACK");
  if (!failure.empty()) return failure;
  int reason = publish_acks_[mid];
  publish_acks_.erase(mid);
  if (reason >= 0x80) return "publish refused by PUBACK " + hex_reason(reason);
  return {};
}

Failure MqttClient::request(const std::string& topic, std::string_view payload,
                            const std::vector<std::string>& reply_topics, Clock::time_point deadline,
                            ReceivedMessage& reply) {
  int mid = 0;
  Failure failure = publish_qos1(topic, payload, mid);
  if (!failure.empty()) return failure;
  bool replied = false;
  auto take_reply = [&] {
    while (!replied && !messages_.empty()) {
      ReceivedMessage m = std::move(messages_.front());
      messages_.pop_front();
      if (std::find(reply_topics.begin(), reply_topics.end(), m.topic) != reply_topics.end()) {
        reply = std::move(m);
        replied = true;
      }
    }
  };
  auto refused = [&] {
    auto ack = publish_acks_.find(mid);
    return ack != publish_acks_.end() && ack->second >= 0x80;
  };
  failure = drive_until(
      [&] {
        take_reply();
        return refused() || (replied && publish_acks_.count(mid) > 0);
      },
      deadline, "reply");
  if (replied && failure == "timeout waiting for reply") failure = "timeout waiting for PUBACK";
  if (!failure.empty()) return failure;
  int reason = publish_acks_[mid];
  publish_acks_.erase(mid);
  if (reason >= 0x80) return "request refused by PUBACK " + hex_reason(reason);
  return {};
}

void MqttClient::disconnect() {
  if (!connected_) return;
  disconnecting_ = true;
  mosquitto_disconnect_v5(mosq_.get(), 0, nullptr);
  // Normally written inside mosquitto_disconnect; flush a partial write (bounded).
  for (int i = 0; i < 10 && mosquitto_want_write(mosq_.get()); ++i) mosquitto_loop_write(mosq_.get(), 1);
  connected_ = false;
}

// ------------------------------------------------------------ non-blocking

Failure MqttClient::start_connect(const Endpoint& broker, int keepalive_seconds) {
  int rc = mosquitto_connect(mosq_.get(), broker.host.c_str(), broker.port, keepalive_seconds);
  if (rc != MOSQ_ERR_SUCCESS) {
    note_loop_error(rc);
    if (rc == MOSQ_ERR_ERRNO) failure_ = "TCP connect failed";
    return failure_;
  }
  return {};
}

int MqttClient::socket() const { return mosquitto_socket(mosq_.get()); }

bool MqttClient::wants_write() const { return mosquitto_want_write(mosq_.get()); }

void MqttClient::pump(bool readable, bool writable) {
  if (readable) note_loop_error(mosquitto_loop_read(mosq_.get(), 1));
  if (writable && failure_.empty() && mosquitto_socket(mosq_.get()) >= 0) note_loop_error(mosquitto_loop_write(mosq_.get(), 1));
}

}  // namespace provision::bench
