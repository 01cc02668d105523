#pragma once
// What commands read and write besides the API: input files (unreadable:
// UsageError), --param NAME=VALUE lists, request bodies, and the secret
// files a command must save because the API shows them once.
#include <rapidjson/document.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace provisionctl {

std::string read_input_file(const std::string& file, std::string_view what);
// A file holding one JSON object.
rapidjson::Document read_json_file(const std::string& file, std::string_view what);
// ["k=v", ...] -> {k: v}; UsageError for an item without '='.
std::map<std::string, std::string> parse_parameters(const std::vector<std::string>& items);

// A JSON object request body, member by member.
class JsonBody {
 public:
  JsonBody() : document_(rapidjson::kObjectType) {}
  JsonBody& string(std::string_view key, std::string_view value);
  JsonBody& string_if_set(std::string_view key, std::string_view value);  // skipped when empty
  JsonBody& integer(std::string_view key, int64_t value);
  JsonBody& boolean(std::string_view key, bool value);
  JsonBody& strings(std::string_view key, const std::vector<std::string>& values);
  JsonBody& string_map(std::string_view key, const std::map<std::string, std::string>& values);
  JsonBody& value(std::string_view key, const rapidjson::Value& value);  // copied
  const rapidjson::Document& document() const { return document_; }

 private:
  rapidjson::Document document_;
};

struct SecretFile {
  std::string name;
  std::string content;
  mode_t mode;
};

// Files to write into an output directory once the API has answered. The
// constructor checks beforehand (UsageError) that the directory can be made
// and that none of the files exists: a key the API returns once must never
// overwrite another one, nor be lost because it cannot be written.
class OutputDirectory {
 public:
  OutputDirectory(const std::string& directory, const std::vector<std::string>& file_names);
  void write(const SecretFile& file) const;
  std::filesystem::path path_of(const std::string& name) const { return directory_ / name; }

 private:
  std::filesystem::path directory_;
};

}  // namespace provisionctl
