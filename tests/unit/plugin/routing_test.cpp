// The plugin's decision code: request/reply routing between devices and workers.
// Shared fixture: plugin_fixture.h.
#include "plugin_fixture.h"

using namespace provision;
using namespace provision::plugin;
using namespace provision::plugin_test;

struct RoutingFixture : Fixture {
  std::unique_ptr<Gatekeeper> gk;
  const void* claim_key = key(0);
  const void* service_key = key(1);
  explicit RoutingFixture(OptionPairs extra = {}) {
    gk = gatekeeper(std::move(extra));
    REQUIRE(sign_in(*gk, claim_key, "dev-A", claim, now, "192.0.2.7").allowed);
    REQUIRE(sign_in(*gk, service_key, "provisiond-1", service, now).allowed);
    REQUIRE(gk->check_acl(service_key, acl(Access::Subscribe, "$share/provisiond/_provision/requests")));
  }
  Actions reply(const std::string& request_id, const std::string& outcome, const std::string& payload = R"({"ok":true})") {
    Actions out;
    gk->on_message(service_key, kReplies, payload, 1, reply_properties(request_id, outcome), 2000, out);
    return out;
  }
};

TEST_CASE("routing: a claim's request goes to the workers with what only the plugin knows", "[plugin][routing]") {
  RoutingFixture f;
  Actions out;
  // A device's own user properties are never forwarded.
  UserProperties forged{{"request-id", "forged"}, {"client-id", "someone-else"}, {"claim-certificate-id", "x"}};
  f.gk->on_message(f.claim_key, kRegister, R"({"parameters":{}})", 1, forged, 1000, out);
  REQUIRE(out.messages.size() == 1);
  const auto& m = out.messages[0];
  CHECK(m.client_id.empty());
  CHECK(m.topic == kRequests);
  CHECK(m.qos == 1);
  CHECK(m.payload == R"({"parameters":{}})");
  CHECK(m.user_properties.size() == 6);
  const std::string* id = property(m.user_properties, "request-id");
  REQUIRE(id);
  CHECK_FALSE(id->empty());
  CHECK(*id != "forged");
  auto value = [&](const char* name) {
    const std::string* v = property(m.user_properties, name);
    return v ? *v : std::string("<missing>");
  };
  CHECK(value("request-topic") == kRegister);
  CHECK(value("client-id") == "dev-A");
  CHECK(value("claim-certificate-id") == f.claim.id());
  CHECK(value("source-address") == "192.0.2.7");
  CHECK(value("identity") == "claim");
  CHECK(out.kicks.empty());
  CHECK(f.gk->pending_requests() == 1);

  // A second request gets another id.
  std::string second = forward(*f.gk, f.claim_key, kCreate, 1001);
  CHECK(second != *id);
}

TEST_CASE("routing: a worker's reply reaches the asking client on the reply topic", "[plugin][routing]") {
  RoutingFixture f;
  SECTION("accepted") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    auto out = f.reply(id, "accepted", R"({"certificateId":"abc"})");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
    CHECK(out.messages[0].topic == std::string(kCreate) + "/accepted");
    CHECK(out.messages[0].payload == R"({"certificateId":"abc"})");
    CHECK(out.messages[0].qos == 1);
    CHECK(out.messages[0].user_properties.empty());
    CHECK(f.gk->pending_requests() == 0);
    // Answered once only.
    CHECK(f.reply(id, "accepted").messages.empty());
  }
  SECTION("rejected") {
    std::string id = forward(*f.gk, f.claim_key, kRegister, 1000);
    auto out = f.reply(id, "rejected", R"({"statusCode":400})");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
    CHECK(out.messages[0].topic == std::string(kRegister) + "/rejected");
    CHECK(out.messages[0].payload == R"({"statusCode":400})");
  }
  SECTION("the AWS alias is answered on the AWS reply topic, with the request's QoS") {
    std::string id = forward(*f.gk, f.claim_key, kAwsRegister, 1000, "{}", 0);
    auto out = f.reply(id, "accepted");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].topic == std::string(kAwsRegister) + "/accepted");
    CHECK(out.messages[0].qos == 0);
  }
  SECTION("a reply without a valid outcome is not delivered; the request stays pending") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    CHECK(f.reply(id, "maybe").messages.empty());
    Actions out;
    f.gk->on_message(f.service_key, kReplies, "{}", 1, {{"request-id", id}}, 2000, out);
    CHECK(out.messages.empty());
    CHECK(f.gk->pending_requests() == 1);
    CHECK(f.reply(id, "accepted").messages.size() == 1);
  }
  SECTION("replies count only from the service on the reply topic") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    Actions out;
    f.gk->on_message(f.service_key, kRequests, "{}", 1, reply_properties(id, "accepted"), 2000, out);
    f.gk->on_message(f.claim_key, kReplies, "{}", 1, reply_properties(id, "accepted"), 2000, out);
    CHECK(out.messages.empty());
    CHECK(f.gk->pending_requests() == 1);
  }
}

