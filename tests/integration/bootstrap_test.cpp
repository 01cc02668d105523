// The device bootstrap listener over real HTTP, against a real broker with
// the plugin and a real registry: a MAC device bootstraps through its
// factory enrollment, connects with its password and publishes.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <future>
#include <thread>

#include "pki/csr.h"
#include "pki/key.h"
#include "stack.h"
#include "temp_dir.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

const char* kTemplate = R"({
  "Parameters": {"MacAddress": {"Type": "String"}, "HardwareVersion": {"Type": "String", "Default": "unknown"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
      "ThingName": {"Fn::Join": ["", ["esp-", {"Fn::Join": ["", {"Fn::Split": [":", {"Ref": "MacAddress"}]}]}]]},
      "AttributePayload": {"product_id": "7"}}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument":
      "{\"statements\":[{\"effect\":\"allow\",\"actions\":[\"connect\"],\"clientIds\":[\"${clientId}\"]},{\"effect\":\"allow\",\"actions\":[\"publish\",\"subscribe\",\"receive\"],\"topics\":[\"devices/${thingName}/#\"]}]}"}}
  },
  "DeviceConfiguration": {
    "dataTopic": {"Fn::Join": ["", ["devices/esp-", {"Fn::Join": ["", {"Fn::Split": [":", {"Ref": "MacAddress"}]}]}, "/data"]]},
    "controlTopic": {"Fn::Join": ["", ["devices/esp-", {"Fn::Join": ["", {"Fn::Split": [":", {"Ref": "MacAddress"}]}]}, "/control"]]},
    "statusTopic": {"Fn::Join": ["", ["devices/esp-", {"Fn::Join": ["", {"Fn::Split": [":", {"Ref": "MacAddress"}]}]}, "/status"]]},
    "apiServer": "https://api.example.com",
    "telemetryEndpoint": "/v1/telemetry"
  }
})";

struct Http {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  rapidjson::Document json;
  std::string str(const char* pointer) const {
    const auto* v = rapidjson::Pointer(pointer).Get(json);
    return v && v->IsString() ? std::string(v->GetString()) : std::string();
  }
  bool has(const char* pointer) const { return rapidjson::Pointer(pointer).Get(json) != nullptr; }
};

Http post(int port, const std::string& path, const std::string& body, const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  auto res = client.Post(path.c_str(), headers, body, "application/json");
  Http out;
  if (!res) return out;
  out.status = res->status;
  out.body = res->body;
  out.headers = res->headers;
  out.json.Parse(res->body.c_str());
  return out;
}

Http get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get(path.c_str());
  Http out;
  if (!res) return out;
  out.status = res->status;
  out.body = res->body;
  out.json.Parse(res->body.c_str());
  return out;
}

StackOptions bootstrap_stack(const std::string& settings = R"("responseFloorMs":0,"requestsPerIpPerMinute":0,"requestsPerMacPerMinute":0)") {
  StackOptions o;
  o.password_listener = true;
  o.bootstrap_listener = true;
  o.bootstrap_settings = settings;
  return o;
}

void enroll(Stack& stack, const std::string& mac, bool enabled = true, std::optional<std::string> bootstrap_key = std::nullopt) {
  auto reg = stack.registry();
  if (!reg.find_template("EspBootstrap")) reg.add_template_version("EspBootstrap", kTemplate);
  registry::EnrollmentRecord e;
  e.registration_id = mac;
  e.template_name = "EspBootstrap";
  e.status = enabled ? "ENABLED" : "DISABLED";
  e.bootstrap_key = std::move(bootstrap_key);
  reg.upsert_enrollment(e);
}

// The headers of a request signed with `key` at `timestamp` (docs/bootstrap.md, "Signed requests").
httplib::Headers signed_headers(const std::string& key, int64_t timestamp, const std::string& body) {
  const std::string t = std::to_string(timestamp);
  return {{"X-Provision-Timestamp", t}, {"X-Provision-Signature", "sha256=" + to_hex(hmac_sha256(key, t + "." + body))}};
}

