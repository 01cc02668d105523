// template list|get|apply|versions|version|set-default|enable|disable|delete|delete-version|dry-run|hook|assignment
#include <filesystem>
#include <optional>

#include "commands.h"
#include "errors.h"
#include "inputs.h"
#include "resources.h"
#include "util/json.h"

namespace provisionctl {
namespace {

const Resource kTemplates{"template", "/v1/templates", "NAME",
                          {{"NAME", "name"},
                           {"DEFAULT", "defaultVersion"},
                           {"ENABLED", "enabled"},
                           {"UPDATED", "updatedAt"},
                           {"DESCRIPTION", "description"}}};

std::string version_path(const std::string& name, int64_t version) {
  return kTemplates.item_path(name) + "/versions/" + std::to_string(version);
}

// "sensor.json" -> "sensor".
std::string name_from_file(const std::string& file) {
  std::string name = std::filesystem::path(file).filename().string();
  return name.ends_with(".json") ? name.substr(0, name.size() - 5) : name;
}

struct ApplyOptions {
  std::string file, name, description, hook_file, assignment_file;
};

// The template's preProvisioningHook and brokerAssignment from --hook and
// --assignment files, and its description, as members of a request body.
// Read before any request, so that an unreadable file changes nothing.
struct TemplateSettings {
  std::optional<rapidjson::Document> hook, assignment;
  std::string description;

