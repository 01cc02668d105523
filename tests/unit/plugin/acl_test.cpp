// The plugin's decision code: topic access: what claims, devices, factories and the service may publish, subscribe to and receive.
// Shared fixture: plugin_fixture.h.
#include "plugin_fixture.h"

using namespace provision;
using namespace provision::plugin;
using namespace provision::plugin_test;

TEST_CASE("check_acl: a claim may publish only the requests it may use", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  const void* k = f.key(0);
  const uint32_t max = gk->options().max_payload;

  for (const char* topic : {kCreate, kCsr, kRegister, kAwsCreate, kAwsCsr, kAwsRegister}) {
    INFO(topic);
    CHECK(gk->check_acl(k, acl(Access::Write, topic, 1, 100)));
    CHECK(gk->check_acl(k, acl(Access::Write, topic, 0, 0)));
  }
  CHECK(gk->check_acl(k, acl(Access::Write, kCreate, 1, max)));

  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kRegisterOther)));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, "$aws/provisioning-templates/OtherFleet/provision/json")));
  CHECK(gk->check_acl(k, acl(Access::Write, kCreateCbor)));  // CBOR is served like JSON
  CHECK(gk->check_acl(k, acl(Access::Write, "$provision/templates/DemoFleet/provision/cbor")));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, "$provision/templates/OtherFleet/provision/cbor")));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kCreate, 2)));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kCreate, 1, 10, true)));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kCreate, 1, max + 1)));
  // Never on a reply topic, an internal topic or anything else.
  for (std::string topic : {std::string(kCreate) + "/accepted", std::string(kRegister) + "/rejected", std::string(kRequests),
                            std::string(kReplies), std::string("devices/dev-1/telemetry"), std::string("$provision"),
                            std::string("$provision/certificates/create"), std::string("$provision/templates/+/provision/json")}) {
    INFO(topic);
    CHECK_FALSE(may(*gk, k, Access::Write, topic));
  }
}

TEST_CASE("check_acl: a claim may subscribe to and read only the replies of its requests", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  const void* k = f.key(0);

  for (const char* request : {kCreate, kCsr, kRegister, kAwsCreate, kAwsCsr, kAwsRegister}) {
    std::string r(request);
    INFO(r);
    CHECK(may(*gk, k, Access::Subscribe, r + "/accepted"));
    CHECK(may(*gk, k, Access::Subscribe, r + "/rejected"));
    CHECK(may(*gk, k, Access::Subscribe, r + "/+"));
    CHECK(may(*gk, k, Access::Read, r + "/accepted"));
    CHECK(may(*gk, k, Access::Read, r + "/rejected"));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, r));
    CHECK_FALSE(may(*gk, k, Access::Read, r));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, r + "/#"));
  }
  for (std::string filter :
       {std::string("#"), std::string("+/#"), std::string("$provision/#"), std::string("$aws/#"),
        std::string("$provision/certificates/#"), std::string("$provision/templates/+/provision/json/accepted"),
        std::string(kRegisterOther) + "/accepted", std::string(kRegisterOther) + "/+", std::string(kCreateCbor),
        std::string(kRequests), std::string(kReplies), std::string("_provision/#"), std::string("$share/g/") + kRequests,
        std::string("$share/g/") + kCreate + "/accepted", std::string("devices/dev-1/commands")}) {
    INFO(filter);
    CHECK_FALSE(may(*gk, k, Access::Subscribe, filter));
  }
  CHECK_FALSE(may(*gk, k, Access::Read, kRequests));
  CHECK_FALSE(may(*gk, k, Access::Read, kReplies));
  CHECK_FALSE(may(*gk, k, Access::Read, std::string(kRegisterOther) + "/accepted"));
  CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-1/commands"));
  CHECK(may(*gk, k, Access::Unsubscribe, std::string(kCreate) + "/accepted"));
}

TEST_CASE("check_acl: aws_topics false turns the $aws aliases off", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper({{"aws_topics", "false"}});
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  const void* k = f.key(0);
  for (const char* topic : {kAwsCreate, kAwsCsr, kAwsRegister}) {
    std::string t(topic);
    INFO(t);
    CHECK_FALSE(may(*gk, k, Access::Write, t));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, t + "/accepted"));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, t + "/+"));
    CHECK_FALSE(may(*gk, k, Access::Read, t + "/accepted"));
  }
  CHECK(may(*gk, k, Access::Write, kCreate));
  CHECK(may(*gk, k, Access::Write, kRegister));
  CHECK(may(*gk, k, Access::Subscribe, std::string(kRegister) + "/accepted"));
}

