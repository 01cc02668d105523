// Evaluation of a validated provisioning template for one RegisterThing.
//
// All per-evaluation state (resolved parameters, condition results, the
// allocator of the values produced) lives in an Evaluation on the stack, so
// concurrent evaluate() calls on one template share nothing but the
// read-only document.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "templates/language.h"
#include "templates/template.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::templates {

namespace {

using namespace language;
using rapidjson::Value;

// The longest value matched against an AllowedPattern.
constexpr size_t kMaxPatternInput = 1024;

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw TemplateError("TemplateEvaluationError", path, message);
}

class Evaluation {
 public:
  Evaluation(const rapidjson::Document& doc, const CompiledPatterns& patterns, const CertificateFacts& certificate,
             rapidjson::Document& out)
      : doc_(doc), patterns_(patterns), certificate_(certificate), allocator_(out.GetAllocator()) {}

  void resolve_parameters(const std::map<std::string, std::string>& request) {
    values_[std::string(kCertificateId)] = certificate_.certificate_id;
    if (certificate_.registration_id) values_[std::string(kRegistrationId)] = *certificate_.registration_id;
    for (const auto& [name, field] : subject_pseudo_parameters())
      if (auto it = certificate_.subject.find(field); it != certificate_.subject.end()) values_[name] = it->second;

    const Value* params = json::member(doc_, "Parameters");
    if (!params || !params->IsObject()) return;
    for (auto& m : params->GetObject()) {
      std::string name = key_of(m.name);
      if (is_pseudo(name)) continue;  // always from the certificate, never from the request
      std::string path = "$.Parameters." + name;
      std::string value;
      if (auto it = request.find(name); it != request.end())
        value = it->second;
      else if (auto d = json::string_member(m.value, "Default"))
        value = *d;
      else
        throw TemplateError("MissingParameter", path, "parameter " + text::quote(name) + " is required");
      check_parameter(name, value, m.value, path);
      values_[name] = std::move(value);
    }
  }

  const std::map<std::string, std::string>& values() const { return values_; }

  // Evaluates a value expression into a fresh value owned by the output document.
  Value eval(const Value& v, const std::string& path) {
    if (is_function_node(v)) return eval_function(v, path);
    if (v.IsObject()) {
      Value out(rapidjson::kObjectType);
      for (auto& m : v.GetObject())
        out.AddMember(Value(m.name, allocator_), eval(m.value, path + "." + key_of(m.name)), allocator_);
      return out;
    }
    if (v.IsArray()) {
      Value out(rapidjson::kArrayType);
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
        out.PushBack(eval(v[i], path + "[" + std::to_string(i) + "]"), allocator_);
      return out;
    }
    return Value(v, allocator_);
  }

  // A value expression that must produce a string (numbers and booleans are
  // written out as text).
  std::string eval_string(const Value& v, const std::string& path, std::string_view what) {
    Value r = eval(v, path);
    return as_string(r, path, what);
  }

  static std::string as_string(const Value& r, const std::string& path, std::string_view what) {
    if (r.IsString()) return std::string(json::view(r));
    if (r.IsNumber()) return json::stringify(r);
    if (r.IsBool()) return r.GetBool() ? "true" : "false";
    fail(path, std::string(what) + " must be a string");
  }

  bool condition(const std::string& name, const std::string& path) {
    if (auto it = conditions_.find(name); it != conditions_.end()) return it->second;
    const Value* c = json::member(doc_, "Conditions");
    const Value* def = c ? json::member(*c, name) : nullptr;
    if (!def) fail(path, "undeclared condition " + text::quote(name));
    if (!in_progress_.insert(name).second) fail(path, "condition " + text::quote(name) + " depends on itself");
    bool result = eval_condition(*def, "$.Conditions." + name);
    in_progress_.erase(name);
    conditions_[name] = result;
    return result;
  }

