#pragma once
// A single-threaded MQTT v5 client over libmosquitto, for the benchmark.
//
// Blocking calls drive the connection on the caller's thread with
// mosquitto_loop() until their acknowledgement arrives or their deadline
// passes: no background thread (mosquitto_loop_start is never used), so what
// is measured is the broker and the service, not a client library's threads.
// For many connections in one thread (hold), start_connect() and pump() let a
// poll() loop drive every client.
#include <mosquitto.h>

#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tls_context.h"
#include "util/handle.h"

namespace provision::bench {

using Clock = std::chrono::steady_clock;

// mosquitto_lib_init(), once per process.
void init_mosquitto_library();

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 0;
};

struct ReceivedMessage {
  std::string topic;
  std::string payload;
};

// Empty when a call succeeded; otherwise a short description without
// variable parts, so that failures can be counted by kind
// ("refused by CONNACK 0x87", "timeout waiting for PUBACK", ...).
using Failure = std::string;

class MqttClient {
 public:
  // Throws Error when libmosquitto refuses the settings.
  MqttClient(const std::string& client_id, const TlsContext& tls);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // --- blocking, each bounded by its deadline
  // TCP + TLS + CONNECT; succeeds on a CONNACK with reason 0.
  Failure connect(const Endpoint& broker, Clock::time_point deadline);
  // One SUBSCRIBE (QoS 1) for all filters; fails if any is refused.
  Failure subscribe(const std::vector<std::string>& filters, Clock::time_point deadline);
  // QoS 1; succeeds on a PUBACK with a reason below 0x80.
  Failure publish(const std::string& topic, std::string_view payload, Clock::time_point deadline);
  // Request/reply on this connection: publishes QoS 1 and waits for both its
  // PUBACK and a message on one of `reply_topics` (subscribed beforehand).
  Failure request(const std::string& topic, std::string_view payload, const std::vector<std::string>& reply_topics,
                  Clock::time_point deadline, ReceivedMessage& reply);
  // Sends DISCONNECT (written at once: there is no loop thread). The socket
  // closes when the client is destroyed.
  void disconnect();

  // --- non-blocking, for many clients in one poll() loop
  // TCP connect (immediate on loopback) and the start of the TLS handshake;
  // the CONNACK arrives through pump().
  Failure start_connect(const Endpoint& broker, int keepalive_seconds);
  int socket() const;
  bool wants_write() const;
  // Reads and/or writes what poll() said is ready.
  void pump(bool readable, bool writable);

  bool connected() const { return connected_; }
  // Set once the connection is refused or lost.
  const Failure& failure() const { return failure_; }

 private:
  static void on_connect(struct mosquitto*, void* self, int reason, int flags, const mosquitto_property*);
  static void on_disconnect(struct mosquitto*, void* self, int reason, const mosquitto_property*);
  static void on_subscribe(struct mosquitto*, void* self, int mid, int count, const int* granted, const mosquitto_property*);
  static void on_publish(struct mosquitto*, void* self, int mid, int reason, const mosquitto_property*);
  static void on_message(struct mosquitto*, void* self, const struct mosquitto_message* message, const mosquitto_property*);

  // Runs mosquitto_loop() until `done()` holds, the connection fails or the
  // deadline passes.
  template <typename Done>
  Failure drive_until(Done done, Clock::time_point deadline, std::string_view waiting_for);
  Failure publish_qos1(const std::string& topic, std::string_view payload, int& mid);
  void note_loop_error(int rc);

  Owned<struct mosquitto, mosquitto_destroy> mosq_;
  bool connected_ = false;
  bool disconnecting_ = false;
  Failure failure_;
  std::map<int, int> publish_acks_;                 // mid -> PUBACK reason
  std::map<int, std::vector<int>> subscribe_acks_;  // mid -> SUBACK reasons
  std::deque<ReceivedMessage> messages_;
};

}  // namespace provision::bench