TEST_CASE("routing: a reply for an unknown request id is dropped and logged", "[plugin][routing]") {
  RoutingFixture f;
  auto out = f.reply("no-such-request", "accepted");
  CHECK(out.messages.empty());
  CHECK(f.logged_at(LogLevel::Warning, "matches no pending request"));
}

TEST_CASE("routing: no reply reaches a client that went away or was taken over", "[plugin][routing]") {
  RoutingFixture f;
  SECTION("disconnected") {
    std::string id = forward(*f.gk, f.claim_key, kCreate, 1000);
    f.gk->on_disconnect(f.claim_key);
    CHECK(f.gk->pending_requests() == 0);
    CHECK(f.reply(id, "accepted").messages.empty());
  }
  SECTION("taken over by another connection with the same client id") {
    std::string old_id = forward(*f.gk, f.claim_key, kCreate, 1000);
    const void* newer = f.key(2);
    REQUIRE(sign_in(*f.gk, newer, "dev-A", f.claim, f.now, "192.0.2.8").allowed);
    CHECK(f.reply(old_id, "accepted").messages.empty());

    // The new connection's own requests are answered, also after the broker
    // disconnects the old one.
    std::string new_id = forward(*f.gk, newer, kCreate, 1100);
    f.gk->on_disconnect(f.claim_key);
    auto out = f.reply(new_id, "accepted");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
  }
  SECTION("a re-check of the old connection (SIGHUP) does not take the client id back") {
    const void* newer = f.key(2);
    REQUIRE(sign_in(*f.gk, newer, "dev-A", f.claim, f.now, "192.0.2.8").allowed);
    REQUIRE(sign_in(*f.gk, f.claim_key, "dev-A", f.claim, f.now).allowed);  // the broker re-authenticates the old one
    f.gk->on_disconnect(f.claim_key);
    auto out = f.reply(forward(*f.gk, newer, kCreate, 1100), "accepted");
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
  }
  SECTION("the old connection's requests do not count against the new one") {
    RoutingFixture g(OptionPairs{{"max_pending_per_client", "1"}});
    forward(*g.gk, g.claim_key, kCreate, 1000);
    REQUIRE(sign_in(*g.gk, g.key(2), "dev-A", g.claim, g.now).allowed);
    forward(*g.gk, g.key(2), kCreate, 1000);
  }
}

TEST_CASE("routing: too many requests in flight get a 429 Throttled rejection", "[plugin][routing]") {
  RoutingFixture f;
  const int limit = f.gk->options().max_pending_per_client;
  REQUIRE(limit == 4);
  std::vector<std::string> ids;
  for (int i = 0; i < limit; ++i) ids.push_back(forward(*f.gk, f.claim_key, kCreate, 1000 + i));

  Actions out;
  f.gk->on_message(f.claim_key, kCreate, "{}", 1, {}, 1010, out);
  REQUIRE(out.messages.size() == 1);
  const auto& m = out.messages[0];
  CHECK(m.client_id == "dev-A");
  CHECK(m.topic == std::string(kCreate) + "/rejected");
  auto doc = json::parse(m.payload, "rejection");
  CHECK(json::int_member(doc, "statusCode") == 429);
  CHECK(json::string_member(doc, "errorCode") == "Throttled");
  CHECK(json::string_member(doc, "errorMessage").has_value());
  CHECK(f.gk->pending_requests() == static_cast<size_t>(limit));

  // Another client is not throttled by dev-A's requests.
  REQUIRE(sign_in(*f.gk, f.key(2), "dev-B", f.claim, f.now).allowed);
  forward(*f.gk, f.key(2), kCreate, 1011);

  // One answer frees one slot.
  REQUIRE(f.reply(ids[0], "accepted").messages.size() == 1);
  forward(*f.gk, f.claim_key, kCreate, 1020);
}

TEST_CASE("routing: past max_pending_total, requests get a 503", "[plugin][routing]") {
  RoutingFixture f(OptionPairs{{"max_pending_total", "1"}});
  forward(*f.gk, f.claim_key, kCreate, 1000);
  REQUIRE(sign_in(*f.gk, f.key(2), "dev-B", f.claim, f.now).allowed);
  Actions out;
  f.gk->on_message(f.key(2), kRegister, "{}", 1, {}, 1001, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].client_id == "dev-B");
  CHECK(out.messages[0].topic == std::string(kRegister) + "/rejected");
  auto doc = json::parse(out.messages[0].payload, "rejection");
  CHECK(json::int_member(doc, "statusCode") == 503);
  CHECK(json::string_member(doc, "errorCode") == "ServiceUnavailable");
}

