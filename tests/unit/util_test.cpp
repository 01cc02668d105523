#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"
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
