#pragma once
// Internal to the templates module: the vocabulary that parsing/validation
// (template.cpp) and evaluation (evaluator.cpp) share.
#include <rapidjson/document.h>

// GCC 12 with -fsanitize=address reports false "may be used uninitialized"
// warnings inside libstdc++'s <regex> (std::function in the NFA states);
// silence them for that header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace provision::templates::language {

inline constexpr std::string_view kCertificateId = "AWS::IoT::Certificate::Id";
// Our own pseudo parameter: the registration id of the enrollment a device
// registers through (docs/provisioning.md, "Enrollments").
inline constexpr std::string_view kRegistrationId = "Provision::RegistrationId";

// Certificate-subject pseudo parameters -> OpenSSL short name of the field.
const std::map<std::string, std::string, std::less<>>& subject_pseudo_parameters();
// AWS::IoT::Certificate::Id, one of the subject pseudo parameters, or
// Provision::RegistrationId.
bool is_pseudo(std::string_view name);

// The intrinsic functions: their names and the arguments they take, defined
// here once for the validator (validator.cpp) and the evaluator (evaluator.cpp).
enum class Function { Ref, Join, Sub, Split, Select, FindInMap, If, Equals, And, Or, Not };
struct FunctionSignature {
  Function function;
  std::string_view name;       // "Fn::Join"
  std::string_view arguments;  // "[delimiter, [values...]]"
  bool condition_only;         // Fn::Equals, Fn::And, Fn::Or, Fn::Not: only in Conditions
};
// The function a node's key names ("Ref", "Fn::Join", ...); nullopt for any other key.
std::optional<Function> function_named(std::string_view key);
const FunctionSignature& signature(Function function);
// "Fn::Join takes [delimiter, [values...]]", for messages.
std::string takes(Function function);

// {"Ref": ...} or {"Fn::...": ...}
bool is_function_node(const rapidjson::Value& v);
std::string key_of(const rapidjson::Value& name);

// The AllowedPattern expressions of a template's Parameters, compiled.
struct CompiledPatterns {
  std::map<std::string, std::regex, std::less<>> by_expression;  // only those that compile
};
CompiledPatterns compile_patterns(const rapidjson::Value& document);
// Whether value matches pattern as a whole (ECMAScript syntax), with the
// compiled pattern when there is one; nullopt when the pattern does not
// compile or the matcher gives up on it.
std::optional<bool> matches_pattern(const CompiledPatterns& compiled, const std::string& pattern,
                                    const std::string& value);

// A Number parameter's value (locale-independent); nullopt when it is not one.
std::optional<double> number_of(std::string_view s);
// ASCII upper case, whatever the process locale.
std::string upper(std::string_view s);

// AWS IoT's character rules (ASCII letters and digits plus `extra`).
bool chars_in(std::string_view s, size_t min, size_t max, std::string_view extra);
inline bool valid_thing_name(std::string_view s) { return chars_in(s, 1, 128, ":_-"); }
inline bool valid_attribute_name(std::string_view s) { return chars_in(s, 1, 128, "_.,@/:#-"); }
inline bool valid_attribute_value(std::string_view s) { return chars_in(s, 0, 800, "_.,@/:#=[]-"); }

}  // namespace provision::templates::language
