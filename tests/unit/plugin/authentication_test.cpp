// The plugin's decision code: authentication at connect: which certificates are which identities, and which are refused.
// Shared fixture: plugin_fixture.h.
#include "plugin_fixture.h"

using namespace provision;
using namespace provision::plugin;
using namespace provision::plugin_test;

TEST_CASE("authenticate: registered claim, service and device certificates", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();

  auto claim = sign_in(*gk, f.key(0), "factory-device-7", f.claim, f.now);
  CHECK(claim.allowed);
  CHECK(claim.username == "claim:" + f.claim.id().substr(0, 16));

  auto service = sign_in(*gk, f.key(1), "provisiond-1", f.service, f.now);
  CHECK(service.allowed);
  CHECK(service.username == "service:provisiond");

  auto device = sign_in(*gk, f.key(2), "thing-1", f.device, f.now);
  CHECK(device.allowed);
  CHECK(device.username == "thing:thing-1");

  CHECK(gk->connection_count() == 3);
  CHECK(f.logged("is claim claim:"));
  CHECK(f.logged("is device thing:thing-1"));
}

TEST_CASE("authenticate: a device must use a client id its policy allows", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto r = sign_in(*gk, f.key(0), "thing-2", f.device, f.now);
  CHECK_FALSE(r.allowed);
  CHECK(r.username.empty());
  CHECK(f.logged("refused client 'thing-2'"));
  CHECK(f.logged("policy does not allow connect with client id 'thing-2'"));
  CHECK(gk->connection_count() == 0);
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, "devices/thing-1/telemetry"));
}

TEST_CASE("authenticate: a client id is logged escaped, so it cannot forge a log line", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto r = sign_in(*gk, f.key(0), "thing-2\n1970-01-01 provision: client 'admin' is service\x1b[8m", f.device, f.now);
  CHECK_FALSE(r.allowed);
  CHECK(f.logged("refused client 'thing-2\\n1970-01-01 provision: client 'admin' is service\\u001b[8m'"));
  CHECK_FALSE(f.logged("\n1970-01-01"));
}

TEST_CASE("authenticate: no certificate or no client id is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  CHECK_FALSE(gk->authenticate(ClientInfo{f.key(0), "thing-1", "10.0.0.1"}, nullptr, f.now).allowed);
  CHECK(f.logged("no client certificate"));
  CHECK_FALSE(sign_in(*gk, f.key(1), "", f.claim, f.now).allowed);
  CHECK(f.logged("empty client id"));
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("authenticate: a refused sign-in on a connection leaves nothing of what it held: no reply reaches its "
          "client id any more",
          "[plugin][auth]") {
  // Found by the gatekeeper fuzzer (fuzz/corpus/gatekeeper/crash-88af...):
  // a connection signed in as dev-A, then refused on the same connection
  // object, still had its 503 rejections delivered to dev-A.
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-A", f.claim, f.now).allowed);
  auto rogue = issue_client(pki::CertificateAuthority::create_root("Rogue CA", 3600), "thing-1");
  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-1", rogue, f.now).allowed);
  CHECK(gk->connection_count() == 0);
  Actions out;
  gk->on_message(f.key(0), kCreate, "{}", 1, {}, 1000, out);  // no worker: it would be a 503 at once
  CHECK(out.messages.empty());
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, kCreate)));
  // A refused re-check (SIGHUP) of a worker unlinks it too: its pending requests are answered.
  const void* worker = link_worker(f, *gk);
  REQUIRE(sign_in(*gk, f.key(1), "dev-B", f.claim, f.now).allowed);
  forward(*gk, f.key(1), kCreate, 1000);
  CHECK(gk->linked_workers() == 1);
  CHECK_FALSE(sign_in(*gk, worker, "provisiond-worker", rogue, f.now).allowed);
  CHECK(gk->linked_workers() == 0);
  Actions tick;
  gk->on_tick(1001, tick);
  REQUIRE(tick.messages.size() == 1);
  CHECK(tick.messages[0].client_id == "dev-B");
  CHECK_THAT(tick.messages[0].payload, Catch::Contains("503"));
}

