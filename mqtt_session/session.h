#pragma once
// Mutual-TLS MQTT connections with Paho MQTT C++, as the device side makes
// them: provision-device and the integration tests. (The worker's links and
// the benchmark's clients use libmosquitto: service/worker_link.h,
// tools/bench/mqtt_client.h.)
//
// Paho MQTT C++ 1.2.0 facts: the client must be created with
// MQTTVERSION_5 *and* connect with mqtt_version(5), or it silently speaks
// 3.1.1; the connect and SSL options must outlive the client; never block in
// a callback.
#include <mqtt/async_client.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mqtt_session/connect_diagnosis.h"

namespace provision::mqtt_session {

struct TlsFiles {
  std::string ca_file;      // verifies the broker
  std::string certificate;  // client certificate (PEM; may hold the chain)
  std::string private_key;  // its key (PEM)
  // No client certificate: certificate and private_key empty (password
  // devices). plain: no TLS at all (a listener that allows plain TCP).
  bool plain = false;
};

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 8883;
  std::string uri() const;  // "ssl://host:port"
};

enum class Protocol { V311, V5 };

struct ConnectSettings {
  Endpoint endpoint;
  TlsFiles tls;
  std::string client_id;
  Protocol protocol = Protocol::V5;
  bool clean_start = true;
  std::chrono::seconds keep_alive{30};
  std::chrono::milliseconds timeout{10000};
  bool auto_reconnect = false;  // reconnect by itself after a lost connection (the worker)
  std::optional<std::string> username;  // sent but never trusted by the broker (but from a password device)
  std::optional<std::string> password;  // a password device's secret
};

// Builds the Paho options for `settings`. Kept together so that their
// lifetime is the client's.
struct PahoOptions {
  explicit PahoOptions(const ConnectSettings& settings);
  mqtt::ssl_options ssl;
  mqtt::connect_options connect;
};

// Paho C never sets TCP_NODELAY, so a request/reply exchange stalls on
// Nagle's algorithm behind the broker's delayed ACK (about 40 ms a round
// trip). This finds this process's TCP sockets connected to `endpoint`
// (Paho gives no access to its socket) and turns Nagle off on them. Call it
// after every connect. Returns how many sockets it changed.
int disable_nagle_towards(const Endpoint& endpoint);

// Paho's send and receive threads are detached: they end a little after the
// last client is destroyed. A program that exits while one of them is still
// ending runs OpenSSL's exit-time cleanup against that thread's own cleanup
// of its per-thread state: under load, ASan reported 10 KB of it leaked in
// about 1 provision-device run in 10, and glibc once aborted a run with
// "double free or corruption". This waits (up to `limit`) until the process
// runs no thread but the caller's. Call it with no Session left, just
// before a tool exits. Returns whether the other threads were gone in time.
bool await_library_threads(std::chrono::milliseconds limit);

// A connect that failed: Paho's exception, with what most likely happened
// (connect_diagnosis.h). what() leads with the explanation and ends with
// Paho's own message.
class ConnectError : public mqtt::exception {
 public:
  ConnectError(const mqtt::exception& cause, ConnectDiagnosis diagnosis);
  const char* what() const noexcept override { return message_.c_str(); }
  ConnectFailure failure() const { return diagnosis_.failure; }
  const std::string& explanation() const { return diagnosis_.explanation; }

 private:
  ConnectDiagnosis diagnosis_;
  std::string message_;
};

// A received message, as a test or a tool wants to look at it.
struct Received {
  std::string topic;
  std::string payload;
  int qos = 0;
  std::vector<std::pair<std::string, std::string>> user_properties;
};

// A synchronous, test- and tool-friendly client: connect, subscribe (with
// the broker's per-filter reason codes), publish (with the PUBACK reason code)
// and wait for messages with a timeout. Messages are queued by a callback that
// never blocks.
class Session {
 public:
  explicit Session(ConnectSettings settings);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Throws ConnectError (an mqtt::exception: Paho's code, and why in words)
  // when refused or unreachable; looking closer costs a TCP connect and a
  // TLS handshake, and only after a failure.
  void connect();
  void disconnect();
  bool connected() const;

  // Returns the SUBACK reason code per filter (0..2 granted QoS, >= 0x80
  // refused). When the broker refuses any filter Paho fails the whole
  // request, and every filter is reported refused: subscribe one filter at a
  // time to know which.
  std::vector<int> subscribe(const std::vector<std::string>& filters, int qos = 1);
  // QoS 1 publish; returns the PUBACK reason code (0 = success, 0x87 = not
  // authorised, ...). For MQTT 3.1.1 there is no reason code: 0 on PUBACK.
  int publish(const std::string& topic, const std::string& payload, int qos = 1, bool retain = false);

  // The next message (on any topic), or nullopt after `timeout`.
  std::optional<Received> next_message(std::chrono::milliseconds timeout);
  // The next message whose topic is one of `topics`; others are kept queued.
  std::optional<Received> next_message_on(const std::vector<std::string>& topics, std::chrono::milliseconds timeout);
  // True when the broker closed the connection (or it was lost) since connect.
  bool wait_disconnected(std::chrono::milliseconds timeout);

  mqtt::async_client& client() { return *client_; }

 private:
  class Callback;
  ConnectSettings settings_;
  PahoOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Received> inbox_;
  bool lost_ = false;
  // Declared last, destroyed first: Paho's threads call the callback, which
  // uses the members above, until the client is gone (the other order freed
  // the inbox under a late message: a double free seen by scripts/soak).
  std::unique_ptr<Callback> callback_;
  std::unique_ptr<mqtt::async_client> client_;
};

}  // namespace provision::mqtt_session
