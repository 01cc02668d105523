#include "policy/topic_filter.h"

namespace provision::policy {
namespace {

// Splits off the next level of `s` (up to '/'); `done` is set after the last one.
struct Levels {
  std::string_view rest;
  bool done = false;
  std::string_view next() {
    auto slash = rest.find('/');
    std::string_view level = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
      done = true;
      rest = {};
    } else {
      rest.remove_prefix(slash + 1);
    }
    return level;
  }
};

bool starts_with_wildcard(std::string_view filter) { return !filter.empty() && (filter[0] == '+' || filter[0] == '#'); }
bool is_dollar(std::string_view topic) { return !topic.empty() && topic[0] == '$'; }

}  // namespace

bool valid_topic(std::string_view topic) {
  if (topic.empty()) return false;
  for (char c : topic)
    if (c == '+' || c == '#' || c == '\0') return false;
  return true;
}

bool valid_filter(std::string_view filter) {
  if (filter.empty()) return false;
  Levels levels{filter};
  while (!levels.done) {
    std::string_view level = levels.next();
    if (level.find('\0') != std::string_view::npos) return false;
    if (level.size() > 1 && (level.find('+') != std::string_view::npos || level.find('#') != std::string_view::npos))
      return false;
    if (level == "#" && !levels.done) return false;
  }
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (is_dollar(topic) && starts_with_wildcard(filter)) return false;
  Levels f{filter}, t{topic};
  while (!f.done) {
    std::string_view fl = f.next();
    if (fl == "#") return true;  // matches the parent level too ("a/#" matches "a")
    if (t.done) return false;
    std::string_view tl = t.next();
    if (fl != "+" && fl != tl) return false;
  }
  return t.done;
}

bool filter_covers(std::string_view outer, std::string_view inner) {
  if (is_dollar(inner) && starts_with_wildcard(outer)) return false;
  // A wildcard-first inner filter matches no '$' topics, so an outer filter
  // may cover it without the '$' rule getting in the way.
  Levels o{outer}, i{inner};
  while (!o.done) {
    std::string_view ol = o.next();
    if (ol == "#") return true;
    if (i.done) return false;
    std::string_view il = i.next();
    if (il == "#") return false;               // inner reaches deeper than outer can
    if (ol == "+") continue;                   // '+' covers any single level, '+' included
    if (il == "+" || ol != il) return false;   // a literal covers only itself
  }
  return i.done;
}

bool filters_intersect(std::string_view a, std::string_view b) {
  // '$' topics are reachable only by filters that start with a literal '$' level.
  if ((is_dollar(a) && starts_with_wildcard(b)) || (is_dollar(b) && starts_with_wildcard(a))) return false;
  Levels x{a}, y{b};
  while (!x.done && !y.done) {
    std::string_view xl = x.next(), yl = y.next();
    if (xl == "#" || yl == "#") return true;
    if (xl != "+" && yl != "+" && xl != yl) return false;
  }
  if (x.done && y.done) return true;
  // One filter has more levels: they meet only if the longer one continues
  // with '#' alone ("a" and "a/#").
  Levels& longer = x.done ? y : x;
  return longer.next() == "#" && longer.done;
}

}  // namespace provision::policy
