// Password devices (HTTP bootstrap) on the broker: a client without a
// certificate signs in on the listener made for it with its thing name and
// secret, gets its thing's policies, and is cut off when its credential
// changes.
#include <catch2/catch.hpp>

#include <thread>

#include "stack.h"
#include "util/encoding.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

const char* kPolicy =
    R"({"statements":[{"effect":"allow","actions":["connect"],"clientIds":["${clientId}"]},)"
    R"({"effect":"allow","actions":["publish","subscribe","receive"],"topics":["devices/${thingName}/#"]}]})";

struct PasswordDevice {
  std::string thing, uuid, secret;
};

PasswordDevice add_device(Stack& stack, const std::string& thing) {
  PasswordDevice d{thing, random_uuid(), random_token(24)};
  auto reg = stack.registry();
  reg.put_policy("PasswordPolicy", kPolicy);
  reg.insert_thing({thing, std::nullopt, {}});
  registry::DeviceCredentialRecord c;
  c.thing_name = thing;
  c.device_uuid = d.uuid;
  c.secret_hash = sha256_hex(d.secret);
  c.issued_at = 1;
  c.policies = {"PasswordPolicy"};
  reg.insert_device_credential(c);
  return d;
}

bool first_connect_recorded(Stack& stack, const std::string& thing) {
  for (int i = 0; i < 50; ++i) {
    if (stack.registry().find_device_credential(thing)->first_connected_at) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a password device connects with its thing name and secret, gets its thing's policies, and nothing else") {
  StackOptions options;
  options.password_listener = true;
  Stack stack(options);
  auto a = add_device(stack, "pw-a");
  auto b = add_device(stack, "pw-b");

  mqtt_session::Session session(stack.password_client(a.thing, a.secret, a.uuid));
  session.connect();
  CHECK(session.publish("devices/pw-a/data", "{}") == 0);
  CHECK(session.publish("devices/pw-b/data", "{}") != 0);  // another device's topic
  CHECK(session.publish("_provision/requests", "{}") != 0);
  CHECK(first_connect_recorded(stack, a.thing));
  auto audit = stack.registry().audit_entries({});
  CHECK(std::any_of(audit.begin(), audit.end(), [](const auto& e) { return e.action == "PasswordDeviceFirstConnect" && e.subject == "pw-a"; }));
  CHECK_FALSE(stack.registry().find_device_credential(b.thing)->first_connected_at);

  SECTION("a wrong secret, another device's secret, another client id, an unknown thing: refused") {
    CHECK_THROWS(mqtt_session::Session(stack.password_client(a.thing, "wrong-secret", a.uuid)).connect());
    CHECK_THROWS(mqtt_session::Session(stack.password_client(a.thing, b.secret, a.uuid)).connect());
    CHECK_THROWS(mqtt_session::Session(stack.password_client(a.thing, a.secret, b.uuid)).connect());
    CHECK_THROWS(mqtt_session::Session(stack.password_client("nobody", a.secret, a.uuid)).connect());
    CHECK_THROWS(mqtt_session::Session(stack.password_client("", a.secret, a.uuid)).connect());
    CHECK(session.connected());
  }
  SECTION("a rotated secret cuts it off within a second, and the new one works") {
    const std::string fresh = random_token(24);
    stack.registry().set_device_secret(a.thing, sha256_hex(fresh), 2);
    auto started = std::chrono::steady_clock::now();
    CHECK(session.wait_disconnected(2s));
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
    CHECK_THROWS(mqtt_session::Session(stack.password_client(a.thing, a.secret, a.uuid)).connect());
    mqtt_session::Session renewed(stack.password_client(a.thing, fresh, a.uuid));
    renewed.connect();
    CHECK(renewed.publish("devices/pw-a/data", "{}") == 0);
  }
  SECTION("a disabled credential cuts it off, and is refused") {
    stack.registry().set_device_credential_status(a.thing, registry::kInactive);
    CHECK(session.wait_disconnected(2s));
    CHECK_THROWS(mqtt_session::Session(stack.password_client(a.thing, a.secret, a.uuid)).connect());
  }
  SECTION("a deleted thing (deprovisioned) cuts it off") {
    stack.registry().delete_thing(a.thing);
    CHECK(session.wait_disconnected(2s));
    CHECK_THROWS(mqtt_session::Session(stack.password_client(a.thing, a.secret, a.uuid)).connect());
  }
  SECTION("a policy taken away applies at once") {
    stack.registry().set_device_policies(a.thing, {});
    CHECK(session.wait_disconnected(2s));  // no connect permission any more
  }
}

TEST_CASE("without a password listener a client without a certificate is refused, whatever it sends") {
  Stack stack;
  CHECK(stack.password_port == 0);
  auto d = add_device(stack, "pw-none");
  mqtt_session::ConnectSettings s = stack.claim("x");
  s.tls.certificate.clear();
  s.tls.private_key.clear();
  s.client_id = d.uuid;
  s.username = d.thing;
  s.password = d.secret;
  CHECK_THROWS(mqtt_session::Session(s).connect());  // the TLS listener wants a certificate
}

TEST_CASE("a password device on a plain TCP listener, when the operator allowed one") {
  StackOptions options;
  options.password_listener = true;
  options.password_listener_plain = true;
  Stack stack(options);
  auto d = add_device(stack, "pw-plain");
  mqtt_session::Session session(stack.password_client(d.thing, d.secret, d.uuid));
  session.connect();
  CHECK(session.publish("devices/pw-plain/data", "{}") == 0);
  // certificate devices still need their certificate on the TLS listener; the plain one takes passwords only
  CHECK_THROWS(mqtt_session::Session(stack.password_client(d.thing, "guess", d.uuid)).connect());
}
