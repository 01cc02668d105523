#include <catch2/catch.hpp>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>

#include "protocol/cbor.h"
#include "protocol/payloads.h"
#include "protocol/schema_validator.h"
#include "protocol/topics.h"
#include "util/error.h"
#include "util/json.h"

using namespace provision;
using namespace provision::protocol;

TEST_CASE("request topics parse into operation, format, alias and template") {
  auto r = parse_request_topic("$provision/certificates/create/json");
  REQUIRE(r);
  CHECK(r->operation == Operation::CreateKeysAndCertificate);
  CHECK(r->format == Format::Json);
  CHECK(r->alias == Alias::Provision);

  r = parse_request_topic("$provision/certificates/create-from-csr/cbor");
  REQUIRE(r);
  CHECK(r->operation == Operation::CreateCertificateFromCsr);
  CHECK(r->format == Format::Cbor);

  r = parse_request_topic("$provision/templates/Fleet_1-a/provision/json");
  REQUIRE(r);
  CHECK(r->operation == Operation::RegisterThing);
  CHECK(r->template_name == "Fleet_1-a");

  r = parse_request_topic("$aws/provisioning-templates/T/provision/json");
  REQUIRE(r);
  CHECK(r->alias == Alias::Aws);
  CHECK(r->template_name == "T");
  r = parse_request_topic("$aws/certificates/create-from-csr/json");
  REQUIRE(r);
  CHECK(r->alias == Alias::Aws);
}

TEST_CASE("anything that is not exactly a request topic is refused") {
  for (const char* topic :
       {"$provision/certificates/create/xml", "$provision/certificates/create/json/accepted", "$provision/certificates/create",
        "$provision/templates/+/provision/json", "$provision/templates/#", "$provision/templates//provision/json",
        "$provision/templates/a/b/provision/json", "$provision/templates/a/provision/json/", "provision/certificates/create/json",
        "$provision/templates/0123456789012345678901234567890123456/provision/json", "$aws/things/x/shadow/update", ""}) {
    INFO(topic);
    CHECK_FALSE(parse_request_topic(topic));
  }
}

TEST_CASE("reply topics round trip") {
  RequestTopic r{Operation::RegisterThing, Format::Json, Alias::Provision, "Demo"};
  CHECK(request_topic(r) == "$provision/templates/Demo/provision/json");
  CHECK(reply_topic(r, true) == "$provision/templates/Demo/provision/json/accepted");
  auto reply = parse_reply_topic("$provision/templates/Demo/provision/json/rejected");
  REQUIRE(reply);
  CHECK_FALSE(reply->accepted);
  CHECK(reply->request == r);
  RequestTopic aws{Operation::CreateCertificateFromCsr, Format::Json, Alias::Aws, ""};
  CHECK(reply_topic(aws, false) == "$aws/certificates/create-from-csr/json/rejected");
  CHECK_FALSE(parse_reply_topic("$provision/templates/Demo/provision/json/other"));
}

TEST_CASE("internal topics") {
  InternalTopics t("_provision");
  CHECK(t.requests == "_provision/requests");
  CHECK(t.shared_requests() == "$share/provisiond/_provision/requests");
  CHECK(t.contains("_provision"));
  CHECK(t.contains("_provision/replies"));
  CHECK_FALSE(t.contains("_provisionx/replies"));
}

TEST_CASE("requests are checked against their schemas with precise messages") {
  CHECK_NOTHROW(decode_create_keys_request(Format::Json, ""));
  CHECK_NOTHROW(decode_create_keys_request(Format::Json, "{}"));

  auto csr = decode_csr_request(Format::Json, R"({"certificateSigningRequest":"-----BEGIN CERTIFICATE REQUEST-----"})");
  CHECK(csr.certificate_signing_request == "-----BEGIN CERTIFICATE REQUEST-----");

  auto expect = [](auto&& call, const std::string& code, const std::string& text) {
    try {
      call();
      FAIL("no error");
    } catch (const RequestError& e) {
      CHECK(e.status_code == 400);
      CHECK(e.code == code);
      CHECK_THAT(e.what(), Catch::Contains(text));
    }
  };
  expect([] { decode_csr_request(Format::Json, "{}"); }, "InvalidPayload", "missing required field certificateSigningRequest");
  expect([] { decode_csr_request(Format::Json, R"({"certificateSigningRequest": 5})"); }, "InvalidPayload",
         "/certificateSigningRequest: must be of type string");
  expect([] { decode_csr_request(Format::Json, "{nope"); }, "InvalidPayload", "not JSON");
  expect([] { decode_register_thing_request(Format::Json, R"({"parameters":{}})"); }, "InvalidPayload",
         "missing required field certificateOwnershipToken");
  expect([] { decode_register_thing_request(Format::Json, R"({"certificateOwnershipToken":"t","parameters":{"a":1}})"); },
         "InvalidPayload", "/parameters/a: must be of type string");

  auto reg = decode_register_thing_request(Format::Json,
                                           R"({"certificateOwnershipToken":"tok","parameters":{"SerialNumber":"42"}})");
  CHECK(reg.ownership_token == "tok");
  CHECK(reg.parameters.at("SerialNumber") == "42");
}

