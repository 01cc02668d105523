#pragma once
// The worker's MQTT side: connects to the broker with the service identity
// (MQTT v5, mutual TLS), takes provisioning requests from the shared
// subscription on the internal request topic, hands them to the worker pool,
// and publishes each reply to the internal reply topic with the request id.
// It reconnects by itself when the broker goes away.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "config.h"
#include "provisioning/provisioning_service.h"

namespace provision::service {

class MqttWorker {
 public:
  // After each commit of a request, `wal_frames` holds the frames in the
  // registry's WAL (serve()'s checkpoints read it).
  MqttWorker(const ServiceConfig& config, ProvisioningService& service, std::atomic<int>& wal_frames);
  ~MqttWorker();
  // Runs until `stop` becomes true. `on_ready` is called each time the
  // subscription is in place (first connect and every reconnect).
  void run(const std::atomic<bool>& stop, const std::function<void()>& on_ready);
  // Whether the MQTT connection to the broker is up (GET /health).
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace provision::service