TEST_CASE("check_acl: an unknown or disconnected connection is denied everything", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  for (Access access : {Access::Write, Access::Read, Access::Subscribe, Access::Unsubscribe})
    CHECK_FALSE(gk->check_acl(f.key(5), acl(access, kCreate)));
  REQUIRE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  REQUIRE(may(*gk, f.key(0), Access::Write, kCreate));
  gk->on_disconnect(f.key(0));
  gk->on_disconnect(f.key(0));  // twice is harmless
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("check_acl: a device gets what its policy allows", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  const void* k = f.key(0);

  CHECK(may(*gk, k, Access::Write, "devices/thing-1/telemetry"));
  CHECK(may(*gk, k, Access::Write, "devices/thing-1/state"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-2/telemetry"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-1/commands"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-1/telemetry/extra"));

  CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands"));
  CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands/#"));
  CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands/+"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "devices/thing-2/commands"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "devices/+/commands"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "#"));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, "devices/thing-1/telemetry"));

  CHECK(may(*gk, k, Access::Read, "devices/thing-1/commands/reboot"));
  CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-2/commands"));

  // A device is not a claim: the provisioning topics are not its own.
  CHECK_FALSE(may(*gk, k, Access::Write, kCreate));
  CHECK_FALSE(may(*gk, k, Access::Subscribe, std::string(kCreate) + "/accepted"));
  CHECK(may(*gk, k, Access::Unsubscribe, "anything"));
}

TEST_CASE("check_acl: internal and provisioning topics are closed to devices whatever their policy", "[plugin][acl]") {
  Fixture f;
  auto wide = issue_client(f.fleet_ca, "thing-wide");
  f.register_device(wide, "thing-wide", registry::kActive, "EverythingPolicy");
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "any-client-id", wide, f.now).allowed);
  const void* k = f.key(0);

  // The policy does grant ordinary topics.
  CHECK(may(*gk, k, Access::Write, "anything/at/all"));
  CHECK(may(*gk, k, Access::Subscribe, "devices/#"));
  CHECK(may(*gk, k, Access::Read, "devices/other/commands"));
  CHECK(may(*gk, k, Access::Write, "_provisioning-not-internal/x"));

  for (std::string topic : {std::string(kRequests), std::string(kReplies), std::string("_provision"),
                            std::string("_provision/other"), std::string(kCreate), std::string(kCreate) + "/accepted",
                            std::string(kRegister), std::string(kAwsCreate), std::string(kAwsRegister) + "/accepted",
                            std::string("$provision")}) {
    INFO(topic);
    CHECK_FALSE(may(*gk, k, Access::Write, topic));
    CHECK_FALSE(may(*gk, k, Access::Read, topic));
    CHECK_FALSE(may(*gk, k, Access::Subscribe, topic));
  }
  for (std::string filter : {std::string("#"), std::string("+/requests"), std::string("+/#"), std::string("_provision/#"),
                             std::string("_provision/+"), std::string("$provision/#"), std::string("$aws/certificates/#"),
                             std::string("$aws/provisioning-templates/+/provision/json/accepted"),
                             std::string("$share/g/") + kRequests}) {
    INFO(filter);
    CHECK_FALSE(may(*gk, k, Access::Subscribe, filter));
  }
}

TEST_CASE("check_acl: device decisions are stable across repeated checks (cache)", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  const void* k = f.key(0);
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    CHECK(may(*gk, k, Access::Write, "devices/thing-1/telemetry"));
    CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-2/telemetry"));
    // Same topic, different access: separate decisions.
    CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-1/commands"));
    CHECK(may(*gk, k, Access::Subscribe, "devices/thing-1/commands"));
    CHECK(may(*gk, k, Access::Read, "devices/thing-1/commands"));
    CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-1/telemetry"));
    CHECK_FALSE(may(*gk, k, Access::Write, kRequests));
  }
  // Beyond the cache bound, decisions stay right.
  for (int i = 0; i < 1100; ++i) CHECK_FALSE(may(*gk, k, Access::Write, "noise/" + std::to_string(i)));
  CHECK(may(*gk, k, Access::Write, "devices/thing-1/telemetry"));
  CHECK_FALSE(may(*gk, k, Access::Write, "devices/thing-2/telemetry"));

  // A new connection of another device with the same topics decides afresh.
  auto other = issue_client(f.fleet_ca, "thing-2");
  f.register_device(other, "thing-2", registry::kActive, "DemoPolicy");
  REQUIRE(sign_in(*gk, f.key(1), "thing-2", other, f.now).allowed);
  CHECK(may(*gk, f.key(1), Access::Write, "devices/thing-2/telemetry"));
  CHECK_FALSE(may(*gk, f.key(1), Access::Write, "devices/thing-1/telemetry"));
  // Reusing a connection key for another identity drops the old decisions.
  gk->on_disconnect(f.key(0));
  REQUIRE(sign_in(*gk, f.key(0), "thing-2", other, f.now).allowed);
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
  CHECK(may(*gk, f.key(0), Access::Write, "devices/thing-2/telemetry"));
}

