#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/cbor.h"
#include "protocol/payloads.h"
#include "protocol/schema_validator.h"
#include "util/error.h"
#include "util/json.h"

using namespace provision;
using namespace provision::protocol;

namespace {

// "a2 61 61" -> the bytes a2 61 61.
std::string hex(std::string_view text) {
  std::string out;
  int high = -1;
  for (char c : text) {
    if (c == ' ') continue;
    int nibble = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (nibble < 0) throw std::invalid_argument("bad hex digit");
    if (high < 0) {
      high = nibble;
    } else {
      out.push_back(static_cast<char>(high * 16 + nibble));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out += ' ';
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string decoded(std::string_view bytes) { return json::stringify(from_cbor(bytes)); }

std::string encoded(std::string_view json_text) { return to_hex(to_cbor(json::parse(json_text))); }

void expect_refused(const std::string& bytes, const std::string& message) {
  INFO(to_hex(bytes.substr(0, 32)));
  CHECK_THROWS_AS(from_cbor(bytes), Error);
  CHECK_THROWS_WITH(from_cbor(bytes), Catch::Contains(message));
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

}  // namespace

TEST_CASE("to_cbor writes the RFC 8949 encodings", "[cbor]") {
  CHECK(encoded(R"({"a": 1, "b": [2, 3]})") == "a2 61 61 01 61 62 82 02 03");
  CHECK(encoded("0") == "00");
  CHECK(encoded("23") == "17");
  CHECK(encoded("24") == "18 18");
  CHECK(encoded("1000") == "19 03 e8");
  CHECK(encoded("1000000") == "1a 00 0f 42 40");
  CHECK(encoded("1000000000000") == "1b 00 00 00 e8 d4 a5 10 00");
  CHECK(encoded("18446744073709551615") == "1b ff ff ff ff ff ff ff ff");
  CHECK(encoded("-1") == "20");
  CHECK(encoded("-100") == "38 63");
  CHECK(encoded("-1000") == "39 03 e7");
  CHECK(encoded("-9223372036854775808") == "3b 7f ff ff ff ff ff ff ff");
  CHECK(encoded("1.1") == "fb 3f f1 99 99 99 99 99 9a");
  CHECK(encoded("1.0") == "fb 3f f0 00 00 00 00 00 00");  // a double stays a double
  CHECK(encoded("false") == "f4");
  CHECK(encoded("true") == "f5");
  CHECK(encoded("null") == "f6");
  CHECK(encoded(R"("")") == "60");
  CHECK(encoded(R"("IETF")") == "64 49 45 54 46");
  CHECK(encoded(R"("\u00fc")") == "62 c3 bc");
  CHECK(encoded("[]") == "80");
  CHECK(encoded("{}") == "a0");
  CHECK(encoded(R"(["a", {"b": "c"}])") == "82 61 61 a1 61 62 61 63");
}

TEST_CASE("to_cbor refuses NaN and infinity", "[cbor]") {
  rapidjson::Value nan(std::numeric_limits<double>::quiet_NaN());
  rapidjson::Value inf(std::numeric_limits<double>::infinity());
  CHECK_THROWS_WITH(to_cbor(nan), Catch::Contains("NaN or infinity"));
  CHECK_THROWS_WITH(to_cbor(inf), Catch::Contains("NaN or infinity"));
}

TEST_CASE("every JSON kind survives a round trip through CBOR", "[cbor]") {
  for (const char* text :
       {"null", "true", "false", "0", "1", "-1", "23", "24", "255", "256", "65535", "65536", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "-24", "-25", "-256", "-257", "-65536",
        "-65537", "-4294967296", "-4294967297", "-9223372036854775808", "0.5", "-2.5e300", "1e-300", "0.1", "1.0",
        R"("")", R"("plain")", R"("\u0000nul\u0000")", R"("\u00fc\u6c34\ud800\udd51")", "[]", "{}",
        R"([1, "two", 3.5, null, true, false, [], {}, [[["deep"]]]])",
        R"({"certificateId": "ab", "nested": {"list": [1, -2, {"x": null}], "empty": {}}, "": "empty key"})"}) {
    INFO(text);
    auto original = json::parse(text);
    auto back = from_cbor(to_cbor(original));
    CHECK(back == original);
    CHECK(json::stringify(back) == json::stringify(original));
    CHECK(back.GetType() == original.GetType());
    if (original.IsNumber()) {
      CHECK(back.IsDouble() == original.IsDouble());
      CHECK(back.IsInt64() == original.IsInt64());
      CHECK(back.IsUint64() == original.IsUint64());
    }
  }
  // a string longer than 65535 bytes (4-byte length)
  rapidjson::Document big;
  std::string long_text(70000, 'x');
  big.SetString(long_text.data(), static_cast<rapidjson::SizeType>(long_text.size()), big.GetAllocator());
  auto bytes = to_cbor(big);
  CHECK(to_hex(bytes.substr(0, 5)) == "7a 00 01 11 70");
  CHECK(json::view(from_cbor(bytes)) == long_text);
}

TEST_CASE("from_cbor reads the RFC 8949 Appendix A examples", "[cbor]") {
  CHECK(decoded(hex("a2 61 61 01 61 62 82 02 03")) == R"({"a":1,"b":[2,3]})");
  CHECK(decoded(hex("00")) == "0");
  CHECK(decoded(hex("17")) == "23");
  CHECK(decoded(hex("18 18")) == "24");
  CHECK(decoded(hex("19 03 e8")) == "1000");
  CHECK(decoded(hex("1a 00 0f 42 40")) == "1000000");
  CHECK(decoded(hex("1b 00 00 00 e8 d4 a5 10 00")) == "1000000000000");
  CHECK(decoded(hex("1b ff ff ff ff ff ff ff ff")) == "18446744073709551615");
  CHECK(decoded(hex("20")) == "-1");
  CHECK(decoded(hex("38 63")) == "-100");
  CHECK(decoded(hex("39 03 e7")) == "-1000");
  CHECK(decoded(hex("3b 7f ff ff ff ff ff ff ff")) == "-9223372036854775808");
  // non-shortest integer heads are still integers
  CHECK(decoded(hex("1b 00 00 00 00 00 00 00 01")) == "1");
  CHECK(decoded(hex("39 00 00")) == "-1");

  auto half = from_cbor(hex("f9 3e 00"));
  REQUIRE(half.IsDouble());
  CHECK(half.GetDouble() == 1.5);
  CHECK(from_cbor(hex("f9 00 00")).GetDouble() == 0.0);
  CHECK(from_cbor(hex("f9 3c 00")).GetDouble() == 1.0);
  CHECK(from_cbor(hex("f9 c4 00")).GetDouble() == -4.0);
  CHECK(from_cbor(hex("f9 7b ff")).GetDouble() == 65504.0);
  CHECK(from_cbor(hex("f9 00 01")).GetDouble() == Approx(5.960464477539063e-8));
  CHECK(from_cbor(hex("fa 47 c3 50 00")).GetDouble() == 100000.0);
  CHECK(from_cbor(hex("fa 7f 7f ff ff")).GetDouble() == Approx(3.4028234663852886e+38));
  CHECK(from_cbor(hex("fb 3f f1 99 99 99 99 99 9a")).GetDouble() == 1.1);
  CHECK(from_cbor(hex("fb c0 10 66 66 66 66 66 66")).GetDouble() == -4.1);

  CHECK(decoded(hex("f4")) == "false");
  CHECK(decoded(hex("f5")) == "true");
  CHECK(decoded(hex("f6")) == "null");
  CHECK(decoded(hex("f7")) == "null");  // undefined

  CHECK(decoded(hex("60")) == R"("")");
  CHECK(decoded(hex("64 49 45 54 46")) == R"("IETF")");
  CHECK(decoded(hex("62 22 5c")) == R"("\"\\")");
  CHECK(decoded(hex("62 c3 bc")) == "\"\xc3\xbc\"");
  CHECK(decoded(hex("63 e6 b0 b4")) == "\"\xe6\xb0\xb4\"");
  CHECK(decoded(hex("64 f0 90 85 91")) == "\"\xf0\x90\x85\x91\"");
  CHECK(decoded(hex("7f 65 73 74 72 65 61 64 6d 69 6e 67 ff")) == R"("streaming")");
  CHECK(decoded(hex("7f ff")) == R"("")");

  CHECK(decoded(hex("80")) == "[]");
  CHECK(decoded(hex("83 01 02 03")) == "[1,2,3]");
  CHECK(decoded(hex("83 01 82 02 03 82 04 05")) == "[1,[2,3],[4,5]]");
  CHECK(decoded(hex("98 19 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 18 18 19")) ==
        "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]");
  CHECK(decoded(hex("9f ff")) == "[]");
  CHECK(decoded(hex("9f 01 02 ff")) == "[1,2]");
  CHECK(decoded(hex("9f 01 82 02 03 9f 04 05 ff ff")) == "[1,[2,3],[4,5]]");
  CHECK(decoded(hex("83 01 9f 02 03 ff 82 04 05")) == "[1,[2,3],[4,5]]");
  CHECK(decoded(hex("a0")) == "{}");
  CHECK(decoded(hex("82 61 61 a1 61 62 61 63")) == R"(["a",{"b":"c"}])");
  CHECK(decoded(hex("a5 61 61 61 41 61 62 61 42 61 63 61 43 61 64 61 44 61 65 61 45")) ==
        R"({"a":"A","b":"B","c":"C","d":"D","e":"E"})");
  CHECK(decoded(hex("bf 61 61 01 61 62 9f 02 03 ff ff")) == R"({"a":1,"b":[2,3]})");
  CHECK(decoded(hex("82 61 61 bf 61 62 61 63 ff")) == R"(["a",{"b":"c"}])");
  CHECK(decoded(hex("bf 63 46 75 6e f5 63 41 6d 74 21 ff")) == R"({"Fun":true,"Amt":-2})");
  // an indefinite text string as a map key
  CHECK(decoded(hex("a1 7f 61 6b 61 79 ff 01")) == R"({"ky":1})");

  // integer kinds as JSON sees them
  auto big = from_cbor(hex("1b ff ff ff ff ff ff ff ff"));
  CHECK(big.IsUint64());
  CHECK_FALSE(big.IsInt64());
  CHECK(big.GetUint64() == std::numeric_limits<std::uint64_t>::max());
  auto small = from_cbor(hex("3b 7f ff ff ff ff ff ff ff"));
  CHECK(small.IsInt64());
  CHECK(small.GetInt64() == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("from_cbor refuses what JSON cannot hold", "[cbor]") {
  expect_refused(hex("43 01 02 03"), "CBOR: byte strings are not supported");
  expect_refused(hex("40"), "CBOR: byte strings are not supported");
  expect_refused(hex("a1 61 61 42 01 02"), "CBOR: byte strings are not supported");
  expect_refused(hex("5f 42 01 02 43 03 04 05 ff"), "CBOR: byte strings are not supported");

  expect_refused(hex("a1 01 02"), "CBOR: map keys must be text strings");
  expect_refused(hex("a1 41 61 01"), "CBOR: map keys must be text strings");
  expect_refused(hex("a1 80 01"), "CBOR: map keys must be text strings");
  expect_refused(hex("a1 f6 01"), "CBOR: map keys must be text strings");
  expect_refused(hex("bf 61 61 01 02 03 ff"), "CBOR: map keys must be text strings");
  expect_refused(hex("a2 61 61 01 c1 00 02"), "CBOR: map keys must be text strings");

  expect_refused(hex("c1 1a 51 4b 67 b0"), "CBOR: tags are not supported");
  expect_refused(hex("c0 74 32 30 31 33 2d 30 33 2d 32 31 54 32 30 3a 30 34 3a 30 30 5a"), "CBOR: tags are not supported");
  expect_refused(hex("a1 61 61 c2 41 01"), "CBOR: tags are not supported");

  expect_refused(hex("3b 80 00 00 00 00 00 00 00"), "CBOR: integer out of range");
  expect_refused(hex("3b ff ff ff ff ff ff ff ff"), "CBOR: integer out of range");
  expect_refused(hex("81 3b 80 00 00 00 00 00 00 00"), "CBOR: integer out of range");

  for (const char* nonfinite : {"f9 7c 00", "f9 fc 00", "f9 7e 00", "fa 7f 80 00 00", "fa ff 80 00 00", "fa 7f c0 00 00",
                                "fb 7f f0 00 00 00 00 00 00", "fb ff f0 00 00 00 00 00 00", "fb 7f f8 00 00 00 00 00 00"})
    expect_refused(hex(nonfinite), "CBOR: NaN and infinite floats are not supported");

  // other simple values (not false/true/null/undefined)
  expect_refused(hex("f0"), "CBOR: malformed at offset 0");
  expect_refused(hex("f8 ff"), "CBOR: malformed at offset 0");
  expect_refused(hex("82 01 f8 20"), "CBOR: malformed at offset 2");

  expect_refused(hex("62 c3 28"), "CBOR: text string is not valid UTF-8");
  expect_refused(hex("63 ed a0 80"), "CBOR: text string is not valid UTF-8");  // a surrogate
  expect_refused(hex("62 c0 80"), "CBOR: text string is not valid UTF-8");     // overlong
  expect_refused(hex("a1 61 ff 01"), "CBOR: text string is not valid UTF-8 (at offset 1)");  // in a key
  expect_refused(hex("7f 61 c3 61 bc ff"), "CBOR: text string is not valid UTF-8 (at offset 1)");  // split code point
}

TEST_CASE("from_cbor refuses malformed, truncated and trailing input", "[cbor]") {
  expect_refused("", "CBOR: malformed at offset 0: unexpected end of input");
  expect_refused(hex("01 02"), "CBOR: trailing bytes after the first item");
  expect_refused(hex("a0 00"), "CBOR: trailing bytes after the first item");
  expect_refused(hex("9f ff ff"), "CBOR: trailing bytes after the first item");

  // a truncated map, at every cut
  std::string map = hex("a2 61 61 01 61 62 82 02 03");
  for (std::size_t n = 1; n < map.size(); ++n) expect_refused(map.substr(0, n), "CBOR: malformed at offset");
  expect_refused(hex("a2 61 61 01"), "CBOR: malformed at offset 4: unexpected end of input");
  expect_refused(hex("bf 61 61 01"), "CBOR: malformed at offset 4: unexpected end of input");
  expect_refused(hex("65 73 74 72"), "CBOR: malformed at offset 0: unexpected end of input");
  expect_refused(hex("19 03"), "CBOR: malformed at offset 0: unexpected end of input");
  // a huge declared string length is just truncated input
  expect_refused(hex("7b 00 00 00 01 00 00 00 00 61"), "CBOR: malformed at offset 0: unexpected end of input");

  expect_refused(hex("1c"), "CBOR: malformed at offset 0");     // reserved additional information
  expect_refused(hex("81 1f"), "CBOR: malformed at offset 1");  // indefinite integer
  expect_refused(hex("ff"), "CBOR: malformed at offset 0: unexpected break");
  expect_refused(hex("82 01 ff"), "CBOR: malformed at offset 2: unexpected break");
  expect_refused(hex("bf 61 61 ff"), "CBOR: malformed at offset 3: map key without a value");
  expect_refused(hex("7f 01 ff"), "CBOR: malformed at offset 1: an indefinite text string may only hold");
  expect_refused(hex("7f 7f ff ff"), "CBOR: malformed at offset 1: an indefinite text string may only hold");
  expect_refused(hex("7f 9f ff ff"), "CBOR: malformed at offset 1: an indefinite text string may only hold");
}

TEST_CASE("from_cbor limits nesting and size without building anything", "[cbor]") {
  auto nested = [](std::size_t depth, char open) { return std::string(depth, open) + hex("01"); };
  CHECK(decoded(nested(32, '\x81')) == std::string(32, '[') + "1" + std::string(32, ']'));
  expect_refused(nested(33, '\x81'), "CBOR: nesting deeper than 32");
  expect_refused(nested(100000, '\x81'), "CBOR: nesting deeper than 32");
  expect_refused(std::string(100000, '\x9f'), "CBOR: nesting deeper than 32");  // indefinite, never closed
  std::string maps;
  for (int i = 0; i < 100000; ++i) maps += hex("a1 61 61");
  expect_refused(maps + hex("01"), "CBOR: nesting deeper than 32");
  std::string ok_maps;
  for (int i = 0; i < 32; ++i) ok_maps += hex("a1 61 61");
  CHECK(from_cbor(ok_maps + hex("01")).IsObject());

  // 16384 items in total is the limit: an array header plus 16383 elements...
  CHECK(from_cbor(hex("99 3f ff") + std::string(16383, '\0')).Size() == 16383);
  // ...one more is refused, declared or not
  expect_refused(hex("99 40 00") + std::string(16384, '\0'), "CBOR: more than 16384 items");
  expect_refused(hex("9f") + std::string(16384, '\0') + hex("ff"), "CBOR: more than 16384 items");
  // text chunks count too
  std::string chunks = hex("7f");
  for (int i = 0; i < 20000; ++i) chunks += hex("60");
  expect_refused(chunks + hex("ff"), "CBOR: more than 16384 items");
  // declared sizes are refused before libcbor would allocate them (9 bytes asking for 2^28 slots)
  expect_refused(hex("9b 00 00 00 00 10 00 00 00"), "CBOR: more than 16384 items");
  expect_refused(hex("9b ff ff ff ff ff ff ff ff"), "CBOR: more than 16384 items");
  expect_refused(hex("bb 00 00 00 00 10 00 00 00"), "CBOR: more than 16384 items");
  expect_refused(hex("bb 80 00 00 00 00 00 00 00"), "CBOR: more than 16384 items");  // 2n would overflow
  expect_refused(hex("b9 20 00"), "CBOR: more than 16384 items");                    // 8192 entries = 16384 items
  expect_refused(hex("81 9a 00 00 40 00"), "CBOR: more than 16384 items");
}

TEST_CASE("request decoders accept CBOR with the same validation as JSON", "[cbor][payloads]") {
  CHECK_NOTHROW(decode_create_keys_request(Format::Cbor, ""));
  CHECK_NOTHROW(decode_create_keys_request(Format::Cbor, hex("a0")));
  CHECK_NOTHROW(decode_create_keys_request(Format::Cbor, hex("bf ff")));

  const std::string pem = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
  rapidjson::Document csr_doc(rapidjson::kObjectType);
  csr_doc.AddMember("certificateSigningRequest", json::string_value(pem, csr_doc.GetAllocator()), csr_doc.GetAllocator());
  CHECK(decode_csr_request(Format::Cbor, to_cbor(csr_doc)).certificate_signing_request == pem);
  // indefinite map, key and value as a device library might stream them
  auto streamed = hex("bf 78 19") + "certificateSigningRequest" + hex("7f 65") + "-----" + hex("63") + "PEM" + hex("ff ff");
  CHECK(decode_csr_request(Format::Cbor, streamed).certificate_signing_request == "-----PEM");

  auto reg = decode_register_thing_request(
      Format::Cbor, to_cbor(json::parse(R"({"certificateOwnershipToken":"tok","parameters":{"SerialNumber":"42","Model":"X"}})")));
  CHECK(reg.ownership_token == "tok");
  CHECK(reg.parameters.size() == 2);
  CHECK(reg.parameters.at("SerialNumber") == "42");
  CHECK(reg.parameters.at("Model") == "X");

  CHECK_THAT(invalid_payload([] { decode_csr_request(Format::Cbor, hex("a0")); }),
             Catch::Contains("missing required field certificateSigningRequest"));
  CHECK_THAT(invalid_payload([] { decode_csr_request(Format::Cbor, ""); }),
             Catch::Contains("missing required field certificateSigningRequest"));
  CHECK_THAT(invalid_payload([] { decode_register_thing_request(Format::Cbor, hex("a1 6a") + "parameters" + hex("a0")); }),
             Catch::Contains("missing required field certificateOwnershipToken"));

  // every schema error reads exactly as it does for the same JSON
  for (const char* text : {R"({"certificateSigningRequest": 5})", R"({"certificateSigningRequest": null})", "[]", "\"x\"", "7",
                           R"({"certificateOwnershipToken":"t","parameters":{"a":1}})", R"({"certificateOwnershipToken":""})",
                           R"({"certificateOwnershipToken":"t","parameters":[]})"}) {
    INFO(text);
    auto cbor = to_cbor(json::parse(text));
    CHECK(invalid_payload([&] { decode_csr_request(Format::Cbor, cbor); }) ==
          invalid_payload([&] { decode_csr_request(Format::Json, text); }));
    CHECK(invalid_payload([&] { decode_register_thing_request(Format::Cbor, cbor); }) ==
          invalid_payload([&] { decode_register_thing_request(Format::Json, text); }));
  }
  CHECK(invalid_payload([] { decode_create_keys_request(Format::Cbor, hex("80")); }) ==
        invalid_payload([] { decode_create_keys_request(Format::Json, "[]"); }));

  // payloads that are not CBOR at all
  auto message = invalid_payload([] { decode_csr_request(Format::Cbor, R"({"certificateSigningRequest":"x"})"); });
  CHECK_THAT(message, Catch::StartsWith("request is not CBOR: "));
  CHECK_THAT(message, !Catch::Contains("CBOR: CBOR:"));
  CHECK_THAT(invalid_payload([] { decode_csr_request(Format::Cbor, hex("a1 61 61 41 00")); }),
             Catch::Equals("request is not CBOR: byte strings are not supported"));
  CHECK_THAT(invalid_payload([] { decode_create_keys_request(Format::Cbor, hex("a0 a0")); }),
             Catch::Equals("request is not CBOR: trailing bytes after the first item (at offset 1)"));
  CHECK_THAT(invalid_payload([] { decode_create_keys_request(Format::Cbor, std::string(1000, '\x81')); }),
             Catch::Equals("request is not CBOR: nesting deeper than 32"));
  // and JSON is still JSON
  CHECK_THAT(invalid_payload([] { decode_create_keys_request(Format::Json, hex("a0")); }), Catch::StartsWith("request is not JSON: "));
}

TEST_CASE("reply encoders speak CBOR, valid against their schemas", "[cbor][payloads]") {
  CertificateReply c{std::string(64, 'a'), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                     std::string("-----BEGIN " "PRIVATE KEY-----\n"), std::string(43, 't')};
  auto cbor = encode_certificate_reply(c, Format::Cbor);
  CHECK(static_cast<unsigned char>(cbor[0]) == 0xa4);  // a definite map of 4 entries
  auto doc = from_cbor(cbor);
  CHECK_FALSE(schema_violation(kCertificateReplySchema, doc));
  CHECK(json::string_member(doc, "certificateId") == c.certificate_id);
  CHECK(json::string_member(doc, "certificatePem") == c.certificate_pem);
  CHECK(json::string_member(doc, "privateKey") == c.private_key);
  CHECK(json::string_member(doc, "certificateOwnershipToken") == c.ownership_token);
  CHECK(decode_reply(Format::Cbor, cbor) == json::parse(encode_certificate_reply(c, Format::Json)));

  c.private_key.reset();  // CreateCertificateFromCsr
  cbor = encode_certificate_reply(c, Format::Cbor);
  CHECK(static_cast<unsigned char>(cbor[0]) == 0xa3);
  doc = decode_reply(Format::Cbor, cbor);
  CHECK_FALSE(schema_violation(kCertificateReplySchema, doc));
  CHECK_FALSE(json::member(doc, "privateKey"));

  auto config = json::parse(R"({"endpoint":"mqtts://127.0.0.1:8883","port":8883,"tls":true,"topics":["a","b"],"ratio":0.25})");
  auto reg_bytes = encode_register_thing_reply({"thing-1", &config}, Format::Cbor);
  auto reg = decode_reply(Format::Cbor, reg_bytes);
  CHECK_FALSE(schema_violation(kRegisterThingReplySchema, reg));
  CHECK(json::string_member(reg, "thingName") == "thing-1");
  CHECK(*json::member(reg, "deviceConfiguration") == config);
  CHECK(reg == json::parse(encode_register_thing_reply({"thing-1", &config}, Format::Json)));
  auto empty = decode_reply(Format::Cbor, encode_register_thing_reply({"thing-2", nullptr}, Format::Cbor));
  CHECK_FALSE(schema_violation(kRegisterThingReplySchema, empty));
  CHECK(json::member(empty, "deviceConfiguration")->ObjectEmpty());

  // the schemas really constrain what came back from CBOR
  CHECK(schema_violation(kCertificateReplySchema, from_cbor(to_cbor(json::parse(R"({"certificateId":"x"})")))));
}

TEST_CASE("rejections are CBOR for CBOR requests and JSON stays byte-for-byte the same", "[cbor][payloads]") {
  auto bytes = encode_rejection({400, "InvalidCsr", "bad"}, Format::Cbor);
  CHECK(to_hex(bytes) == to_hex(hex("a3 6a") + "statusCode" + hex("19 01 90 69") + "errorCode" + hex("6a") + "InvalidCsr" +
                                hex("6c") + "errorMessage" + hex("63") + "bad"));
  auto doc = decode_reply(Format::Cbor, bytes);
  CHECK_FALSE(schema_violation(kRejectedReplySchema, doc));
  CHECK(json::int_member(doc, "statusCode") == 400);
  CHECK(json::string_member(doc, "errorCode") == "InvalidCsr");
  CHECK(json::string_member(doc, "errorMessage") == "bad");

  // an empty message repeats the code, as for JSON
  auto defaulted = decode_reply(Format::Cbor, encode_rejection({503, "ServiceUnavailable", ""}, Format::Cbor));
  CHECK_FALSE(schema_violation(kRejectedReplySchema, defaulted));
  CHECK(json::string_member(defaulted, "errorMessage") == "ServiceUnavailable");

  CHECK(encode_rejection({400, "InvalidCsr", "bad"}, Format::Json) ==
        R"({"statusCode":400,"errorCode":"InvalidCsr","errorMessage":"bad"})");
  CHECK(encode_certificate_reply({"id", "pem", std::nullopt, "tok"}, Format::Json) ==
        R"({"certificateId":"id","certificatePem":"pem","certificateOwnershipToken":"tok"})");
}

TEST_CASE("decode_reply reports CBOR that does not parse", "[cbor][payloads]") {
  CHECK_THROWS_WITH(decode_reply(Format::Cbor, hex("a2 61 61 01")), Catch::StartsWith("reply: CBOR: malformed at offset 4"));
  CHECK_THROWS_WITH(decode_reply(Format::Cbor, ""), Catch::StartsWith("reply: CBOR: malformed at offset 0"));
  CHECK_THROWS_WITH(decode_reply(Format::Json, "{"), Catch::StartsWith("reply: invalid JSON"));
}

TEST_CASE("from_cbor survives mutated input: a document or an Error, nothing else", "[cbor]") {
  std::vector<std::string> seeds = {
      hex("a2 61 61 01 61 62 82 02 03"), hex("bf 61 61 01 61 62 9f 02 03 ff ff"), hex("7f 65 73 74 72 65 61 64 6d 69 6e 67 ff"),
      to_cbor(json::parse(R"({"certificateOwnershipToken":"tok","parameters":{"a":"b","c":[1.5,-2,null,true,{}]}})")),
      hex("fb 3f f1 99 99 99 99 99 9a"), hex("9f 81 9f bf ff ff ff")};
  std::mt19937 random(20240611);  // fixed: the run is reproducible
  std::size_t documents = 0, errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = seeds[random() % seeds.size()];
    for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
      std::size_t at = bytes.empty() ? 0 : random() % bytes.size();
      switch (random() % 4) {
        case 0: if (!bytes.empty()) bytes[at] = static_cast<char>(random()); break;
        case 1: bytes.insert(at, 1, static_cast<char>(random())); break;
        case 2: if (!bytes.empty()) bytes.erase(at, 1); break;
        default: bytes.resize(at); break;
      }
    }
    try {
      auto doc = from_cbor(bytes);
      ++documents;
      // whatever was accepted encodes again and reads back the same
      // (compared as text: rapidjson's == cannot compare objects with duplicate keys)
      if (doc.IsObject() || doc.IsArray()) CHECK(json::stringify(from_cbor(to_cbor(doc))) == json::stringify(doc));
    } catch (const Error&) {
      ++errors;
    }
  }
  CHECK(documents > 0);
  CHECK(errors > 0);
}

TEST_CASE("from_cbor refuses text strings in every malformed UTF-8 form, and NUL bytes after the item", "[cbor]") {
  expect_refused(hex("62 e2 82"), "CBOR: text string is not valid UTF-8 (at offset 0)");           // truncated
  expect_refused(hex("63 61 f0 9f"), "CBOR: text string is not valid UTF-8 (at offset 0)");        // truncated, 4 bytes
  expect_refused(hex("63 e0 80 af"), "CBOR: text string is not valid UTF-8 (at offset 0)");        // overlong
  expect_refused(hex("64 f0 80 80 af"), "CBOR: text string is not valid UTF-8 (at offset 0)");     // overlong, 4 bytes
  expect_refused(hex("63 ed bf bf"), "CBOR: text string is not valid UTF-8 (at offset 0)");        // low surrogate
  expect_refused(hex("66 ed a0 bd ed b8 80"), "CBOR: text string is not valid UTF-8 (at offset 0)");  // CESU-8
  expect_refused(hex("64 f4 90 80 80"), "CBOR: text string is not valid UTF-8 (at offset 0)");     // above U+10FFFF
  expect_refused(hex("61 80"), "CBOR: text string is not valid UTF-8 (at offset 0)");              // a lone continuation
  expect_refused(hex("82 61 61 62 ff fe"), "CBOR: text string is not valid UTF-8 (at offset 3)");
  // a NUL inside a text string is a character (U+0000); after the item it is a trailing byte
  CHECK(decoded(hex("63 61 00 62")) == R"("a\u0000b")");
  expect_refused(hex("a0 00"), "CBOR: trailing bytes after the first item (at offset 1)");
  expect_refused(hex("a1 61 61 01 00 00 00"), "CBOR: trailing bytes after the first item (at offset 4)");
}

TEST_CASE("to_cbor never writes a text string that is not UTF-8", "[cbor]") {
  rapidjson::Document value(rapidjson::kObjectType);
  value.AddMember("a", json::string_value("\xff\xfe", value.GetAllocator()), value.GetAllocator());
  CHECK_THROWS_WITH(to_cbor(value), Catch::Contains("CBOR: text string is not valid UTF-8"));
  rapidjson::Document key(rapidjson::kObjectType);
  key.AddMember(json::string_value("\xed\xa0\x80", key.GetAllocator()), rapidjson::Value(1), key.GetAllocator());
  CHECK_THROWS_WITH(to_cbor(key), Catch::Contains("CBOR: text string is not valid UTF-8"));
  rapidjson::Document list(rapidjson::kArrayType);
  list.PushBack(json::string_value("ok", list.GetAllocator()), list.GetAllocator());
  list.PushBack(json::string_value("\xc3", list.GetAllocator()), list.GetAllocator());
  CHECK_THROWS_WITH(to_cbor(list), Catch::Contains("CBOR: text string is not valid UTF-8"));
}

TEST_CASE("a CBOR document is always within the JSON nesting limit", "[cbor]") {
  // JSON documents may nest 64 deep (util/json.h); CBOR payloads 32, so whatever
  // from_cbor returns can be handled as any parsed JSON document.
  STATIC_REQUIRE(kCborMaxDepth <= 64);
  auto deepest = from_cbor(std::string(kCborMaxDepth, '\x81') + hex("01"));
  CHECK(json::parse(json::stringify(deepest)) == deepest);
  CHECK(from_cbor(to_cbor(deepest)) == deepest);
  expect_refused(std::string(300000, '\x81') + hex("01"), "CBOR: nesting deeper than 32");
  std::string maps;
  for (int i = 0; i < 300000; ++i) maps += hex("a1 61 61");
  expect_refused(maps + hex("01"), "CBOR: nesting deeper than 32");
}
