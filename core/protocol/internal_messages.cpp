#include "protocol/internal_messages.h"

namespace provision::protocol {

std::string_view identity_name(Identity identity) {
  switch (identity) {
    case Identity::Claim: return "claim";
    case Identity::Enrollment: return "enrollment";
    case Identity::Device: return "device";
    case Identity::Factory: return "factory";
  }
  return "claim";
}

std::optional<Identity> parse_identity(std::string_view name) {
  for (Identity i : {Identity::Claim, Identity::Enrollment, Identity::Device, Identity::Factory})
    if (identity_name(i) == name) return i;
  return std::nullopt;
}

PropertyLookup lookup_in(const UserProperties& properties) {
  return [&properties](std::string_view name) {
    for (const auto& [n, v] : properties)
      if (n == name) return v;
    return std::string();
  };
}

UserProperties encode(const InternalRequest& r) {
  UserProperties p{{property::kRequestId, r.request_id},
                   {property::kRequestTopic, request_topic(r.topic)},
                   {property::kClientId, r.client_id},
                   {property::kClaimId, r.certificate_id},
                   {property::kSourceAddress, r.source_address},
                   {property::kIdentity, std::string(identity_name(r.identity))}};
  if (r.identity == Identity::Device)
    p.insert(p.end(), {{property::kThingName, r.thing_name}, {property::kCertificateId, r.certificate_id}});
  if (r.identity == Identity::Enrollment)
    p.insert(p.end(), {{property::kRegistrationId, r.registration_id}, {property::kIssuerId, r.issuer_id}});
  return p;
}

UserProperties encode(const InternalReply& reply) {
  return {{property::kRequestId, reply.request_id}, {property::kOutcome, reply.accepted ? "accepted" : "rejected"}};
}

UserProperties encode(const InternalEvent& event) {
  UserProperties p{{property::kEvent, event.event}};
  if (!event.certificate_id.empty()) p.emplace_back(property::kCertificateId, event.certificate_id);
  if (!event.thing_name.empty()) p.emplace_back(property::kThingName, event.thing_name);
  if (!event.secret_hash.empty()) p.emplace_back(property::kSecretHash, event.secret_hash);
  return p;
}

std::optional<InternalRequest> decode_request(const PropertyLookup& property, std::string* error) {
  auto fail = [error](const char* why) -> std::optional<InternalRequest> {
    if (error) *error = why;
    return std::nullopt;
  };
  InternalRequest r;
  r.request_id = property(property::kRequestId);
  if (r.request_id.empty()) return fail("no request id");
  auto topic = parse_request_topic(property(property::kRequestTopic));
  if (!topic) return fail("no request topic, or one that is not a request");
  r.topic = *topic;
  auto identity = parse_identity(property(property::kIdentity));
  if (!identity) return fail("no identity, or an unknown one");
  r.identity = *identity;
  r.client_id = property(property::kClientId);
  r.source_address = property(property::kSourceAddress);
  r.certificate_id = property(property::kClaimId);
  if (r.identity == Identity::Device) {
    r.thing_name = property(property::kThingName);
    if (auto own = property(property::kCertificateId); !own.empty()) r.certificate_id = own;
    if (r.thing_name.empty()) return fail("a device's request without its thing name");
  }
  if (r.identity == Identity::Enrollment) {
    r.registration_id = property(property::kRegistrationId);
    r.issuer_id = property(property::kIssuerId);
    if (r.registration_id.empty()) return fail("an enrollment's request without its registration id");
  }
  return r;
}

std::optional<InternalReply> decode_reply(const PropertyLookup& property) {
  InternalReply reply;
  reply.request_id = property(property::kRequestId);
  std::string outcome = property(property::kOutcome);
  if (reply.request_id.empty() || (outcome != "accepted" && outcome != "rejected")) return std::nullopt;
  reply.accepted = outcome == "accepted";
  return reply;
}

std::optional<InternalEvent> decode_event(const PropertyLookup& property) {
  InternalEvent event{property(property::kEvent), property(property::kCertificateId), property(property::kThingName),
                      property(property::kSecretHash)};
  if (event.event.empty()) return std::nullopt;
  return event;
}

}  // namespace provision::protocol