std::string info_body(const std::string& mac) {
  return R"({"mac_address":")" + mac + R"(","firmware_version":"1.0.0","hardware_version":"ESP32-S3"})";
}

}  // namespace

TEST_CASE("bootstrap: a MAC device gets its configuration, connects with its password, publishes, and is cut off when revoked") {
  Stack stack(bootstrap_stack());
  REQUIRE(stack.bootstrap_port > 0);
  auto health = get(stack.bootstrap_port, "/health");
  CHECK(health.status == 200);
  CHECK(health.str("/status") == "healthy");
  CHECK(health.has("/timestamp"));
  CHECK(health.has("/version"));

  enroll(stack, "AA:BB:CC:DD:EE:01");
  enroll(stack, "AA:BB:CC:DD:EE:02", false);  // not activated by its buyer yet
  {
    registry::FirmwareReleaseRecord r;
    r.product_id = 7;
    r.version = "1.2.0";
    r.hardware_versions = {"ESP32-S3"};
    r.download_url = "https://fw.example.com/1.2.0.bin";
    r.file_size = 123456;
    r.sha256 = std::string(64, 'e');
    r.changelog = "better";
    stack.registry().insert_firmware_release(r);
  }
  // any common notation
  auto info = post(stack.bootstrap_port, "/device/info", info_body("aa-bb-cc-dd-ee-01"));
  INFO(info.body);
  REQUIRE(info.status == 200);
  CHECK(info.str("/device_id") == "esp-AABBCCDDEE01");
  CHECK(info.str("/mac_address") == "AA:BB:CC:DD:EE:01");
  const std::string uuid = info.str("/device_uuid");
  const std::string secret = info.str("/device_secret");
  CHECK(uuid.size() == 36);
  CHECK(secret.size() >= 22);  // at least 128 bits
  CHECK(info.str("/mqtt_config/password") == secret);
  CHECK(info.str("/mqtt_config/username") == "esp-AABBCCDDEE01");
  CHECK(info.str("/mqtt_config/client_id") == uuid);
  CHECK(info.str("/mqtt_config/broker") == "127.0.0.1");
  CHECK(info.json["mqtt_config"]["port"].GetInt() == stack.password_port);
  CHECK(info.json["mqtt_config"]["use_ssl"].GetBool());
  CHECK(info.str("/mqtt_config/topics/data") == "devices/esp-AABBCCDDEE01/data");
  CHECK(info.str("/mqtt_config/topics/control") == "devices/esp-AABBCCDDEE01/control");
  CHECK(info.str("/mqtt_config/topics/status") == "devices/esp-AABBCCDDEE01/status");
  CHECK(info.str("/api_config/server") == "https://api.example.com");
  CHECK(info.str("/api_config/endpoints/telemetry") == "/v1/telemetry");
  CHECK(info.json["firmware_update"]["available"].GetBool());
  CHECK(info.str("/firmware_update/version") == "1.2.0");
  CHECK(info.str("/firmware_update/checksum") == "sha256:" + std::string(64, 'e'));
  CHECK(info.has("/timestamp"));
  CHECK(info.has("/message"));
  {
    auto reg = stack.registry();
    auto credential = reg.find_device_credential("esp-AABBCCDDEE01");
    REQUIRE(credential);
    CHECK(credential->secret_hash != secret);  // only its hash
    CHECK(reg.find_enrollment("AA:BB:CC:DD:EE:01")->thing_name == std::string("esp-AABBCCDDEE01"));
    auto audit = reg.audit_entries({});
    CHECK(std::any_of(audit.begin(), audit.end(), [](const auto& e) { return e.action == "BootstrapDevice" && e.subject == "esp-AABBCCDDEE01"; }));
  }

  // the device connects with what it got, publishes on its data topic, not on another's
  mqtt_session::Session device(stack.password_client(info.str("/mqtt_config/username"), secret, uuid));
  device.connect();
  CHECK(device.publish(info.str("/mqtt_config/topics/data"), R"({"t":21.5})") == 0);
  CHECK(device.publish("devices/esp-AABBCCDDEE99/data", "{}") != 0);
  for (int i = 0; i < 50 && !stack.registry().find_device_credential("esp-AABBCCDDEE01")->first_connected_at; ++i)
    std::this_thread::sleep_for(100ms);
  REQUIRE(stack.registry().find_device_credential("esp-AABBCCDDEE01")->first_connected_at);

  // a second call: the same configuration, without the secret
  auto again = post(stack.bootstrap_port, "/device/info", info_body("AABBCCDDEE01"));
  INFO(again.body);
  REQUIRE(again.status == 200);
  CHECK(again.str("/device_uuid") == uuid);
  CHECK_FALSE(again.has("/device_secret"));
  CHECK_FALSE(again.has("/mqtt_config/password"));
  CHECK(again.json["credentials_issued"].GetBool());
  CHECK(again.str("/mqtt_config/topics/data") == "devices/esp-AABBCCDDEE01/data");

  // firmware check through the same door
  auto fw = post(stack.bootstrap_port, "/firmware/check", R"({"mac_address":"AABB.CCDD.EE01","current_version":"1.0.0","product_id":7})");
  INFO(fw.body);
  REQUIRE(fw.status == 200);
  CHECK(fw.json["update_available"].GetBool());
  CHECK(fw.str("/latest_version") == "1.2.0");
  CHECK(fw.str("/current_version") == "1.0.0");
  auto none = post(stack.bootstrap_port, "/firmware/check", R"({"mac_address":"AABB.CCDD.EE01","current_version":"1.2.0","product_id":7})");
  CHECK_FALSE(none.json["update_available"].GetBool());

  // revocation (the thing deprovisioned) cuts it off within a second
  stack.registry().delete_thing("esp-AABBCCDDEE01");
  auto started = std::chrono::steady_clock::now();
  CHECK(device.wait_disconnected(2s));
  CHECK(std::chrono::steady_clock::now() - started < 1500ms);

  // the access log has every request, the device its last access
  auto log = stack.registry().bootstrap_access({});
  CHECK(log.size() >= 4);
  CHECK(std::any_of(log.begin(), log.end(), [](const auto& r) { return r.endpoint == "/device/info" && r.status == 200 && r.mac == "AA:BB:CC:DD:EE:01"; }));
}

