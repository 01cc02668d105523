#include <catch2/catch.hpp>

#include "policy/policy.h"
#include "policy/topic_filter.h"
#include "protocol/schema_validator.h"
#include "util/json.h"

using namespace provision::policy;

TEST_CASE("topic filters: validity") {
  CHECK(valid_filter("a/b"));
  CHECK(valid_filter("a/+/c"));
  CHECK(valid_filter("#"));
  CHECK(valid_filter("a/#"));
  CHECK(valid_filter("+"));
  CHECK_FALSE(valid_filter("a/#/c"));
  CHECK_FALSE(valid_filter("a/b#"));
  CHECK_FALSE(valid_filter("a+/b"));
  CHECK_FALSE(valid_filter(""));
  CHECK(valid_topic("a/b"));
  CHECK_FALSE(valid_topic("a/+"));
  CHECK_FALSE(valid_topic("a/#"));
  CHECK_FALSE(valid_topic(""));
}

TEST_CASE("topic filters: matching follows MQTT, including the $ rule") {
  CHECK(topic_matches("a/b", "a/b"));
  CHECK_FALSE(topic_matches("a/b", "a/b/c"));
  CHECK(topic_matches("a/+", "a/b"));
  CHECK_FALSE(topic_matches("a/+", "a/b/c"));
  CHECK(topic_matches("a/#", "a"));
  CHECK(topic_matches("a/#", "a/b/c"));
  CHECK(topic_matches("+/+", "/b"));
  CHECK(topic_matches("a/+", "a/"));
  CHECK_FALSE(topic_matches("#", "$provision/certificates/create/json"));
  CHECK_FALSE(topic_matches("+/certificates/create/json", "$provision/certificates/create/json"));
  CHECK(topic_matches("$provision/#", "$provision/certificates/create/json"));
}

TEST_CASE("topic filters: covers") {
  CHECK(filter_covers("a/#", "a/b/#"));
  CHECK(filter_covers("a/#", "a/+/c"));
  CHECK(filter_covers("a/+", "a/b"));
  CHECK(filter_covers("a/+", "a/+"));
  CHECK(filter_covers("#", "a/#"));
  CHECK_FALSE(filter_covers("a/+", "a/#"));
  CHECK_FALSE(filter_covers("a/b", "a/+"));
  CHECK_FALSE(filter_covers("a/b", "a/b/c"));
  CHECK_FALSE(filter_covers("a/b/c", "a/b"));
  CHECK_FALSE(filter_covers("#", "$SYS/#"));
  CHECK(filter_covers("$SYS/#", "$SYS/broker"));
}

TEST_CASE("topic filters: intersect") {
  CHECK(filters_intersect("a/+", "a/b"));
  CHECK(filters_intersect("+/b", "a/+"));
  CHECK(filters_intersect("a", "a/#"));
  CHECK(filters_intersect("#", "_provision/requests"));
  CHECK(filters_intersect("+/requests", "_provision/#"));
  CHECK_FALSE(filters_intersect("a/b", "a/c"));
  CHECK_FALSE(filters_intersect("a/b", "a/b/c"));
  CHECK_FALSE(filters_intersect("a/+", "a/b/c"));
  CHECK_FALSE(filters_intersect("#", "$provision/#"));
}

namespace {
const char* kPolicy = R"({
  "statements": [
    {"effect": "allow", "actions": ["publish", "receive"], "topics": ["devices/${thingName}/telemetry", "devices/${thingName}/state/+"]},
    {"effect": "allow", "actions": ["subscribe", "receive"], "topics": ["devices/${thingName}/commands/#"]},
    {"effect": "allow", "actions": ["publish"], "topics": ["clients/${clientId}/up", "sites/${attributes.site}/up"]},
    {"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}"]},
    {"effect": "deny", "actions": ["publish", "subscribe", "receive"], "topics": ["devices/${thingName}/commands/admin", "devices/${thingName}/state/locked"]}
  ]})";

Principal principal(const std::string& thing, const std::string& client, std::map<std::string, std::string> attributes = {}) {
  return Principal({PolicyDocument::parse(kPolicy)}, Variables{thing, client, "c0ffee", std::move(attributes)});
}
}  // namespace

