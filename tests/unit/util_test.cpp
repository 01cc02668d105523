#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "util/encoding.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"
#include "util/rate_limits.h"
#include "util/text.h"

using namespace provision;

TEST_CASE("sha256_hex matches the known digest of 'abc'") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("base64url encodes without padding") {
  CHECK(base64url("") == "");
  CHECK(base64url("f") == "Zg");
  CHECK(base64url("fo") == "Zm8");
  CHECK(base64url("foo") == "Zm9v");
  CHECK(base64url("\xfb\xff") == "-_8");
}

TEST_CASE("random tokens are distinct and of the expected length") {
  auto a = random_token(32), b = random_token(32);
  CHECK(a.size() == 43);
  CHECK(a != b);
}

TEST_CASE("write_file sets the exact mode and replaces atomically") {
  auto dir = std::filesystem::temp_directory_path() / ("util-test-" + random_token(6));
  std::filesystem::create_directories(dir);
  auto file = dir / "secret.key";
  write_file(file, "one", 0600);
  write_file(file, "two", 0600);
  struct stat st{};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_file(file) == "two");
  CHECK_FALSE(std::filesystem::exists(dir / "secret.key.tmp"));
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH(read_file(file), Catch::Contains("secret.key"));
}

TEST_CASE("json::parse reports the offset of the error") {
  CHECK_THROWS_WITH(json::parse("{\"a\": }", "request"), Catch::Contains("request: invalid JSON at offset 6"));
  auto doc = json::parse(R"({"a":"x","n":3,"b":true})");
  CHECK(json::string_member(doc, "a") == "x");
  CHECK(json::int_member(doc, "n") == 3);
  CHECK(json::bool_member(doc, "b") == true);
  CHECK_FALSE(json::string_member(doc, "n"));
}

// ---------------------------------------------------------------- text from outside

TEST_CASE("text::utf8_error finds the first byte that is not well-formed UTF-8") {
  using namespace std::string_literals;
  CHECK_FALSE(text::utf8_error(""));
  CHECK_FALSE(text::utf8_error("plain ASCII, \0 and all"s));
  CHECK_FALSE(text::utf8_error("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"));
  const std::vector<std::pair<std::string, size_t>> cases = {
      {"\x80", 0},                       // a continuation byte on its own
      {"ab\xbf", 2},
      {"\xc0\x80", 0},                   // overlong NUL
      {"\xc1\xbf", 0},                   // overlong
      {"\xe0\x9f\xbf", 0},               // overlong, three bytes
      {"\xf0\x8f\xbf\xbf", 0},           // overlong, four bytes
      {"x\xed\xa0\x80", 1},              // U+D800
      {"x\xed\xbf\xbf", 1},              // U+DFFF
      {"\xed\xa0\xbd\xed\xb8\x80", 0},   // CESU-8
      {"\xf4\x90\x80\x80", 0},           // above U+10FFFF
      {"\xf5\x80\x80\x80", 0},
      {"\xf8\x88\x80\x80\x80", 0},       // five-byte forms are gone
      {"\xfe", 0},
      {"\xff", 0},
      {"ok\xe2\x82", 2},                 // cut short at the end
      {"ok\xe2\x82z", 2},                // cut short in the middle
      {"\xf0\x9f\x98", 0},
      {"\xc3", 0},
      {"\xc3\xa9\xc3", 2},
  };
  for (const auto& [bytes, offset] : cases) {
    INFO(to_hex(bytes));
    CHECK(text::utf8_error(bytes) == offset);
    CHECK_FALSE(text::is_utf8(bytes));
  }
}