TEST_CASE("routing: a request no worker answers in time gets a 503", "[plugin][routing]") {
  RoutingFixture f(OptionPairs{{"reply_timeout_ms", "1000"}, {"max_pending_per_client", "1"}});
  std::string id = forward(*f.gk, f.claim_key, kCsr, 10'000);

  Actions early;
  f.gk->on_tick(10'999, early);
  CHECK(early.messages.empty());
  CHECK(f.gk->pending_requests() == 1);

  Actions out;
  f.gk->on_tick(11'000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].client_id == "dev-A");
  CHECK(out.messages[0].topic == std::string(kCsr) + "/rejected");
  CHECK(out.messages[0].qos == 1);
  auto doc = json::parse(out.messages[0].payload, "rejection");
  CHECK(json::int_member(doc, "statusCode") == 503);
  CHECK(json::string_member(doc, "errorCode") == "ServiceUnavailable");
  CHECK(f.gk->pending_requests() == 0);

  // Expired once only; a late reply goes nowhere.
  Actions again;
  f.gk->on_tick(20'000, again);
  CHECK(again.messages.empty());
  CHECK(f.reply(id, "accepted").messages.empty());
  // The expired request freed its slot (limit 1).
  forward(*f.gk, f.claim_key, kCsr, 20'001);
}

TEST_CASE("routing: with no worker linked, a request is answered at once with a 503 saying so", "[plugin][routing]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-A", f.claim, f.now).allowed);
  auto no_worker = [&](const std::string& topic) {
    Actions out;
    gk->on_message(f.key(0), topic, "{}", 1, {}, 1000, out);
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0].client_id == "dev-A");
    CHECK(out.messages[0].topic == topic + "/rejected");
    auto doc = json::parse(out.messages[0].payload, "rejection");
    CHECK(json::int_member(doc, "statusCode") == 503);
    CHECK(json::string_member(doc, "errorCode") == "ServiceUnavailable");
    CHECK_THAT(*json::string_member(doc, "errorMessage"), Catch::Contains("no provisioning worker is connected"));
    CHECK(gk->pending_requests() == 0);
  };
  no_worker(kCreate);

  // A worker that is signed in but takes no requests is no worker; nor is one on the events only.
  REQUIRE(sign_in(*gk, f.key(1), "provisiond-1", f.service, f.now).allowed);
  no_worker(kCsr);
  REQUIRE(gk->check_acl(f.key(1), acl(Access::Subscribe, "$share/provisiond/_provision/events")));
  no_worker(kRegister);
  // Refused subscriptions count for nothing.
  REQUIRE(sign_in(*gk, f.key(2), "thing-1", f.device, f.now).allowed);
  REQUIRE_FALSE(gk->check_acl(f.key(2), acl(Access::Subscribe, "$share/provisiond/_provision/requests")));
  no_worker(kCreate);

  // Subscribed to the requests (shared or not): requests go to the workers.
  REQUIRE(gk->check_acl(f.key(1), acl(Access::Subscribe, kRequests)));
  forward(*gk, f.key(0), kCreate, 1000);
  // Unsubscribed again: answered at once again, and the one forwarded
  // while the worker was there is answered on the next TICK.
  REQUIRE(gk->check_acl(f.key(1), acl(Access::Unsubscribe, kRequests)));
  no_worker(kCsr);
  Actions tick;
  gk->on_tick(1001, tick);
  REQUIRE(tick.messages.size() == 1);
  CHECK(tick.messages[0].topic == std::string(kCreate) + "/rejected");
}

TEST_CASE("routing: when the last worker goes away, the requests pending on it are answered at once", "[plugin][routing]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "dev-A", f.claim, f.now).allowed);
  REQUIRE(sign_in(*gk, f.key(1), "dev-B", f.claim, f.now).allowed);
  for (int worker : {4, 5}) {
    REQUIRE(sign_in(*gk, f.key(worker), "provisiond-" + std::to_string(worker), f.service, f.now).allowed);
    REQUIRE(gk->check_acl(f.key(worker), acl(Access::Subscribe, "$share/provisiond/_provision/requests")));
  }
  auto rejected_503 = [](const Actions& out, const std::string& client_id) {
    return std::count_if(out.messages.begin(), out.messages.end(), [&](const OutgoingMessage& m) {
      if (m.client_id != client_id || !m.topic.ends_with("/rejected")) return false;
      auto doc = json::parse(m.payload, "rejection");
      return json::int_member(doc, "statusCode") == 503 &&
             json::string_member(doc, "errorMessage")->find("no provisioning worker is connected") != std::string::npos;
    });
  };

  SECTION("disconnected") {
    forward(*gk, f.key(0), kCreate, 1000);
    forward(*gk, f.key(1), kCsr, 1000);
    Actions first;
    gk->on_disconnect(f.key(4), first);
    CHECK(first.messages.empty());  // another worker is still there
    CHECK(gk->pending_requests() == 2);
    Actions last;
    gk->on_disconnect(f.key(5), last);
    CHECK(last.messages.size() == 2);
    CHECK(rejected_503(last, "dev-A") == 1);
    CHECK(rejected_503(last, "dev-B") == 1);
    CHECK(gk->pending_requests() == 0);
    // Their slots are free (a client's in-flight limit) and nothing expires later.
    Actions later;
    gk->on_tick(1000 + gk->options().reply_timeout_ms, later);
    CHECK(later.messages.empty());
    gk->on_disconnect(f.key(5), later);  // DISCONNECT may come twice
    CHECK(later.messages.empty());
  }
  SECTION("unsubscribed: answered on the next TICK (the ACL check carries out nothing)") {
    forward(*gk, f.key(0), kCreate, 1000);
    REQUIRE(gk->check_acl(f.key(4), acl(Access::Unsubscribe, "$share/provisiond/_provision/requests")));
    REQUIRE(gk->check_acl(f.key(5), acl(Access::Unsubscribe, "$share/provisiond/_provision/requests")));
    Actions out;
    gk->on_tick(1001, out);
    CHECK(rejected_503(out, "dev-A") == 1);
    CHECK(gk->pending_requests() == 0);
  }
  SECTION("the service identities disabled: cut off, and the requests answered in the same TICK") {
    forward(*gk, f.key(0), kCreate, 1000);
    f.reg.put_service_identity({f.service.id(), "provisiond", registry::kInactive, 0, "worker"});
    Actions out;
    gk->on_tick(1001, out);
    CHECK(out.kicks.size() == 2);
    CHECK(rejected_503(out, "dev-A") == 1);
    CHECK(gk->pending_requests() == 0);
  }
  SECTION("a worker's re-check on SIGHUP keeps it linked") {
    REQUIRE(sign_in(*gk, f.key(4), "provisiond-4", f.service, f.now).allowed);
    REQUIRE(sign_in(*gk, f.key(5), "provisiond-5", f.service, f.now).allowed);
    forward(*gk, f.key(0), kCreate, 1000);
  }
}

TEST_CASE("routing: what a claim may not send, and what devices send, goes nowhere", "[plugin][routing]") {
  RoutingFixture f(OptionPairs{{"aws_topics", "false"}});
  for (std::string topic : {std::string(kRegisterOther), std::string("$provision/templates/OtherFleet/provision/cbor"), std::string(kAwsCreate),
                            std::string(kRequests), std::string(kReplies), std::string(kCreate) + "/accepted",
                            std::string("devices/dev-A/telemetry")}) {
    INFO(topic);
    Actions out;
    f.gk->on_message(f.claim_key, topic, "{}", 1, reply_properties("x", "accepted"), 1000, out);
    CHECK(out.messages.empty());
  }
  CHECK(f.gk->pending_requests() == 0);

  REQUIRE(sign_in(*f.gk, f.key(2), "thing-1", f.device, f.now).allowed);
  for (std::string topic : {std::string("devices/thing-1/telemetry"), std::string(kCreate), std::string(kReplies)}) {
    INFO(topic);
    Actions out;
    f.gk->on_message(f.key(2), topic, "{}", 1, {}, 1000, out);
    CHECK(out.messages.empty());
  }
  Actions out;
  f.gk->on_message(f.key(7), kCreate, "{}", 1, {}, 1000, out);  // unknown connection
  CHECK(out.messages.empty());
  CHECK(f.gk->pending_requests() == 0);
}

TEST_CASE("renewal: the first connect of a renewing certificate is reported to the workers", "[plugin][routing]") {
  Fixture f;
  auto successor = issue_client(f.fleet_ca, "thing-1-renewed");
  f.register_device(successor, "thing-1", registry::kActive, "DemoPolicy");
  auto r = f.reg.find_certificate(successor.id());
  f.reg.delete_certificate(successor.id());
  r->replaces = f.device.id();
  f.reg.insert_certificate(*r);
  f.reg.attach_policy(successor.id(), "DemoPolicy");

  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "thing-1", successor, f.now).allowed);
  Actions out;
  gk->on_tick(1000, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].topic == "_provision/events");
  CHECK(*property(out.messages[0].user_properties, "event") == "certificate-used");
  CHECK(*property(out.messages[0].user_properties, "certificate-id") == successor.id());
  // the service may read and subscribe to the events, nobody else
  REQUIRE(sign_in(*gk, f.key(1), "svc", f.service, f.now).allowed);
  CHECK(may(*gk, f.key(1), Access::Subscribe, "$share/provisiond/_provision/events"));
  CHECK(may(*gk, f.key(1), Access::Read, "_provision/events"));
  CHECK_FALSE(may(*gk, f.key(0), Access::Subscribe, "_provision/events"));
}
