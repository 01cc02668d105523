#pragma once
// Request and reply payloads of the three provisioning operations, with the
// field names of AWS IoT fleet provisioning. Every payload is JSON or CBOR
// (Format); a CBOR payload carries the same fields as a map with text-string
// keys (see protocol/cbor.h). Requests are checked against their JSON Schema
// before anything reads them.
#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/topics.h"

namespace provision::protocol {

// Every rejected reply: {statusCode, errorCode, errorMessage}.
struct Rejection {
  int status_code = 500;
  std::string error_code = "InternalError";
  std::string error_message;
};

struct CsrRequest {
  std::string certificate_signing_request;  // PEM
};

struct RegisterThingRequest {
  std::string ownership_token;
  std::map<std::string, std::string> parameters;
};

struct CertificateReply {
  std::string certificate_id;
  std::string certificate_pem;
  std::optional<std::string> private_key;  // CreateKeysAndCertificate only
  std::string ownership_token;
};

// RenewCertificate's accepted reply: the new certificate (no token: the device
// is already registered).
struct RenewalReply {
  std::string certificate_id;
  std::string certificate_pem;
};

struct RegisterThingReply {
  std::string thing_name;
  const rapidjson::Value* device_configuration = nullptr;  // an object; nullptr means {}
};

// Decoders throw RequestError(400, "InvalidPayload", <what is wrong, naming the field>)
// ("request is not JSON: ..." / "request is not CBOR: ..." when the payload does
// not even parse). An empty payload counts as {} in either format.
void decode_create_keys_request(Format format, std::string_view payload);
CsrRequest decode_csr_request(Format format, std::string_view payload);
RegisterThingRequest decode_register_thing_request(Format format, std::string_view payload);

// Encoders build the JSON document and, for Format::Cbor, encode it as CBOR.
// They throw Error rather than emit a string that is not UTF-8.
// encode_rejection never throws: it shows such bytes escaped (\xff), and falls
// back to JSON if CBOR encoding fails.
// Any request: the payload (JSON, or CBOR; empty means {}) checked against
// schema file `schema`; throws RequestError(400, "InvalidPayload").
rapidjson::Document decode_request(Format format, std::string_view payload, const char* schema);
// Any document in a payload format.
std::string encode(const rapidjson::Value& value, Format format);

std::string encode_certificate_reply(const CertificateReply& reply, Format format);
std::string encode_register_thing_reply(const RegisterThingReply& reply, Format format);
std::string encode_renewal_reply(const RenewalReply& reply, Format format);
std::string encode_rejection(const Rejection& rejection, Format format);

// For clients (the device tool, tests): a reply payload (JSON or CBOR) as a
// JSON document. Throws Error("reply: ...") when it does not parse.
rapidjson::Document decode_reply(Format format, std::string_view payload);

// Schema file names for each payload kind.
inline constexpr const char* kCreateKeysRequestSchema = "create-keys-and-certificate-request.schema.json";
inline constexpr const char* kFirmwareCheckRequestSchema = "firmware-check-request.schema.json";
inline constexpr const char* kCsrRequestSchema = "create-certificate-from-csr-request.schema.json";
inline constexpr const char* kRegisterThingRequestSchema = "register-thing-request.schema.json";
inline constexpr const char* kCertificateReplySchema = "certificate-reply.schema.json";
inline constexpr const char* kRegisterThingReplySchema = "register-thing-reply.schema.json";
inline constexpr const char* kRenewalReplySchema = "renew-certificate-reply.schema.json";
inline constexpr const char* kEnrollmentRequestSchema = "factory-enrollment-request.schema.json";
inline constexpr const char* kEnrollmentReplySchema = "factory-enrollment-reply.schema.json";
inline constexpr const char* kRejectedReplySchema = "rejected-reply.schema.json";

}  // namespace provision::protocol