TEST_CASE("bootstrap: unknown, disabled and not activated MACs are answered identically, malformed input names the field") {
  Stack stack(bootstrap_stack());
  enroll(stack, "AA:BB:CC:DD:EE:10", false);
  enroll(stack, "AA:BB:CC:DD:EE:11");
  {
    auto reg = stack.registry();
    auto e = *reg.find_enrollment("AA:BB:CC:DD:EE:11");
    e.status = "DISABLED";  // activated, then disabled
    e.activated_at = 5;
    reg.update_enrollment(e);
  }
  auto unknown = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:FF"));
  auto inactive = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:10"));
  auto disabled = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:11"));
  CHECK(unknown.status == 404);
  CHECK(unknown.body == inactive.body);
  CHECK(unknown.body == disabled.body);
  CHECK(inactive.status == 404);
  CHECK(disabled.status == 404);
  CHECK(unknown.headers == inactive.headers);
  CHECK(unknown.headers == disabled.headers);
  auto fw_unknown = post(stack.bootstrap_port, "/firmware/check", R"({"mac_address":"AA:BB:CC:DD:EE:FF","current_version":"1.0.0","product_id":1})");
  auto fw_inactive = post(stack.bootstrap_port, "/firmware/check", R"({"mac_address":"AA:BB:CC:DD:EE:10","current_version":"1.0.0","product_id":1})");
  CHECK(fw_unknown.status == 404);
  CHECK(fw_unknown.body == fw_inactive.body);

  struct Bad {
    std::string path, body, field;
  };
  for (const auto& bad : std::vector<Bad>{{"/device/info", R"({"mac_address":"AA:BB:CC:DD:EE"})", "mac_address"},
                                          {"/device/info", R"({"mac_address":"AA:BB:CC-DD:EE:FF"})", "mac_address"},
                                          {"/device/info", R"({"mac_address":"GG:BB:CC:DD:EE:FF"})", "mac_address"},
                                          {"/device/info", R"({"mac_address":12})", "mac_address"},
                                          {"/device/info", R"({})", "mac_address"},
                                          {"/device/info", R"({"mac_address":"AA:BB:CC:DD:EE:FF","firmware_version":7})", "firmware_version"},
                                          {"/firmware/check", R"({"mac_address":"AA:BB:CC:DD:EE:FF","product_id":-1})", "product_id"}}) {
    auto reply = post(stack.bootstrap_port, bad.path, bad.body);
    INFO(bad.body + " -> " + reply.body);
    CHECK(reply.status == 400);
    CHECK(reply.str("/error/field") == bad.field);
  }
  auto not_json = post(stack.bootstrap_port, "/device/info", "{nope");
  CHECK(not_json.status == 400);
  CHECK(not_json.has("/error/code"));
  auto huge = post(stack.bootstrap_port, "/device/info", R"({"mac_address":")" + std::string(100000, 'A') + R"("})");
  CHECK(huge.status == 413);
  auto nowhere = post(stack.bootstrap_port, "/v1/templates", "{}");
  CHECK(nowhere.status == 404);
  CHECK(stack.registry().count_things() == 0);
}

