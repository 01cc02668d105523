#pragma once
// One MQTT v5 connection of the worker to its broker (mutual TLS, libmosquitto),
// driven by a thread of its own that also answers what arrives on it.
//
// Why libmosquitto here and not Paho (which every other client uses): the
// worker's link carries every request and reply, and Paho's asynchronous
// client moves each message through two library threads of its own (receive,
// send) and their queues: with provisiond's own hand-offs, six thread wake-ups
// per device and a fifth of provisiond's CPU. Here the link's thread reads a
// request, the handler answers it on the same thread, and the reply is
// written by the next turn of the same loop.
//
// Thread safety: publish() may be called from any thread (libmosquitto
// queues the packet and wakes the link's thread, which alone touches the TLS
// connection). The handlers run on the link's thread.
#include <mosquitto.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "protocol/internal_messages.h"
#include "util/handle.h"


namespace provision::service {

struct LinkSettings {
  std::string host = "127.0.0.1";
  int port = 8883;
  std::string ca_file, certificate, private_key;  // PEM files: the broker's CA, the service identity
  std::string client_id;
  int keep_alive_seconds = 30;
  // Subscribed (each filter at its QoS) on every connect, clean start.
  std::vector<std::pair<std::string, int>> subscriptions;
};

// A message as the handler sees it: valid during the call only.
struct LinkMessage {
  std::string_view topic;
  std::string_view payload;
  std::vector<std::pair<std::string, std::string>> user_properties;  // in the order sent

  // The first value of user property `name`, "" when there is none.
  std::string user_property(std::string_view name) const;
};

class WorkerLink {
 public:
  using MessageHandler = std::function<void(const LinkMessage&)>;
  using ReadyHandler = std::function<void()>;  // every subscription in place (each connect)

  // Throws Error when libmosquitto refuses the settings (TLS files unreadable...).
  WorkerLink(LinkSettings settings, MessageHandler on_message, ReadyHandler on_ready);
  ~WorkerLink();  // stop()
  WorkerLink(const WorkerLink&) = delete;
  WorkerLink& operator=(const WorkerLink&) = delete;

  // Starts the link's thread: it connects, reconnects after a loss (backing
  // off from 100 ms to 2 s), and runs the handlers until stop().
  void start();
  // Sends DISCONNECT when connected and joins the thread. Idempotent.
  void stop();

  bool connected() const { return subscribed_; }

  // Queues a message for the broker (any thread). False when the link is not
  // connected: the message is dropped.
  bool publish(const std::string& topic, std::string_view payload, int qos, const protocol::UserProperties& user_properties);

 private:
  struct Callbacks;
  void run();

  LinkSettings settings_;
  MessageHandler on_message_;
  ReadyHandler on_ready_;
  Owned<::mosquitto, mosquitto_destroy> mosq_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  int pending_subscriptions_ = 0;  // link thread only
};

}  // namespace provision::service