TEST_CASE("authenticate: a certificate from an unknown CA is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto rogue_ca = pki::CertificateAuthority::create_root("Rogue CA", 3600);
  auto rogue = issue_client(rogue_ca, "thing-1");
  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-1", rogue, f.now).allowed);
  CHECK(f.logged("not a registered identity"));
  CHECK(f.logged("Rogue CA"));

  // Issued by the fleet CA but never registered: not an identity either.
  auto unregistered = issue_client(f.fleet_ca, "thing-1");
  CHECK_FALSE(sign_in(*gk, f.key(1), "thing-1", unregistered, f.now).allowed);
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("authenticate: an inactive or expired claim certificate is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();

  SECTION("INACTIVE") {
    REQUIRE(f.reg.set_claim_status(f.claim.id(), registry::kInactive));
    CHECK_FALSE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
    CHECK(f.logged("is INACTIVE"));
  }
  SECTION("expires_at in the past") {
    auto row = *f.reg.find_claim_certificate(f.claim.id());
    row.expires_at = f.now - 10;
    f.reg.put_claim_certificate(row);
    CHECK_FALSE(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
    CHECK(f.logged("expired"));
  }
  SECTION("expires_at in the future is fine") {
    auto row = *f.reg.find_claim_certificate(f.claim.id());
    row.expires_at = f.now + 3600;
    f.reg.put_claim_certificate(row);
    CHECK(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);
  }
}

TEST_CASE("authenticate: a certificate issued by a claim CA is a claim with the CA's templates", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  auto batch = issue_client(f.claim_ca, "claim-batch-2");
  REQUIRE_FALSE(f.reg.find_claim_certificate(batch.id()));

  auto r = sign_in(*gk, f.key(0), "factory-9", batch, f.now);
  REQUIRE(r.allowed);
  CHECK(r.username == "claim:" + batch.id().substr(0, 16));
  CHECK(may(*gk, f.key(0), Access::Write, kRegister));
  CHECK(may(*gk, f.key(0), Access::Write, kCreate));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRegisterOther));

  // The claim certificate id the workers get is this certificate's own id.
  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), kCreate, "{}", 1, {}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  const std::string* claim_id = property(out.messages[0].user_properties, "claim-certificate-id");
  REQUIRE(claim_id);
  CHECK(*claim_id == batch.id());
}

TEST_CASE("authenticate: the CA's allowed templates are the ones that count", "[plugin][auth]") {
  Fixture f;
  auto row = *f.reg.find_ca(f.claim_ca.certificate().id());
  row.allowed_templates = {"OtherFleet"};
  f.reg.put_ca(row);
  auto gk = f.gatekeeper();
  auto batch = issue_client(f.claim_ca, "claim-batch-2");
  REQUIRE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
  CHECK(may(*gk, f.key(0), Access::Write, kRegisterOther));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRegister));
}

TEST_CASE("authenticate: an inactive claim CA issues no claims", "[plugin][auth]") {
  Fixture f;
  auto row = *f.reg.find_ca(f.claim_ca.certificate().id());
  auto batch = issue_client(f.claim_ca, "claim-batch-2");

  SECTION("inactive before the plugin looked") {
    row.status = registry::kInactive;
    f.reg.put_ca(row);
    auto gk = f.gatekeeper();
    CHECK_FALSE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
    CHECK(f.logged("not a registered identity"));
  }
  SECTION("deactivated while running: noticed at the next registry poll") {
    auto gk = f.gatekeeper();
    REQUIRE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
    gk->on_disconnect(f.key(0));
    row.status = registry::kInactive;
    f.reg.put_ca(row);
    Actions out;
    gk->on_tick(1'000'000, out);
    CHECK_FALSE(sign_in(*gk, f.key(0), "factory-9", batch, f.now).allowed);
  }
  SECTION("a fleet CA is not a claim CA") {
    auto gk = f.gatekeeper();
    auto from_fleet = issue_client(f.fleet_ca, "nobody");
    CHECK_FALSE(sign_in(*gk, f.key(1), "factory-10", from_fleet, f.now).allowed);
  }
}