TEST_CASE("bootstrap: per-IP and per-MAC limits answer 429 with Retry-After, forwarded addresses only from trusted proxies") {
  Stack stack(bootstrap_stack(R"("responseFloorMs":0,"requestsPerIpPerMinute":5,"requestsPerMacPerMinute":3,"trustedProxies":["127.0.0.1"])"));
  auto from = [&](const std::string& ip, const std::string& mac) {
    return post(stack.bootstrap_port, "/device/info", info_body(mac), {{"X-Forwarded-For", "203.0.113.9, " + ip}});
  };
  // per MAC: 3 a minute, whatever the address
  for (int i = 0; i < 3; ++i) CHECK(from("198.51.100." + std::to_string(i), "AA:BB:CC:DD:EE:20").status == 404);
  auto limited = from("198.51.100.50", "AA:BB:CC:DD:EE:20");
  INFO(limited.body);
  CHECK(limited.status == 429);
  CHECK(std::stoi(limited.headers.find("Retry-After")->second) > 0);
  CHECK(limited.str("/error/code") == "TooManyRequests");
  // per IP: 5 a minute (the forwarded address, believed from a trusted proxy)
  for (int i = 0; i < 5; ++i) CHECK(from("192.0.2.1", "AA:BB:CC:DD:EE:3" + std::to_string(i)).status == 404);
  auto by_ip = from("192.0.2.1", "AA:BB:CC:DD:EE:40");
  CHECK(by_ip.status == 429);
  CHECK(by_ip.headers.count("Retry-After") == 1);
  CHECK(from("192.0.2.2", "AA:BB:CC:DD:EE:41").status == 404);  // another address is not limited
  auto log = stack.registry().bootstrap_access({});
  CHECK(std::any_of(log.begin(), log.end(), [](const auto& r) { return r.source == "192.0.2.1" && r.status == 429; }));
  CHECK(std::none_of(log.begin(), log.end(), [](const auto& r) { return r.source == "127.0.0.1"; }));
  // the metrics (the admin listener's /metrics) count requests by endpoint, outcome and status, and the limits' triggers
  httplib::Client admin("127.0.0.1", stack.admin_port);
  auto metrics = admin.Get("/metrics");
  REQUIRE(metrics);
  INFO(metrics->body);
  CHECK(metrics->body.find(R"(provision_bootstrap_requests_total{endpoint="/device/info",outcome="not_found",status="404"} 9)") != std::string::npos);
  CHECK(metrics->body.find(R"(provision_bootstrap_requests_total{endpoint="/device/info",outcome="rate_limited",status="429"} 2)") != std::string::npos);
  CHECK(metrics->body.find(R"(provision_bootstrap_rate_limited_total{limit="mac"} 1)") != std::string::npos);
  CHECK(metrics->body.find(R"(provision_bootstrap_rate_limited_total{limit="ip"} 1)") != std::string::npos);
  CHECK(metrics->body.find("provision_bootstrap_request_duration_seconds_bucket") != std::string::npos);
}

