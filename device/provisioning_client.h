#pragma once
// The device side of the provisioning protocol over an MQTT session: the
// three operations, each as "subscribe to both replies, publish, wait".
// Used by provision-device and the integration tests.
#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <string>

#include "mqtt_session/session.h"
#include "protocol/topics.h"

namespace provision::device {

struct Outcome {
  enum class Kind { Accepted, Rejected, Timeout, PublishRefused, SubscribeRefused };
  Kind kind = Kind::Timeout;
  rapidjson::Document body;  // the reply (accepted or rejected), parsed
  int publish_reason = 0;    // PUBACK reason code of the request
  int subscribe_reason = 0;  // SUBACK reason code of the reply topics
  // For rejected replies:
  int status_code = 0;
  std::string error_code, error_message;

  bool accepted() const { return kind == Kind::Accepted; }
  // "accepted", "rejected 400 InvalidCsr: ...", "timeout: no reply", "publish refused ...".
  std::string describe() const;
};

class ProvisioningClient {
 public:
  ProvisioningClient(mqtt_session::Session& session, protocol::Alias alias = protocol::Alias::Provision,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10),
                     protocol::Format format = protocol::Format::Json);

  Outcome create_keys_and_certificate();
  Outcome create_certificate_from_csr(const std::string& csr_pem);
  Outcome register_thing(const std::string& template_name, const std::string& ownership_token,
                         const std::map<std::string, std::string>& parameters);
  // A new certificate for this (provisioned) device's thing, from its CSR.
  Outcome renew_certificate(const std::string& csr_pem);
  // Any request topic with any payload (tests use it for malformed requests).
  // Replies are decoded in the topic's format into `body`.
  Outcome request(const protocol::RequestTopic& topic, const std::string& payload);

 private:
  mqtt_session::Session& session_;
  // Encodes a request document in this client's format.
  std::string encode(const rapidjson::Value& document) const;
  protocol::RequestTopic topic(protocol::Operation operation, const std::string& template_name = "") const;

  protocol::Alias alias_;
  std::chrono::milliseconds timeout_;
  protocol::Format format_;
};

}  // namespace provision::device