TEST_CASE("a principal may use its own topics and nothing else") {
  auto p = principal("dev-1", "dev-1", {{"site", "berlin"}});
  CHECK(p.allows(Action::Publish, "devices/dev-1/telemetry"));
  CHECK(p.allows(Action::Publish, "devices/dev-1/state/mode"));
  CHECK(p.allows(Action::Publish, "clients/dev-1/up"));
  CHECK(p.allows(Action::Publish, "sites/berlin/up"));
  CHECK_FALSE(p.allows(Action::Publish, "devices/dev-2/telemetry"));
  CHECK_FALSE(p.allows(Action::Publish, "devices/dev-1/commands/reboot"));
  CHECK(p.allows(Action::Subscribe, "devices/dev-1/commands/fw/#"));
  CHECK(p.allows(Action::Subscribe, "devices/dev-1/commands/reboot"));
  CHECK_FALSE(p.allows(Action::Subscribe, "devices/+/commands/#"));
  CHECK_FALSE(p.allows(Action::Subscribe, "#"));
  CHECK(p.allows(Action::Receive, "devices/dev-1/commands/reboot"));
  CHECK_FALSE(p.allows(Action::Receive, "devices/dev-2/commands/reboot"));
  CHECK(p.allows(Action::Connect, "dev-1"));
  CHECK_FALSE(p.allows(Action::Connect, "dev-2"));
}

TEST_CASE("deny wins over allow") {
  auto p = principal("dev-1", "dev-1");
  CHECK_FALSE(p.allows(Action::Publish, "devices/dev-1/state/locked"));
  CHECK_FALSE(p.allows(Action::Receive, "devices/dev-1/commands/admin"));
  // a subscription that could receive a denied topic is refused as a whole
  CHECK_FALSE(p.allows(Action::Subscribe, "devices/dev-1/commands/#"));
  CHECK(p.allows(Action::Subscribe, "devices/dev-1/commands/reboot"));
}

TEST_CASE("variables that would widen a filter bind to nothing") {
  // a client id with wildcards or a level separator must not widen clients/${clientId}/up
  for (std::string client : {"+", "#", "a/b", ""}) {
    auto p = principal("dev-1", client);
    CHECK_FALSE(p.allows(Action::Publish, "clients/" + client + "/up"));
    CHECK_FALSE(p.allows(Action::Publish, "clients/a/up"));
  }
  // missing attribute: the statement grants nothing
  auto p = principal("dev-1", "dev-1");
  CHECK_FALSE(p.allows(Action::Publish, "sites//up"));
  CHECK(p.allows(Action::Publish, "devices/dev-1/telemetry"));
}

TEST_CASE("an unbindable deny statement fails closed") {
  auto doc = PolicyDocument::parse(R"({"statements": [
    {"effect": "allow", "actions": ["publish"], "topics": ["#"]},
    {"effect": "deny", "actions": ["publish"], "topics": ["x/${attributes.missing}"]}]})");
  Principal p({doc}, Variables{"t", "t", "c", {}});
  CHECK_FALSE(p.allows(Action::Publish, "anything"));
}

TEST_CASE("policy documents are validated with the path of the problem") {
  CHECK_THROWS_WITH(PolicyDocument::parse("[]"), Catch::Contains("$: a policy must be a JSON object"));
  CHECK_THROWS_WITH(PolicyDocument::parse(R"({"statements": [{"effect": "maybe", "actions": ["publish"], "topics": ["a"]}]})"),
                    Catch::Contains("$.statements[0].effect"));
  CHECK_THROWS_WITH(PolicyDocument::parse(R"({"statements": [{"effect": "allow", "actions": ["fly"], "topics": ["a"]}]})"),
                    Catch::Contains("$.statements[0].actions[0]"));
  CHECK_THROWS_WITH(PolicyDocument::parse(R"({"statements": [{"effect": "allow", "actions": ["publish"], "topics": ["a/#/b"]}]})"),
                    Catch::Contains("$.statements[0].topics[0]"));
  CHECK_THROWS_WITH(PolicyDocument::parse(R"({"statements": [{"effect": "allow", "actions": ["publish"]}]})"),
                    Catch::Contains("$.statements[0].topics"));
  CHECK_THROWS_WITH(PolicyDocument::parse(R"({"statements": [], "extra": 1})"), Catch::Contains("$.extra"));
}

TEST_CASE("the example policy validates against schemas/policy.schema.json") {
  auto doc = provision::json::parse(kPolicy);
  CHECK_FALSE(provision::protocol::schema_violation("policy.schema.json", doc));
  auto bad = provision::json::parse(R"({"statements": [{"effect": "allow", "actions": ["fly"]}]})");
  CHECK(provision::protocol::schema_violation("policy.schema.json", bad));
}

TEST_CASE("policy documents get the same JSON limits as every other input: UTF-8, one document, 64 levels") {
  using namespace std::string_literals;
  CHECK_THROWS_WITH(PolicyDocument::parse("{\"statements\": []}\0{}"s), Catch::Contains("trailing bytes at offset 18"));
  CHECK_THROWS_WITH(PolicyDocument::parse("{\"statements\": [], \"\xff\": 1}"), Catch::Contains("invalid UTF-8 at offset 20"));
  CHECK_THROWS_WITH(PolicyDocument::parse("{\"statements\": " + std::string(100000, '[')),
                    Catch::Contains("nesting deeper than 64 at offset 78"));
}
