#include "inputs.h"

#include <unistd.h>

#include "errors.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace provisionctl {

std::string read_input_file(const std::string& file, std::string_view what) {
  try {
    return provision::read_file(file);
  } catch (const provision::Error& e) {
    throw UsageError(std::string(what) + ": " + e.what());
  }
}

rapidjson::Document read_json_file(const std::string& file, std::string_view what) {
  std::string error;
  auto document = provision::json::try_parse(read_input_file(file, what), &error);
  if (!document) throw UsageError(std::string(what) + " " + file + ": " + error);
  if (!document->IsObject()) throw UsageError(std::string(what) + " " + file + ": not a JSON object");
  return std::move(*document);
}

std::map<std::string, std::string> parse_parameters(const std::vector<std::string>& items) {
  std::map<std::string, std::string> parameters;
  for (const auto& item : items) {
    auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0)
      throw UsageError("--param: expected NAME=VALUE, got '" + item + "'");
    parameters[item.substr(0, equals)] = item.substr(equals + 1);
  }
  return parameters;
}

JsonBody& JsonBody::string(std::string_view key, std::string_view text) {
  auto& a = document_.GetAllocator();
  document_.AddMember(provision::json::string_value(key, a), provision::json::string_value(text, a), a);
  return *this;
}

JsonBody& JsonBody::string_if_set(std::string_view key, std::string_view text) {
  return text.empty() ? *this : string(key, text);
}

JsonBody& JsonBody::integer(std::string_view key, int64_t number) {
  auto& a = document_.GetAllocator();
  document_.AddMember(provision::json::string_value(key, a), rapidjson::Value(number), a);
  return *this;
}

JsonBody& JsonBody::boolean(std::string_view key, bool flag) {
  auto& a = document_.GetAllocator();
  document_.AddMember(provision::json::string_value(key, a), rapidjson::Value(flag), a);
  return *this;
}

JsonBody& JsonBody::strings(std::string_view key, const std::vector<std::string>& values) {
  auto& a = document_.GetAllocator();
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& item : values) list.PushBack(provision::json::string_value(item, a), a);
  document_.AddMember(provision::json::string_value(key, a), list, a);
  return *this;
}

JsonBody& JsonBody::string_map(std::string_view key, const std::map<std::string, std::string>& values) {
  auto& a = document_.GetAllocator();
  rapidjson::Value object(rapidjson::kObjectType);
  for (const auto& [name, text] : values)
    object.AddMember(provision::json::string_value(name, a), provision::json::string_value(text, a), a);
  document_.AddMember(provision::json::string_value(key, a), object, a);
  return *this;
}

JsonBody& JsonBody::value(std::string_view key, const rapidjson::Value& content) {
  auto& a = document_.GetAllocator();
  document_.AddMember(provision::json::string_value(key, a), rapidjson::Value(content, a), a);
  return *this;
}

OutputDirectory::OutputDirectory(const std::string& directory, const std::vector<std::string>& file_names)
    : directory_(directory.empty() ? "." : directory) {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error || !std::filesystem::is_directory(directory_))
    throw UsageError("output directory " + directory_.string() + ": cannot create it");
  if (access(directory_.c_str(), W_OK) != 0) throw UsageError("output directory " + directory_.string() + ": not writable");
  for (const auto& name : file_names)
    if (std::filesystem::exists(directory_ / name))
      throw UsageError((directory_ / name).string() + " exists; not overwriting it (choose another --out)");
}

void OutputDirectory::write(const SecretFile& file) const { provision::write_file(directory_ / file.name, file.content, file.mode); }

}  // namespace provisionctl
