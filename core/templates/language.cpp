#include "templates/language.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "util/json.h"

namespace provision::templates::language {

const std::map<std::string, std::string, std::less<>>& subject_pseudo_parameters() {
  static const std::map<std::string, std::string, std::less<>> names = {
      {"AWS::IoT::Certificate::CommonName", "CN"},
      {"AWS::IoT::Certificate::Country", "C"},
      {"AWS::IoT::Certificate::Organization", "O"},
      {"AWS::IoT::Certificate::OrganizationalUnit", "OU"},
      {"AWS::IoT::Certificate::DistinguishedNameQualifier", "dnQualifier"},
      {"AWS::IoT::Certificate::StateName", "ST"},
      {"AWS::IoT::Certificate::Locality", "L"},
      {"AWS::IoT::Certificate::SerialNumber", "serialNumber"},
  };
  return names;
}

bool is_pseudo(std::string_view name) {
  return name == kCertificateId || name == kRegistrationId || subject_pseudo_parameters().contains(name);
}

namespace {
constexpr FunctionSignature kFunctions[] = {
    {Function::Ref, "Ref", "a parameter name", false},
    {Function::Join, "Fn::Join", "[delimiter, [values...]]", false},
    {Function::Sub, "Fn::Sub", "a string or [string, {name: value}]", false},
    {Function::Split, "Fn::Split", "[delimiter, string]", false},
    {Function::Select, "Fn::Select", "[index, [values...]]", false},
    {Function::FindInMap, "Fn::FindInMap", "[MapName, TopLevelKey, SecondLevelKey]", false},
    {Function::If, "Fn::If", "[ConditionName, valueIfTrue, valueIfFalse]", false},
    {Function::Equals, "Fn::Equals", "[value, value]", true},
    {Function::And, "Fn::And", "a list of 2 to 10 conditions", true},
    {Function::Or, "Fn::Or", "a list of 2 to 10 conditions", true},
    {Function::Not, "Fn::Not", "a list of exactly one condition", true},
};
}  // namespace

std::optional<Function> function_named(std::string_view key) {
  for (const auto& f : kFunctions)
    if (f.name == key) return f.function;
  return std::nullopt;
}

const FunctionSignature& signature(Function function) { return kFunctions[static_cast<size_t>(function)]; }

std::string takes(Function function) {
  const auto& s = signature(function);
  return std::string(s.name) + " takes " + std::string(s.arguments);
}

bool is_function_node(const rapidjson::Value& v) {
  if (!v.IsObject() || v.MemberCount() != 1) return false;
  std::string_view key = json::view(v.MemberBegin()->name);
  return key == "Ref" || key.starts_with("Fn::");
}

std::string key_of(const rapidjson::Value& name) { return std::string(json::view(name)); }

CompiledPatterns compile_patterns(const rapidjson::Value& document) {
  CompiledPatterns out;
  const rapidjson::Value* params = json::member(document, "Parameters");
  if (!params || !params->IsObject()) return out;
  for (auto& m : params->GetObject()) {
    auto pattern = json::string_member(m.value, "AllowedPattern");
    if (!pattern || out.by_expression.contains(*pattern)) continue;
    try {
      out.by_expression.emplace(*pattern, std::regex(*pattern, std::regex::ECMAScript));
    } catch (const std::regex_error&) {
      // validation reports it; evaluation treats it as matching nothing
    }
  }
  return out;
}

std::optional<bool> matches_pattern(const CompiledPatterns& compiled, const std::string& pattern,
                                    const std::string& value) {
  try {
    if (auto it = compiled.by_expression.find(pattern); it != compiled.by_expression.end())
      return std::regex_match(value, it->second);
    return std::regex_match(value, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

std::optional<double> number_of(std::string_view s) {
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

bool chars_in(std::string_view s, size_t min, size_t max, std::string_view extra) {
  if (s.size() < min || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [extra](char c) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || extra.find(c) != std::string_view::npos;
  });
}

}  // namespace provision::templates::language