TEST_CASE("bootstrap: a forwarded address from a proxy that is not trusted is not believed") {
  Stack stack(bootstrap_stack(R"("responseFloorMs":0,"requestsPerIpPerMinute":2,"requestsPerMacPerMinute":0,"trustedProxies":["10.9.9.9"])"));
  for (int i = 0; i < 2; ++i)
    CHECK(post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:50"), {{"X-Forwarded-For", "192.0.2." + std::to_string(i)}, {"X-Real-IP", "192.0.2.77"}}).status == 404);
  // a new forwarded address each time does not escape the limit: the peer's own address counts
  auto third = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:50"), {{"X-Forwarded-For", "192.0.2.3"}});
  CHECK(third.status == 429);
  auto log = stack.registry().bootstrap_access({});
  CHECK(std::all_of(log.begin(), log.end(), [](const auto& r) { return r.source == "127.0.0.1"; }));
}

TEST_CASE("bootstrap: every lookup outcome answers no sooner than the floor") {
  Stack stack(bootstrap_stack(R"("responseFloorMs":100,"requestsPerIpPerMinute":0,"requestsPerMacPerMinute":0)"));
  enroll(stack, "AA:BB:CC:DD:EE:60");
  enroll(stack, "AA:BB:CC:DD:EE:61", false);
  auto timed = [&](const std::string& mac) {
    auto started = std::chrono::steady_clock::now();
    auto reply = post(stack.bootstrap_port, "/device/info", info_body(mac));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    return std::make_pair(reply.status, ms);
  };
  std::map<std::string, std::vector<int64_t>> times;
  for (int i = 0; i < 10; ++i) {
    for (const auto& [name, mac] : std::vector<std::pair<std::string, std::string>>{
             {"known", "AA:BB:CC:DD:EE:60"}, {"unknown", "AA:BB:CC:DD:EE:6F"}, {"not activated", "AA:BB:CC:DD:EE:61"}}) {
      auto [status, ms] = timed(mac);
      CHECK(status == (name == "known" ? 200 : 404));
      times[name].push_back(ms);
    }
  }
  for (auto& [name, ms] : times) {
    std::sort(ms.begin(), ms.end());
    INFO(name << ": min " << ms.front() << " ms, max " << ms.back() << " ms");
    CHECK(ms.front() >= 100);
  }
}

TEST_CASE("bootstrap: an admin rotates a connected device's secret: it is cut off, and the listener hands out the new one") {
  Stack stack(bootstrap_stack());
  enroll(stack, "AA:BB:CC:DD:EE:70");
  auto info = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:70"));
  REQUIRE(info.status == 200);
  // before the first connect every call hands out a new secret (only hashes are kept), the last one works
  auto retry = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:70"));
  REQUIRE(retry.has("/device_secret"));
  CHECK(retry.str("/device_secret") != info.str("/device_secret"));
  const std::string thing = info.str("/device_id"), uuid = info.str("/device_uuid");
  CHECK_THROWS(mqtt_session::Session(stack.password_client(thing, info.str("/device_secret"), uuid)).connect());
  mqtt_session::Session device(stack.password_client(thing, retry.str("/device_secret"), uuid));
  device.connect();
  for (int i = 0; i < 50 && !stack.registry().find_device_credential(thing)->first_connected_at; ++i) std::this_thread::sleep_for(100ms);
  CHECK_FALSE(post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:70")).has("/device_secret"));

  httplib::Client admin("127.0.0.1", stack.admin_port);
  httplib::Headers auth{{"Authorization", "Bearer " + stack.admin_token}};
  auto credential = admin.Get(("/v1/things/" + thing + "/credential").c_str(), auth);
  REQUIRE(credential);
  CHECK(credential->status == 200);
  CHECK(credential->body.find("\"firstConnectedAt\"") != std::string::npos);
  CHECK(credential->body.find("\"lastSeenAt\"") != std::string::npos);
  // the thing itself says so too (the console shows it with the thing), without the secret
  auto shown = admin.Get(("/v1/things/" + thing).c_str(), auth);
  REQUIRE(shown);
  REQUIRE(shown->status == 200);
  auto shown_json = json::parse(shown->body);
  REQUIRE(json::member(shown_json, "credential"));
  const auto& summary = shown_json["credential"];
  CHECK(json::string_member(summary, "status") == std::string("ACTIVE"));
  CHECK(json::int_member(summary, "lastSeenAt") == stack.registry().find_device_credential(thing)->last_seen_at);
  CHECK(json::member(summary, "firstConnectedAt"));
  CHECK(shown->body.find("secret") == std::string::npos);
  auto rotated = admin.Post(("/v1/things/" + thing + "/rotate-secret").c_str(), auth, "", "application/json");
  REQUIRE(rotated);
  INFO(rotated->body);
  REQUIRE(rotated->status == 200);
  auto rotated_json = json::parse(rotated->body);
  const std::string fresh = *json::string_member(rotated_json, "deviceSecret");
  CHECK(device.wait_disconnected(2s));
  // the listener hands the new secret out again, until the device connects with it
  auto after = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:70"));
  REQUIRE(after.has("/device_secret"));
  mqtt_session::Session again(stack.password_client(thing, after.str("/device_secret"), uuid));
  again.connect();
  CHECK(again.publish("devices/" + thing + "/data", "{}") == 0);

  auto access = admin.Get("/v1/bootstrap/access?mac=AA:BB:CC:DD:EE:70&endpoint=/device/info", auth);
  REQUIRE(access);
  CHECK(access->status == 200);
  auto items = json::parse(access->body);
  CHECK(items["items"].Size() == 4);
}

TEST_CASE("bootstrap: waiting out the floor holds no thread: 200 lookups at once on 2 threads, /health unaffected") {
  // Were each lookup to hold one of the 2 threads for its 300 ms floor, the
  // 200 would take 30 s; the floor is a timer, so they all end near 300 ms.
  Stack stack(bootstrap_stack(R"("responseFloorMs":300,"requestsPerIpPerMinute":0,"requestsPerMacPerMinute":0,"threads":2)"));
  std::atomic<int> not_found{0}, other{0};
  std::vector<std::thread> flood;
  std::atomic<bool> go{false};
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < 200; ++t)
    flood.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      char mac[32];
      std::snprintf(mac, sizeof mac, "AA:BB:CC:DD:%02X:%02X", t / 256, t % 256);
      auto reply = post(stack.bootstrap_port, "/device/info", info_body(mac));
      if (reply.status == 404) ++not_found;
      else ++other;
    });
  go = true;
  std::this_thread::sleep_for(100ms);
  std::vector<int64_t> health_ms;
  for (int i = 0; i < 10; ++i) {
    auto asked = std::chrono::steady_clock::now();
    auto health = get(stack.bootstrap_port, "/health");
    health_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked).count());
    CHECK(health.status == 200);
    std::this_thread::sleep_for(20ms);
  }
  for (auto& t : flood) t.join();
  const auto all_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  std::sort(health_ms.begin(), health_ms.end());
  INFO("200 lookups answered in " << all_ms << " ms; /health max " << health_ms.back() << " ms during the flood");
  CHECK(not_found == 200);  // every one answered, none refused as busy
  CHECK(other == 0);
  CHECK(all_ms < 5000);
  CHECK(health_ms.back() < 300);  // never waits behind the floor
}

