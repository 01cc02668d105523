// Device policies through compilation and matching, and MQTT topic filters.
// The input is a policy document, "\n--\n", then lines: a filter and a topic
// each. Properties: filter relations agree with matching (a filter that
// covers another matches every topic the other matches; a topic two filters
// match means they intersect); a policy decides without throwing.
#include "fuzz.h"
#include "policy/policy.h"
#include "policy/topic_filter.h"
#include "util/error.h"

using namespace provision;
using namespace provision::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [document, rest] = fuzz::split(fuzz::view(data, size), "\n--\n");
  std::vector<std::string_view> lines;
  while (!rest.empty() && lines.size() < 16) {
    auto [line, next] = fuzz::split(rest, "\n");
    lines.push_back(line);
    rest = next;
  }
  for (size_t i = 0; i + 1 < lines.size(); i += 2) {
    std::string_view a = lines[i], topic = lines[i + 1];
    for (size_t j = 0; j + 1 < lines.size(); j += 2) {
      std::string_view b = lines[j];
      if (!valid_filter(a) || !valid_filter(b) || !valid_topic(topic)) continue;
      if (filter_covers(a, b) && topic_matches(b, topic)) FUZZ_ASSERT(topic_matches(a, topic));
      if (topic_matches(a, topic) && topic_matches(b, topic)) FUZZ_ASSERT(filters_intersect(a, b));
    }
  }
  try {
    auto policy = PolicyDocument::parse(document);
    Principal principal({policy}, Variables{"thing-1", "client-1", std::string(64, 'c'), {{"site", "b"}}});
    for (auto resource : lines)
      for (auto action : {Action::Connect, Action::Publish, Action::Subscribe, Action::Receive}) principal.allows(action, resource);
  } catch (const Error&) {
  }
  return 0;
}