TEST_CASE("text::quote escapes control bytes and what is not UTF-8, and bounds the length") {
  using namespace std::string_literals;
  CHECK(text::quote("SerialNumber") == R"("SerialNumber")");
  CHECK(text::quote("") == R"("")");
  CHECK(text::quote("a\nb\r\tc\b\f") == R"("a\nb\r\tc\b\f")");
  CHECK(text::quote("say \"hi\" \\o/") == R"("say \"hi\" \\o/")");
  CHECK(text::quote("\0\x01\x1b[31m\x7f"s) == R"("\u0000\u0001\u001b[31m\u007f")");
  CHECK(text::quote("\xc2\x85 \xe2\x80\xa8 \xe2\x80\xae \xe2\x81\xa6 \xef\xbb\xbf \xe2\x80\x8b") ==
        R"("\u0085 \u2028 \u202e \u2066 \ufeff \u200b")");
  // what is not UTF-8 is shown byte by byte
  CHECK(text::quote("\xff\xfe") == R"("\xff\xfe")");
  CHECK(text::quote("\xc0\x80") == R"("\xc0\x80")");
  CHECK(text::quote("\xed\xa0\x80") == R"("\xed\xa0\x80")");
  CHECK(text::quote("ok\xe2\x82") == R"("ok\xe2\x82")");
  // printable text of any script stays as it is
  CHECK(text::quote("caf\xc3\xa9 \xe6\xb0\xb4 \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe6\xb0\xb4 \xf0\x9f\x98\x80\"");
  // at most 64 bytes of the input by default, never half a character
  CHECK(text::quote(std::string(64, 'a')) == "\"" + std::string(64, 'a') + "\"");
  CHECK(text::quote(std::string(1000, 'a')) == "\"" + std::string(64, 'a') + "...\"");
  CHECK(text::quote(std::string(63, 'a') + "\xc3\xa9") == "\"" + std::string(63, 'a') + "...\"");
  CHECK(text::quote(std::string(62, 'a') + "\xc3\xa9") == "\"" + std::string(62, 'a') + "\xc3\xa9\"");
  CHECK(text::quote("abcdef", 3) == R"("abc...")");
  CHECK(text::escape(std::string(100000, '\xff')).size() < 300);
  // the result is always UTF-8 without a control character, whatever went in
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  for (const std::string& input : {every_byte, every_byte + every_byte, "\xe2\x82"s + every_byte}) {
    auto quoted = text::quote(input, input.size());
    CHECK(text::is_utf8(quoted));
    CHECK(std::none_of(quoted.begin(), quoted.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }));
  }
  CHECK(text::escape("\xff\xfe") == R"(\xff\xfe)");
}

// ---------------------------------------------------------------- JSON input (docs/protocol.md, "Payloads")

namespace {

std::string parse_error(std::string_view text) {
  try {
    json::parse(text, "input");
  } catch (const Error& e) {
    return e.what();
  }
  return "(accepted)";
}

// `depth` arrays, or objects {"a":...}, one inside the other around `inner`.
std::string nested_arrays(size_t depth, const std::string& inner = "") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}
std::string nested_objects(size_t depth) {
  std::string text;
  for (size_t i = 0; i < depth; ++i) text += "{\"a\":";
  text += "1";
  return text + std::string(depth, '}');
}

}  // namespace

TEST_CASE("json::parse refuses text that is not UTF-8 and names the offset of the first bad byte") {
  using namespace std::string_literals;
  const std::vector<std::pair<std::string, size_t>> cases = {
      {"{\"a\":\"\xc0\xaf\"}", 6},                  // overlong '/'
      {"{\"a\":\"\xc1\xbf\"}", 6},                  // overlong, two bytes
      {"{\"a\":\"\xe0\x80\xaf\"}", 6},              // overlong, three bytes
      {"{\"a\":\"\xf0\x80\x80\xaf\"}", 6},          // overlong, four bytes
      {"{\"a\":\"\xed\xa0\x80\"}", 6},              // a high surrogate, U+D800
      {"{\"a\":\"\xed\xbf\xbf\"}", 6},              // a low surrogate, U+DFFF
      {"{\"a\":\"\xed\xa0\xbd\xed\xb8\x80\"}", 6},  // a surrogate pair written as UTF-8 (CESU-8)
      {"{\"a\":\"x\xe2\x82\"}", 7},                 // truncated: two of three bytes
      {"{\"a\":\"x\xf0\x9f\x98\"}", 7},             // truncated: three of four bytes
      {"{\"a\":\"x\xc3", 7},                        // truncated at the end of the input
      {"{\"a\":\"\x80\"}", 6},                      // a continuation byte on its own
      {"{\"a\":\"\xf4\x90\x80\x80\"}", 6},          // above U+10FFFF
      {"{\"a\":\"\xf5\x80\x80\x80\"}", 6},
      {"{\"a\":\"\xfe\xff\"}", 6},
      {"{\"\xff\xfe\":\"x\"}", 2},                  // in a member name
      {"\xff\xfe{}", 0},                            // a UTF-16 byte order mark
      {"{\"a\":1}\xff", 7},                         // after the document
  };
  for (const auto& [text, offset] : cases) {
    INFO(text);
    CHECK(parse_error(text) == "input: invalid UTF-8 at offset " + std::to_string(offset));
  }
  // well-formed UTF-8 of every length is text like any other
  auto doc = json::parse("{\"k\xc3\xa9y\":\"\xe6\xb0\xb4\xf0\x9f\x98\x80\xef\xbf\xbd\xf4\x8f\xbf\xbf\"}");
  CHECK(json::string_member(doc, "k\xc3\xa9y") == "\xe6\xb0\xb4\xf0\x9f\x98\x80\xef\xbf\xbd\xf4\x8f\xbf\xbf");
  // nor are surrogates written as escapes, unless they make a pair
  CHECK_THAT(parse_error(R"({"a":"\ud800"})"), Catch::StartsWith("input: invalid JSON at offset"));
  CHECK_THAT(parse_error(R"({"a":"\udc00"})"), Catch::StartsWith("input: invalid JSON at offset"));
  CHECK_THAT(parse_error(R"({"\udfff":1})"), Catch::StartsWith("input: invalid JSON at offset"));
  CHECK(json::view(json::parse(R"("\ud83d\ude00")")) == "\xf0\x9f\x98\x80");
}

