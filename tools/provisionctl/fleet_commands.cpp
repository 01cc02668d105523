// The fleet itself: thing and certificate commands, and programmatic registration.
#include "commands.h"
#include "inputs.h"
#include "resources.h"
#include "util/json.h"

namespace provisionctl {
namespace {

const Resource kThings{"thing", "/v1/things", "NAME",
                       {{"NAME", "name"},
                        {"TYPE", "thingType"},
                        {"VERSION", "version"},
                        {"ATTRIBUTES", "attributes"},
                        {"UPDATED", "updatedAt"}}};
const Resource kCertificates{"certificate", "/v1/certificates", "ID",
                             {{"ID", "id"},
                              {"STATUS", "status"},
                              {"THING", "thingName"},
                              {"NOT AFTER", "notAfter"},
                              {"POLICIES", "policies"}}};

void print_deprovisioned(std::ostream& out, const std::string& name, const rapidjson::Value& answer) {
  if (!provision::json::bool_member(answer, "existed").value_or(false)) {
    out << "thing " << name << " does not exist; nothing to do\n";
    return;
  }
  const auto* removed = provision::json::member(answer, "certificatesRemoved");
  out << "thing " << name << " deprovisioned; certificates removed: " << display_value("certificatesRemoved", removed) << "\n";
}

void add_deprovision(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("deprovision", "deactivate and delete a thing's certificates, then the thing");
  auto name = add_key(*command, kThings);
  command->callback([&context, name] {
    auto answer = context.api().call("POST", kThings.item_path(*name) + "/deprovision");
    context.show(answer, [&](std::ostream& out) { print_deprovisioned(out, *name, answer); });
  });
}

// thing certificates NAME: every certificate of the thing, whatever its status.
void add_thing_certificates(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("certificates", "list a thing's certificates");
  auto name = add_key(*command, kThings);
  command->callback([&context, name] {
    auto list = context.api().call("GET", kThings.item_path(*name) + "/certificates");
    context.show(list, [&](std::ostream& out) { print_table(out, list["items"], kCertificates.columns); });
  });
}

// thing detach NAME CERTIFICATE_ID: the device using it is cut off; nothing to do when it was not attached.
void add_thing_detach(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("detach", "detach a certificate from a thing (the device using it is cut off)");
  auto name = add_key(*command, kThings);
  auto id = std::make_shared<std::string>();
  command->add_option("CERTIFICATE_ID", *id, "the certificate's id")->required();
  command->callback([&context, name, id] {
    auto answer = context.api().call("DELETE", kThings.item_path(*name) + "/certificates/" + url_encoded(*id));
    context.show(answer, [&](std::ostream& out) { out << "certificate " << *id << " is not attached to thing " << *name << "\n"; });
  });
}

struct RegisterOptions {
  std::string template_name, csr_file, out_directory;
  std::vector<std::string> parameters;
};

void register_device(Context& context, const RegisterOptions& options) {
  bool service_makes_key = options.csr_file.empty();
  std::vector<std::string> files{"device.pem"};
  if (service_makes_key) files.push_back("device.key");
  OutputDirectory out(options.out_directory, files);
  JsonBody request;
  request.string("templateName", options.template_name).string_map("parameters", parse_parameters(options.parameters));
  if (!service_makes_key) request.string("certificateSigningRequest", read_input_file(options.csr_file, "CSR file"));
  auto registered = context.api().call("POST", "/v1/register", &request.document());
  if (auto key = provision::json::string_member(registered, "privateKey")) out.write({"device.key", *key, 0600});
  out.write({"device.pem", provision::json::string_member(registered, "certificatePem").value_or(""), 0644});
  registered.RemoveMember("privateKey");
  context.show(registered, [&](std::ostream& stream) {
    for (const char* member : {"thingName", "certificateId"})
      stream << member << ": " << provision::json::string_member(registered, member).value_or("") << "\n";
  });
}

}  // namespace

void add_thing_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "thing", "things (registered devices)");
  add_list(group, context, kThings, {{"--prefix", "prefix", "only names starting with P"}});
  add_get(group, context, kThings);
  add_delete(group, context, kThings);
  add_deprovision(group, context);
  add_thing_certificates(group, context);
  add_thing_detach(group, context);
}

void add_certificate_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "certificate", "device certificates");
  add_list(group, context, kCertificates,
           {{"--thing", "thing", "only the certificates of thing T"},
            {"--status", "status", "PENDING_ACTIVATION, ACTIVE, INACTIVE or REVOKED"}});
  add_get(group, context, kCertificates);
  add_patch(group, context, kCertificates, "revoke", "revoke a certificate (final)", R"({"status":"REVOKED"})", "revoked");
  add_patch(group, context, kCertificates, "disable", "deactivate a certificate", R"({"status":"INACTIVE"})", "disabled");
  add_patch(group, context, kCertificates, "enable", "activate a certificate again", R"({"status":"ACTIVE"})", "enabled");
  add_delete(group, context, kCertificates);
}

void add_register_command(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand(
      "register", "register a device from a template (factory); writes device.pem, and device.key (0600) when the service made the key");
  auto options = std::make_shared<RegisterOptions>();
  command->add_option("--template", options->template_name, "template name")->required();
  command->add_option("--param", options->parameters, "template parameter NAME=VALUE (repeat for more)")
      ->allow_extra_args(false);
  command->add_option("--csr", options->csr_file, "certificate signing request (PEM); without it the service makes the key");
  command->add_option("--out", options->out_directory, "where to write device.pem and device.key (default: .)");
  command->callback([&context, options] { register_device(context, *options); });
}

}  // namespace provisionctl