TEST_CASE("authenticate: a manufacturer CA registered while the plugin runs is used from the next registry poll",
          "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  // The plugin has read its CAs: a claim from the claim CA signed in.
  REQUIRE(sign_in(*gk, f.key(0), "factory-9", issue_client(f.claim_ca, "claim-batch-2"), f.now).allowed);
  auto factory = pki::CertificateAuthority::create_root("Late Factory CA", 3600);
  auto device = issue_client(factory, "SN-7");
  CHECK_FALSE(sign_in(*gk, f.key(1), "sn-7", device, f.now).allowed);  // not registered yet

  registry::CaRecord row;
  row.id = factory.certificate().id();
  row.name = "late-factory";
  row.role = "manufacturer";
  row.pem = factory.certificate().to_pem();
  row.allowed_templates = {"DemoFleet"};
  f.reg.put_ca(row);
  Actions out;
  gk->on_tick(1'000'000, out);
  auto result = sign_in(*gk, f.key(1), "sn-7", device, f.now);
  CHECK(result.allowed);
  CHECK(result.username == "enrollment:SN-7");
  CHECK(out.kicks.empty());  // a new CA takes nothing away from anyone
}

TEST_CASE("authenticate: device certificates that are not ACTIVE are refused", "[plugin][auth]") {
  Fixture f;
  auto revoked = issue_client(f.fleet_ca, "thing-r");
  f.register_device(revoked, "thing-r", registry::kRevoked, "DemoPolicy");
  auto pending = issue_client(f.fleet_ca, "thing-p");
  f.register_device(pending, "thing-p", registry::kPendingActivation, "DemoPolicy");
  auto inactive = issue_client(f.fleet_ca, "thing-i");
  f.register_device(inactive, "thing-i", registry::kInactive, "DemoPolicy");
  auto gk = f.gatekeeper();

  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-r", revoked, f.now).allowed);
  CHECK(f.logged("is REVOKED"));
  CHECK_FALSE(sign_in(*gk, f.key(1), "thing-p", pending, f.now).allowed);
  CHECK(f.logged("is PENDING_ACTIVATION"));
  CHECK_FALSE(sign_in(*gk, f.key(2), "thing-i", inactive, f.now).allowed);
  CHECK(f.logged("is INACTIVE"));
  CHECK(gk->connection_count() == 0);

  // Revoking the active one takes effect for its next connection.
  REQUIRE(sign_in(*gk, f.key(3), "thing-1", f.device, f.now).allowed);
  gk->on_disconnect(f.key(3));
  REQUIRE(f.reg.set_certificate_status(f.device.id(), registry::kRevoked));
  CHECK_FALSE(sign_in(*gk, f.key(3), "thing-1", f.device, f.now).allowed);
}

TEST_CASE("authenticate: a device certificate with no thing, or without connect permission, is refused",
          "[plugin][auth]") {
  Fixture f;
  auto loose = issue_client(f.fleet_ca, "loose");
  registry::CertificateRecord r;
  r.id = loose.id();
  r.pem = loose.to_pem();
  r.status = registry::kActive;
  r.serial = loose.serial_hex();
  r.not_before = loose.not_before();
  r.not_after = loose.not_after();
  f.reg.insert_certificate(r);
  auto gk = f.gatekeeper();
  CHECK_FALSE(sign_in(*gk, f.key(0), "loose", loose, f.now).allowed);
  CHECK(f.logged("not attached to a thing"));

  // No policy at all: nothing allows connect.
  auto bare = issue_client(f.fleet_ca, "thing-bare");
  f.reg.insert_thing({"thing-bare", std::nullopt, {}});
  r.id = bare.id();
  r.pem = bare.to_pem();
  r.thing_name = "thing-bare";
  r.serial = bare.serial_hex();
  f.reg.insert_certificate(r);
  CHECK_FALSE(sign_in(*gk, f.key(1), "thing-bare", bare, f.now).allowed);
  CHECK(f.logged("policy does not allow connect"));
}

TEST_CASE("authenticate: an expired certificate is refused", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  CHECK(sign_in(*gk, f.key(0), "thing-1", f.device, f.device.not_after()).allowed);
  gk->on_disconnect(f.key(0));
  CHECK_FALSE(sign_in(*gk, f.key(0), "thing-1", f.device, f.device.not_after() + 1).allowed);
  CHECK(f.logged("expired"));
  CHECK_FALSE(sign_in(*gk, f.key(1), "dev-1", f.claim, f.claim.not_after() + 1).allowed);
  CHECK_FALSE(sign_in(*gk, f.key(2), "svc", f.service, f.service.not_after() + 1).allowed);
  CHECK(gk->connection_count() == 0);
}