TEST_CASE("replies validate against their schemas") {
  CertificateReply c{std::string(64, 'a'), "-----BEGIN CERTIFICATE-----\n", std::string("-----BEGIN " "PRIVATE KEY-----\n"),
                     std::string(43, 't')};
  auto doc = json::parse(encode_certificate_reply(c, Format::Json));
  CHECK_FALSE(schema_violation(kCertificateReplySchema, doc));
  CHECK(json::string_member(doc, "privateKey"));

  auto config = json::parse(R"({"endpoint":"mqtts://127.0.0.1:8883"})");
  auto reg = json::parse(encode_register_thing_reply({"thing-1", &config}, Format::Json));
  CHECK_FALSE(schema_violation(kRegisterThingReplySchema, reg));
  CHECK(json::string_member(*json::member(reg, "deviceConfiguration"), "endpoint") == "mqtts://127.0.0.1:8883");

  auto rejected = json::parse(encode_rejection({400, "InvalidCsr", "bad"}, Format::Json));
  CHECK_FALSE(schema_violation(kRejectedReplySchema, rejected));
  CHECK(json::int_member(rejected, "statusCode") == 400);

  // the schema really constrains: a reply without its id is invalid
  auto broken = json::parse(R"({"certificatePem":"-----BEGIN CERTIFICATE-----","certificateOwnershipToken":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})");
  CHECK(schema_violation(kCertificateReplySchema, broken));
}

TEST_CASE("an unexpected field is named under its parent, whatever its value") {
  for (const char* extra : {R"(1)", R"({"x":1})", R"([1,2])"}) {
    auto doc = json::parse(std::string(R"({"registrationId":"SN-1","extra":)") + extra + "}");
    auto violation = schema_violation(kEnrollmentRequestSchema, doc);
    REQUIRE(violation);
    CHECK(*violation == "/: unexpected field extra");
  }
  auto nested = json::parse(R"({"statements":[{"effect":"allow","actions":["publish"],"topics":["a"],"bogus":true}]})");
  CHECK(schema_violation("policy.schema.json", nested) == std::string("/statements/0: unexpected field bogus"));
}

// ---------------------------------------------------------------- hostile payloads (docs/protocol.md, "Payloads")

namespace {

struct Discard {
  using Ch = char;
  void Put(char) {}
};

// UTF-8 by RapidJSON's own validator (not the code under test).
bool utf8(std::string_view bytes) {
  rapidjson::MemoryStream in(bytes.data(), bytes.size());
  Discard out;
  while (in.Tell() < bytes.size())
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  return true;
}

// A reply a strict JSON reader accepts: UTF-8 throughout, one document, no NUL.
bool strict_json(std::string_view payload) {
  if (!utf8(payload) || payload.find('\0') != std::string_view::npos) return false;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(payload.data(), payload.size());
  return !doc.HasParseError();
}

// Runs `call`, which must throw RequestError(400, "InvalidPayload", ...); returns the message.
template <typename Call>
std::string invalid_payload(Call&& call) {
  try {
    call();
  } catch (const RequestError& e) {
    CHECK(e.status_code == 400);
    CHECK(e.code == "InvalidPayload");
    return e.what();
  }
  FAIL("no RequestError");
  return {};
}

const std::string kPem = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";

}  // namespace

TEST_CASE("request payloads that are not UTF-8, hold bytes after the document or nest too deep are InvalidPayload") {
  using namespace std::string_literals;
  // the outside tester's CSR: a certificate was issued for it
  const std::string csr = "{\"certificateSigningRequest\":\"\xff\xfe" + kPem + "\"}";
  CHECK(invalid_payload([&] { decode_csr_request(Format::Json, csr); }) ==
        "request is not JSON: invalid UTF-8 at offset " + std::to_string(csr.find('\xff')));
  // a parameter named \xff\xfe
  const std::string parameter = "{\"certificateOwnershipToken\":\"t\",\"parameters\":{\"\xff\xfe\":\"x\"}}";
  CHECK(invalid_payload([&] { decode_register_thing_request(Format::Json, parameter); }) ==
        "request is not JSON: invalid UTF-8 at offset " + std::to_string(parameter.find('\xff')));
  const std::string value = "{\"certificateOwnershipToken\":\"t\",\"parameters\":{\"SerialNumber\":\"\xed\xa0\x80\"}}";
  CHECK(invalid_payload([&] { decode_register_thing_request(Format::Json, value); }) ==
        "request is not JSON: invalid UTF-8 at offset " + std::to_string(value.find('\xed')));
  // everything after a NUL byte used to be ignored
  CHECK(invalid_payload([] { decode_create_keys_request(Format::Json, "{}\0 this is not JSON {{{"s); }) ==
        "request is not JSON: trailing bytes at offset 2");
  const std::string valid_then_junk = "{\"certificateSigningRequest\":\"x\"}\0junk"s;
  CHECK(invalid_payload([&] { decode_csr_request(Format::Json, valid_then_junk); }) ==
        "request is not JSON: trailing bytes at offset " + std::to_string(valid_then_junk.find('\0')));
  CHECK(invalid_payload([] { decode_create_keys_request(Format::Json, "{}{}"); }) ==
        "request is not JSON: trailing bytes at offset 2");
  // nesting: a 1 MiB payload (the plugin's largest max_payload) of '['
  CHECK(invalid_payload([] { decode_create_keys_request(Format::Json, std::string(1 << 20, '[')); }) ==
        "request is not JSON: nesting deeper than 64 at offset 64");
  // two objects and 62 arrays are 64 levels: the 63rd '[' is one too many
  const std::string prefix = R"({"certificateOwnershipToken":"t","parameters":{"a":)";
  CHECK(invalid_payload([&] { decode_register_thing_request(Format::Json, prefix + std::string(300000, '[') + "}}"); }) ==
        "request is not JSON: nesting deeper than 64 at offset " + std::to_string(prefix.size() + 62));
}

TEST_CASE("schema violations escape the member names they quote, and bound their length") {
  auto control = json::parse(R"({"certificateOwnershipToken":"t","parameters":{"a\nb\u001b[31m":1}})");
  CHECK(schema_violation(kRegisterThingRequestSchema, control) ==
        std::string(R"(/parameters/a\nb\u001b[31m: must be of type string)"));
  auto extra = json::parse(R"({"registrationId":"SN-1","x\"y\u2028":1})");
  CHECK(schema_violation(kEnrollmentRequestSchema, extra) == std::string(R"(/: unexpected field x\"y\u2028)"));
  auto long_name = json::parse(R"({"registrationId":"SN-1",")" + std::string(10000, 'n') + R"(":1})");
  auto violation = schema_violation(kEnrollmentRequestSchema, long_name);
  REQUIRE(violation);
  CHECK_THAT(*violation, Catch::StartsWith("/: unexpected field nnnn"));
  CHECK(violation->size() < 300);
}

TEST_CASE("a rejected reply is valid JSON and valid CBOR whatever its message holds") {
  for (const std::string& message : {std::string("bad \xff\xfe bytes"), std::string("cut \xe2\x82"), std::string("nul \0 here", 10)}) {
    INFO(message);
    auto reply = encode_rejection({400, "InvalidPayload", message}, Format::Json);
    CHECK(strict_json(reply));
    auto doc = json::parse(reply);
    CHECK_FALSE(schema_violation(kRejectedReplySchema, doc));
    CHECK(json::string_member(doc, "errorCode") == "InvalidPayload");
    auto cbor = encode_rejection({400, "InvalidPayload", message}, Format::Cbor);
    auto from_cbor_doc = from_cbor(cbor);  // from_cbor refuses text that is not UTF-8
    CHECK(from_cbor_doc == doc);
  }
  // the bytes that are not UTF-8 are shown, escaped
  auto doc = json::parse(encode_rejection({400, "InvalidPayload", "bad \xff\xfe bytes"}, Format::Json));
  CHECK(json::string_member(doc, "errorMessage") == std::string(R"(bad \xff\xfe bytes)"));
}

TEST_CASE("reply encoders never emit text that is not UTF-8") {
  CertificateReply c{std::string(64, 'a'), "-----BEGIN CERTIFICATE-----\n\xff", std::nullopt, std::string(43, 't')};
  CHECK_THROWS_AS(encode_certificate_reply(c, Format::Json), Error);
  CHECK_THROWS_AS(encode_certificate_reply(c, Format::Cbor), Error);
  auto config = json::parse(R"({"endpoint":"x"})");
  CHECK_THROWS_AS(encode_register_thing_reply({"thing-\xc0\x80", &config}, Format::Json), Error);
  CHECK_THROWS_AS(encode_register_thing_reply({"thing-\xc0\x80", &config}, Format::Cbor), Error);
}