 private:
  void check_parameter(const std::string& name, const std::string& value, const Value& decl, const std::string& path) {
    auto invalid = [&](const std::string& why) {
      throw TemplateError("InvalidParameter", path, "parameter " + text::quote(name) + " " + why);
    };
    bool number = json::string_member(decl, "Type") == "Number";
    if (number && !number_of(value)) invalid("must be a number");
    if (const Value* allowed = json::member(decl, "AllowedValues"); allowed && allowed->IsArray()) {
      bool found = false;
      for (auto& a : allowed->GetArray()) {
        if (a.IsString() && json::view(a) == value) found = true;
        if (a.IsNumber() && number_of(value) == a.GetDouble()) found = true;
      }
      if (!found) invalid("is not one of the allowed values");
    }
    if (auto pattern = json::string_member(decl, "AllowedPattern")) {
      // libstdc++'s matcher recurses once or more per character: bound the
      // input so that a device cannot exhaust the stack with a long value.
      if (value.size() > kMaxPatternInput)
        invalid("is longer than " + std::to_string(kMaxPatternInput) + " characters");
      // An invalid pattern is rejected on save; a complex one may still exhaust the matcher.
      if (!matches_pattern(patterns_, *pattern, value).value_or(false)) invalid("does not match the allowed pattern");
    }
  }

  std::string lookup(const std::string& name, const std::string& path) {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    if (auto it = subject_pseudo_parameters().find(name); it != subject_pseudo_parameters().end())
      fail(path, "the certificate subject has no " + it->second + " (" + name + ")");
    if (name == kRegistrationId)
      fail(path, std::string(kRegistrationId) + " is set only for devices that register through an enrollment");
    fail(path, "undeclared parameter " + text::quote(name));
  }

  Value string_value(std::string_view s) { return json::string_value(s, allocator_); }

