#include "util/json.h"

#include <cmath>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/error.h"
#include "util/text.h"

namespace provision::json {
namespace {

// Iterative: the parser keeps its own stack and never recurses. Validating:
// strings must be UTF-8. Stop when done: what follows the document is looked
// at here, by length (RapidJSON takes a NUL byte for the end of its input).
// Numbers read exactly (kParseFullPrecisionFlag): a document written back
// out reads in again as the same document (found by fuzz/json_fuzzer).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseFullPrecisionFlag;

// The document's own SAX handler, refusing to open a container kMaxDepth
// levels down, and a string that is not UTF-8 once its escapes are decoded
// (RapidJSON 1.1 lets an escaped lone low surrogate, U+DC00 to U+DFFF, through).
class Limits {
 public:
  using Ch = char;
  explicit Limits(rapidjson::Document& document) : document_(document) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned i) { return document_.Uint(i); }
  bool Int64(int64_t i) { return document_.Int64(i); }
  bool Uint64(uint64_t i) { return document_.Uint64(i); }
  // Full precision reads a number beyond a double's range as infinity
  // (RapidJSON 1.1): refused, as without it, since nothing could write it back.
  bool Double(double d) {
    if (std::isfinite(d)) return document_.Double(d);
    too_big_ = true;
    return false;
  }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) { return document_.RawNumber(s, n, copy); }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) { return text_ok(s, n) && document_.String(s, n, copy); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) { return text_ok(s, n) && document_.Key(s, n, copy); }
  bool StartObject() { return open() && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) { --depth_; return document_.EndObject(members); }
  bool StartArray() { return open() && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { --depth_; return document_.EndArray(elements); }

  bool too_deep() const { return too_deep_; }
  bool bad_escape() const { return bad_escape_; }
  bool too_big() const { return too_big_; }

 private:
  bool open() {
    if (depth_ == kMaxDepth) {
      too_deep_ = true;
      return false;
    }
    ++depth_;
    return true;
  }
  bool text_ok(const Ch* s, rapidjson::SizeType n) {
    if (text::is_utf8({s, n})) return true;
    bad_escape_ = true;
    return false;
  }

  rapidjson::Document& document_;
  std::size_t depth_ = 0;
  bool too_deep_ = false, bad_escape_ = false, too_big_ = false;
};

bool whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string at(std::size_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

std::optional<rapidjson::Document> try_parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<rapidjson::Document> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  if (auto bad = text::utf8_error(text)) return fail("invalid UTF-8" + at(*bad));

  // A byte order mark may be ignored (RFC 8259, 8.1); offsets stay those of `text`.
  const std::size_t start = text.starts_with("\xef\xbb\xbf") ? 3 : 0;
  rapidjson::MemoryStream in(text.data() + start, text.size() - start);
  rapidjson::Reader reader;
  rapidjson::ParseResult result;
  bool too_deep = false, bad_escape = false, too_big = false;
  auto generate = [&](rapidjson::Document& document) {
    Limits limits(document);
    result = reader.Parse<kParseFlags>(in, limits);
    too_deep = limits.too_deep();
    bad_escape = limits.bad_escape();
    too_big = limits.too_big();
    return !result.IsError();
  };
  rapidjson::Document doc;
  doc.Populate(generate);
  if (result.IsError()) {
    const std::size_t offset = start + result.Offset();
    if (too_deep) return fail("nesting deeper than " + std::to_string(kMaxDepth) + at(offset));
    if (too_big) return fail("invalid JSON" + at(offset) + ": " + rapidjson::GetParseError_En(rapidjson::kParseErrorNumberTooBig));
    if (bad_escape) return fail("invalid JSON" + at(offset) + ": a \\u escape names a lone surrogate");
    if (offset < text.size() && text[offset] == '\0') return fail("NUL byte" + at(offset));
    return fail("invalid JSON" + at(offset) + ": " + rapidjson::GetParseError_En(result.Code()));
  }
  std::size_t end = start + in.Tell();
  while (end < text.size() && whitespace(text[end])) ++end;
  if (end < text.size()) return fail("trailing bytes" + at(end));
  return doc;
}

rapidjson::Document parse(std::string_view text, std::string_view what) {
  std::string error;
  auto doc = try_parse(text, &error);
  if (!doc) throw Error(std::string(what) + ": " + error);
  return std::move(*doc);
}

namespace {

// Writes `value` with `writer`, which validates what it writes.
template <typename Writer>
void write(const rapidjson::Value& value, Writer& writer) {
  if (!value.Accept(writer)) throw Error("JSON: cannot write a string that is not UTF-8, nor NaN or infinity");
}

}  // namespace

std::string stringify(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                    rapidjson::kWriteValidateEncodingFlag>
      writer(buffer);
  write(value, writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string pretty(const rapidjson::Value& value) {
  // RapidJSON 1.1's PrettyWriter drops its writeFlags (its base is always a
  // Writer with the default ones): the compact writer checks the strings first.
  stringify(value);
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  write(value, writer);
  return {buffer.GetString(), buffer.GetSize()};
}

const rapidjson::Value* member(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> string_member(const rapidjson::Value& object, std::string_view name) {
  const auto* v = member(object, name);
  if (!v || !v->IsString()) return std::nullopt;
  return std::string(view(*v));
}

std::optional<int64_t> int_member(const rapidjson::Value& object, std::string_view name) {
  const auto* v = member(object, name);
  if (!v || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

std::optional<bool> bool_member(const rapidjson::Value& object, std::string_view name) {
  const auto* v = member(object, name);
  if (!v || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}

rapidjson::Value string_list(const std::vector<std::string>& list, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value out(rapidjson::kArrayType);
  for (const auto& s : list) out.PushBack(string_value(s, a), a);
  return out;
}

rapidjson::Value string_map(const std::map<std::string, std::string>& map, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value out(rapidjson::kObjectType);
  for (const auto& [k, v] : map) out.AddMember(string_value(k, a), string_value(v, a), a);
  return out;
}

std::vector<std::string> to_string_list(const rapidjson::Value& array) {
  std::vector<std::string> out;
  if (array.IsArray())
    for (const auto& v : array.GetArray())
      if (v.IsString()) out.emplace_back(view(v));
  return out;
}

std::map<std::string, std::string> to_string_map(const rapidjson::Value& object) {
  std::map<std::string, std::string> out;
  if (object.IsObject())
    for (const auto& m : object.GetObject())
      if (m.value.IsString()) out.emplace(view(m.name), view(m.value));
  return out;
}

}  // namespace provision::json
