#pragma once
// MQTT topic names and filters: validity, matching, and the two relations
// between filters that policy decisions on SUBSCRIBE need.
#include <string_view>

namespace provision::policy {

// A topic name to publish on: non-empty, no '+' or '#', no NUL.
bool valid_topic(std::string_view topic);
// A subscription filter: '+' fills a whole level, '#' only as the whole last level.
bool valid_filter(std::string_view filter);

// MQTT matching, including the rule that a filter starting with a wildcard
// does not match a topic starting with '$'.
bool topic_matches(std::string_view filter, std::string_view topic);
// True when every topic that `inner` matches is also matched by `outer`.
bool filter_covers(std::string_view outer, std::string_view inner);
// True when at least one topic is matched by both filters.
bool filters_intersect(std::string_view a, std::string_view b);

}  // namespace provision::policy