TEST_CASE("check_acl: a device may not join the workers' shared subscription, whatever its policy",
          "[plugin][acl]") {
  // SharingPolicy allows subscribe on "$share/#". Mosquitto hands the ACL
  // check the whole "$share/<group>/<filter>" string: the decision must be
  // about the filter behind the share prefix.
  Fixture f;
  auto wide = issue_client(f.fleet_ca, "thing-wide");
  f.register_device(wide, "thing-wide", registry::kActive, "SharingPolicy");
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-wide", wide, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Subscribe, "$share/g/devices/#"));  // ordinary shared subscriptions are fine
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, std::string("$share/provisiond/") + kRequests));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/provisiond/_provision/#"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/provisiond/#"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/g"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share//devices/#"));
}

TEST_CASE("check_acl: a device's shared subscriptions are decided by the filter they take", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Subscribe, "$share/g/devices/thing-1/commands"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/g/devices/thing-2/commands"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$share/+/devices/thing-1/commands"));
}

TEST_CASE("a device whose certificate is revoked while connected is cut off at the next registry poll",
          "[plugin][acl]") {
  // docs/operations.md, "Live enforcement": a revoked client is cut off after the next registry poll.
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  REQUIRE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
  REQUIRE(f.reg.set_certificate_status(f.device.id(), registry::kRevoked));
  Actions out;
  gk->on_tick(1'000'000, out);
  gk->on_tick(1'000'000 + gk->options().registry_poll_ms, out);
  bool kicked = std::find(out.kicks.begin(), out.kicks.end(), "thing-1") != out.kicks.end();
  bool still_allowed = may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry");
  CHECK((kicked || !still_allowed));
}

TEST_CASE("check_acl: the service touches only the internal topics", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "provisiond-1", f.service, f.now).allowed);
  const void* k = f.key(0);

  CHECK(may(*gk, k, Access::Write, kReplies));
  CHECK_FALSE(gk->check_acl(k, acl(Access::Write, kReplies, 1, 10, true)));
  for (std::string topic : {std::string(kRequests), std::string(kCreate), std::string(kCreate) + "/accepted",
                            std::string(kRegister) + "/rejected", std::string("devices/thing-1/commands"),
                            std::string("_provision"), std::string("_provision/replies/x")}) {
    INFO(topic);
    CHECK_FALSE(may(*gk, k, Access::Write, topic));
  }

  CHECK(may(*gk, k, Access::Subscribe, kRequests));
  CHECK(may(*gk, k, Access::Subscribe, "$share/provisiond/_provision/requests"));
  CHECK(may(*gk, k, Access::Subscribe, "$share/other-group/_provision/requests"));
  for (std::string filter : {std::string("$share/+/_provision/requests"), std::string("$share/#/_provision/requests"),
                             std::string("$share//_provision/requests"), std::string("$share/g/_provision/replies"),
                             std::string("$share/g/_provision/#"), std::string("$share/g/#"), std::string("$share/g"),
                             std::string("$share/g/a/_provision/requests"), std::string(kReplies), std::string("_provision/#"),
                             std::string("_provision/+"), std::string("#"), std::string(kCreate) + "/accepted",
                             std::string("$provision/#")}) {
    INFO(filter);
    CHECK_FALSE(may(*gk, k, Access::Subscribe, filter));
  }

  CHECK(may(*gk, k, Access::Read, kRequests));
  CHECK_FALSE(may(*gk, k, Access::Read, kReplies));
  CHECK_FALSE(may(*gk, k, Access::Read, std::string(kCreate) + "/accepted"));
  CHECK_FALSE(may(*gk, k, Access::Read, "devices/thing-1/commands"));
}

TEST_CASE("check_acl: the internal topics follow internal_prefix", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper({{"internal_prefix", "fleet/internal"}});
  REQUIRE(sign_in(*gk, f.key(0), "provisiond-1", f.service, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Write, "fleet/internal/replies"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kReplies));
  CHECK(may(*gk, f.key(0), Access::Subscribe, "$share/w/fleet/internal/requests"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, kRequests));

  REQUIRE(sign_in(*gk, f.key(1), "dev-1", f.claim, f.now).allowed);
  link_worker(f, *gk, "$share/w/fleet/internal/requests");
  Actions out;
  gk->on_message(f.key(1), kCreate, "{}", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].topic == "fleet/internal/requests");
}

