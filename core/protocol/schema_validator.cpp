#include "protocol/schema_validator.h"

#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <map>
#include <memory>
#include <mutex>

#include "util/error.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::protocol {
namespace {

struct CompiledSchema {
  rapidjson::Document source;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
};

// A schema document for one OpenAPI component: the components become
// draft-04 "definitions" and the root refers to the one asked for.
std::string openapi_component_schema(std::string_view component) {
  auto openapi = json::parse(schemas::embedded("openapi.json"), "openapi.json");
  const auto* components = json::member(openapi, "components");
  const auto* all = components ? json::member(*components, "schemas") : nullptr;
  if (!all || !json::member(*all, component)) throw Error("unknown OpenAPI component " + std::string(component));
  std::string definitions = json::stringify(*all);
  const std::string from = "#/components/schemas/", to = "#/definitions/";
  for (size_t pos = definitions.find(from); pos != std::string::npos; pos = definitions.find(from, pos + to.size()))
    definitions.replace(pos, from.size(), to);
  return R"({"definitions":)" + definitions + R"(,"$ref":"#/definitions/)" + std::string(component) + R"("})";
}

// `name` is a schema file name, or "openapi:<component>".
const CompiledSchema& compiled(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<CompiledSchema>, std::less<>> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(name);
  if (it != cache.end()) return *it->second;
  std::string text;
  if (name.starts_with("openapi:")) {
    text = openapi_component_schema(name.substr(8));
  } else {
    text = std::string(schemas::embedded(name));
    if (text.empty()) throw Error("unknown schema " + std::string(name));
  }
  auto entry = std::make_unique<CompiledSchema>();
  entry->source = json::parse(text, name);
  entry->schema = std::make_unique<rapidjson::SchemaDocument>(entry->source);
  return *cache.emplace(std::string(name), std::move(entry)).first->second;
}

std::string pointer_string(const rapidjson::Pointer& pointer) {
  rapidjson::StringBuffer buffer;
  pointer.Stringify(buffer);
  std::string s(buffer.GetString(), buffer.GetSize());
  return s.empty() ? "/" : s;
}

// How much of a document pointer a message shows (its member names are input).
constexpr size_t kPointerMaxBytes = 200;

// Turns RapidJSON's (schema pointer, keyword, document pointer) into a
// sentence. The document pointer is made of the document's member names:
// it is quoted escaped (util/text.h).
std::string describe(const rapidjson::Value& schema_root, const rapidjson::SchemaValidator& validator,
                     const rapidjson::Value& document) {
  const std::string pointer = pointer_string(validator.GetInvalidDocumentPointer());
  const std::string where = text::escape(pointer, kPointerMaxBytes);
  std::string keyword = validator.GetInvalidSchemaKeyword();
  const rapidjson::Value* rule = validator.GetInvalidSchemaPointer().Get(schema_root);
  const rapidjson::Value* node = validator.GetInvalidDocumentPointer().Get(document);

  if (keyword == "required" && rule && node && node->IsObject()) {
    std::string missing;
    if (const auto* required = json::member(*rule, "required"); required && required->IsArray())
      for (const auto& name : required->GetArray())
        if (name.IsString() && !node->HasMember(name)) missing += (missing.empty() ? "" : ", ") + std::string(json::view(name));
    return where + ": missing required field " + missing;
  }
  if (keyword == "type" && rule) {
    if (const auto* type = json::member(*rule, "type"); type && type->IsString())
      return where + ": must be of type " + std::string(json::view(*type));
  }
  if (keyword == "additionalProperties") {
    // RapidJSON points at the extra property itself: report it under its parent.
    auto slash = pointer.rfind('/');
    std::string parent = slash == 0 ? "/" : pointer.substr(0, slash);
    std::string name = pointer.substr(slash + 1);
    return text::escape(parent, kPointerMaxBytes) + ": unexpected field " + text::escape(name);
  }
  if ((keyword == "maxLength" || keyword == "minLength" || keyword == "maxProperties" || keyword == "minProperties" ||
       keyword == "minimum" || keyword == "maximum") &&
      rule) {
    if (const auto* limit = json::member(*rule, keyword); limit && limit->IsNumber())
      return where + ": violates " + keyword + " " + std::to_string(limit->GetInt64());
  }
  if (keyword == "pattern" && rule) {
    if (auto pattern = json::string_member(*rule, "pattern")) return where + ": does not match pattern " + *pattern;
  }
  if (keyword == "enum") return where + ": is not one of the allowed values";
  return where + ": violates schema keyword '" + keyword + "'";
}

}  // namespace

std::optional<std::string> schema_violation(std::string_view schema_name, const rapidjson::Value& document) {
  const CompiledSchema& schema = compiled(schema_name);
  rapidjson::SchemaValidator validator(*schema.schema);
  if (document.Accept(validator)) return std::nullopt;
  return describe(schema.source, validator, document);
}

rapidjson::Document parse_valid(std::string_view text, std::string_view schema_name, std::string_view what) {
  auto doc = json::parse(text, what);
  if (auto violation = schema_violation(schema_name, doc)) throw Error(std::string(what) + ": " + *violation);
  return doc;
}

std::optional<std::string> openapi_violation(std::string_view component, const rapidjson::Value& document) {
  return schema_violation("openapi:" + std::string(component), document);
}

std::string field_name(std::string_view pointer) {
  std::string out;
  size_t pos = pointer.starts_with('/') ? 1 : 0;
  while (pos <= pointer.size() && pos < pointer.size()) {
    size_t next = pointer.find('/', pos);
    std::string_view token = pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos;
    if (index) out += "[" + std::string(token) + "]";
    else out += (out.empty() ? "" : ".") + std::string(token);
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

}  // namespace provision::protocol