  Value eval_function(const Value& node, const std::string& path) {
    std::string key = key_of(node.MemberBegin()->name);
    const Value& arg = node.MemberBegin()->value;
    std::string p = path + "." + key;
    auto at = [&p](rapidjson::SizeType i) { return p + "[" + std::to_string(i) + "]"; };
    const auto f = function_named(key);
    if (!f || signature(*f).condition_only) fail(p, "unknown function \"" + key + "\"");
    auto arity = [&](rapidjson::SizeType n) {
      if (!arg.IsArray() || arg.Size() != n) fail(p, takes(*f));
    };

    if (f == Function::Ref) {
      if (!arg.IsString()) fail(p, takes(*f));
      return string_value(lookup(key_of(arg), p));
    }
    if (f == Function::Join) {
      arity(2);
      std::string delimiter = eval_string(arg[0], at(0), "the delimiter");
      Value list = eval(arg[1], at(1));
      if (!list.IsArray()) fail(at(1), "Fn::Join needs a list of values");
      std::string out;
      for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
        if (i) out += delimiter;
        out += as_string(list[i], at(1) + "[" + std::to_string(i) + "]", "a joined value");
      }
      return string_value(out);
    }
    if (f == Function::Sub) return string_value(sub(arg, p));
    if (f == Function::Split) {
      arity(2);
      std::string delimiter = eval_string(arg[0], at(0), "the delimiter");
      if (delimiter.empty()) fail(at(0), "the delimiter must not be empty");
      std::string source = eval_string(arg[1], at(1), "the string to split");
      Value out(rapidjson::kArrayType);
      size_t start = 0;
      for (;;) {
        size_t pos = source.find(delimiter, start);
        out.PushBack(string_value(std::string_view(source).substr(start, pos - start)), allocator_);
        if (pos == std::string::npos) break;
        start = pos + delimiter.size();
      }
      return out;
    }
    if (f == Function::Select) {
      arity(2);
      Value index = eval(arg[0], at(0));
      uint64_t i = 0;
      if (index.IsUint64()) {
        i = index.GetUint64();
      } else if (index.IsString()) {
        std::string_view s = json::view(index);
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size())
          fail(at(0), "the index " + text::quote(s) + " is not a non-negative integer");
      } else {
        fail(at(0), "the index must be a non-negative integer");
      }
      Value list = eval(arg[1], at(1));
      if (!list.IsArray()) fail(at(1), "Fn::Select needs a list");
      if (i >= list.Size())
        fail(at(0), "index " + std::to_string(i) + " is out of range for a list of " + std::to_string(list.Size()));
      return Value(list[static_cast<rapidjson::SizeType>(i)], allocator_);
    }
    if (f == Function::FindInMap) {
      arity(3);
      std::string map_name = eval_string(arg[0], at(0), "the map name");
      std::string top = eval_string(arg[1], at(1), "the top-level key");
      std::string second = eval_string(arg[2], at(2), "the second-level key");
      const Value* mappings = json::member(doc_, "Mappings");
      const Value* map = mappings ? json::member(*mappings, map_name) : nullptr;
      if (!map) fail(at(0), "no mapping " + text::quote(map_name));
      const Value* level1 = json::member(*map, top);
      if (!level1) fail(at(1), "mapping " + text::quote(map_name) + " has no key " + text::quote(top));
      const Value* level2 = json::member(*level1, second);
      if (!level2) fail(at(2), "mapping " + text::quote(map_name) + "." + text::escape(top) + " has no key " + text::quote(second));
      return Value(*level2, allocator_);
    }
    if (f == Function::If) {
      arity(3);
      if (!arg[0].IsString()) fail(at(0), "the condition must be a condition name");
      return condition(key_of(arg[0]), at(0)) ? eval(arg[1], at(1)) : eval(arg[2], at(2));
    }
    fail(p, "unknown function " + text::quote(key));  // (none left: every value function is handled above)
  }

  std::string sub(const Value& arg, const std::string& p) {
    const Value* text = &arg;
    std::string text_path = p;
    std::map<std::string, std::string> vars;
    if (arg.IsArray()) {
      if (arg.Size() != 2 || !arg[0].IsString() || !arg[1].IsObject())
        fail(p, takes(Function::Sub));
      text = &arg[0];
      text_path = p + "[0]";
      for (auto& m : arg[1].GetObject()) {
        std::string name = key_of(m.name);
        vars[name] = eval_string(m.value, p + "[1]." + name, "a substitution");
      }
    } else if (!arg.IsString()) {
      fail(p, takes(Function::Sub));
    }
    std::string_view s = json::view(*text);
    std::string out;
    size_t pos = 0;
    for (;;) {
      size_t open = s.find("${", pos);
      if (open == std::string_view::npos) break;
      out.append(s.substr(pos, open - pos));
      size_t close = s.find('}', open + 2);
      if (close == std::string_view::npos) fail(text_path, "unterminated \"${\"");
      std::string name(s.substr(open + 2, close - open - 2));
      if (name.starts_with('!')) {
        out += "${" + name.substr(1) + "}";
      } else if (auto it = vars.find(name); it != vars.end()) {
        out += it->second;
      } else {
        out += lookup(name, text_path);
      }
      pos = close + 1;
    }
    out.append(s.substr(pos));
    return out;
  }

  bool eval_condition(const Value& c, const std::string& path) {
    if (!c.IsObject() || c.MemberCount() != 1) fail(path, "invalid condition");
    std::string key = key_of(c.MemberBegin()->name);
    const Value& arg = c.MemberBegin()->value;
    std::string p = path + "." + key;
    if (key == "Condition") {
      if (!arg.IsString()) fail(p, "Condition must name a condition");
      return condition(key_of(arg), p);
    }
    const auto f = function_named(key);
    if (!f || !signature(*f).condition_only) fail(path, "invalid condition \"" + key + "\"");
    if (!arg.IsArray()) fail(p, takes(*f));
    auto at = [&p](rapidjson::SizeType i) { return p + "[" + std::to_string(i) + "]"; };
    if (f == Function::Equals) {
      if (arg.Size() != 2) fail(p, takes(*f));
      Value a = eval(arg[0], at(0));
      Value b = eval(arg[1], at(1));
      auto scalar = [](const Value& v) { return v.IsString() || v.IsNumber() || v.IsBool(); };
      if (scalar(a) && scalar(b)) return as_string(a, at(0), "") == as_string(b, at(1), "");
      return a == b;
    }
    if (f == Function::And) {
      for (rapidjson::SizeType i = 0; i < arg.Size(); ++i)
        if (!eval_condition(arg[i], at(i))) return false;
      return true;
    }
    if (f == Function::Or) {
      for (rapidjson::SizeType i = 0; i < arg.Size(); ++i)
        if (eval_condition(arg[i], at(i))) return true;
      return false;
    }
    if (f == Function::Not) {
      if (arg.Size() != 1) fail(p, takes(*f));
      return !eval_condition(arg[0], at(0));
    }
    fail(path, "invalid condition " + text::quote(key));
  }

  const rapidjson::Document& doc_;
  const CompiledPatterns& patterns_;
  const CertificateFacts& certificate_;
  rapidjson::Document::AllocatorType& allocator_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> conditions_;
  std::set<std::string> in_progress_;
};