TEST_CASE("bootstrap: a device that sends a CSR also gets a certificate, and connects with it over mutual TLS") {
  Stack stack(bootstrap_stack());
  enroll(stack, "AA:BB:CC:DD:EE:80");
  auto key = pki::PrivateKey::generate_ec();
  rapidjson::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  body.AddMember("mac_address", "AA:BB:CC:DD:EE:80", a);
  body.AddMember("csr", json::string_value(pki::create_csr(key, {{"CN", "esp"}}), a), a);
  auto info = post(stack.bootstrap_port, "/device/info", json::stringify(body));
  INFO(info.body);
  REQUIRE(info.status == 200);
  REQUIRE(info.has("/certificate_pem"));
  CHECK(info.has("/ca_chain"));
  CHECK(info.json["mqtt_config"]["port"].GetInt() == stack.port);  // the mutual-TLS listener
  const std::string thing = info.str("/device_id");
  auto certificate = stack.registry().find_certificate(info.str("/certificate_id"));
  REQUIRE(certificate);
  CHECK(certificate->status == "ACTIVE");
  CHECK(certificate->thing_name == thing);
  CertificateFiles files{(stack.dir / "esp.pem").string(), (stack.dir / "esp.key").string()};
  write_file(files.certificate, info.str("/certificate_pem"), 0644);
  write_file(files.key, key.to_pem(), 0600);
  mqtt_session::Session device(stack.client(files, thing));
  device.connect();
  CHECK(device.publish("devices/" + thing + "/data", "{}") == 0);
  CHECK(device.publish("devices/esp-other/data", "{}") != 0);
  // a bad CSR names the field
  auto bad = post(stack.bootstrap_port, "/device/info", R"({"mac_address":"AA:BB:CC:DD:EE:80","csr":5})");
  CHECK(bad.status == 400);
  CHECK(bad.str("/error/field") == "csr");
}