  void add_to(JsonBody& request) const {
    request.string_if_set("description", description);
    if (hook) request.value("preProvisioningHook", *hook);
    if (assignment) request.value("brokerAssignment", *assignment);
  }
  bool empty() const { return !hook && !assignment && description.empty(); }
};

TemplateSettings read_settings(const ApplyOptions& options) {
  TemplateSettings settings;
  if (!options.hook_file.empty()) settings.hook = read_json_file(options.hook_file, "hook file");
  if (!options.assignment_file.empty()) settings.assignment = read_json_file(options.assignment_file, "assignment file");
  settings.description = options.description;
  return settings;
}

// Creates the template, or adds a version (made the default) when it exists;
// then its description, hook and assignment in one PATCH.
void apply(Context& context, const ApplyOptions& options) {
  auto body = read_json_file(options.file, "template file");
  TemplateSettings settings = read_settings(options);
  std::string name = options.name.empty() ? name_from_file(options.file) : options.name;
  auto& api = context.api();
  if (!api.exists(kTemplates.item_path(name))) {
    JsonBody request;
    request.string("name", name).value("body", body);
    settings.add_to(request);
    auto created = api.call("POST", kTemplates.collection, &request.document());
    context.show(created, [&](std::ostream& out) {
      out << "template " << name << " created: version " << *provision::json::int_member(created, "defaultVersion") << "\n";
    });
    return;
  }
  JsonBody request;
  request.value("body", body);
  auto added = api.call("POST", kTemplates.item_path(name) + "/versions", &request.document());
  int64_t version = provision::json::int_member(added, "version").value_or(0);
  if (!settings.empty()) {
    JsonBody update;
    settings.add_to(update);
    try {
      api.call("PATCH", kTemplates.item_path(name), &update.document());
    } catch (const ApiFailure& failure) {  // the version stays: say so
      throw ApiFailure(failure.status, failure.code,
                       "template " + name + ": version " + std::to_string(version) +
                           " added (now the default), but not the rest: " + failure.what(),
                       failure.field, failure.details);
    }
  }
  context.show(added, [&](std::ostream& out) {
    out << "template " << name << ": version " << version << " (now the default)\n";
  });
}

void add_apply(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("apply", "create a template from a JSON file, or add a version to it");
  auto options = std::make_shared<ApplyOptions>();
  command->add_option("FILE", options->file, "template document (JSON)")->required();
  command->add_option("--name", options->name, "template name (default: the file name without .json)");
  command->add_option("--description", options->description, "template description");
  command->add_option("--hook", options->hook_file, "pre-provisioning hook (JSON, schemas/hook.schema.json)");
  command->add_option("--assignment", options->assignment_file, "broker assignment (JSON, schemas/assignment.schema.json)");
  command->callback([&context, options] { apply(context, *options); });
}

// The template without its hook's secret, should the API ever show it.
rapidjson::Document without_secret(rapidjson::Document document) {
  if (!document.IsObject()) return document;
  if (auto hook = document.FindMember("preProvisioningHook"); hook != document.MemberEnd() && hook->value.IsObject())
    hook->value.RemoveMember("secret");
  return document;
}

void add_template_get(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("get", "show one template, with its hook (without secret) and broker assignment");
  auto name = add_key(*command, kTemplates);
  command->callback([&context, name] {
    context.show_resource(without_secret(context.api().call("GET", kTemplates.item_path(*name))));
  });
}

// template hook|assignment NAME FILE.json|--remove: PATCH `member` with the file's object, or null.
void add_template_setting(CLI::App& group, Context& context, const std::string& name, const std::string& member,
                          const std::string& what, const std::string& schema) {
  auto* command = group.add_subcommand(name, "set or remove a template's " + what);
  auto template_name = add_key(*command, kTemplates);
  auto file = std::make_shared<std::string>();
  auto remove = std::make_shared<bool>(false);
  auto* file_option = command->add_option("FILE", *file, what + " (JSON, " + schema + ")");
  command->add_flag("--remove", *remove, "remove the " + what)->excludes(file_option);
  command->callback([&context, template_name, file, remove, member, what] {
    if (!*remove && file->empty()) throw UsageError("template " + *template_name + ": give FILE or --remove");
    JsonBody request;
    if (*remove) request.value(member, rapidjson::Value());
    else request.value(member, read_json_file(*file, what + " file"));
    auto answer = context.api().call("PATCH", kTemplates.item_path(*template_name), &request.document());
    context.show(without_secret(std::move(answer)), [&](std::ostream& out) {
      out << "template " << *template_name << ": " << what << (*remove ? " removed\n" : " set\n");
    });
  });
}

// The template's versions as a table, the default one marked.
void print_versions(std::ostream& out, const rapidjson::Document& template_document) {
  rapidjson::Document rows(rapidjson::kArrayType);
  auto& a = rows.GetAllocator();
  int64_t default_version = provision::json::int_member(template_document, "defaultVersion").value_or(0);
  if (const auto* versions = provision::json::member(template_document, "versions"); versions && versions->IsArray())
    for (const auto& version : versions->GetArray()) {
      rapidjson::Value row(version, a);
      bool is_default = provision::json::int_member(version, "version") == default_version;
      row.AddMember("default", rapidjson::Value(is_default ? "yes" : "", a), a);
      rows.PushBack(row, a);
    }
  print_table(out, rows, {{"VERSION", "version"}, {"CREATED", "createdAt"}, {"DEFAULT", "default"}});
}

void add_versions(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("versions", "list a template's versions");
  auto name = add_key(*command, kTemplates);
  command->callback([&context, name] {
    auto document = context.api().call("GET", kTemplates.item_path(*name));
    context.show(document, [&](std::ostream& out) { print_versions(out, document); });
  });
}

struct VersionArguments {
  std::shared_ptr<std::string> name;
  std::shared_ptr<int64_t> version;
};

VersionArguments add_version_arguments(CLI::App& command) {
  VersionArguments arguments{add_key(command, kTemplates), std::make_shared<int64_t>(0)};
  command.add_option("V", *arguments.version, "version number")->required()->check(CLI::PositiveNumber);
  return arguments;
}

void add_version(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("version", "show one version of a template");
  auto arguments = add_version_arguments(*command);
  command->callback([&context, arguments] {
    context.show_resource(context.api().call("GET", version_path(*arguments.name, *arguments.version)));
  });
}

void add_set_default(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("set-default", "make a version the one devices get");
  auto arguments = add_version_arguments(*command);
  command->callback([&context, arguments] {
    JsonBody request;
    request.integer("defaultVersion", *arguments.version);
    auto answer = context.api().call("PATCH", kTemplates.item_path(*arguments.name), &request.document());
    context.show(answer, [&](std::ostream& out) {
      out << "template " << *arguments.name << ": default version " << *arguments.version << "\n";
    });
  });
}

void add_delete_version(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("delete-version", "delete a version (not the default one)");
  auto arguments = add_version_arguments(*command);
  command->callback([&context, arguments] {
    auto answer = context.api().call("DELETE", version_path(*arguments.name, *arguments.version));
    context.show(answer, [&](std::ostream& out) {
      out << "template " << *arguments.name << ": version " << *arguments.version << " deleted\n";
    });
  });
}

struct DryRunOptions {
  std::string name, certificate_file;
  std::vector<std::string> parameters;
  int64_t version = 0;  // 0: the default version
};

void add_dry_run(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("dry-run", "what a registration would create, with nothing written");
  auto options = std::make_shared<DryRunOptions>();
  command->add_option("NAME", options->name, "template name")->required();
  command->add_option("--param", options->parameters, "template parameter NAME=VALUE (repeat for more)")
      ->allow_extra_args(false);
  command->add_option("--certificate", options->certificate_file, "a sample device certificate (PEM)");
  command->add_option("--version", options->version, "template version (default: the default version)")
      ->check(CLI::PositiveNumber);
  command->callback([&context, options] {
    JsonBody request;
    request.string_map("parameters", parse_parameters(options->parameters));
    if (!options->certificate_file.empty())
      request.string("certificatePem", read_input_file(options->certificate_file, "certificate file"));
    if (options->version) request.integer("version", options->version);
    context.show_resource(context.api().call("POST", kTemplates.item_path(options->name) + "/dry-run", &request.document()));
  });
}

}  // namespace

void add_template_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "template", "provisioning templates and their versions");
  add_list(group, context, kTemplates);
  add_template_get(group, context);
  add_apply(group, context);
  add_versions(group, context);
  add_version(group, context);
  add_set_default(group, context);
  add_patch(group, context, kTemplates, "enable", "let devices register with a template", R"({"enabled":true})", "enabled");
  add_patch(group, context, kTemplates, "disable", "refuse registrations with a template", R"({"enabled":false})", "disabled");
  add_delete(group, context, kTemplates);
  add_delete_version(group, context);
  add_dry_run(group, context);
  add_patch(group, context, kTemplates, "allow-reprovisioning",
            "let a registration take over a thing another device registered (its certificates are revoked)",
            R"({"reprovisioning":"replace"})", "may re-provision registered things");
  add_patch(group, context, kTemplates, "forbid-reprovisioning",
            "refuse registrations that name a thing another device registered (the default)", R"({"reprovisioning":"never"})",
            "never re-provisions a registered thing");
  add_template_setting(group, context, "hook", "preProvisioningHook", "pre-provisioning hook", "schemas/hook.schema.json");
  add_template_setting(group, context, "assignment", "brokerAssignment", "broker assignment",
                       "schemas/assignment.schema.json");
}

}  // namespace provisionctl
