#include "flows.h"

#include <optional>
#include <vector>

#include "pki/csr.h"
#include "pki/key.h"
#include "protocol/payloads.h"
#include "protocol/topics.h"
#include "util/files.h"
#include "util/json.h"

namespace provision::bench {
namespace {

using protocol::Operation;
using protocol::RequestTopic;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Times each step of one flow into a FlowResult; a failed step ends the flow
// with "<step>: <failure>".
class StepClock {
 public:
  StepClock(FlowResult& result, std::chrono::milliseconds timeout) : result_(result), timeout_(timeout) {}

  Clock::time_point deadline() const { return Clock::now() + timeout_; }

  template <typename Action>
  bool run(Step step, Action&& action) {
    const auto start = Clock::now();
    Failure failure = action();
    if (!failure.empty()) {
      result_.error = std::string(step_name(step)) + ": " + failure;
      return false;
    }
    result_.step_ms[static_cast<size_t>(step)] = elapsed_ms(start);
    return true;
  }

 private:
  FlowResult& result_;
  std::chrono::milliseconds timeout_;
};

struct ReplyTopics {
  explicit ReplyTopics(const RequestTopic& request)
      : request_topic(protocol::request_topic(request)),
        accepted(protocol::reply_topic(request, true)),
        rejected(protocol::reply_topic(request, false)) {}
  std::string request_topic, accepted, rejected;
  std::vector<std::string> both() const { return {accepted, rejected}; }
};

// "" for an accepted reply; "rejected <errorCode>" otherwise.
Failure rejection_of(const ReceivedMessage& reply, const ReplyTopics& topics, rapidjson::Document& body) {
  try {
    body = protocol::decode_reply(protocol::Format::Json, reply.payload);
  } catch (const std::exception&) {
    return "unreadable reply";
  }
  if (reply.topic == topics.accepted) return {};
  return "rejected " + json::string_member(body, "errorCode").value_or("(no errorCode)");
}

std::string csr_request_payload(const std::string& csr_pem) {
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("certificateSigningRequest", json::string_value(csr_pem, doc.GetAllocator()), doc.GetAllocator());
  return json::stringify(doc);
}

std::string register_request_payload(const std::string& token, const std::string& serial) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("certificateOwnershipToken", json::string_value(token, a), a);
  rapidjson::Value parameters(rapidjson::kObjectType);
  parameters.AddMember("SerialNumber", json::string_value(serial, a), a);
  doc.AddMember("parameters", parameters, a);
  return json::stringify(doc);
}

std::string telemetry_payload(size_t index) { return "{\"seq\":" + std::to_string(index) + "}"; }

// The step both flows end with, timed alike: parse the device's certificate
// (PEM), connect over mTLS with it, its key (held in memory) and the thing
// name as client id, publish once (QoS 1) where its policy allows.
bool connect_device_and_publish(const FlowSettings& settings, StepClock& clock, const std::string& thing_name,
                                const std::string& certificate_pem, const pki::PrivateKey& key,
                                const std::string& telemetry_topic, size_t index) {
  std::optional<MqttClient> device;
  std::optional<pki::Certificate> certificate;
  if (!clock.run(Step::DeviceConnect, [&]() -> Failure {
        try {
          certificate.emplace(pki::Certificate::from_pem(certificate_pem));
          device.emplace(thing_name, *settings.stack.devices);
        } catch (const std::exception& e) {
          return std::string("unusable certificate: ") + e.what();
        }
        ThreadTlsIdentity identity(*certificate, key);
        return device->connect(settings.stack.broker, clock.deadline());
      }))
    return false;
  if (!clock.run(Step::Publish, [&] { return device->publish(telemetry_topic, telemetry_payload(index), clock.deadline()); }))
    return false;
  device->disconnect();
  return true;
}

}  // namespace

std::string_view step_name(Step step) {
  switch (step) {
    case Step::ClaimConnect: return "claim connect";
    case Step::Subscribe: return "subscribe";
    case Step::CreateCertificate: return "certificate request";
    case Step::RegisterThing: return "register thing";
    case Step::DeviceConnect: return "device connect";
    case Step::Publish: return "publish";
    case Step::WholeFlow: return "whole flow";
  }
  return "unknown";
}

std::vector<PreparedDevice> prepare_devices(const FlowSettings& settings, size_t count) {
  std::vector<PreparedDevice> devices(count);
  if (settings.keygen) {
    for (auto& device : devices) device.certificate_request = "{}";
    return devices;
  }
  for (size_t index = 0; index < count; ++index) {
    const auto key = pki::PrivateKey::generate_ec("P-256");
    devices[index].key = key;
    devices[index].certificate_request =
        csr_request_payload(pki::create_csr(key, {{"CN", settings.run_id + "-" + std::to_string(index)}}));
  }
  return devices;
}

