#pragma once
// RapidJSON conveniences: parsing with errors a person can read, compact
// serialisation, and typed member lookups.
#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provision::json {

// Parses `text`; throws Error("<what>: invalid JSON at offset N: <reason>").
rapidjson::Document parse(std::string_view text, std::string_view what = "document");
// Same, but returns nullopt and sets `error` instead of throwing.
std::optional<rapidjson::Document> try_parse(std::string_view text, std::string* error);

std::string stringify(const rapidjson::Value& value);
std::string pretty(const rapidjson::Value& value);

// Member lookups that return nullptr / nullopt when absent or of another type.
const rapidjson::Value* member(const rapidjson::Value& object, std::string_view name);
std::optional<std::string> string_member(const rapidjson::Value& object, std::string_view name);
std::optional<int64_t> int_member(const rapidjson::Value& object, std::string_view name);
std::optional<bool> bool_member(const rapidjson::Value& object, std::string_view name);

inline rapidjson::Value string_value(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}
inline std::string_view view(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// Lists of strings and string-to-string maps, to JSON and back. Reading
// skips what is not a string (and yields nothing for a value of another type).
rapidjson::Value string_list(const std::vector<std::string>& list, rapidjson::Document::AllocatorType& a);
rapidjson::Value string_map(const std::map<std::string, std::string>& map, rapidjson::Document::AllocatorType& a);
std::vector<std::string> to_string_list(const rapidjson::Value& array);
std::map<std::string, std::string> to_string_map(const rapidjson::Value& object);

}  // namespace provision::json
