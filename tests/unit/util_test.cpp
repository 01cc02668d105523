#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <filesystem>

#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

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
