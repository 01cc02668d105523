#pragma once
// Validation of documents against the JSON Schemas in schemas/ (compiled into
// the binary). Schemas are compiled once and shared; validation is thread-safe.
#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

namespace provision::schemas {
// The text of an embedded schema ("rejected-reply.schema.json"), empty if unknown.
std::string_view embedded(std::string_view name);
}  // namespace provision::schemas

namespace provision::protocol {

// nullopt when `document` is valid against schema `schema_name`; otherwise a
// precise sentence naming where and why, e.g.
// "/parameters/SerialNumber: must be of type string".
// Throws Error when the schema itself is unknown or malformed (a build defect).
std::optional<std::string> schema_violation(std::string_view schema_name, const rapidjson::Value& document);

// Parses `text` and checks it against schema `schema_name`; throws
// Error("<what>: invalid JSON at offset N: ...") or Error("<what>: <violation>").
rapidjson::Document parse_valid(std::string_view text, std::string_view schema_name, std::string_view what);

// The same against a schema of the admin API's OpenAPI document
// (schemas/openapi.json, components.schemas.<component>).
std::optional<std::string> openapi_violation(std::string_view component, const rapidjson::Value& document);

// "/templates/0" -> "templates[0]": a JSON pointer as the field name a person reads.
std::string field_name(std::string_view json_pointer);

}  // namespace provision::protocol
