// The plugin's decision code: rate limits and the plugin's options.
// Shared fixture: plugin_fixture.h.
#include "plugin_fixture.h"

using namespace provision;
using namespace provision::plugin;
using namespace provision::plugin_test;

TEST_CASE("options: defaults and valid values", "[plugin][options]") {
  auto o = parse_options({{"registry", "/var/lib/provision/registry.db"}});
  CHECK(o.registry == "/var/lib/provision/registry.db");
  CHECK(o.internal_prefix == "_provision");
  CHECK(o.aws_topics);
  CHECK(o.max_pending_per_client == 4);
  CHECK(o.rejection_rate_per_client.per_second == 10);
  CHECK(o.rejection_rate_per_client.burst == 100);

  o = parse_options({{"registry", "r.db"},
                     {"internal_prefix", "fleet"},
                     {"max_payload", "256"},
                     {"reply_timeout_ms", "600000"},
                     {"max_pending_per_client", "7"},
                     {"max_pending_total", "12"},
                     {"aws_topics", "no"},
                     {"registry_poll_ms", "10"}});
  CHECK(o.internal_prefix == "fleet");
  CHECK(o.max_payload == 256);
  CHECK(o.reply_timeout_ms == 600000);
  CHECK(o.max_pending_per_client == 7);
  CHECK(o.max_pending_total == 12);
  CHECK_FALSE(o.aws_topics);
  CHECK(o.registry_poll_ms == 10);
}

TEST_CASE("options: bad options are refused with a message naming them", "[plugin][options]") {
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"regsitry_path", "x"}}), Catch::Contains("regsitry_path"));
  CHECK_THROWS_AS(parse_options({{"registry", "r.db"}, {"bogus", "1"}}), Error);
  CHECK_THROWS_WITH(parse_options({}), Catch::Contains("registry"));
  CHECK_THROWS_WITH(parse_options({{"registry", ""}}), Catch::Contains("registry"));
  CHECK_THROWS_WITH(parse_options({{"max_payload", "4096"}}), Catch::Contains("plugin_opt_registry"));

  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"max_payload", "abc"},
                                                                            {"max_payload", "100"},
                                                                            {"max_payload", "4096 "},
                                                                            {"reply_timeout_ms", ""},
                                                                            {"reply_timeout_ms", "99"},
                                                                            {"reply_timeout_ms", "1e4"},
                                                                            {"max_pending_per_client", "0"},
                                                                            {"max_pending_per_client", "-1"},
                                                                            {"max_pending_per_client", "5x"},
                                                                            {"max_pending_total", "99999999999999999999"},
                                                                            {"registry_poll_ms", "+50"},
                                                                            {"aws_topics", "maybe"}}) {
    INFO(key << "=" << value);
    CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {key, value}}), Catch::Contains(key));
  }

  for (std::string prefix : {"$internal", "$SYS/x", "", "a/+", "a/#"}) {
    INFO(prefix);
    CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"internal_prefix", prefix}}),
                      Catch::Contains("internal_prefix"));
  }
}