TEST_CASE("json::parse reads exactly the bytes it is given: a NUL byte or anything after the document is an error") {
  using namespace std::string_literals;
  CHECK(parse_error("{}\0 this is not JSON {{{"s) == "input: trailing bytes at offset 2");
  CHECK(parse_error("{\"a\":1}\0{\"b\":2}"s) == "input: trailing bytes at offset 7");
  CHECK(parse_error("{}\0"s) == "input: trailing bytes at offset 2");
  CHECK(parse_error("{} x") == "input: trailing bytes at offset 3");
  CHECK(parse_error("{}{}") == "input: trailing bytes at offset 2");
  CHECK(parse_error("1 2") == "input: trailing bytes at offset 2");
  CHECK(parse_error("[1]]") == "input: trailing bytes at offset 3");
  // inside a document
  CHECK(parse_error("\0"s) == "input: NUL byte at offset 0");
  CHECK(parse_error("\0{}"s) == "input: NUL byte at offset 0");
  CHECK(parse_error("{\"a\":\"x\0y\"}"s) == "input: NUL byte at offset 7");
  CHECK(parse_error("[1,\0 2]"s) == "input: NUL byte at offset 3");
  CHECK(parse_error("{\"a\":1\0}"s) == "input: NUL byte at offset 6");
  // and nothing at all is still no document
  CHECK_THAT(parse_error(""), Catch::StartsWith("input: invalid JSON at offset 0"));
  CHECK_THAT(parse_error("  "), Catch::StartsWith("input: invalid JSON at offset 2"));
  // whitespace around the document is fine, and a NUL written as an escape is a character
  CHECK(json::parse(" \t\r\n{} \t\r\n").IsObject());
  CHECK(json::view(json::parse(R"("a\u0000b")")) == "a\0b"s);
  // a view is read to its end and no further
  const std::string buffer = "{\"a\":1}garbage";
  CHECK(json::parse(std::string_view(buffer).substr(0, 7)).IsObject());
  // try_parse says the same
  std::string error;
  CHECK_FALSE(json::try_parse("{}\0junk"s, &error));
  CHECK(error == "trailing bytes at offset 2");
}