TEST_CASE("bootstrap: with a bootstrap key only fresh signed requests get a secret, unsigned, forged, stale and replayed ones do not") {
  Stack stack(bootstrap_stack());
  const std::string key = "factory-burned-key-0123456789abcdef";
  const std::string mac = "AA:BB:CC:DD:EE:A0";
  enroll(stack, mac, true, key);
  const std::string body = info_body(mac);
  const auto unknown = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:AF"));
  REQUIRE(unknown.status == 404);
  // the MAC alone, or a signature the key does not verify: what an unknown MAC gets
  auto unsigned_request = post(stack.bootstrap_port, "/device/info", body);
  CHECK(unsigned_request.status == 404);
  CHECK(unsigned_request.body == unknown.body);
  auto forged = post(stack.bootstrap_port, "/device/info", body, signed_headers("another-key-0123456789abcdef0123", unix_now(), body));
  CHECK(forged.status == 404);
  CHECK(forged.body == unknown.body);
  // a signature over another body does not verify either
  auto other_body = post(stack.bootstrap_port, "/device/info", body, signed_headers(key, unix_now(), info_body("AA:BB:CC:DD:EE:A1")));
  CHECK(other_body.status == 404);
  // stale, or malformed: refused before any lookup
  auto stale = post(stack.bootstrap_port, "/device/info", body, signed_headers(key, unix_now() - 400, body));
  CHECK(stale.status == 401);
  CHECK(stale.str("/error/code") == "StaleSignature");
  auto future = post(stack.bootstrap_port, "/device/info", body, signed_headers(key, unix_now() + 400, body));
  CHECK(future.str("/error/code") == "StaleSignature");
  auto malformed = post(stack.bootstrap_port, "/device/info", body, {{"X-Provision-Timestamp", "yesterday"}, {"X-Provision-Signature", "sha256=00"}});
  CHECK(malformed.status == 400);
  CHECK(malformed.str("/error/code") == "InvalidSignature");
  auto half = post(stack.bootstrap_port, "/device/info", body, {{"X-Provision-Timestamp", std::to_string(unix_now())}});
  CHECK(half.str("/error/code") == "InvalidSignature");
  auto reg = stack.registry();
  CHECK_FALSE(reg.find_enrollment(mac)->used_at);  // nothing of that registered it

  // signed: registered, with a secret
  const auto headers = signed_headers(key, unix_now(), body);
  auto info = post(stack.bootstrap_port, "/device/info", body, headers);
  INFO(info.body);
  REQUIRE(info.status == 200);
  REQUIRE(info.has("/device_secret"));
  const std::string thing = info.str("/device_id"), uuid = info.str("/device_uuid");
  mqtt_session::Session device(stack.password_client(thing, info.str("/device_secret"), uuid));
  device.connect();
  for (int i = 0; i < 50 && !stack.registry().find_device_credential(thing)->first_connected_at; ++i) std::this_thread::sleep_for(100ms);
  REQUIRE(stack.registry().find_device_credential(thing)->first_connected_at);
  // the same signed request again: a replay
  auto replay = post(stack.bootstrap_port, "/device/info", body, headers);
  CHECK(replay.status == 401);
  CHECK(replay.str("/error/code") == "ReplayedRequest");
  CHECK_FALSE(replay.has("/device_secret"));
  // a new signed request after the device connected: a new secret (a device that lost its flash recovers), the old one cut off
  std::this_thread::sleep_for(1100ms);  // another second: another signature
  auto again = post(stack.bootstrap_port, "/device/info", body, signed_headers(key, unix_now(), body));
  REQUIRE(again.status == 200);
  REQUIRE(again.has("/device_secret"));
  CHECK(again.str("/device_secret") != info.str("/device_secret"));
  CHECK(device.wait_disconnected(2s));
  mqtt_session::Session recovered(stack.password_client(thing, again.str("/device_secret"), uuid));
  recovered.connect();
  CHECK(recovered.publish("devices/" + thing + "/data", "{}") == 0);
  // an unsigned request still gets nothing
  auto still_unsigned = post(stack.bootstrap_port, "/device/info", body);
  CHECK(still_unsigned.body == unknown.body);
}

