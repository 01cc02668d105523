#include "provisioning_client.h"

#include "protocol/cbor.h"
#include "protocol/payloads.h"
#include "util/json.h"

namespace provision::device {

using protocol::Operation;
using protocol::RequestTopic;

std::string Outcome::describe() const {
  switch (kind) {
    case Kind::Accepted: return "accepted";
    case Kind::Rejected:
      return "rejected " + std::to_string(status_code) + " " + error_code + ": " + error_message;
    case Kind::Timeout: return "timeout: no reply";
    case Kind::PublishRefused: return "publish refused by the broker (reason " + std::to_string(publish_reason) + ")";
    case Kind::SubscribeRefused:
      return "the broker refused the reply topics (reason " + std::to_string(subscribe_reason) +
             "): this claim may not use them (a template it is not allowed?)";
  }
  return "unknown";
}

ProvisioningClient::ProvisioningClient(mqtt_session::Session& session, protocol::Alias alias,
                                       std::chrono::milliseconds timeout, protocol::Format format)
    : session_(session), alias_(alias), timeout_(timeout), format_(format) {}

std::string ProvisioningClient::encode(const rapidjson::Value& document) const {
  return format_ == protocol::Format::Cbor ? protocol::to_cbor(document) : json::stringify(document);
}

RequestTopic ProvisioningClient::topic(Operation operation, const std::string& template_name) const {
  // Renewal exists only under $provision.
  auto alias = operation == Operation::RenewCertificate ? protocol::Alias::Provision : alias_;
  return {operation, format_, alias, template_name};
}

Outcome ProvisioningClient::request(const RequestTopic& topic, const std::string& payload) {
  const std::string accepted = protocol::reply_topic(topic, true);
  const std::string rejected = protocol::reply_topic(topic, false);
  // Subscribe before publishing, or the reply may come first (AWS says so too).
  Outcome outcome;
  for (int code : session_.subscribe({accepted, rejected}, 1)) {
    if (code >= 0x80) {
      outcome.kind = Outcome::Kind::SubscribeRefused;
      outcome.subscribe_reason = code;
      return outcome;
    }
  }
  outcome.publish_reason = session_.publish(protocol::request_topic(topic), payload, 1);
  if (outcome.publish_reason >= 0x80 || outcome.publish_reason < 0) {
    outcome.kind = Outcome::Kind::PublishRefused;
    return outcome;
  }
  auto reply = session_.next_message_on({accepted, rejected}, timeout_);
  if (!reply) return outcome;  // Timeout
  std::string error;
  try {
    outcome.body = protocol::decode_reply(topic.format, reply->payload);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (reply->topic == accepted) {
    outcome.kind = Outcome::Kind::Accepted;
  } else {
    outcome.kind = Outcome::Kind::Rejected;
    outcome.status_code = static_cast<int>(json::int_member(outcome.body, "statusCode").value_or(0));
    outcome.error_code = json::string_member(outcome.body, "errorCode").value_or("");
    outcome.error_message = json::string_member(outcome.body, "errorMessage").value_or(error);
  }
  return outcome;
}

Outcome ProvisioningClient::create_keys_and_certificate() {
  return request(topic(Operation::CreateKeysAndCertificate), encode(rapidjson::Value(rapidjson::kObjectType)));
}

Outcome ProvisioningClient::create_certificate_from_csr(const std::string& csr_pem) {
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("certificateSigningRequest", json::string_value(csr_pem, doc.GetAllocator()), doc.GetAllocator());
  return request(topic(Operation::CreateCertificateFromCsr), encode(doc));
}

Outcome ProvisioningClient::renew_certificate(const std::string& csr_pem) {
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("certificateSigningRequest", json::string_value(csr_pem, doc.GetAllocator()), doc.GetAllocator());
  return request(topic(Operation::RenewCertificate), encode(doc));
}

Outcome ProvisioningClient::register_thing(const std::string& template_name, const std::string& ownership_token,
                                           const std::map<std::string, std::string>& parameters) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("certificateOwnershipToken", json::string_value(ownership_token, a), a);
  doc.AddMember("parameters", json::string_map(parameters, a), a);
  return request(topic(Operation::RegisterThing, template_name), encode(doc));
}

}  // namespace provision::device
