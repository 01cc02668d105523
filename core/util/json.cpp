#include "util/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/error.h"

namespace provision::json {

std::optional<rapidjson::Document> try_parse(std::string_view text, std::string* error) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    if (error)
      *error = "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
               rapidjson::GetParseError_En(doc.GetParseError());
    return std::nullopt;
  }
  return doc;
}

rapidjson::Document parse(std::string_view text, std::string_view what) {
  std::string error;
  auto doc = try_parse(text, &error);
  if (!doc) throw Error(std::string(what) + ": " + error);
  return std::move(*doc);
}

std::string stringify(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string pretty(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  value.Accept(writer);
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