TEST_CASE("rate limits: token buckets per key refill at their rate and forget idle keys", "[plugin][limits]") {
  RateLimiter limiter(parse_rate("k", "2/3"));
  CHECK(limiter.take("a", 0));
  CHECK(limiter.take("a", 0));
  CHECK(limiter.take("a", 0));
  CHECK_FALSE(limiter.take("a", 0));
  CHECK(limiter.take("b", 0));       // keys are independent
  CHECK_FALSE(limiter.take("a", 400));
  CHECK(limiter.take("a", 500));     // 2 per second: one token after 500 ms
  CHECK_FALSE(limiter.take("a", 500));
  limiter.prune(100'000);            // both buckets are full again: nothing worth keeping
  CHECK(limiter.size() == 0);
  RateLimiter unlimited(parse_rate("k", "0"));
  for (int i = 0; i < 1000; ++i) CHECK(unlimited.take("a", 0));
  CHECK(unlimited.size() == 0);
  CHECK_THROWS_WITH(parse_rate("connect_rate_per_claim", "fast"), Catch::Contains("plugin_opt_connect_rate_per_claim"));
  CHECK_THROWS(parse_rate("k", "5/0"));
  CHECK_THROWS(parse_rate("k", "-1"));
}

TEST_CASE("authenticate: connects over the rate limit are refused, re-checks on reload are not counted", "[plugin][limits]") {
  Fixture f;
  auto gk = f.gatekeeper({{"connect_rate_per_claim", "0.001/2"}});
  CHECK(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(sign_in(*gk, f.key(1), "c1", f.claim, f.now).allowed);
  CHECK_FALSE(sign_in(*gk, f.key(2), "c2", f.claim, f.now).allowed);
  CHECK(f.logged("connect rate limit for this claim certificate exceeded"));
  // Mosquitto re-authenticates connected clients on SIGHUP: not a new connect.
  CHECK(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(gk->connection_count() == 2);
  // the service is never limited
  CHECK(sign_in(*gk, f.key(3), "svc", f.service, f.now).allowed);
}

TEST_CASE("routing: requests over the rate limit get a 429 Throttled rejected reply", "[plugin][limits]") {
  Fixture f;
  auto gk = f.gatekeeper({{"request_rate_per_claim", "0.001/1"}});
  REQUIRE(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  link_worker(f, *gk);
  forward(*gk, f.key(0), kCreate, 1000);
  Actions out;
  gk->on_message(f.key(0), kCreate, "{}", 1, {}, 1001, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].client_id == "c0");
  CHECK(out.messages[0].topic == std::string(kCreate) + "/rejected");
  auto body = json::parse(out.messages[0].payload);
  CHECK(json::int_member(body, "statusCode") == 429);
  CHECK(json::string_member(body, "errorCode") == "Throttled");
}

TEST_CASE("options: an options file adds and overrides options, and refuses bootstrap ones", "[plugin][options]") {
  TempDir dir;
  auto file = dir.path / "plugin.conf";
  write_file(file, "# comment\n\nmax_payload 1000\nplugin_opt_request_rate_per_address 5/10\n", 0644);
  auto o = parse_options({{"registry", "r.db"}, {"max_payload", "2000"}, {"options_file", file.string()}});
  CHECK(o.max_payload == 1000);
  CHECK(o.request_rate_per_address.per_second == 5);
  CHECK(o.request_rate_per_address.burst == 10);
  write_file(file, "registry other.db\n", 0644);
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", file.string()}}),
                    Catch::Contains("belongs in mosquitto.conf"));
  write_file(file, "max_payload\n", 0644);
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", file.string()}}), Catch::Contains(":1:"));
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", (dir.path / "missing").string()}}),
                    Catch::Contains("plugin_opt_options_file"));
}

TEST_CASE("reconfigure: new limits apply at once and the internal prefix stays", "[plugin][options]") {
  Fixture f;
  auto gk = f.gatekeeper();
  REQUIRE(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(gk->check_acl(f.key(0), acl(Access::Write, kCreate, 1, 5000)));
  auto options = parse_options({{"registry", f.registry_path.string()}, {"max_payload", "4096"}, {"internal_prefix", "other"}});
  gk->reconfigure(options);
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, kCreate, 1, 5000)));
  CHECK(gk->options().internal_prefix == "_provision");
  CHECK(f.logged("internal_prefix cannot change"));
}