TEST_CASE("renewal: only devices may use the renewal topic and their requests carry thing and certificate", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  REQUIRE(sign_in(*gk, f.key(1), "c1", f.claim, f.now).allowed);
  const std::string renew = "$provision/certificates/renew/json";
  CHECK(may(*gk, f.key(0), Access::Write, renew));
  CHECK(may(*gk, f.key(0), Access::Subscribe, renew + "/accepted"));
  CHECK(may(*gk, f.key(0), Access::Subscribe, renew + "/+"));
  CHECK(may(*gk, f.key(0), Access::Read, renew + "/rejected"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, renew + "/accepted"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "$provision/#"));
  CHECK_FALSE(may(*gk, f.key(1), Access::Write, renew));
  CHECK_FALSE(may(*gk, f.key(1), Access::Subscribe, renew + "/accepted"));

  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), renew, "{}", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(*property(out.messages[0].user_properties, "identity") == "device");
  CHECK(*property(out.messages[0].user_properties, "thing-name") == "thing-1");
  CHECK(*property(out.messages[0].user_properties, "certificate-id") == f.device.id());
}

TEST_CASE("registry changes refresh identities: a new policy applies at once to a connected device", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  REQUIRE_FALSE(may(*gk, f.key(0), Access::Write, "anything/at/all"));
  f.reg.put_policy("DemoPolicy", R"({"statements": [
    {"effect": "allow", "actions": ["connect"], "clientIds": ["*"]},
    {"effect": "allow", "actions": ["publish"], "topics": ["anything/#"]}]})");
  Actions out;
  gk->on_tick(1000, out);
  CHECK(out.kicks.empty());
  CHECK(may(*gk, f.key(0), Access::Write, "anything/at/all"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
  // a policy change that no longer allows connect cuts the device off
  f.reg.put_policy("DemoPolicy", R"({"statements": [{"effect": "allow", "actions": ["publish"], "topics": ["#"]}]})");
  gk->on_tick(2000, out);
  CHECK(out.kicks == std::vector<std::string>{"thing-1"});
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "anything/at/all"));
}

TEST_CASE("decision cache: bounded in entries and topic length", "[plugin][acl]") {
  DecisionCache cache;
  std::string huge(60000, 'x');
  cache.remember(0, huge, true);
  CHECK(cache.size() == 0);  // long topics are decided every time
  CHECK_FALSE(cache.find(0, huge));
  for (int i = 0; i < 1000; ++i) cache.remember(i % 4, "devices/t/" + std::to_string(i), i % 2 == 0);
  CHECK(cache.size() <= DecisionCache::kMaxEntries);
  cache.remember(1, "a/b", false);
  REQUIRE(cache.find(1, "a/b"));
  CHECK_FALSE(*cache.find(1, "a/b"));
  CHECK_FALSE(cache.find(0, "a/b"));  // per access kind
}

TEST_CASE("a device's renewal publish is checked for size every time, not cached", "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper({{"max_payload", "1000"}});
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  const std::string renew = "$provision/certificates/renew/json";
  CHECK(gk->check_acl(f.key(0), acl(Access::Write, renew, 1, 100)));
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, renew, 1, 5000)));
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, renew, 1, 100, true)));
}

TEST_CASE("factory identities publish enrollments and nothing else", "[plugin][acl]") {
  Fixture f;
  auto factory = issue_client(pki::CertificateAuthority::load(f.files.root_cert, f.files.root_key), "factory-1");
  f.reg.put_service_identity({factory.id(), "line-1", registry::kActive, 0, "factory"});
  auto gk = f.gatekeeper();
  auto result = sign_in(*gk, f.key(0), "factory-1", factory, f.now);
  REQUIRE(result.allowed);
  CHECK(result.username == "factory:line-1");
  const std::string enrollments = "$provision/factory/enrollments/json";
  CHECK(may(*gk, f.key(0), Access::Write, enrollments));
  CHECK(may(*gk, f.key(0), Access::Subscribe, enrollments + "/+"));
  CHECK(may(*gk, f.key(0), Access::Read, enrollments + "/accepted"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRequests));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "#"));
  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), enrollments, R"({"registrationId":"SN-1"})", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(*property(out.messages[0].user_properties, "identity") == "factory");
  // a claim may not publish enrollments
  REQUIRE(sign_in(*gk, f.key(1), "c1", f.claim, f.now).allowed);
  CHECK_FALSE(may(*gk, f.key(1), Access::Write, enrollments));
}

TEST_CASE("a revocation behind a burst of more than one batch of registry changes is still seen at the next poll",
          "[plugin][acl]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", f.device, f.now).allowed);
  {
    auto tx = f.reg.begin();
    auto insert = database_of(f.reg).prepare("INSERT INTO registry_changes (kind, subject) VALUES ('thing', ?)");
    for (int i = 0; i < 12000; ++i) {
      insert.bind(1, "bulk-" + std::to_string(i));
      insert.run();
    }
    tx.commit();
  }
  REQUIRE(f.reg.set_certificate_status(f.device.id(), registry::kRevoked));
  Actions out;
  gk->on_tick(1000, out);
  CHECK(out.kicks == std::vector<std::string>{"thing-1"});
}
