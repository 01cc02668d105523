// Who and what may connect or act: policy, claim, ca, token and identity commands.
#include "commands.h"
#include "errors.h"
#include "inputs.h"
#include "resources.h"
#include "util/json.h"

namespace provisionctl {
namespace {

const Resource kPolicies{"policy", "/v1/policies", "NAME",
                         {{"NAME", "name"}, {"ATTACHMENTS", "attachments"}, {"UPDATED", "updatedAt"}}};
const Resource kClaims{"claim", "/v1/claims", "ID",
                       {{"ID", "id"},
                        {"STATUS", "status"},
                        {"TEMPLATES", "templates"},
                        {"EXPIRES", "expiresAt"},
                        {"DESCRIPTION", "description"}}};
const Resource kCas{"ca", "/v1/cas", "ID",
                    {{"ID", "id"},
                     {"NAME", "name"},
                     {"ROLE", "role"},
                     {"STATUS", "status"},
                     {"TEMPLATES", "templates"},
                     {"REGISTRATION ID", "registrationIdField"}}};
const Resource kTokens{"token", "/v1/tokens", "NAME",
                       {{"NAME", "name"}, {"ROLE", "role"}, {"CREATED", "createdAt"}, {"LAST USED", "lastUsedAt"}}};
const Resource kIdentities{"service identity", "/v1/service-identities", "ID",
                           {{"ID", "id"},
                            {"NAME", "name"},
                            {"KIND", "kind"},
                            {"STATUS", "status"},
                            {"THIS PROVISIOND", "thisProvisiond"}}};

void print_id(std::ostream& out, const rapidjson::Value& document) {
  out << provision::json::string_member(document, "id").value_or("") << "\n";
}

// policy create NAME FILE (POST) and policy update NAME FILE (PUT).
void add_policy_write(CLI::App& group, Context& context, const std::string& name, bool create) {
  auto* command = group.add_subcommand(name, create ? "create a policy from a JSON document"
                                                    : "replace a policy's document (devices get it within a second)");
  auto policy = add_key(*command, kPolicies);
  auto file = std::make_shared<std::string>();
  command->add_option("FILE", *file, "policy document (JSON, schemas/policy.schema.json)")->required();
  command->callback([&context, policy, file, create] {
    JsonBody request;
    if (create) request.string("name", *policy);
    request.value("document", read_json_file(*file, "policy file"));
    auto answer = create ? context.api().call("POST", kPolicies.collection, &request.document())
                         : context.api().call("PUT", kPolicies.item_path(*policy), &request.document());
    context.show(answer, [&](std::ostream& out) { out << "policy " << *policy << (create ? " created\n" : " updated\n"); });
  });
}

// What claim create and claim register send besides the certificate.
struct ClaimOptions {
  std::vector<std::string> templates;
  std::string description, out_directory, certificate_file;
  int64_t validity_seconds = 0, expires_at = 0;  // 0: not given
};

void add_claim_options(CLI::App& command, ClaimOptions& options) {
  command.add_option("--templates", options.templates, "templates the claim may register with (T1,T2)")
      ->required()
      ->delimiter(',')
      ->allow_extra_args(false);
  command.add_option("--description", options.description, "what the claim is for");
  command.add_option("--expires-at", options.expires_at, "the claim's expiry (Unix time)")->check(CLI::PositiveNumber);
}

JsonBody claim_request(const ClaimOptions& options) {
  JsonBody request;
  request.strings("templates", options.templates).string_if_set("description", options.description);
  if (options.expires_at) request.integer("expiresAt", options.expires_at);
  return request;
}

// The answer without its private key, which went to a file.
void drop_private_key(rapidjson::Document& answer) { answer.RemoveMember("privateKey"); }

void create_claim(Context& context, const ClaimOptions& options) {
  OutputDirectory out(options.out_directory, {"claim.pem", "claim.key"});
  JsonBody request = claim_request(options);
  if (options.validity_seconds) request.integer("validitySeconds", options.validity_seconds);
  auto claim = context.api().call("POST", kClaims.collection, &request.document());
  auto key = provision::json::string_member(claim, "privateKey");
  if (!key) throw ApiFailure(201, "InvalidResponse", "the new claim certificate came without its private key");
  out.write({"claim.key", *key, 0600});
  out.write({"claim.pem", provision::json::string_member(claim, "certificatePem").value_or(""), 0644});
  drop_private_key(claim);
  context.show(claim, [&](std::ostream& stream) { print_id(stream, claim); });
}

void add_claim_create(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("create", "create a claim certificate; writes claim.pem and claim.key (0600)");
  auto options = std::make_shared<ClaimOptions>();
  add_claim_options(*command, *options);
  command->add_option("--validity", options->validity_seconds, "certificate lifetime in seconds (default: a year)")
      ->check(CLI::PositiveNumber);
  command->add_option("--out", options->out_directory, "where to write claim.pem and claim.key (default: .)");
  command->callback([&context, options] { create_claim(context, *options); });
}

void add_claim_register(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("register", "register an existing claim certificate");
  auto options = std::make_shared<ClaimOptions>();
  command->add_option("FILE", options->certificate_file, "claim certificate (PEM)")->required();
  add_claim_options(*command, *options);
  command->callback([&context, options] {
    JsonBody request = claim_request(*options);
    request.string("certificatePem", read_input_file(options->certificate_file, "certificate file"));
    auto claim = context.api().call("POST", kClaims.collection, &request.document());
    context.show(claim, [&](std::ostream& out) { print_id(out, claim); });
  });
}

struct CaOptions {
  std::string certificate_file, name, role, registration_id, key_file;
  std::vector<std::string> templates;
};

void add_ca_register(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("register", "register a claim or manufacturer CA, or bring your own fleet CA");
  auto options = std::make_shared<CaOptions>();
  command->add_option("FILE", options->certificate_file, "CA certificate (PEM)")->required();
  command->add_option("--name", options->name, "a name for the CA")->required();
  command->add_option("--role", options->role, "claim | manufacturer | fleet")
      ->required()
      ->check(CLI::IsMember({"claim", "manufacturer", "fleet"}));
  command->add_option("--templates", options->templates, "templates its certificates may register with (T1,T2)")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("--registration-id", options->registration_id, "CN | serialNumber | certificateSerial")
      ->check(CLI::IsMember({"CN", "serialNumber", "certificateSerial"}));
  command->add_option("--key", options->key_file, "the fleet CA's private key (PEM)");
  command->callback([&context, options] {
    JsonBody request;
    request.string("name", options->name)
        .string("role", options->role)
        .string("certificatePem", read_input_file(options->certificate_file, "CA certificate file"))
        .string_if_set("registrationIdField", options->registration_id);
    if (!options->templates.empty()) request.strings("templates", options->templates);
    if (!options->key_file.empty()) request.string("privateKeyPem", read_input_file(options->key_file, "key file"));
    auto ca = context.api().call("POST", kCas.collection, &request.document());
    context.show(ca, [&](std::ostream& out) { print_id(out, ca); });
  });
}

void add_token_create(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("create", "create an API token (its secret is shown once)");
  auto name = add_key(*command, kTokens);
  auto role = std::make_shared<std::string>();
  command->add_option("--role", *role, "admin | factory | operator | installer | activator")
      ->required()
      ->check(CLI::IsMember({"admin", "factory", "operator", "installer", "activator"}));
  command->callback([&context, name, role] {
    JsonBody request;
    request.string("name", *name).string("role", *role);
    context.show_resource(context.api().call("POST", kTokens.collection, &request.document()));
  });
}

void add_identity_register(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("register", "register a certificate as a worker's or a factory server's identity");
  auto file = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto kind = std::make_shared<std::string>("worker");
  command->add_option("FILE", *file, "its certificate (PEM)")->required();
  command->add_option("--name", *name, "a name for it")->required();
  command->add_option("--kind", *kind, "worker | factory (default worker)")->check(CLI::IsMember({"worker", "factory"}));
  command->callback([&context, file, name, kind] {
    JsonBody request;
    request.string("name", *name).string("kind", *kind).string("certificatePem", read_input_file(*file, "certificate file"));
    auto identity = context.api().call("POST", kIdentities.collection, &request.document());
    context.show(identity, [&](std::ostream& out) { print_id(out, identity); });
  });
}

}  // namespace

void add_policy_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "policy", "device policies");
  add_list(group, context, kPolicies);
  add_get(group, context, kPolicies);
  add_policy_write(group, context, "create", true);
  add_policy_write(group, context, "update", false);
  add_delete(group, context, kPolicies);
}