TEST_CASE("authenticate: the gatekeeper keeps its own reference to the certificate", "[plugin][auth]") {
  Fixture f;
  auto gk = f.gatekeeper();
  {
    // A certificate the caller frees right after the call (as plugin.cpp does).
    auto copy = pki::Certificate::from_pem(f.claim.to_pem());
    REQUIRE(sign_in(*gk, f.key(0), "dev-1", copy, f.now).allowed);
  }
  CHECK(may(*gk, f.key(0), Access::Write, kCreate));
}

TEST_CASE("enrollment: a certificate from a manufacturer CA is a provisioning identity named by its registration id",
          "[plugin][auth]") {
  Fixture f;
  auto factory = pki::CertificateAuthority::create_root("Factory CA", 3600);
  registry::CaRecord row;
  row.id = factory.certificate().id();
  row.name = "factory";
  row.role = "manufacturer";
  row.pem = factory.certificate().to_pem();
  row.allowed_templates = {"DemoFleet"};
  row.registration_id_field = "serialNumber";
  f.reg.put_ca(row);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", "sensor"}, {"serialNumber", "SN-42"}};
  auto cert = factory.issue(key.get(), options);

  auto gk = f.gatekeeper();
  auto result = sign_in(*gk, f.key(0), "factory-1", cert, f.now);
  REQUIRE(result.allowed);
  CHECK(result.username == "enrollment:SN-42");
  CHECK(may(*gk, f.key(0), Access::Write, kCsr));
  CHECK(may(*gk, f.key(0), Access::Write, kRegister));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kRegisterOther));
  // the registration id travels to the workers, set by the plugin
  link_worker(f, *gk);
  Actions out;
  gk->on_message(f.key(0), kCsr, "{}", 1, {{"registration-id", "forged"}}, 1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(*property(out.messages[0].user_properties, "registration-id") == "SN-42");
  CHECK(*property(out.messages[0].user_properties, "identity") == "enrollment");

  // no registration id in the certificate: refused
  registry::CaRecord cn_row = row;
  cn_row.registration_id_field = "CN";
  pki::IssueOptions no_cn;
  no_cn.subject = {{"O", "Acme"}};
  auto anonymous = factory.issue(key.get(), no_cn);
  f.reg.put_ca(cn_row);
  auto gk2 = f.gatekeeper();
  CHECK_FALSE(sign_in(*gk2, f.key(1), "factory-2", anonymous, f.now).allowed);
  CHECK(f.logged("has no CN to use as its registration id"));
  // the certificate serial can be the registration id too
  CHECK(registration_id(cert, "certificateSerial") == cert.serial_hex());
}

TEST_CASE("client_id_must_be_thing_name refuses a device under another client id whatever its policy", "[plugin][auth]") {
  Fixture f;
  auto wide = issue_client(f.fleet_ca, "thing-wide");
  f.register_device(wide, "thing-wide", registry::kActive, "EverythingPolicy");
  auto lax = f.gatekeeper();
  CHECK(sign_in(*lax, f.key(0), "not-my-name", wide, f.now).allowed);
  auto strict = f.gatekeeper({{"client_id_must_be_thing_name", "true"}});
  CHECK_FALSE(sign_in(*strict, f.key(1), "not-my-name", wide, f.now).allowed);
  CHECK(f.logged("the client id must be the thing name"));
  CHECK(sign_in(*strict, f.key(2), "thing-wide", wide, f.now).allowed);
}

TEST_CASE("a temporary claim is cut off once its registry expiry passes, while connected", "[plugin][auth]") {
  Fixture f;
  auto record = *f.reg.find_claim_certificate(f.claim.id());
  record.expires_at = f.now + 2;
  f.reg.put_claim_certificate(record);
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "installer-phone", f.claim, f.now).allowed);
  Actions out;
  gk->on_tick(1000, out, f.now + 1);
  CHECK(out.kicks.empty());
  gk->on_tick(1000 + gk->options().registry_poll_ms, out, f.now + 3);
  CHECK(out.kicks == std::vector<std::string>{"installer-phone"});
  CHECK(f.logged("claim certificate expired"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Write, kCreate));
}
