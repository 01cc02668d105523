#pragma once
// RapidJSON conveniences: parsing with errors a person can read, compact
// serialisation, and typed member lookups.
#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provision::json {

// How deep arrays and objects may nest in any JSON text the product parses:
// MQTT payloads, admin API bodies, hook answers, and the operator's own
// templates, policies and configuration (docs/protocol.md, docs/admin.md).
// A request needs 3 levels, a template about 10. CBOR payloads are held to
// 32 (protocol/cbor.h), within this.
inline constexpr std::size_t kMaxDepth = 64;

// Parses exactly `text` (its length, not a NUL, ends it) as one JSON value
// with optional whitespace around it. Refused, with Error("<what>: ..."):
//   "invalid UTF-8 at offset N"        the text is not UTF-8 (RFC 8259, 8.1)
//   "NUL byte at offset N"             a raw NUL inside the document
//   "trailing bytes at offset N"       anything but whitespace after it
//   "nesting deeper than 64 at offset N"
//   "invalid JSON at offset N: <reason>" any other syntax error, or a string
//                                      escape that names a lone surrogate
// The parser is RapidJSON's iterative one (no recursion at all), and what it
// accepts nests at most kMaxDepth deep: whatever walks a parsed document
// afterwards (schema validation, CopyFrom, stringify, ==) recurses at most
// that deep, plus the few levels of any document it is put into. Documents
// use RapidJSON's pool allocator, so destroying one never recurses.
rapidjson::Document parse(std::string_view text, std::string_view what = "document");
// Same, but returns nullopt and sets `error` (without the "<what>: ") instead of throwing.
std::optional<rapidjson::Document> try_parse(std::string_view text, std::string* error);

// Compact and indented text. Throw Error rather than write a string that is
// not UTF-8 (or a NaN): what is written is always valid JSON.
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
