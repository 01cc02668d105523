#include "output.h"

#include <algorithm>
#include <ctime>
#include <set>
#include <sstream>

#include "util/json.h"

namespace provisionctl {
namespace {

constexpr size_t kInlineLimit = 100;  // longer values are printed as a block under their key

bool is_timestamp(const std::string& member) {
  static const std::set<std::string> kTimestamps{"at", "notBefore", "notAfter"};
  return kTimestamps.contains(member) || (member.size() > 2 && member.ends_with("At"));
}

std::string utc_time(int64_t seconds) {
  auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

bool is_scalar(const rapidjson::Value& value) { return !value.IsObject() && !value.IsArray(); }

std::string scalar_text(const rapidjson::Value& value) {
  if (value.IsString()) return std::string(provision::json::view(value));
  if (value.IsNull()) return "-";
  return provision::json::stringify(value);
}

bool all_scalars(const rapidjson::Value& value) {
  if (value.IsArray()) return std::all_of(value.Begin(), value.End(), is_scalar);
  return std::all_of(value.MemberBegin(), value.MemberEnd(), [](const auto& m) { return is_scalar(m.value); });
}

std::string joined(const rapidjson::Value& value) {
  std::string text;
  auto append = [&text](const std::string& part) { text += (text.empty() ? "" : ",") + part; };
  if (value.IsArray())
    for (const auto& item : value.GetArray()) append(scalar_text(item));
  else
    for (const auto& m : value.GetObject()) append(std::string(provision::json::view(m.name)) + "=" + scalar_text(m.value));
  return text;
}

std::string indented(const std::string& text) {
  std::istringstream lines(text);
  std::string line, out;
  while (std::getline(lines, line)) out += "  " + line + "\n";
  return out;
}

// The value under its key on one line, or as a block below it.
void print_member(std::ostream& out, const std::string& key, const rapidjson::Value& value) {
  std::string inline_text = display_value(key, &value);
  bool fits = inline_text.size() <= kInlineLimit && inline_text.find('\n') == std::string::npos;
  if (fits) {
    out << key << ": " << inline_text << "\n";
  } else {
    out << key << ":\n" << indented(value.IsString() ? inline_text : provision::json::pretty(value));
  }
}

}  // namespace

std::string display_value(const std::string& member, const rapidjson::Value* value) {
  if (!value) return "-";
  if (value->IsInt64() && is_timestamp(member)) return utc_time(value->GetInt64());
  if (is_scalar(*value)) return scalar_text(*value);
  if (all_scalars(*value)) return (value->IsArray() ? value->Empty() : value->ObjectEmpty()) ? "-" : joined(*value);
  return provision::json::stringify(*value);
}

void print_table(std::ostream& out, const rapidjson::Value& items, const std::vector<Column>& columns) {
  std::vector<std::vector<std::string>> rows{{}};
  for (const auto& column : columns) rows.front().push_back(column.header);
  for (const auto& item : items.GetArray()) {
    std::vector<std::string>& row = rows.emplace_back();
    for (const auto& column : columns) row.push_back(display_value(column.member, provision::json::member(item, column.member)));
  }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line += i + 1 < row.size() ? row[i] + std::string(widths[i] - row[i].size() + 2, ' ') : row[i];
    out << line << "\n";
  }
}

void print_resource(std::ostream& out, const rapidjson::Value& object) {
  for (const auto& m : object.GetObject()) print_member(out, std::string(provision::json::view(m.name)), m.value);
}

void print_json(std::ostream& out, const rapidjson::Value& document) {
  if (!document.IsNull()) out << provision::json::pretty(document) << "\n";
}

}  // namespace provisionctl
