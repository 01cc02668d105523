#pragma once
// What provisionctl prints: the API's JSON (--json), or for people aligned
// tables (lists) and "key: value" lines (one resource).
#include <rapidjson/document.h>

#include <ostream>
#include <string>
#include <vector>

namespace provisionctl {

// One table column: its header and the JSON member shown in it.
struct Column {
  std::string header;
  std::string member;
};

// Every element of `items` (JSON objects) as a row under a header row.
void print_table(std::ostream& out, const rapidjson::Value& items, const std::vector<Column>& columns);
// A JSON object as "key: value" lines; long or nested values as indented blocks.
void print_resource(std::ostream& out, const rapidjson::Value& object);
// One JSON document, indented, or nothing for null (an answer without a body).
void print_json(std::ostream& out, const rapidjson::Value& document);

// A value as a person reads it: strings bare, timestamps (members named
// like createdAt, notAfter or at) as UTC dates, lists comma-separated,
// string maps as k=v pairs, anything else as compact JSON; "-" when absent.
std::string display_value(const std::string& member, const rapidjson::Value* value);

}  // namespace provisionctl
