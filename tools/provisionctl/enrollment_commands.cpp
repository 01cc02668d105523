// The factory's enrollment list (enrollment commands, with a bulk import) and
// the brokers devices are assigned to (broker commands).
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "commands.h"
#include "errors.h"
#include "inputs.h"
#include "resources.h"
#include "util/json.h"

namespace provisionctl {
namespace {

const Resource kEnrollments{"enrollment", "/v1/enrollments", "ID",
                            {{"ID", "registrationId"},
                             {"KIND", "kind"},
                             {"STATUS", "status"},
                             {"TEMPLATE", "templateName"},
                             {"BROKER", "broker"},
                             {"THING", "thingName"},
                             {"CREATED", "createdAt"}}};
const Resource kBrokers{"broker", "/v1/brokers", "NAME",
                        {{"NAME", "name"},
                         {"ENDPOINT", "endpoint"},
                         {"WEIGHT", "weight"},
                         {"ENABLED", "enabled"},
                         {"UPDATED", "updatedAt"}}};

// `name ID`: POST to the enrollment's `name` action (activate, disable) with `body`.
rapidjson::Document enrollment_action(Context& context, const std::string& id, const std::string& name,
                                      const rapidjson::Value& body) {
  return context.api().call("POST", kEnrollments.item_path(id) + "/" + name, &body);
}

// One POST /v1/enrollments: the answer and whether it made a new enrollment
// (201) or found it there already (200); ApiFailure otherwise.
std::pair<rapidjson::Document, bool> post_enrollment(Context& context, const rapidjson::Value& body) {
  HttpReply reply = context.api().send("POST", kEnrollments.collection, {}, &body);
  if (reply.status != 200 && reply.status != 201) throw_failure(reply);
  std::string error;
  auto document = provision::json::try_parse(reply.body, &error);
  if (!document) throw ApiFailure(reply.status, "InvalidResponse", "the answer is not JSON (" + error + ")");
  return {std::move(*document), reply.status == 201};
}

struct AddOptions {
  std::string id, kind, template_name, reprovisioning, bootstrap_key;
};

const char* kReprovisioningHelp =
    "never (default): a used enrollment is refused; replace: its device may register again, for its own thing, "
    "and its old certificates are revoked";

void add_enrollment_add(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("add", "add an enrollment (DISABLED until activated); one already there is kept");
  auto options = std::make_shared<AddOptions>();
  command->add_option("ID", options->id, "registration id (serial number, MAC, certificate fingerprint, CA id)")->required();
  command->add_option("--kind", options->kind, "individual (default) | group")->check(CLI::IsMember({"individual", "group"}));
  command->add_option("--template", options->template_name, "the only template it may register through");
  command->add_option("--reprovisioning", options->reprovisioning, kReprovisioningHelp)->check(CLI::IsMember({"never", "replace"}));
  command->add_option("--bootstrap-key", options->bootstrap_key,
                      "the factory-burned key that must sign the device's HTTP bootstrap requests (32-128 printable characters)");
  command->callback([&context, options] {
    JsonBody request;
    request.string("registrationId", options->id)
        .string_if_set("kind", options->kind)
        .string_if_set("templateName", options->template_name)
        .string_if_set("reprovisioning", options->reprovisioning)
        .string_if_set("bootstrapKey", options->bootstrap_key);
    auto [answer, created] = post_enrollment(context, request.document());
    context.show(answer, [&](std::ostream& out) {
      out << "enrollment " << options->id << (created ? " created\n" : " already there\n");
    });
  });
}

struct ActivateOptions {
  std::string id, configuration_file, broker, reprovisioning;
  std::vector<std::string> attributes;
};

// ["k=v", ...] of --attribute -> {k: v}; UsageError naming the flag.
std::map<std::string, std::string> parse_attributes(const std::vector<std::string>& items) {
  for (const auto& item : items)
    if (item.find('=') == std::string::npos || item.front() == '=')
      throw UsageError("--attribute: expected NAME=VALUE, got '" + item + "'");
  return parse_parameters(items);
}

void add_enrollment_activate(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("activate", "enable an enrollment with its buyer's metadata");
  auto options = std::make_shared<ActivateOptions>();
  command->add_option("ID", options->id, "registration id")->required();
  command->add_option("--attribute", options->attributes, "thing attribute NAME=VALUE (repeat for more; replaces them all)")
      ->allow_extra_args(false);
  command->add_option("--configuration", options->configuration_file,
                      "device configuration (JSON object file), merged into the DeviceConfiguration");
  command->add_option("--broker", options->broker, "pin the device to this broker");
  command->add_option("--reprovisioning", options->reprovisioning, kReprovisioningHelp)->check(CLI::IsMember({"never", "replace"}));
  command->callback([&context, options] {
    JsonBody request;
    if (!options->attributes.empty()) request.string_map("attributes", parse_attributes(options->attributes));
    if (!options->configuration_file.empty())
      request.value("configuration", read_json_file(options->configuration_file, "configuration file"));
    request.string_if_set("broker", options->broker).string_if_set("reprovisioning", options->reprovisioning);
    auto answer = enrollment_action(context, options->id, "activate", request.document());
    context.show(answer, [&](std::ostream& out) { out << "enrollment " << options->id << " activated\n"; });
  });
}

void add_enrollment_disable(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("disable", "refuse an enrollment's device until activated again");
  auto id = add_key(*command, kEnrollments);
  command->callback([&context, id] {
    auto answer = enrollment_action(context, *id, "disable", JsonBody().document());
    context.show(answer, [&](std::ostream& out) { out << "enrollment " << *id << " disabled\n"; });
  });
}

void add_enrollment_reset(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand(
      "reset", "let a used enrollment's device register once more (a factory reset): it gets its own thing back");
  auto id = add_key(*command, kEnrollments);
  command->callback([&context, id] {
    auto answer = enrollment_action(context, *id, "reset", JsonBody().document());
    context.show(answer, [&](std::ostream& out) {
      out << "enrollment " << *id << " reset: its device may register once more\n";
    });
  });
}

// --- enrollment import

const std::set<std::string> kImportFields{"registrationId", "kind", "templateName"};

enum class ImportFormat { Csv, JsonLines };

ImportFormat import_format(const std::string& file, const std::string& flag) {
  std::string format = flag;
  if (format.empty()) {
    std::string extension = std::filesystem::path(file).extension().string();
    if (extension == ".csv") format = "csv";
    else if (extension == ".jsonl" || extension == ".ndjson") format = "jsonl";
    else throw UsageError(file + ": cannot tell the format from the extension; use --format csv|jsonl");
  }
  return format == "csv" ? ImportFormat::Csv : ImportFormat::JsonLines;
}

// A line that cannot become a request, in words.
struct BadLine {
  std::string reason;
};

// The fields of one CSV line: comma-separated, each optionally in double
// quotes ("" for a quote inside), unquoted ones trimmed of blanks.
std::vector<std::string> csv_fields(std::string_view line) {
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      for (++i;; ++i) {
        if (i >= line.size()) throw BadLine{"unterminated quoted field"};
        if (line[i] != '"') field += line[i];
        else if (i + 1 < line.size() && line[i + 1] == '"') field += line[++i];
        else break;
      }
      ++i;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',') throw BadLine{"text after a quoted field"};
    } else {
      size_t end = line.find(',', i);
      field = std::string(line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      if (field.find('"') != std::string::npos) throw BadLine{"a quote inside an unquoted field"};
      while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.pop_back();
      i = end == std::string_view::npos ? line.size() : end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

// The CSV header: which field each column holds. UsageError when it is wrong.
std::vector<std::string> csv_header(const std::string& file, size_t number, std::string_view line) {
  std::vector<std::string> columns;
  try {
    columns = csv_fields(line);
  } catch (const BadLine& bad) {
    throw UsageError(file + ":" + std::to_string(number) + ": header: " + bad.reason);
  }
  std::set<std::string> seen;
  for (const auto& column : columns) {
    if (!kImportFields.contains(column))
      throw UsageError(file + ":" + std::to_string(number) + ": header: unknown column '" + column +
                       "' (expected registrationId, kind, templateName)");
    if (!seen.insert(column).second)
      throw UsageError(file + ":" + std::to_string(number) + ": header: column " + column + " twice");
  }
  if (!seen.contains("registrationId"))
    throw UsageError(file + ":" + std::to_string(number) + ": header: no registrationId column");
  return columns;
}

// The request of one CSV line; empty cells are left out.
JsonBody csv_request(const std::vector<std::string>& columns, std::string_view line) {
  auto fields = csv_fields(line);
  if (fields.size() != columns.size())
    throw BadLine{std::to_string(fields.size()) + " fields, the header names " + std::to_string(columns.size())};
  JsonBody request;
  for (size_t i = 0; i < columns.size(); ++i) request.string_if_set(columns[i], fields[i]);
  if (!provision::json::member(request.document(), "registrationId")) throw BadLine{"missing registrationId"};
  return request;
}

// The request of one JSON line: an object of the import fields, as strings.
JsonBody json_request(std::string_view line) {
  std::string error;
  auto document = provision::json::try_parse(line, &error);
  if (!document) throw BadLine{"not JSON: " + error};
  if (!document->IsObject()) throw BadLine{"not a JSON object"};
  JsonBody request;
  std::set<std::string> seen;
  for (const auto& m : document->GetObject()) {
    std::string name(provision::json::view(m.name));
    if (!kImportFields.contains(name)) throw BadLine{"unknown field '" + name + "' (expected registrationId, kind, templateName)"};
    if (!seen.insert(name).second) throw BadLine{"field " + name + " twice"};
    if (!m.value.IsString()) throw BadLine{name + ": not a string"};
    request.string_if_set(name, provision::json::view(m.value));
  }
  if (!provision::json::member(request.document(), "registrationId")) throw BadLine{"missing registrationId"};
  return request;
}

// An API failure as one line: "400 InvalidField: message (field: x)".
std::string failure_text(const ApiFailure& failure) {
  std::string text = std::to_string(failure.status) + " " + failure.code + ": " + failure.what();
  if (!failure.field.empty()) text += " (field: " + failure.field + ")";
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

// A failure that is not about the line: every following line would fail too
// (the token refused, the server failing).
bool stops_import(const ApiFailure& failure) {
  return failure.status == 401 || failure.status == 403 || failure.status == 429 || failure.status >= 500 ||
         failure.status < 400;
}

struct ImportCounts {
  int64_t added = 0, already_there = 0, refused = 0;
};

class Importer {
 public:
  Importer(Context& context, std::string file) : context_(context), file_(std::move(file)) {}

  // Sends one line's request (unless it is invalid); false when the import must stop.
  bool line(size_t number, const std::function<JsonBody()>& request) {
    JsonBody body;
    try {
      body = request();
    } catch (const BadLine& bad) {
      refuse(number, bad.reason);
      return true;
    }
    try {
      bool created = post_enrollment(context_, body.document()).second;
      ++(created ? counts_.added : counts_.already_there);
    } catch (const ApiFailure& failure) {
      if (stops_import(failure)) {
        std::cerr << file_ << ":" << number << ": " << failure_text(failure) << "; stopped, the lines after it not sent\n";
        stopped_ = true;
        return false;
      }
      refuse(number, failure_text(failure));
    } catch (const Unreachable& unreachable) {
      std::cerr << file_ << ":" << number << ": " << unreachable.what() << "; stopped, the lines after it not sent\n";
      stopped_ = true;
      return false;
    }
    return true;
  }

  // The counts (a JSON object with --json); exit status 1 when a line was refused or the import stopped.
  void finish() const {
    rapidjson::Document summary(rapidjson::kObjectType);
    auto& a = summary.GetAllocator();
    summary.AddMember("added", counts_.added, a);
    summary.AddMember("alreadyThere", counts_.already_there, a);
    summary.AddMember("refused", counts_.refused, a);
    summary.AddMember("stopped", stopped_, a);
    context_.show(summary, [&](std::ostream& out) {
      out << counts_.added << " added, " << counts_.already_there << " already there, " << counts_.refused << " refused";
      if (counts_.refused && !stopped_) out << " (each refused line is named above; every other line was imported)";
      if (stopped_) out << " (stopped at the line named above; the lines before it were imported, the rest not sent)";
      out << "\n";
    });
    if (counts_.refused || stopped_) throw ExitStatus{kExitFailed};
  }

 private:
  void refuse(size_t number, const std::string& reason) {
    std::cerr << file_ << ":" << number << ": " << reason << "\n";
    ++counts_.refused;
  }

  Context& context_;
  std::string file_;
  ImportCounts counts_;
  bool stopped_ = false;
};

bool skipped(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

void import_enrollments(Context& context, const std::string& file, const std::string& format_flag) {
  ImportFormat format = import_format(file, format_flag);
  std::string text = read_input_file(file, "enrollment file");
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // a byte order mark, as spreadsheets write
  std::istringstream lines(text);
  std::string line;
  size_t number = 0;
  std::vector<std::string> columns;  // CSV: from the header
  Importer importer(context, file);
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (skipped(line)) continue;
    bool go_on = true;
    if (format == ImportFormat::JsonLines) {
      go_on = importer.line(number, [&] { return json_request(line); });
    } else if (columns.empty()) {
      columns = csv_header(file, number, line);
    } else {
      go_on = importer.line(number, [&] { return csv_request(columns, line); });
    }
    if (!go_on) break;
  }
  if (format == ImportFormat::Csv && columns.empty()) throw UsageError(file + ": no header row");
  importer.finish();
}

void add_enrollment_import(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand(
      "import", "add enrollments from a file, one per line: CSV with a header (registrationId,kind,templateName) or JSON lines");
  auto file = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>();
  command->add_option("FILE", *file, "the enrollments (.csv, .jsonl or .ndjson)")->required();
  command->add_option("--format", *format, "csv | jsonl (default: from the file's extension)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  command->callback([&context, file, format] { import_enrollments(context, *file, *format); });
}

// --- brokers

struct BrokerOptions {
  std::string name, endpoint, password_endpoint;
  int64_t weight = -1;  // -1: not given
};

void add_broker_add(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("add", "add a broker devices may be assigned to");
  auto options = std::make_shared<BrokerOptions>();
  command->add_option("NAME", options->name, "broker name")->required();
  command->add_option("ENDPOINT", options->endpoint, "where devices connect, e.g. mqtts://broker-2.example.com:8883")
      ->required();
  command->add_option("--weight", options->weight, "share of hashed assignments (default 1; 0: none)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--password-endpoint", options->password_endpoint,
                      "where password devices connect, e.g. mqtts://broker-2.example.com:8884");
  command->callback([&context, options] {
    JsonBody request;
    request.string("name", options->name).string("endpoint", options->endpoint);
    request.string_if_set("passwordEndpoint", options->password_endpoint);
    if (options->weight >= 0) request.integer("weight", options->weight);
    auto answer = context.api().call("POST", kBrokers.collection, &request.document());
    context.show(answer, [&](std::ostream& out) { out << "broker " << options->name << " added\n"; });
  });
}

void add_broker_update(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("update", "change a broker's endpoint or weight");
  auto options = std::make_shared<BrokerOptions>();
  command->add_option("NAME", options->name, "broker name")->required();
  command->add_option("--endpoint", options->endpoint, "where devices connect");
  command->add_option("--weight", options->weight, "share of hashed assignments (0: none)")->check(CLI::NonNegativeNumber);
  command->add_option("--password-endpoint", options->password_endpoint, "where password devices connect");
  command->callback([&context, options] {
    if (options->endpoint.empty() && options->weight < 0 && options->password_endpoint.empty())
      throw UsageError("broker update: give --endpoint, --weight or --password-endpoint");
    JsonBody request;
    request.string_if_set("endpoint", options->endpoint).string_if_set("passwordEndpoint", options->password_endpoint);
    if (options->weight >= 0) request.integer("weight", options->weight);
    auto answer = context.api().call("PATCH", kBrokers.item_path(options->name), &request.document());
    context.show(answer, [&](std::ostream& out) { out << "broker " << options->name << " updated\n"; });
  });
}

}  // namespace

void add_enrollment_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "enrollment", "the factory's enrollment list");
  add_list(group, context, kEnrollments, {{"--status", "status", "DISABLED or ENABLED"}});
  add_get(group, context, kEnrollments);
  add_enrollment_add(group, context);
  add_enrollment_activate(group, context);
  add_enrollment_disable(group, context);
  add_enrollment_reset(group, context);
  add_delete(group, context, kEnrollments);
  add_enrollment_import(group, context);
}

void add_broker_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "broker", "brokers devices are assigned to");
  add_list(group, context, kBrokers);
  add_get(group, context, kBrokers);
  add_broker_add(group, context);
  add_broker_update(group, context);
  add_patch(group, context, kBrokers, "enable", "assign new devices to a broker again", R"({"enabled":true})", "enabled");
  add_patch(group, context, kBrokers, "disable", "assign no new devices to a broker", R"({"enabled":false})", "disabled");
  add_delete(group, context, kBrokers);
}

}  // namespace provisionctl
