#include <catch2/catch.hpp>

#include <algorithm>

#include "firmware/catalog.h"
#include "firmware/semver.h"
#include "util/random.h"

using namespace provision;
using namespace provision::firmware;

namespace {
SemVer v(const char* text) {
  auto parsed = parse_semver(text);
  REQUIRE(parsed);
  return *parsed;
}
registry::FirmwareReleaseRecord release(const std::string& version, int64_t id = 1) {
  registry::FirmwareReleaseRecord r;
  r.id = id;
  r.product_id = 1;
  r.version = version;
  r.download_url = "https://fw.example.com/" + version + ".bin";
  r.file_size = 100;
  r.sha256 = std::string(64, '0');
  return r;
}
FirmwareQuery query(const char* current, const std::string& device = "dev-1") {
  FirmwareQuery q;
  q.product_id = 1;
  q.hardware_version = "ESP32-S3";
  q.current = v(current);
  q.device_id = device;
  return q;
}
}  // namespace

TEST_CASE("semantic versions parse strictly") {
  CHECK(v("1.2.3").to_string() == "1.2.3");
  CHECK(v("v1.2.3").to_string() == "1.2.3");
  CHECK(v("1.0.0-rc.1+build.5").to_string() == "1.0.0-rc.1+build.5");
  CHECK(v("1.0.0-alpha").prerelease == std::vector<std::string>{"alpha"});
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.x", "1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+",
                          "1.2.3-a_b", " 1.2.3", "1.2.3 ", "-1.2.3", "99999999999999999999.0.0"}) {
    INFO(bad);
    CHECK_FALSE(parse_semver(bad));
  }
  CHECK_FALSE(parse_semver(std::string(65, '1')));
}

TEST_CASE("semantic versions compare numerically, pre-releases below releases, build metadata ignored") {
  CHECK(v("1.9.0") < v("1.10.0"));
  CHECK(v("1.10.0") < v("2.0.0"));
  CHECK(v("1.0.9") < v("1.0.10"));
  CHECK(v("1.0.0-rc.1") < v("1.0.0"));
  CHECK(compare(v("1.0.0+a"), v("1.0.0+b")) == 0);
  // semver.org's own example order
  const char* order[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                         "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"};
  for (size_t i = 0; i + 1 < std::size(order); ++i) {
    INFO(order[i] << " < " << order[i + 1]);
    CHECK(v(order[i]) < v(order[i + 1]));
    CHECK_FALSE(v(order[i + 1]) < v(order[i]));
  }
}

TEST_CASE("the highest applicable release is chosen") {
  std::vector<registry::FirmwareReleaseRecord> releases{release("1.9.0", 1), release("1.10.0", 2), release("1.2.0", 3),
                                                        release("2.0.0-rc.1", 4)};
  releases[3].channel = "beta";
  auto chosen = select_release(releases, query("1.0.0"));
  REQUIRE(chosen);
  CHECK(chosen->version == "1.10.0");  // not 1.9.0 (text order), not the 2.0.0 pre-release on another channel
  releases[3].channel = "stable";
  CHECK(select_release(releases, query("1.0.0"))->version == "2.0.0-rc.1");  // a pre-release above 1.10.0
  CHECK_FALSE(select_release(releases, query("2.0.0")));                       // up to date
  CHECK_FALSE(select_release(releases, query("2.0.0-rc.1")));                  // the same version is no update

  SECTION("disabled releases are never chosen") {
    releases[1].enabled = false;
    releases[3].enabled = false;
    CHECK(select_release(releases, query("1.0.0"))->version == "1.9.0");
  }
  SECTION("product and channel must match") {
    for (auto& r : releases) r.product_id = 2;
    CHECK_FALSE(select_release(releases, query("1.0.0")));
    auto q = query("1.0.0");
    q.product_id = 2;
    q.channel = "beta";
    CHECK_FALSE(select_release(releases, q));
    releases[0].channel = "beta";
    CHECK(select_release(releases, q)->version == "1.9.0");
  }
  SECTION("hardware versions: listed (any case), or none listed for every board") {
    releases[1].hardware_versions = {"ESP32-C3"};
    releases[3].hardware_versions = {"ESP32-C3"};
    CHECK(select_release(releases, query("1.0.0"))->version == "1.9.0");
    releases[1].hardware_versions = {"ESP32-C3", "esp32-s3"};
    CHECK(select_release(releases, query("1.0.0"))->version == "1.10.0");
  }
  SECTION("a minimum current version") {
    releases[1].min_current_version = "1.5.0";
    releases[3].min_current_version = "1.5.0";
    CHECK(select_release(releases, query("1.0.0"))->version == "1.9.0");
    CHECK(select_release(releases, query("1.5.0"))->version == "2.0.0-rc.1");
  }
  SECTION("a release whose version does not parse is never chosen") {
    releases[3].version = "latest";
    CHECK(select_release(releases, query("1.0.0"))->version == "1.10.0");
  }
}

TEST_CASE("a staged rollout includes the same devices every time, about its percentage of them, growing with it") {
  auto r = release("2.0.0");
  std::vector<std::string> devices;
  for (int i = 0; i < 2000; ++i) devices.push_back("device-" + std::to_string(i));
  auto included = [&](int percent) {
    r.rollout_percent = percent;
    std::vector<std::string> in;
    for (const auto& d : devices)
      if (applies(r, query("1.0.0", d))) in.push_back(d);
    return in;
  };
  CHECK(included(0).empty());
  CHECK(included(100).size() == devices.size());
  const auto ten = included(10);
  CHECK(ten.size() > 140);
  CHECK(ten.size() < 260);
  CHECK(included(10) == ten);  // the same devices every time
  const auto fifty = included(50);
  CHECK(fifty.size() > 900);
  CHECK(fifty.size() < 1100);
  for (const auto& d : ten) CHECK(std::find(fifty.begin(), fifty.end(), d) != fifty.end());  // raising it keeps them
  // the next release in the rollout falls back to the highest one the device is in
  std::vector<registry::FirmwareReleaseRecord> releases{release("1.5.0", 1), release("2.0.0", 2)};
  releases[1].rollout_percent = 0;
  CHECK(select_release(releases, query("1.0.0"))->version == "1.5.0");
}

TEST_CASE("random UUIDs are version 4") {
  const std::string a = random_uuid(), b = random_uuid();
  CHECK(a != b);
  REQUIRE(a.size() == 36);
  CHECK(a[8] == '-');
  CHECK(a[14] == '4');
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);
}