TEST_CASE("json::parse accepts 64 levels of nesting and refuses 65, without recursing") {
  CHECK(json::parse(nested_arrays(64)).IsArray());
  CHECK(json::parse(nested_objects(64)).IsObject());
  CHECK(json::parse("{\"a\":" + nested_arrays(62, "{}") + "}").IsObject());  // 1 + 62 + 1
  CHECK(parse_error(nested_arrays(65)) == "input: nesting deeper than 64 at offset 64");
  CHECK(parse_error(nested_objects(65)) == "input: nesting deeper than 64 at offset " + std::to_string(64 * 5));
  CHECK(parse_error("[" + nested_objects(64) + "]") == "input: nesting deeper than 64 at offset " + std::to_string(1 + 63 * 5));
  // siblings do not add up
  std::string wide = "[" + nested_arrays(63);
  for (int i = 0; i < 100; ++i) wide += "," + nested_arrays(63);
  CHECK(json::parse(wide + "]").Size() == 101);

  // what is accepted can be walked recursively: written out, copied, compared
  auto deep = json::parse(nested_objects(64));
  CHECK(json::stringify(deep) == nested_objects(64));
  rapidjson::Document copy;
  copy.CopyFrom(deep, copy.GetAllocator());
  CHECK(copy == deep);
}

TEST_CASE("json::parse refuses 300,000 nested arrays without running out of stack") {
  // 600 KB: under the admin API's body limit; this used to crash provisiond.
  CHECK(parse_error(nested_arrays(300000)) == "input: nesting deeper than 64 at offset 64");
  CHECK(parse_error(std::string(1 << 20, '[')) == "input: nesting deeper than 64 at offset 64");
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  CHECK(parse_error(objects) == "input: nesting deeper than 64 at offset " + std::to_string(64 * 5));
}

TEST_CASE("json::stringify never writes a string that is not UTF-8") {
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("name", json::string_value("\xff\xfe", doc.GetAllocator()), doc.GetAllocator());
  CHECK_THROWS_AS(json::stringify(doc), Error);
  CHECK_THROWS_AS(json::pretty(doc), Error);
  rapidjson::Document key(rapidjson::kObjectType);
  key.AddMember(json::string_value("\xed\xa0\x80", key.GetAllocator()), rapidjson::Value(1), key.GetAllocator());
  CHECK_THROWS_AS(json::stringify(key), Error);
  // valid text, control characters and NUL included, is written escaped
  rapidjson::Document fine(rapidjson::kObjectType);
  fine.AddMember("s", json::string_value(std::string("\xc3\xa9\n\0", 4), fine.GetAllocator()), fine.GetAllocator());
  CHECK(json::stringify(fine) == "{\"s\":\"\xc3\xa9\\n\\u0000\"}");
}

TEST_CASE("json::parse reads numbers exactly and refuses one beyond a double's range (found by fuzz/json_fuzzer)") {
  // Written back out, a document reads in as the same document.
  auto doc = json::parse("[1.0000000000000002, 10e32, 0.1]");
  CHECK(json::parse(json::stringify(doc)) == doc);
  CHECK(doc[0].GetDouble() != 1.0);
  std::string error;
  CHECK_FALSE(json::try_parse("3e308", &error));
  CHECK(error == "invalid JSON at offset 0: Number too big to be stored in double.");
  CHECK_FALSE(json::try_parse("{\"a\": [-1e999]}", &error));
  CHECK(error.find("Number too big") != std::string::npos);
  CHECK(json::try_parse("1.7976931348623157e308", nullptr));
}

TEST_CASE("rate limits: wait_ms says how long until the next token, and max_keys bounds memory and fails closed") {
  RateLimiter limiter(*parse_rate("1/2"), 3);  // one a second, bursts of two, three keys at most
  CHECK(limiter.wait_ms("a", 0) == 0);
  CHECK(limiter.take("a", 0));
  CHECK(limiter.take("a", 0));
  CHECK_FALSE(limiter.take("a", 0));
  CHECK(limiter.wait_ms("a", 0) == 1000);
  CHECK(limiter.wait_ms("a", 600) == 400);
  CHECK(limiter.take("b", 0));
  CHECK(limiter.take("c", 0));
  // a fourth key while three are busy: refused, nothing stored
  CHECK_FALSE(limiter.take("d", 0));
  CHECK(limiter.size() == 3);
  CHECK(limiter.wait_ms("d", 0) > 0);
  // once the others refilled they are forgotten and the new key gets its bucket
  CHECK(limiter.take("d", 5000));
  CHECK(limiter.size() == 1);
  CHECK_FALSE(parse_rate("fast"));
  CHECK_FALSE(parse_rate("5/0"));
  CHECK(parse_rate("0")->unlimited());
}
