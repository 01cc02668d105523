#pragma once
// The messages between the plugin and the workers, on the internal topics
// (docs/architecture.md, "A request's path"): one definition of what each
// carries, encoded by one side and decoded by the other.
//
//   request  plugin -> workers: a device's request, with what only the
//            plugin knows about who sent it (user properties);
//   reply    workers -> plugin: the answer to one request id, accepted or
//            rejected (the payload is the device's reply);
//   event    plugin -> workers: something that happened at the broker
//            (a renewed certificate was used to connect; a password
//            device connected for the first time with its secret).
//
// Only the plugin sets these properties: a device's own user properties
// are never forwarded.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/topics.h"

namespace provision::protocol {

using UserProperties = std::vector<std::pair<std::string, std::string>>;

// Who sent a request, as the plugin established it from the connection.
enum class Identity {
  Claim,       // a shared claim certificate
  Enrollment,  // a per-device factory certificate of a manufacturer CA
  Device,      // a registered device certificate attached to a thing
  Factory,     // a factory server publishing enrollments
};
std::string_view identity_name(Identity identity);  // "claim", "enrollment", "device", "factory"
std::optional<Identity> parse_identity(std::string_view name);

struct InternalRequest {
  std::string request_id;  // the plugin's id; the reply names it
  RequestTopic topic;      // what the device published on
  std::string client_id;
  std::string source_address;
  Identity identity = Identity::Claim;
  std::string certificate_id;   // the requester's certificate (claim, enrollment, device or factory)
  std::string thing_name;       // Device: its thing
  std::string registration_id;  // Enrollment: from its certificate
  std::string issuer_id;        // Enrollment: its manufacturer CA's certificateId
};

struct InternalReply {
  std::string request_id;
  bool accepted = false;
};

struct InternalEvent {
  std::string event;           // kEventCertificateUsed, kEventPasswordDeviceConnected
  std::string certificate_id;  // certificate-used: the successor that connected
  std::string thing_name;      // password-device-connected: the device
  std::string secret_hash;     // password-device-connected: the secret's SHA-256 it connected with
};

// A message's user property by name ("" when absent).
using PropertyLookup = std::function<std::string(std::string_view name)>;
PropertyLookup lookup_in(const UserProperties& properties);

UserProperties encode(const InternalRequest& request);
UserProperties encode(const InternalReply& reply);
UserProperties encode(const InternalEvent& event);

// nullopt (with `error` saying why) for a message that is not one.
std::optional<InternalRequest> decode_request(const PropertyLookup& property, std::string* error = nullptr);
std::optional<InternalReply> decode_reply(const PropertyLookup& property);
std::optional<InternalEvent> decode_event(const PropertyLookup& property);

}  // namespace provision::protocol
