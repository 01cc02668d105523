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
