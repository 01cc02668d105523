// Save-time validation of provisioning templates.
//
// The validator walks the document once, in document order, and records every
// problem it can find without knowing the request: unknown sections, keys and
// functions, wrong arity, arguments of a statically wrong kind, references to
// undeclared parameters / conditions / mappings, cycles between conditions,
// invalid parameter declarations and resource shapes. Evaluation (evaluator.cpp)
// re-checks everything that depends on the inputs.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "templates/language.h"
#include "templates/template.h"
#include "templates/validator.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::templates {

namespace {

using namespace language;
using rapidjson::Value;

const std::set<std::string, std::less<>> kTopLevelKeys = {
    "AWSTemplateFormatVersion", "Description", "Parameters", "Mappings", "Conditions", "Resources", "DeviceConfiguration"};

// What an expression is known to produce before evaluation.
enum class Kind { Any, String, List, Object };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::String: return "a string";
    case Kind::List: return "a list";
    case Kind::Object: return "an object";
    case Kind::Any: break;
  }
  return "a value";
}

bool parses_as_index(std::string_view s) {
  if (s.empty() || s.size() > 9) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits an Fn::Sub string into the names it references. Returns false (and
// sets `error`) when a "${" is not closed or a name is empty.
bool sub_references(std::string_view text, std::vector<std::string>* names, std::string* error) {
  size_t pos = 0;
  while ((pos = text.find("${", pos)) != std::string_view::npos) {
    size_t close = text.find('}', pos + 2);
    if (close == std::string_view::npos) {
      *error = "unterminated \"${\" at offset " + std::to_string(pos);
      return false;
    }
    std::string_view name = text.substr(pos + 2, close - pos - 2);
    if (!name.starts_with('!')) {
      if (name.empty()) {
        *error = "empty \"${}\" at offset " + std::to_string(pos);
        return false;
      }
      names->emplace_back(name);
    }
    pos = close + 1;
  }
  return true;
}

class Validator {
 public:
  explicit Validator(const Value& root) : root_(root) {}

  std::vector<ValidationIssue> run() {
    if (!root_.IsObject()) {
      issue("$", "a template must be a JSON object");
      return std::move(issues_);
    }
    collect_declarations();
    for (auto& m : root_.GetObject()) {
      std::string key = key_of(m.name);
      std::string path = "$." + key;
      if (!kTopLevelKeys.contains(key)) {
        issue(path, "unknown top-level key " + text::quote(key));
      } else if (key == "AWSTemplateFormatVersion" || key == "Description") {
        if (!m.value.IsString()) issue(path, "must be a string");
      } else if (key == "Parameters") {
        check_parameters(m.value, path);
      } else if (key == "Mappings") {
        check_mappings(m.value, path);
      } else if (key == "Conditions") {
        check_conditions(m.value, path);
      } else if (key == "Resources") {
        check_resources(m.value, path);
      } else if (key == "DeviceConfiguration") {
        if (!m.value.IsObject() || is_function_node(m.value))
          issue(path, "must be a JSON object");
        else
          check_value(m.value, path);
      }
    }
    return std::move(issues_);
  }

 private:
  void issue(std::string path, std::string message) { issues_.push_back({std::move(path), std::move(message)}); }

  // First pass: the names other sections may refer to.
  void collect_declarations() {
    if (const auto* p = json::member(root_, "Parameters"); p && p->IsObject())
      for (auto& m : p->GetObject()) parameters_.insert(key_of(m.name));
    if (const auto* p = json::member(root_, "Mappings"); p && p->IsObject())
      for (auto& m : p->GetObject()) mappings_.insert(key_of(m.name));
    if (const auto* c = json::member(root_, "Conditions"); c && c->IsObject()) {
      for (auto& m : c->GetObject()) conditions_.insert(key_of(m.name));
      for (auto& m : c->GetObject()) collect_condition_edges(m.value, edges_[key_of(m.name)]);
      find_cycles();
    }
  }

  // The conditions a condition depends on: {"Condition": name} where a
  // condition is expected (the root, Fn::And / Fn::Or / Fn::Not operands) and
  // the condition of every Fn::If in the values Fn::Equals compares.
  void collect_condition_edges(const Value& v, std::vector<std::string>& out, bool condition_context = true) {
    if (v.IsObject()) {
      if (v.MemberCount() == 1) {
        std::string_view key = json::view(v.MemberBegin()->name);
        const Value& arg = v.MemberBegin()->value;
        const auto f = function_named(key);
        if (condition_context) {
          if (key == "Condition" && arg.IsString()) out.emplace_back(json::view(arg));
          bool operands = f == Function::And || f == Function::Or || f == Function::Not;
          if (arg.IsArray())
            for (auto& e : arg.GetArray()) collect_condition_edges(e, out, operands);
          return;
        }
        if (f == Function::If && arg.IsArray() && !arg.Empty() && arg[0].IsString()) out.emplace_back(json::view(arg[0]));
      }
      for (auto& m : v.GetObject()) collect_condition_edges(m.value, out, false);
    } else if (v.IsArray()) {
      for (auto& e : v.GetArray()) collect_condition_edges(e, out, false);
    }
  }

  // Marks, for each cycle, the first condition (in document order) on it and
  // the cycle as text.
  void find_cycles() {
    std::map<std::string, int> state;  // 0 unvisited, 1 on stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
      state[name] = 1;
      stack.push_back(name);
      for (const auto& next : edges_[name]) {
        if (!conditions_.contains(next)) continue;
        if (state[next] == 1) {
          auto from = std::find(stack.begin(), stack.end(), next);
          std::string text;
          std::string first;
          for (auto it = from; it != stack.end(); ++it) text += *it + " -> ";
          text += next;
          // report at the cycle member declared first
          for (auto& m : json::member(root_, "Conditions")->GetObject()) {
            std::string k = key_of(m.name);
            if (std::find(from, stack.end(), k) != stack.end()) {
              first = k;
              break;
            }
          }
          cycles_.emplace(first, text);
        } else if (state[next] == 0) {
          visit(next);
        }
      }
      stack.pop_back();
      state[name] = 2;
    };
    for (auto& m : json::member(root_, "Conditions")->GetObject()) {
      std::string name = key_of(m.name);
      if (state[name] == 0) visit(name);
    }
  }

  void check_parameters(const Value& params, const std::string& path) {
    if (!params.IsObject()) return issue(path, "must be an object of parameter declarations");
    for (auto& m : params.GetObject()) {
      std::string name = key_of(m.name);
      std::string p = path + "." + name;
      if ((name.starts_with("AWS::") || name.starts_with("Provision::")) && !is_pseudo(name))
        issue(p, "unknown pseudo parameter " + text::quote(name));
      if (!m.value.IsObject()) {
        issue(p, "a parameter declaration must be an object");
        continue;
      }
      check_parameter(m.value, p);
    }
  }

  void check_parameter(const Value& decl, const std::string& p) {
    auto type = json::string_member(decl, "Type");
    auto default_value = json::string_member(decl, "Default");
    if (!json::member(decl, "Type")) issue(p, "missing Type");
    for (auto& d : decl.GetObject()) {
      std::string key = key_of(d.name);
      std::string kp = p + "." + key;
      const Value& v = d.value;
      if (key == "Type") {
        if (type != "String" && type != "Number") issue(kp, "Type must be \"String\" or \"Number\"");
      } else if (key == "Default") {
        if (!v.IsString())
          issue(kp, "Default must be a string");
        else if (type == "Number" && !number_of(*default_value))
          issue(kp, "Default is not a number");
        else if (!default_allowed(decl, *default_value))
          issue(kp, "Default is not one of AllowedValues or does not match AllowedPattern");
      } else if (key == "AllowedValues") {
        if (!v.IsArray() || v.Empty()) {
          issue(kp, "AllowedValues must be a non-empty list");
          continue;
        }
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
          if (!v[i].IsString() && !v[i].IsNumber())
            issue(kp + "[" + std::to_string(i) + "]", "allowed values must be strings or numbers");
      } else if (key == "AllowedPattern") {
        if (!v.IsString()) {
          issue(kp, "AllowedPattern must be a string");
          continue;
        }
        try {
          std::regex re(v.GetString(), v.GetStringLength(), std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          issue(kp, std::string("AllowedPattern is not a valid regular expression: ") + e.what());
        }
      } else if (key == "Description") {
        if (!v.IsString()) issue(kp, "Description must be a string");
      } else {
        issue(kp, "unknown key " + text::quote(key) + " in a parameter declaration");
      }
    }
  }

  // Whether a parameter's Default passes its own AllowedValues / AllowedPattern
  // (an invalid AllowedValues / AllowedPattern is reported on its own).
  static bool default_allowed(const Value& decl, const std::string& value) {
    if (const Value* allowed = json::member(decl, "AllowedValues"); allowed && allowed->IsArray() && !allowed->Empty()) {
      bool found = false;
      for (auto& a : allowed->GetArray()) {
        if (a.IsString() && json::view(a) == value) found = true;
        if (a.IsNumber() && number_of(value) == a.GetDouble()) found = true;
      }
      if (!found) return false;
    }
    if (auto pattern = json::string_member(decl, "AllowedPattern"))
      return matches_pattern(CompiledPatterns{}, *pattern, value).value_or(true);
    return true;
  }

  void check_mappings(const Value& mappings, const std::string& path) {
    if (!mappings.IsObject()) return issue(path, "must be an object of maps");
    for (auto& map : mappings.GetObject()) {
      std::string p = path + "." + key_of(map.name);
      if (!map.value.IsObject()) {
        issue(p, "a map must be an object of top-level keys");
        continue;
      }
      for (auto& top : map.value.GetObject())
        if (!top.value.IsObject()) issue(p + "." + key_of(top.name), "a top-level key must map to an object");
    }
  }

  void check_conditions(const Value& conditions, const std::string& path) {
    if (!conditions.IsObject()) return issue(path, "must be an object of conditions");
    for (auto& m : conditions.GetObject()) {
      std::string name = key_of(m.name);
      std::string p = path + "." + name;
      if (auto it = cycles_.find(name); it != cycles_.end()) issue(p, "conditions form a cycle: " + it->second);
      check_condition(m.value, p);
    }
  }

  void check_condition(const Value& c, const std::string& path) {
    if (!c.IsObject() || c.MemberCount() != 1)
      return issue(path, "a condition must be an object with one of Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition");
    std::string key = key_of(c.MemberBegin()->name);
    const Value& arg = c.MemberBegin()->value;
    std::string p = path + "." + key;
    const auto f = function_named(key);
    if (key == "Condition") {
      if (!arg.IsString())
        issue(p, "Condition must name a condition");
      else if (!conditions_.contains(json::view(arg)))
        issue(p, "undeclared condition " + text::quote(json::view(arg)));
    } else if (f == Function::Equals) {
      if (!arg.IsArray() || arg.Size() != 2) return issue(p, takes(*f));
      check_value(arg[0], p + "[0]");
      check_value(arg[1], p + "[1]");
    } else if (f == Function::And || f == Function::Or) {
      if (!arg.IsArray() || arg.Size() < 2 || arg.Size() > 10) return issue(p, takes(*f));
      for (rapidjson::SizeType i = 0; i < arg.Size(); ++i) check_condition(arg[i], p + "[" + std::to_string(i) + "]");
    } else if (f == Function::Not) {
      if (!arg.IsArray() || arg.Size() != 1) return issue(p, takes(*f));
      check_condition(arg[0], p + "[0]");
    } else if (key.starts_with("Fn::") && !f) {
      issue(p, "unknown function " + text::quote(key));
    } else {
      issue(path, "a condition must be one of Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition (found " + text::quote(key) + ")");
    }
  }

  bool is_known_name(std::string_view name) const {
    return parameters_.contains(name) || is_pseudo(name);
  }

  // Checks a value expression; returns the kind it is known to produce.
  Kind check_value(const Value& v, const std::string& path) {
    if (is_function_node(v)) return check_function(v, path);
    if (v.IsObject()) {
      for (auto& m : v.GetObject()) check_value(m.value, path + "." + key_of(m.name));
      return Kind::Object;
    }
    if (v.IsArray()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) check_value(v[i], path + "[" + std::to_string(i) + "]");
      return Kind::List;
    }
    if (v.IsString()) return Kind::String;
    return Kind::Any;  // numbers, booleans, null
  }

  // Checks a value expression that must produce a `want`.
  void expect(Kind want, const Value& v, const std::string& path, const char* what) {
    Kind got = check_value(v, path);
    if (got != Kind::Any && got != want)
      issue(path, std::string(what) + " must be " + kind_name(want) + ", not " + kind_name(got));
  }

  Kind check_function(const Value& node, const std::string& path) {
    std::string key = key_of(node.MemberBegin()->name);
    const Value& arg = node.MemberBegin()->value;
    std::string p = path + "." + key;
    auto at = [&p](rapidjson::SizeType i) { return p + "[" + std::to_string(i) + "]"; };
    const auto f = function_named(key);
    if (!f) {
      issue(p, "unknown function " + text::quote(key));
      return Kind::Any;
    }

    if (f == Function::Ref) {
      if (!arg.IsString()) {
        issue(p, takes(*f));
      } else if (!is_known_name(json::view(arg))) {
        issue(p, "Ref to undeclared parameter " + text::quote(json::view(arg)));
      }
      return Kind::String;
    }
    if (f == Function::Join) {
      if (!arg.IsArray() || arg.Size() != 2) {
        issue(p, takes(*f));
        return Kind::String;
      }
      if (!is_function_node(arg[0]) && !arg[0].IsString())
        issue(at(0), "the delimiter must be a string");
      else
        check_value(arg[0], at(0));
      expect(Kind::List, arg[1], at(1), "the values to join");
      return Kind::String;
    }
    if (f == Function::Sub) {
      const Value* text = &arg;
      const Value* vars = nullptr;
      std::string text_path = p;
      if (arg.IsArray()) {
        if (arg.Size() != 2 || !arg[0].IsString() || !arg[1].IsObject() || is_function_node(arg[1])) {
          issue(p, takes(*f));
          return Kind::String;
        }
        text = &arg[0];
        vars = &arg[1];
        text_path = at(0);
      } else if (!arg.IsString()) {
        issue(p, takes(*f));
        return Kind::String;
      }
      std::vector<std::string> names;
      std::string error;
      if (!sub_references(json::view(*text), &names, &error)) {
        issue(text_path, error);
      } else {
        for (const auto& n : names)
          if (!is_known_name(n) && !(vars && json::member(*vars, n)))
            issue(text_path, "Fn::Sub references undeclared name " + text::quote(n));
      }
      if (vars)
        for (auto& m : vars->GetObject()) expect(Kind::String, m.value, at(1) + "." + key_of(m.name), "a substitution");
      return Kind::String;
    }
    if (f == Function::Split) {
      if (!arg.IsArray() || arg.Size() != 2) {
        issue(p, takes(*f));
        return Kind::List;
      }
      if (!arg[0].IsString() || arg[0].GetStringLength() == 0)
        issue(at(0), "the delimiter must be a non-empty string");
      expect(Kind::String, arg[1], at(1), "the string to split");
      return Kind::List;
    }
    if (f == Function::Select) {
      if (!arg.IsArray() || arg.Size() != 2) {
        issue(p, takes(*f));
        return Kind::Any;
      }
      const Value& index = arg[0];
      if (is_function_node(index)) {
        check_value(index, at(0));
      } else if (index.IsString()) {
        if (!parses_as_index(json::view(index))) issue(at(0), "the index must be a non-negative integer");
      } else if (!index.IsUint()) {
        issue(at(0), "the index must be a non-negative integer");
      }
      expect(Kind::List, arg[1], at(1), "the list to select from");
      if (index.IsUint() && arg[1].IsArray() && !is_function_node(arg[1]) && index.GetUint() >= arg[1].Size())
        issue(at(0), "index " + std::to_string(index.GetUint()) + " is out of range");
      return Kind::Any;
    }
    if (f == Function::FindInMap) {
      if (!arg.IsArray() || arg.Size() != 3) {
        issue(p, takes(*f));
        return Kind::Any;
      }
      if (arg[0].IsString() && !mappings_.contains(json::view(arg[0])))
        issue(at(0), "undeclared mapping " + text::quote(json::view(arg[0])));
      for (rapidjson::SizeType i = 0; i < 3; ++i) expect(Kind::String, arg[i], at(i), "a map key");
      return Kind::Any;
    }
    if (f == Function::If) {
      if (!arg.IsArray() || arg.Size() != 3) {
        issue(p, takes(*f));
        return Kind::Any;
      }
      if (!arg[0].IsString())
        issue(at(0), "the condition must be a condition name");
      else if (!conditions_.contains(json::view(arg[0])))
        issue(at(0), "undeclared condition " + text::quote(json::view(arg[0])));
      Kind a = check_value(arg[1], at(1));
      Kind b = check_value(arg[2], at(2));
      return a == b ? a : Kind::Any;
    }
    // Fn::Equals, Fn::And, Fn::Or, Fn::Not
    issue(p, key + " may only appear in Conditions");
    return Kind::Any;
  }

  void check_resources(const Value& resources, const std::string& path) {
    if (!resources.IsObject()) return issue(path, "must be an object of resources");
    int things = 0, certificates = 0;
    for (auto& m : resources.GetObject()) {
      std::string id = key_of(m.name);
      std::string p = path + "." + id;
      if (!m.value.IsObject()) {
        issue(p, "a resource must be an object");
        continue;
      }
      const Value& r = m.value;
      const Value* type = json::member(r, "Type");
      std::string_view t = type && type->IsString() ? json::view(*type) : std::string_view();
      if (t == "AWS::IoT::Thing" && ++things == 2) issue(p, "at most one AWS::IoT::Thing resource is allowed");
      if (t == "AWS::IoT::Certificate" && ++certificates == 2)
        issue(p, "at most one AWS::IoT::Certificate resource is allowed");
      for (auto& k : r.GetObject()) {
        std::string key = key_of(k.name);
        std::string kp = p + "." + key;
        if (key == "Type") {
          if (t != "AWS::IoT::Thing" && t != "AWS::IoT::Certificate" && t != "AWS::IoT::Policy")
            issue(kp, "unknown resource type" + (type->IsString() ? " " + text::quote(t) : std::string()));
        } else if (key == "Condition") {
          if (!k.value.IsString())
            issue(kp, "Condition must name a condition");
          else if (!conditions_.contains(json::view(k.value)))
            issue(kp, "undeclared condition " + text::quote(json::view(k.value)));
        } else if (key == "Properties") {
          if (!k.value.IsObject() || is_function_node(k.value))
            issue(kp, "Properties must be an object");
          else if (t == "AWS::IoT::Thing")
            check_thing(k.value, kp);
          else if (t == "AWS::IoT::Certificate")
            check_certificate(k.value, kp);
          else if (t == "AWS::IoT::Policy")
            check_policy(k.value, kp);
          else
            check_value(k.value, kp);
        } else if (key == "OverrideSettings") {
          if (t != "AWS::IoT::Thing")
            issue(kp, "OverrideSettings apply to AWS::IoT::Thing resources only");
          else
            check_overrides(k.value, kp);
        } else {
          issue(kp, "unknown resource key " + text::quote(key));
        }
      }
      if (!type) issue(p, "missing Type");
      const Value* props = json::member(r, "Properties");
      bool props_ok = props && props->IsObject();
      if (t == "AWS::IoT::Thing" && (!props_ok || !json::member(*props, "ThingName")))
        issue(p + (props_ok ? ".Properties" : ""), "an AWS::IoT::Thing needs Properties.ThingName");
      if (t == "AWS::IoT::Policy" && !props) issue(p, "an AWS::IoT::Policy needs PolicyName or PolicyDocument");
    }
  }

  void check_thing(const Value& props, const std::string& path) {
    for (auto& m : props.GetObject()) {
      std::string key = key_of(m.name);
      std::string p = path + "." + key;
      if (key == "ThingName") {
        expect(Kind::String, m.value, p, "ThingName");
        if (m.value.IsString() && !valid_thing_name(json::view(m.value)))
          issue(p, "invalid thing name " + text::quote(json::view(m.value)));
        else if (!m.value.IsString() && !m.value.IsObject() && !m.value.IsArray())
          issue(p, "ThingName must be a string");
      } else if (key == "AttributePayload") {
        if (is_function_node(m.value)) {
          Kind k = check_value(m.value, p);
          if (k != Kind::Any && k != Kind::Object) issue(p, "AttributePayload must be an object");
        } else if (!m.value.IsObject()) {
          issue(p, "AttributePayload must be an object of name: value");
        } else {
          for (auto& a : m.value.GetObject())
            expect(Kind::String, a.value, p + "." + key_of(a.name), "an attribute value");
        }
      } else if (key == "ThingTypeName") {
        expect(Kind::String, m.value, p, "ThingTypeName");
      } else if (key == "ThingGroups") {
        if (m.value.IsArray()) {
          for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i)
            expect(Kind::String, m.value[i], p + "[" + std::to_string(i) + "]", "a thing group");
        } else if (is_function_node(m.value)) {
          expect(Kind::List, m.value, p, "ThingGroups");
        } else {
          issue(p, "ThingGroups must be a list of group names");
        }
      } else {
        issue(p, "unsupported AWS::IoT::Thing property " + text::quote(key));
      }
    }
  }

  void check_certificate(const Value& props, const std::string& path) {
    for (auto& m : props.GetObject()) {
      std::string key = key_of(m.name);
      std::string p = path + "." + key;
      if (key == "CertificateId") {
        expect(Kind::String, m.value, p, "CertificateId");
      } else if (key == "Status") {
        expect(Kind::String, m.value, p, "Status");
        if (!is_function_node(m.value)) {
          std::string s = m.value.IsString() ? upper(json::view(m.value)) : std::string();
          if (s != "ACTIVE" && s != "INACTIVE") issue(p, "Status must be ACTIVE or INACTIVE");
        }
      } else {
        issue(p, "unsupported AWS::IoT::Certificate property " + text::quote(key));
      }
    }
  }

  void check_policy(const Value& props, const std::string& path) {
    bool has_name = json::member(props, "PolicyName") != nullptr;
    bool has_document = json::member(props, "PolicyDocument") != nullptr;
    if (has_name == has_document) issue(path, "an AWS::IoT::Policy needs exactly one of PolicyName and PolicyDocument");
    for (auto& m : props.GetObject()) {
      std::string key = key_of(m.name);
      std::string p = path + "." + key;
      if (key == "PolicyName") {
        expect(Kind::String, m.value, p, "PolicyName");
        if (m.value.IsString() && m.value.GetStringLength() == 0) issue(p, "PolicyName must not be empty");
      } else if (key == "PolicyDocument") {
        if (m.value.IsString()) {
          std::string error;
          auto doc = json::try_parse(json::view(m.value), &error);
          if (!doc)
            issue(p, "PolicyDocument is not JSON: " + error);
          else if (!doc->IsObject())
            issue(p, "PolicyDocument must be a JSON object");
        } else if (m.value.IsObject()) {
          check_value(m.value, p);
        } else {
          issue(p, "PolicyDocument must be a JSON object or a string holding one");
        }
      } else {
        issue(p, "unsupported AWS::IoT::Policy property " + text::quote(key));
      }
    }
  }

  void check_overrides(const Value& overrides, const std::string& path) {
    if (!overrides.IsObject()) return issue(path, "OverrideSettings must be an object");
    for (auto& m : overrides.GetObject()) {
      std::string key = key_of(m.name);
      std::string p = path + "." + key;
      if (key != "AttributePayload" && key != "ThingTypeName" && key != "ThingGroups") {
        issue(p, "unknown override " + text::quote(key) + " (AttributePayload, ThingTypeName, ThingGroups)");
        continue;
      }
      std::string_view v = m.value.IsString() ? json::view(m.value) : std::string_view();
      if (v != "DO_NOTHING" && v != "REPLACE" && v != "MERGE" && v != "FAIL")
        issue(p, "an override must be DO_NOTHING, REPLACE, MERGE or FAIL");
      else if (v == "MERGE" && key == "ThingTypeName")
        issue(p, "MERGE is allowed only for AttributePayload and ThingGroups");
    }
  }

  const Value& root_;
  std::vector<ValidationIssue> issues_;
  std::set<std::string, std::less<>> parameters_, mappings_, conditions_;
  std::map<std::string, std::vector<std::string>> edges_;
  std::map<std::string, std::string> cycles_;  // first member of a cycle -> "a -> b -> a"
};

}  // namespace

std::vector<ValidationIssue> validate_document(const rapidjson::Document& doc) { return Validator(doc).run(); }

}  // namespace provision::templates
