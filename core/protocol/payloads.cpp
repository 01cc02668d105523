#include "protocol/payloads.h"

#include <optional>

#include "protocol/cbor.h"
#include "protocol/schema_validator.h"
#include "util/error.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::protocol {
namespace {

// A CBOR payload as a document; Error's text without its "CBOR: " prefix.
std::optional<rapidjson::Document> try_from_cbor(std::string_view payload, std::string* error) {
  try {
    return from_cbor(payload);
  } catch (const Error& e) {
    std::string_view what = e.what();
    if (what.starts_with("CBOR: ")) what.remove_prefix(6);
    *error = std::string(what);
    return std::nullopt;
  }
}

}  // namespace

rapidjson::Document decode_request(Format format, std::string_view payload, const char* schema) {
  std::string error;
  std::optional<rapidjson::Document> doc;
  if (format == Format::Cbor) {
    if (payload.empty()) {
      doc.emplace();
      doc->SetObject();
    } else {
      doc = try_from_cbor(payload, &error);
      if (!doc) throw RequestError(400, "InvalidPayload", "request is not CBOR: " + error);
    }
  } else {
    if (payload.empty()) payload = "{}";
    doc = json::try_parse(payload, &error);
    if (!doc) throw RequestError(400, "InvalidPayload", "request is not JSON: " + error);
  }
  if (auto violation = schema_violation(schema, *doc)) throw RequestError(400, "InvalidPayload", *violation);
  return std::move(*doc);
}

std::string encode(const rapidjson::Value& value, Format format) {
  return format == Format::Cbor ? to_cbor(value) : json::stringify(value);
}

void decode_create_keys_request(Format format, std::string_view payload) {
  decode_request(format, payload, kCreateKeysRequestSchema);
}

CsrRequest decode_csr_request(Format format, std::string_view payload) {
  auto doc = decode_request(format, payload, kCsrRequestSchema);
  return {*json::string_member(doc, "certificateSigningRequest")};
}

RegisterThingRequest decode_register_thing_request(Format format, std::string_view payload) {
  auto doc = decode_request(format, payload, kRegisterThingRequestSchema);
  RegisterThingRequest request;
  request.ownership_token = *json::string_member(doc, "certificateOwnershipToken");
  if (const auto* parameters = json::member(doc, "parameters"))
    for (const auto& m : parameters->GetObject())
      request.parameters.emplace(json::view(m.name), json::view(m.value));
  return request;
}

std::string encode_certificate_reply(const CertificateReply& reply, Format format) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("certificateId", json::string_value(reply.certificate_id, a), a);
  doc.AddMember("certificatePem", json::string_value(reply.certificate_pem, a), a);
  if (reply.private_key) doc.AddMember("privateKey", json::string_value(*reply.private_key, a), a);
  doc.AddMember("certificateOwnershipToken", json::string_value(reply.ownership_token, a), a);
  return encode(doc, format);
}

std::string encode_renewal_reply(const RenewalReply& reply, Format format) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("certificateId", json::string_value(reply.certificate_id, a), a);
  doc.AddMember("certificatePem", json::string_value(reply.certificate_pem, a), a);
  return encode(doc, format);
}

std::string encode_register_thing_reply(const RegisterThingReply& reply, Format format) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("thingName", json::string_value(reply.thing_name, a), a);
  rapidjson::Value configuration(rapidjson::kObjectType);
  if (reply.device_configuration && reply.device_configuration->IsObject())
    configuration.CopyFrom(*reply.device_configuration, a);
  doc.AddMember("deviceConfiguration", configuration, a);
  return encode(doc, format);
}

std::string encode_rejection(const Rejection& rejection, Format format) {
  // A rejection must be deliverable and valid whatever its message holds:
  // what quotes input is escaped where it is written (util/text.h), and
  // anything else that is not UTF-8 is shown escaped here.
  auto valid = [](const std::string& s) { return text::is_utf8(s) ? s : text::escape(s, s.size()); };
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("statusCode", rejection.status_code, a);
  doc.AddMember("errorCode", json::string_value(valid(rejection.error_code), a), a);
  doc.AddMember("errorMessage",
                json::string_value(valid(rejection.error_message.empty() ? rejection.error_code : rejection.error_message), a), a);
  // Should CBOR encoding ever fail, send JSON rather than throw on the error path.
  if (format == Format::Cbor) {
    try {
      return to_cbor(doc);
    } catch (...) {
    }
  }
  return json::stringify(doc);
}

rapidjson::Document decode_reply(Format format, std::string_view payload) {
  if (format == Format::Json) return json::parse(payload, "reply");
  try {
    return from_cbor(payload);
  } catch (const Error& e) {
    throw Error(std::string("reply: ") + e.what());
  }
}

}  // namespace provision::protocol
