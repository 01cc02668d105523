#include "policy/policy.h"

#include "policy/topic_filter.h"
#include "util/json.h"

namespace provision::policy {
namespace {

uint8_t bit(Action action) { return static_cast<uint8_t>(1u << static_cast<int>(action)); }

Action parse_action(const rapidjson::Value& v, const std::string& path) {
  if (!v.IsString()) throw PolicyError(path, "action must be a string");
  std::string_view s = json::view(v);
  if (s == "connect") return Action::Connect;
  if (s == "publish") return Action::Publish;
  if (s == "subscribe") return Action::Subscribe;
  if (s == "receive") return Action::Receive;
  throw PolicyError(path, "unknown action '" + std::string(s) + "' (expected connect, publish, subscribe or receive)");
}

std::vector<std::string> string_list(const rapidjson::Value& statement, const char* name, const std::string& path) {
  std::vector<std::string> out;
  const auto* list = json::member(statement, name);
  if (!list) return out;
  if (!list->IsArray()) throw PolicyError(path + "." + name, "must be an array of strings");
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const auto& item = (*list)[i];
    std::string item_path = path + "." + name + "[" + std::to_string(i) + "]";
    if (!item.IsString() || item.GetStringLength() == 0) throw PolicyError(item_path, "must be a non-empty string");
    out.emplace_back(json::view(item));
  }
  return out;
}

}  // namespace

PolicyDocument PolicyDocument::parse(std::string_view text) {
  std::string error;
  auto doc = json::try_parse(text, &error);
  if (!doc) throw PolicyError("$", error);
  if (!doc->IsObject()) throw PolicyError("$", "a policy must be a JSON object");
  for (const auto& m : doc->GetObject()) {
    std::string_view key = json::view(m.name);
    if (key != "statements" && key != "description" && key != "version")
      throw PolicyError("$." + std::string(key), "unknown field");
  }
  const auto* statements = json::member(*doc, "statements");
  if (!statements || !statements->IsArray()) throw PolicyError("$.statements", "required array of statements");

  PolicyDocument policy;
  for (rapidjson::SizeType i = 0; i < statements->Size(); ++i) {
    const auto& s = (*statements)[i];
    std::string path = "$.statements[" + std::to_string(i) + "]";
    if (!s.IsObject()) throw PolicyError(path, "a statement must be an object");
    for (const auto& m : s.GetObject()) {
      std::string_view key = json::view(m.name);
      if (key != "effect" && key != "actions" && key != "topics" && key != "clientIds" && key != "sid")
        throw PolicyError(path + "." + std::string(key), "unknown field");
    }
    Statement st;
    auto effect = json::string_member(s, "effect");
    if (effect == "allow") st.allow = true;
    else if (effect == "deny") st.allow = false;
    else throw PolicyError(path + ".effect", "must be \"allow\" or \"deny\"");

    const auto* actions = json::member(s, "actions");
    if (!actions || !actions->IsArray() || actions->Empty()) throw PolicyError(path + ".actions", "required non-empty array");
    for (rapidjson::SizeType k = 0; k < actions->Size(); ++k)
      st.actions.push_back(parse_action((*actions)[k], path + ".actions[" + std::to_string(k) + "]"));

    st.topics = string_list(s, "topics", path);
    st.client_ids = string_list(s, "clientIds", path);
    bool topic_action = false, connect_action = false;
    for (Action a : st.actions) (a == Action::Connect ? connect_action : topic_action) = true;
    if (topic_action && st.topics.empty()) throw PolicyError(path + ".topics", "required for publish, subscribe and receive");
    if (connect_action && st.client_ids.empty()) throw PolicyError(path + ".clientIds", "required for connect");
    for (size_t k = 0; k < st.topics.size(); ++k) {
      // Check the filter with variables replaced by a harmless level.
      std::string topic = st.topics[k];
      std::string checked;
      for (size_t p = 0; p < topic.size(); ++p) {
        if (topic.compare(p, 2, "${") == 0) {
          auto end = topic.find('}', p);
          if (end == std::string::npos)
            throw PolicyError(path + ".topics[" + std::to_string(k) + "]", "unterminated ${ variable");
          checked += "x";
          p = end;
        } else {
          checked += topic[p];
        }
      }
      if (!valid_filter(checked))
        throw PolicyError(path + ".topics[" + std::to_string(k) + "]", "not a valid MQTT topic filter: " + topic);
    }
    policy.statements_.push_back(std::move(st));
  }
  return policy;
}

bool substitute(std::string_view pattern, const Variables& v, std::string& out) {
  out.clear();
  size_t pos = 0;
  while (pos < pattern.size()) {
    size_t start = pattern.find("${", pos);
    if (start == std::string_view::npos) {
      out.append(pattern.substr(pos));
      break;
    }
    out.append(pattern.substr(pos, start - pos));
    size_t end = pattern.find('}', start);
    if (end == std::string_view::npos) return false;
    std::string_view name = pattern.substr(start + 2, end - start - 2);
    const std::string* value = nullptr;
    if (name == "thingName") value = &v.thing_name;
    else if (name == "clientId") value = &v.client_id;
    else if (name == "certificateId") value = &v.certificate_id;
    else if (name.starts_with("attributes.")) {
      auto it = v.attributes.find(std::string(name.substr(11)));
      if (it != v.attributes.end()) value = &it->second;
    }
    if (!value || value->empty()) return false;
    for (char c : *value)
      if (c == '+' || c == '#' || c == '/' || c == '\0') return false;
    out.append(*value);
    pos = end + 1;
  }
  return true;
}

Principal::Principal(const std::vector<PolicyDocument>& documents, const Variables& variables) {
  std::string bound;
  for (const auto& document : documents) {
    for (const auto& st : document.statements()) {
      uint8_t topic_actions = 0, connect_actions = 0;
      for (Action action : st.actions) (action == Action::Connect ? connect_actions : topic_actions) |= bit(action);
      auto add = [&](const std::vector<std::string>& patterns, uint8_t actions) {
        if (!actions) return;
        for (const auto& pattern : patterns) {
          if (!substitute(pattern, variables, bound)) {
            // Unbindable: an allow grants nothing; a deny denies everything
            // for its actions (fail closed).
            if (!st.allow) deny_all_ |= actions;
            continue;
          }
          rules_.push_back({bound, actions, st.allow});
        }
      };
      add(st.topics, topic_actions);
      add(st.client_ids, connect_actions);
    }
  }
  rules_.shrink_to_fit();
}

bool Principal::allows(Action action, std::string_view resource) const {
  const uint8_t wanted = bit(action);
  if (deny_all_ & wanted) return false;
  auto matches = [&](const Rule& rule, bool deny) {
    switch (action) {
      case Action::Connect: return rule.pattern == "*" || rule.pattern == resource;
      // A subscription is refused when a denied filter could deliver any of
      // its topics, and allowed when an allowed filter covers all of them.
      case Action::Subscribe: return deny ? filters_intersect(rule.pattern, resource) : filter_covers(rule.pattern, resource);
      case Action::Publish:
      case Action::Receive: return topic_matches(rule.pattern, resource);
    }
    return false;
  };
  for (const auto& rule : rules_)
    if (!rule.allow && (rule.actions & wanted) && matches(rule, true)) return false;
  for (const auto& rule : rules_)
    if (rule.allow && (rule.actions & wanted) && matches(rule, false)) return true;
  return false;
}

}  // namespace provision::policy