TEST_CASE("a token bucket on its own: full at first use, refills at its rate, never past its burst", "[plugin][limits]") {
  const Rate rate = parse_rate("k", "10/3");
  TokenBucket bucket;
  for (int i = 0; i < 3; ++i) CHECK(bucket.take(rate, 5000));
  CHECK_FALSE(bucket.take(rate, 5000));
  CHECK_FALSE(bucket.take(rate, 5050));
  CHECK(bucket.take(rate, 5100));  // 10 a second: one after 100 ms
  CHECK_FALSE(bucket.take(rate, 5100));
  CHECK_FALSE(bucket.take(rate, 4000));  // a clock going back adds nothing
  for (int i = 0; i < 3; ++i) CHECK(bucket.take(rate, 60'000));
  CHECK_FALSE(bucket.take(rate, 60'000));
  TokenBucket unlimited;
  for (int i = 0; i < 1000; ++i) CHECK(unlimited.take(parse_rate("k", "0"), 0));
}

TEST_CASE("rejections the plugin answers itself are bounded per connection: past rejection_rate_per_client the "
          "connection is cut off, answered nothing more and kicked on the next TICK",
          "[plugin][limits]") {
  Fixture f;
  auto gk = f.gatekeeper({{"rejection_rate_per_client", "1/5"}, {"max_pending_per_client", "1"}});
  REQUIRE(sign_in(*gk, f.key(0), "flooder", f.claim, f.now).allowed);
  REQUIRE(sign_in(*gk, f.key(1), "neighbour", f.claim, f.now).allowed);
  link_worker(f, *gk);
  forward(*gk, f.key(0), kCreate, 1000);  // in flight: the next ones are over the limit
  auto rejected = [&](const void* key, int64_t now_ms) {
    Actions out;
    gk->on_message(key, kCreate, "{}", 0, {}, now_ms, out);
    return out.messages.size() == 1 && out.messages[0].topic == std::string(kCreate) + "/rejected";
  };
  for (int i = 0; i < 5; ++i) CHECK(rejected(f.key(0), 1000));  // the burst: answered 429
  CHECK(gk->options().rejection_rate_per_client.burst == 5);
  Actions out;
  gk->on_message(f.key(0), kCreate, "{}", 0, {}, 1000, out);
  CHECK(out.messages.empty());  // past it: no answer
  CHECK(out.kicks.empty());     // kicks happen on TICK only
  CHECK(f.logged_at(LogLevel::Notice, "cutting off client 'flooder'"));
  CHECK_FALSE(gk->check_acl(f.key(0), acl(Access::Write, kCreate)));  // denied everything until kicked
  Actions later;
  gk->on_message(f.key(0), kCreate, "{}", 0, {}, 5000, later);
  CHECK(later.messages.empty());  // and its bucket refilling does not bring it back
  Actions tick;
  gk->on_tick(1001, tick);
  REQUIRE(tick.kicks.size() == 1);
  CHECK(tick.kicks[0] == "flooder");
  Actions next_tick;
  gk->on_tick(1002, next_tick);
  CHECK(next_tick.kicks.empty());  // kicked once
  // Its neighbour on the same claim keeps its own budget.
  forward(*gk, f.key(1), kCreate, 1000);
  CHECK(rejected(f.key(1), 1000));
}

TEST_CASE("rejection budget: it refills at its rate, counts 503s with no worker too, and a client id taken over "
          "before the TICK is not kicked",
          "[plugin][limits]") {
  Fixture f;
  auto gk = f.gatekeeper({{"rejection_rate_per_client", "2/2"}});
  REQUIRE(sign_in(*gk, f.key(0), "patient", f.claim, f.now).allowed);
  auto answered = [&](const void* key, int64_t now_ms) {
    Actions out;
    gk->on_message(key, kCreate, "{}", 0, {}, now_ms, out);  // no worker: 503 at once
    return out.messages.size();
  };
  // Two a second, whatever the time: never cut off.
  for (int64_t t = 0; t < 10'000; t += 500) CHECK(answered(f.key(0), t) == 1);
  // Faster: cut off.
  CHECK(answered(f.key(0), 20'000) == 1);
  CHECK(answered(f.key(0), 20'000) == 1);
  CHECK(answered(f.key(0), 20'000) == 0);
  // Before the TICK another connection takes the client id over (the broker
  // disconnects the old one): the new one is not kicked.
  gk->on_disconnect(f.key(0));
  REQUIRE(sign_in(*gk, f.key(1), "patient", f.claim, f.now).allowed);
  Actions tick;
  gk->on_tick(20'001, tick);
  CHECK(tick.kicks.empty());
  CHECK(answered(f.key(1), 20'002) == 1);
  // 0 turns the budget off.
  auto unlimited = f.gatekeeper({{"rejection_rate_per_client", "0"}});
  REQUIRE(sign_in(*unlimited, f.key(2), "anyone", f.claim, f.now).allowed);
  for (int i = 0; i < 1000; ++i) {
    Actions out;
    unlimited->on_message(f.key(2), kCreate, "{}", 0, {}, 0, out);
    REQUIRE(out.messages.size() == 1);
  }
}