Override parse_override(const Value& overrides, std::string_view key, const std::string& path) {
  const Value* v = json::member(overrides, key);
  if (!v) return Override::DoNothing;
  std::string_view s = v->IsString() ? json::view(*v) : std::string_view();
  if (s == "DO_NOTHING") return Override::DoNothing;
  if (s == "REPLACE") return Override::Replace;
  if (s == "FAIL") return Override::Fail;
  if (s == "MERGE" && key != "ThingTypeName") return Override::Merge;
  throw TemplateError("InvalidTemplate", path + "." + std::string(key), "invalid override");
}

ThingPlan evaluate_thing(Evaluation& ev, const Value& resource, const std::string& path) {
  ThingPlan thing;
  const Value* props = json::member(resource, "Properties");
  std::string pp = path + ".Properties";
  const Value* name = props ? json::member(*props, "ThingName") : nullptr;
  if (!name) fail(pp, "an AWS::IoT::Thing needs a ThingName");
  {
    Value v = ev.eval(*name, pp + ".ThingName");
    if (!v.IsString()) fail(pp + ".ThingName", "ThingName must be a string");
    thing.name = std::string(json::view(v));
    if (!valid_thing_name(thing.name))
      fail(pp + ".ThingName", "invalid thing name " + text::quote(thing.name) + " (1-128 of a-z A-Z 0-9 : _ -)");
  }
  if (const Value* attrs = json::member(*props, "AttributePayload")) {
    std::string ap = pp + ".AttributePayload";
    Value v = ev.eval(*attrs, ap);
    if (!v.IsObject()) fail(ap, "AttributePayload must be an object");
    thing.has_attributes = true;
    for (auto& m : v.GetObject()) {
      std::string key = key_of(m.name);
      std::string kp = ap + "." + key;
      if (!valid_attribute_name(key)) fail(kp, "invalid attribute name " + text::quote(key));
      std::string value = Evaluation::as_string(m.value, kp, "an attribute value");
      if (!valid_attribute_value(value)) fail(kp, "invalid attribute value " + text::quote(value));
      thing.attributes[key] = value;
    }
  }
  if (const Value* type = json::member(*props, "ThingTypeName")) {
    std::string tp = pp + ".ThingTypeName";
    Value v = ev.eval(*type, tp);
    if (!v.IsString()) fail(tp, "ThingTypeName must be a string");
    std::string s(json::view(v));
    if (!valid_thing_name(s)) fail(tp, "invalid thing type name " + text::quote(s));
    thing.thing_type = s;
  }
  if (const Value* groups = json::member(*props, "ThingGroups")) {
    std::string gp = pp + ".ThingGroups";
    Value v = ev.eval(*groups, gp);
    if (!v.IsArray()) fail(gp, "ThingGroups must be a list of group names");
    thing.has_groups = true;
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      std::string ip = gp + "[" + std::to_string(i) + "]";
      if (!v[i].IsString()) fail(ip, "a thing group must be a string");
      std::string g(json::view(v[i]));
      if (!valid_thing_name(g)) fail(ip, "invalid thing group name " + text::quote(g));
      if (std::find(thing.groups.begin(), thing.groups.end(), g) == thing.groups.end()) thing.groups.push_back(g);
    }
  }
  if (const Value* overrides = json::member(resource, "OverrideSettings"); overrides && overrides->IsObject()) {
    std::string op = path + ".OverrideSettings";
    thing.attributes_override = parse_override(*overrides, "AttributePayload", op);
    thing.thing_type_override = parse_override(*overrides, "ThingTypeName", op);
    thing.groups_override = parse_override(*overrides, "ThingGroups", op);
  }
  return thing;
}

}  // namespace