FlowResult run_provisioning_flow(const FlowSettings& settings, const PreparedDevice& device, size_t index) {
  FlowResult result;
  const std::string serial = settings.run_id + "-" + std::to_string(index);
  const ReplyTopics certificate_topics(RequestTopic{
      settings.keygen ? Operation::CreateKeysAndCertificate : Operation::CreateCertificateFromCsr,
      protocol::Format::Json, protocol::Alias::Provision, ""});
  const ReplyTopics register_topics(RequestTopic{Operation::RegisterThing, protocol::Format::Json,
                                                 protocol::Alias::Provision, settings.stack.template_name});

  std::optional<pki::PrivateKey> key = device.key;
  const std::string& certificate_request = device.certificate_request;

  StepClock clock(result, settings.step_timeout);
  const auto flow_start = Clock::now();
  std::string thing_name, telemetry_topic, certificate_pem;
  {
    MqttClient claim("claim-" + serial, *settings.stack.claim);
    if (!clock.run(Step::ClaimConnect, [&] { return claim.connect(settings.stack.broker, clock.deadline()); }))
      return result;
    if (!clock.run(Step::Subscribe, [&] {
          return claim.subscribe({certificate_topics.accepted, certificate_topics.rejected, register_topics.accepted,
                                  register_topics.rejected},
                                 clock.deadline());
        }))
      return result;

    std::string token;
    if (!clock.run(Step::CreateCertificate, [&]() -> Failure {
          ReceivedMessage reply;
          Failure failure = claim.request(certificate_topics.request_topic, certificate_request,
                                          certificate_topics.both(), clock.deadline(), reply);
          rapidjson::Document body;
          if (failure.empty()) failure = rejection_of(reply, certificate_topics, body);
          if (!failure.empty()) return failure;
          auto pem = json::string_member(body, "certificatePem");
          auto ownership = json::string_member(body, "certificateOwnershipToken");
          if (!pem || !ownership) return "accepted reply lacks a field";
          if (settings.keygen) {  // the device keeps the key it was sent
            auto private_key = json::string_member(body, "privateKey");
            if (!private_key) return "accepted reply lacks privateKey";
            try {
              key = pki::PrivateKey::from_pem(*private_key);
            } catch (const std::exception& e) {
              return std::string("unusable privateKey: ") + e.what();
            }
          }
          if (!key) return "no key for the certificate";
          token = *ownership;
          certificate_pem = *pem;
          return {};
        }))
      return result;

    if (!clock.run(Step::RegisterThing, [&]() -> Failure {
          ReceivedMessage reply;
          Failure failure = claim.request(register_topics.request_topic, register_request_payload(token, serial),
                                          register_topics.both(), clock.deadline(), reply);
          rapidjson::Document body;
          if (failure.empty()) failure = rejection_of(reply, register_topics, body);
          if (!failure.empty()) return failure;
          thing_name = json::string_member(body, "thingName").value_or("");
          const rapidjson::Value* configuration = json::member(body, "deviceConfiguration");
          if (configuration && configuration->IsObject())
            telemetry_topic = json::string_member(*configuration, "telemetryTopic").value_or("");
          if (thing_name.empty() || telemetry_topic.empty()) return "accepted reply lacks thingName or telemetryTopic";
          return {};
        }))
      return result;
    claim.disconnect();
  }
  if (!connect_device_and_publish(settings, clock, thing_name, certificate_pem, *key, telemetry_topic, index))
    return result;
  result.step_ms[static_cast<size_t>(Step::WholeFlow)] = elapsed_ms(flow_start);
  result.ok = true;
  return result;
}

FlowResult run_baseline_flow(const FlowSettings& settings, const PreIssuedDevice& device, size_t index) {
  FlowResult result;
  StepClock clock(result, settings.step_timeout);
  const auto flow_start = Clock::now();
  {
    MqttClient claim("claim-" + settings.run_id + "-b" + std::to_string(index), *settings.stack.claim);
    if (!clock.run(Step::ClaimConnect, [&] { return claim.connect(settings.stack.broker, clock.deadline()); }))
      return result;
    claim.disconnect();
  }
  if (!connect_device_and_publish(settings, clock, device.thing_name, device.certificate_pem, *device.key,
                                  device.telemetry_topic, index))
    return result;
  result.step_ms[static_cast<size_t>(Step::WholeFlow)] = elapsed_ms(flow_start);
  result.ok = true;
  return result;
}

}  // namespace provision::bench
