#pragma once
// What the plugin's unit tests share (tests of provision_plugin_core, the
// plugin's decision code, one executable per concern: authentication, ACL,
// routing, limits and options, the registry and the trust directory). No
// broker: real files, real OpenSSL, real SQLite.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "development_fleet.h"
#include "gatekeeper.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/development_pki.h"
#include "pki/key.h"
#include "protocol/topics.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "temp_dir.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::plugin_test {

using namespace provision::plugin;
using provision::testing::TempDir;

inline constexpr const char* kCreate = "$provision/certificates/create/json";
inline constexpr const char* kCreateCbor = "$provision/certificates/create/cbor";
inline constexpr const char* kCsr = "$provision/certificates/create-from-csr/json";
inline constexpr const char* kRegister = "$provision/templates/DemoFleet/provision/json";
inline constexpr const char* kRegisterOther = "$provision/templates/OtherFleet/provision/json";
inline constexpr const char* kAwsCreate = "$aws/certificates/create/json";
inline constexpr const char* kAwsCsr = "$aws/certificates/create-from-csr/json";
inline constexpr const char* kAwsRegister = "$aws/provisioning-templates/DemoFleet/provision/json";
inline constexpr const char* kRequests = "_provision/requests";
inline constexpr const char* kReplies = "_provision/replies";

// Like service/defaults/demo-policy.json.
inline constexpr const char* kDemoPolicy = R"({
  "description": "device uses its own topics only",
  "statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}"]},
    {"effect": "allow", "actions": ["publish"], "topics": ["devices/${thingName}/telemetry", "devices/${thingName}/state"]},
    {"effect": "allow", "actions": ["subscribe", "receive"], "topics": ["devices/${thingName}/commands", "devices/${thingName}/commands/#"]}
  ]})";

// Everything, everywhere (what an over-broad admin policy looks like).
inline constexpr const char* kEverythingPolicy = R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "allow", "actions": ["publish", "subscribe", "receive"], "topics": ["#"]}
  ]})";

// Everything, plus shared subscriptions.
inline constexpr const char* kSharingPolicy = R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "allow", "actions": ["publish", "subscribe", "receive"], "topics": ["#", "$share/#"]}
  ]})";

struct LogLine {
  LogLevel level;
  std::string text;
};

inline pki::Certificate issue_client(const pki::CertificateAuthority& ca, const std::string& common_name,
                                     int64_t validity_seconds = 3600) {
  return testing::DevelopmentFleet::issue(ca, common_name, validity_seconds);
}

// The development fleet with three policies and one device (thing-1,
// ACTIVE, the demo policy), and gatekeepers over it that log here.
struct Fixture : testing::DevelopmentFleet {
  pki::Certificate device;  // thing-1, ACTIVE, demo policy
  std::vector<LogLine> logs;
  int slots[16] = {};  // connection keys; key(15) is the worker of link_worker()

  Fixture() : device(issue_client(fleet_ca, "thing-1")) {
    reg.put_policy("DemoPolicy", kDemoPolicy);
    reg.put_policy("EverythingPolicy", kEverythingPolicy);
    reg.put_policy("SharingPolicy", kSharingPolicy);
    register_device(device, "thing-1", registry::kActive, "DemoPolicy");
  }

  const void* key(int i) { return &slots[i]; }

  std::unique_ptr<Gatekeeper> gatekeeper(OptionPairs extra = {}) {
    extra.emplace_back("registry", registry_path.string());
    return std::make_unique<Gatekeeper>(parse_options(extra),
                                        [this](LogLevel level, const std::string& text) { logs.push_back({level, text}); });
  }

  bool logged(const std::string& fragment) const {
    return std::any_of(logs.begin(), logs.end(), [&](const LogLine& l) { return l.text.find(fragment) != std::string::npos; });
  }
  bool logged_at(LogLevel level, const std::string& fragment) const {
    return std::any_of(logs.begin(), logs.end(),
                       [&](const LogLine& l) { return l.level == level && l.text.find(fragment) != std::string::npos; });
  }
};

inline AuthResult sign_in(Gatekeeper& gk, const void* key, const std::string& client_id, const pki::Certificate& cert,
                          int64_t now_s, const std::string& address = "10.0.0.1") {
  return gk.authenticate(ClientInfo{key, client_id, address}, cert.get(), now_s);
}

inline AclRequest acl(Access access, std::string_view topic, int qos = 1, uint32_t payload_length = 10,
                      bool retain = false) {
  AclRequest r;
  r.access = access;
  r.topic = topic;
  r.qos = qos;
  r.payload_length = payload_length;
  r.retain = retain;
  return r;
}

inline bool may(Gatekeeper& gk, const void* key, Access access, std::string_view topic) {
  return gk.check_acl(key, acl(access, topic));
}

inline const std::string* property(const UserProperties& properties, const std::string& name) {
  for (const auto& [n, v] : properties)
    if (n == name) return &v;
  return nullptr;
}

inline UserProperties reply_properties(const std::string& request_id, const std::string& outcome) {
  return {{"request-id", request_id}, {"outcome", outcome}};
}

// A provisioning worker linked to the plugin: signed in with the service
// identity and subscribed to the request topic (the plugin answers requests
// itself, 503, while none is). Returns its connection key.
inline const void* link_worker(Fixture& f, Gatekeeper& gk,
                               const std::string& filter = "$share/provisiond/_provision/requests") {
  REQUIRE(sign_in(gk, f.key(15), "provisiond-worker", f.service, f.now).allowed);
  REQUIRE(gk.check_acl(f.key(15), acl(Access::Subscribe, filter)));
  return f.key(15);
}

// Sends a request from `key` and returns the request id the plugin forwarded it with.
inline std::string forward(Gatekeeper& gk, const void* key, const std::string& topic, int64_t now_ms,
                           const std::string& payload = "{}", int qos = 1) {
  Actions out;
  gk.on_message(key, topic, payload, qos, {}, now_ms, out);
  REQUIRE(out.messages.size() == 1);
  REQUIRE(out.messages[0].topic == kRequests);
  const std::string* id = property(out.messages[0].user_properties, "request-id");
  REQUIRE(id);
  return *id;
}

}  // namespace provision::plugin_test