void add_claim_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "claim", "claim certificates");
  add_list(group, context, kClaims, {{"--status", "status", "ACTIVE or INACTIVE"}});
  add_get(group, context, kClaims);
  add_claim_create(group, context);
  add_claim_register(group, context);
  add_patch(group, context, kClaims, "disable", "refuse the claim's connects", R"({"status":"INACTIVE"})", "disabled");
  add_patch(group, context, kClaims, "enable", "accept the claim again", R"({"status":"ACTIVE"})", "enabled");
  add_delete(group, context, kClaims);
}

void add_ca_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "ca", "certificate authorities");
  add_list(group, context, kCas, {{"--role", "role", "root, fleet, claim or manufacturer"}});
  add_get(group, context, kCas);
  add_ca_register(group, context);
  add_patch(group, context, kCas, "disable", "refuse the certificates a CA issued", R"({"status":"INACTIVE"})", "disabled");
  add_patch(group, context, kCas, "enable", "accept a CA's certificates again", R"({"status":"ACTIVE"})", "enabled");
  add_delete(group, context, kCas);
}

void add_token_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "token", "admin API tokens");
  add_list(group, context, kTokens);
  add_token_create(group, context);
  add_delete(group, context, kTokens);
}

void add_identity_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "identity", "service identities (the certificates of workers and factory servers)");
  add_list(group, context, kIdentities);
  add_get(group, context, kIdentities);
  add_identity_register(group, context);
  add_patch(group, context, kIdentities, "disable", "refuse its connects (connected ones are cut off)", R"({"status":"INACTIVE"})",
            "disabled");
  add_patch(group, context, kIdentities, "enable", "accept its connects again", R"({"status":"ACTIVE"})", "enabled");
  add_delete(group, context, kIdentities);
}

}  // namespace provisionctl