Plan ProvisioningTemplate::evaluate(const std::map<std::string, std::string>& parameters,
                                    const CertificateFacts& certificate) const {
  Plan plan;
  plan.device_configuration.SetObject();
  Evaluation ev(*document_, *patterns_, certificate, plan.device_configuration);
  ev.resolve_parameters(parameters);

  if (const Value* resources = json::member(*document_, "Resources"); resources && resources->IsObject()) {
    for (auto& m : resources->GetObject()) {
      std::string id = key_of(m.name);
      std::string path = "$.Resources." + id;
      const Value& r = m.value;
      if (const Value* c = json::member(r, "Condition")) {
        if (!c->IsString()) fail(path + ".Condition", "Condition must name a condition");
        if (!ev.condition(key_of(*c), path + ".Condition")) continue;
      }
      auto type = json::string_member(r, "Type").value_or("");
      const Value* props = json::member(r, "Properties");
      std::string pp = path + ".Properties";
      if (type == "AWS::IoT::Thing") {
        if (plan.thing) fail(path, "more than one AWS::IoT::Thing resource");
        plan.thing = evaluate_thing(ev, r, path);
      } else if (type == "AWS::IoT::Certificate") {
        if (!props) continue;
        if (const Value* id_node = json::member(*props, "CertificateId")) {
          std::string value = ev.eval_string(*id_node, pp + ".CertificateId", "CertificateId");
          if (value != certificate.certificate_id)
            fail(pp + ".CertificateId", "CertificateId " + text::quote(value) + " is not the certificate being registered");
        }
        if (const Value* status = json::member(*props, "Status")) {
          std::string value = upper(ev.eval_string(*status, pp + ".Status", "Status"));
          if (value != "ACTIVE" && value != "INACTIVE")
            fail(pp + ".Status", "Status must be ACTIVE or INACTIVE, not " + text::quote(value));
          plan.certificate_status = value;
        }
      } else if (type == "AWS::IoT::Policy") {
        const Value* name = props ? json::member(*props, "PolicyName") : nullptr;
        const Value* document = props ? json::member(*props, "PolicyDocument") : nullptr;
        if ((name != nullptr) == (document != nullptr))
          fail(pp, "an AWS::IoT::Policy needs exactly one of PolicyName and PolicyDocument");
        if (name) {
          std::string value = ev.eval_string(*name, pp + ".PolicyName", "PolicyName");
          if (value.empty()) fail(pp + ".PolicyName", "PolicyName must not be empty");
          plan.policies.push_back({value, ""});
        } else {
          std::string dp = pp + ".PolicyDocument";
          Value v = ev.eval(*document, dp);
          std::string text;
          if (v.IsString()) {
            text = std::string(json::view(v));
            std::string error;
            auto parsed = json::try_parse(text, &error);
            if (!parsed) fail(dp, "PolicyDocument is not JSON: " + error);
            if (!parsed->IsObject()) fail(dp, "PolicyDocument must be a JSON object");
          } else if (v.IsObject()) {
            text = json::stringify(v);
          } else {
            fail(dp, "PolicyDocument must be a JSON object or a string holding one");
          }
          plan.policies.push_back({id, text});
        }
      } else {
        throw TemplateError("InvalidTemplate", path + ".Type", "unknown resource type " + text::quote(type));
      }
    }
  }

  if (const Value* config = json::member(*document_, "DeviceConfiguration")) {
    Value v = ev.eval(*config, "$.DeviceConfiguration");
    if (!v.IsObject()) fail("$.DeviceConfiguration", "DeviceConfiguration must be an object");
    static_cast<Value&>(plan.device_configuration) = std::move(v);
  }
  plan.parameters = ev.values();
  return plan;
}

}  // namespace provision::templates