TEST_CASE("bootstrap: a template's exec hook runs when the device registers: its no is an unknown MAC answer, its failure a 502") {
  Stack stack(bootstrap_stack());
  const std::string hook = PROVISION_SOURCE_DIR "/tests/data/hooks/echo_hook.sh";
  auto use_hook = [&](const std::string& args) {
    auto reg = stack.registry();
    if (!reg.find_template("EspBootstrap")) reg.add_template_version("EspBootstrap", kTemplate);
    auto t = reg.find_template("EspBootstrap");
    t->hook = R"({"type":"exec","command":[")" + hook + "\",\"" + args + R"("]})";
    REQUIRE(reg.update_template(*t));
  };
  const auto unknown = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:BF"));

  use_hook("deny");
  enroll(stack, "AA:BB:CC:DD:EE:B0");
  auto denied = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:B0"));
  CHECK(denied.status == 404);
  CHECK(denied.body == unknown.body);
  registry::AuditFilter filter;
  filter.action = "BootstrapDevice";
  auto audit = stack.registry().audit_entries(filter);
  REQUIRE_FALSE(audit.empty());
  CHECK(audit.front().result == "HookDenied");
  CHECK_FALSE(stack.registry().find_enrollment("AA:BB:CC:DD:EE:B0")->used_at);

  use_hook("fail");
  auto failed = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:B0"));
  CHECK(failed.status == 502);
  CHECK(failed.str("/error/code") == "HookFailed");

  // allowed: the hook saw the template and the MAC, and the device registered
  testing::TempDir dir;
  const auto recorded = dir.path / "input.json";
  {
    auto reg = stack.registry();
    auto t = reg.find_template("EspBootstrap");
    t->hook = R"({"type":"exec","command":[")" + hook + R"(","record",")" + recorded.string() + R"("]})";
    REQUIRE(reg.update_template(*t));
  }
  auto info = post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:B0"));
  INFO(info.body);
  REQUIRE(info.status == 200);
  CHECK(info.has("/device_secret"));
  auto input = json::parse(read_file(recorded));
  CHECK(json::string_member(input, "templateName") == std::optional<std::string>("EspBootstrap"));
  CHECK(json::string_member(input, "clientId") == std::optional<std::string>("AA:BB:CC:DD:EE:B0"));
  CHECK(json::string_member(input["parameters"], "MacAddress") == std::optional<std::string>("AA:BB:CC:DD:EE:B0"));
  // later calls do not run it again
  std::filesystem::remove(recorded);
  CHECK(post(stack.bootstrap_port, "/device/info", info_body("AA:BB:CC:DD:EE:B0")).status == 200);
  CHECK_FALSE(std::filesystem::exists(recorded));
}
