// The plugin <-> worker messages (core/protocol/internal_messages.h): what
// the plugin encodes, the worker decodes to the same request, and what is
// not a complete message is refused with the reason.
#include <catch2/catch.hpp>

#include "protocol/internal_messages.h"

using namespace provision::protocol;

namespace {

InternalRequest enrollment_request() {
  InternalRequest r;
  r.request_id = "ab12-7";
  r.topic = *parse_request_topic("$aws/provisioning-templates/factory/provision/cbor");
  r.client_id = "module-1";
  r.source_address = "127.0.0.1";
  r.identity = Identity::Enrollment;
  r.certificate_id = "c0ffee";
  r.registration_id = "AABBCCDDEEFF";
  r.issuer_id = "ca-1";
  return r;
}

}  // namespace

TEST_CASE("a request decodes to what was encoded, for every identity") {
  for (Identity identity : {Identity::Claim, Identity::Enrollment, Identity::Device, Identity::Factory}) {
    InternalRequest r = enrollment_request();
    r.identity = identity;
    if (identity == Identity::Device) r.thing_name = "machine-7";
    if (identity != Identity::Enrollment) r.registration_id = r.issuer_id = "";
    UserProperties properties = encode(r);
    std::string why;
    auto back = decode_request(lookup_in(properties), &why);
    INFO(identity_name(identity) << ": " << why);
    REQUIRE(back);
    CHECK(back->request_id == r.request_id);
    CHECK(request_topic(back->topic) == request_topic(r.topic));
    CHECK(back->client_id == r.client_id);
    CHECK(back->source_address == r.source_address);
    CHECK(back->identity == identity);
    CHECK(back->certificate_id == r.certificate_id);
    CHECK(back->thing_name == r.thing_name);
    CHECK(back->registration_id == r.registration_id);
    CHECK(back->issuer_id == r.issuer_id);
  }
}

TEST_CASE("identities have one name each, and unknown names are refused") {
  for (Identity identity : {Identity::Claim, Identity::Enrollment, Identity::Device, Identity::Factory})
    CHECK(parse_identity(identity_name(identity)) == identity);
  CHECK(identity_name(Identity::Enrollment) == "enrollment");
  CHECK_FALSE(parse_identity("service"));
  CHECK_FALSE(parse_identity(""));
  CHECK_FALSE(parse_identity("Device"));
}

TEST_CASE("only what a device may not send is on the wire: properties of other identities are left out") {
  InternalRequest r = enrollment_request();
  r.identity = Identity::Claim;
  r.thing_name = "not-mine";
  UserProperties properties = encode(r);
  auto property = lookup_in(properties);
  CHECK(property(property::kThingName).empty());
  CHECK(property(property::kRegistrationId).empty());
  CHECK(property(property::kIdentity) == "claim");
}

TEST_CASE("an incomplete request is refused with the reason") {
  auto without = [](const char* name, InternalRequest r = enrollment_request()) {
    UserProperties properties;
    for (auto& p : encode(r))
      if (p.first != name) properties.push_back(p);
    std::string why;
    auto decoded = decode_request(lookup_in(properties), &why);
    CHECK_FALSE(decoded);
    return why;
  };
  CHECK(without(property::kRequestId) == "no request id");
  CHECK(without(property::kRequestTopic).find("request topic") != std::string::npos);
  CHECK(without(property::kIdentity).find("identity") != std::string::npos);
  CHECK(without(property::kRegistrationId).find("registration id") != std::string::npos);
  InternalRequest device = enrollment_request();
  device.identity = Identity::Device;
  device.thing_name = "machine-7";
  CHECK(without(property::kThingName, device).find("thing name") != std::string::npos);

  UserProperties wrong_topic = encode(enrollment_request());
  for (auto& [name, value] : wrong_topic)
    if (name == property::kRequestTopic) value = "$provision/unknown/json";
  CHECK_FALSE(decode_request(lookup_in(wrong_topic)));
  UserProperties unknown_identity = encode(enrollment_request());
  for (auto& [name, value] : unknown_identity)
    if (name == property::kIdentity) value = "service";
  CHECK_FALSE(decode_request(lookup_in(unknown_identity)));
}

TEST_CASE("replies and events round-trip, and malformed ones are refused") {
  for (bool accepted : {true, false}) {
    auto reply = decode_reply(lookup_in(encode(InternalReply{"id-1", accepted})));
    REQUIRE(reply);
    CHECK(reply->request_id == "id-1");
    CHECK(reply->accepted == accepted);
  }
  CHECK_FALSE(decode_reply(lookup_in({{property::kRequestId, "id-1"}, {property::kOutcome, "maybe"}})));
  CHECK_FALSE(decode_reply(lookup_in({{property::kOutcome, "accepted"}})));

  auto event = decode_event(lookup_in(encode(InternalEvent{kEventCertificateUsed, "c1", "", ""})));
  REQUIRE(event);
  CHECK(event->event == kEventCertificateUsed);
  CHECK(event->certificate_id == "c1");
  auto connected = decode_event(lookup_in(encode(InternalEvent{kEventPasswordDeviceConnected, "", "thing-7", "ab12"})));
  REQUIRE(connected);
  CHECK(connected->thing_name == "thing-7");
  CHECK(connected->secret_hash == "ab12");
  CHECK(connected->certificate_id.empty());
  CHECK_FALSE(decode_event(lookup_in({{property::kCertificateId, "c1"}})));
}
