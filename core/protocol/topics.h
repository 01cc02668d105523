#pragma once
// The device-facing provisioning topics (docs/protocol.md, "Topics"),
// their AWS IoT aliases, and the internal topics and user properties that the
// plugin and the workers exchange. Both sides use these functions so that
// they agree by construction.
#include <optional>
#include <string>
#include <string_view>

namespace provision::protocol {

enum class Operation {
  CreateKeysAndCertificate,  // claim: a new key pair and certificate
  CreateCertificateFromCsr,  // claim: a certificate for the device's own key
  RegisterThing,             // claim: register through a template
  RenewCertificate,          // device: a new certificate for its thing, from a CSR ($provision/certificates/renew/<fmt>)
  PublishEnrollment,         // factory: add a (disabled) enrollment ($provision/factory/enrollments/<fmt>)
  CheckFirmware,             // device: the firmware release it should run next ($provision/firmware/check/<fmt>)
};
enum class Format { Json, Cbor };
// Which topic family the device used: ours ($provision/...) or AWS's ($aws/...).
enum class Alias { Provision, Aws };

struct RequestTopic {
  Operation operation = Operation::CreateKeysAndCertificate;
  Format format = Format::Json;
  Alias alias = Alias::Provision;
  std::string template_name;  // RegisterThing only

  bool operator==(const RequestTopic&) const = default;
};

struct ReplyTopic {
  RequestTopic request;
  bool accepted = true;
};

// Events the plugin tells the workers about (property::kEvent).
inline constexpr const char* kEventCertificateUsed = "certificate-used";  // a renewed certificate's successor connected
inline constexpr const char* kEventPasswordDeviceConnected = "password-device-connected";  // first connect with a secret

// "$provision/certificates/create/json" -> {CreateKeysAndCertificate, Json, Provision}.
// nullopt unless `topic` is exactly a request topic (template names checked).
std::optional<RequestTopic> parse_request_topic(std::string_view topic);
// ".../accepted" or ".../rejected" of a request topic.
std::optional<ReplyTopic> parse_reply_topic(std::string_view topic);
std::string request_topic(const RequestTopic& request);
std::string reply_topic(const RequestTopic& request, bool accepted);

// True for every topic under the reserved provisioning namespaces
// ("$provision/..." and the served "$aws/certificates/...",
// "$aws/provisioning-templates/...").
bool in_provisioning_namespace(std::string_view topic);

// AWS's rule for template names: [0-9A-Za-z_-]{1,36}.
bool valid_template_name(std::string_view name);

std::string_view operation_name(Operation operation);  // "CreateKeysAndCertificate", ...
std::string_view format_name(Format format);           // "json" | "cbor"

// Topics between the plugin and the workers. They live under a prefix that
// does not start with '$' because Mosquitto 2.0.11 never matches '$' topics
// with shared subscriptions.
struct InternalTopics {
  explicit InternalTopics(std::string prefix = "_provision");
  std::string prefix;
  std::string requests;  // plugin -> workers (prefix + "/requests")
  std::string replies;   // workers -> plugin (prefix + "/replies")
  std::string events;    // plugin -> workers, things that happened (prefix + "/events")
  // What workers subscribe to: "$share/<group>/" + requests.
  std::string shared_requests(std::string_view group = "provisiond") const;
  std::string shared_events(std::string_view group = "provisiond") const;
  // True for the prefix itself and anything below it.
  bool contains(std::string_view topic) const;
};

// MQTT v5 user property names on internal messages. Only the plugin sets the
// request properties; a device's own user properties are never forwarded.
namespace property {
inline constexpr const char* kRequestId = "request-id";          // plugin's id of this request
inline constexpr const char* kRequestTopic = "request-topic";    // topic the device published on
inline constexpr const char* kClientId = "client-id";            // the device's MQTT client id
inline constexpr const char* kClaimId = "claim-certificate-id";  // certificateId of the claim certificate
inline constexpr const char* kSourceAddress = "source-address";  // the device's IP address
inline constexpr const char* kIdentity = "identity";             // "claim" | "enrollment" | "device"
inline constexpr const char* kCertificateId = "certificate-id";  // the requester's own certificateId
inline constexpr const char* kThingName = "thing-name";          // devices: their thing
inline constexpr const char* kRegistrationId = "registration-id";  // enrollments: from their certificate
inline constexpr const char* kEvent = "event";                   // on internal events: what happened
inline constexpr const char* kIssuerId = "issuer-id";            // enrollments: their manufacturer CA's certificateId
inline constexpr const char* kOutcome = "outcome";               // on replies: "accepted" | "rejected"
inline constexpr const char* kSecretHash = "secret-hash";        // on password-device events: the secret's SHA-256
}  // namespace property

}  // namespace provision::protocol
