// provisiond: the command line. `serve` runs the worker (serve.cpp); the other
// commands set up and change a deployment on the machine that holds it.
//
// Exit status: 0 success, 1 failure at run time (message on stderr),
// 2 bad usage.
#include <CLI/CLI.hpp>

#include <iostream>

#include "administration.h"
#include "config.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "policy/policy.h"
#include "provisioning/provisioning_service.h"
#include "registry/registry.h"
#include "serve.h"
#include "setup.h"
#include "templates/template.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/random.h"

#ifndef PROVISION_PLUGIN_PATH
#define PROVISION_PLUGIN_PATH "mosquitto_provision.so"
#endif

namespace {

using namespace provision;

int init(const service::InitOptions& options) {
  auto r = service::initialise(options);
  std::cout << "initialised " << std::filesystem::absolute(options.dir).string() << "\n"
            << "  registry        " << r.registry.string() << "\n"
            << "  provisiond      " << r.service_config.string() << "\n"
            << "  mosquitto       " << r.broker_config.string() << "\n"
            << "  trusted CAs     " << r.trust_dir.string() << " (the broker's capath, kept by its plugin from the registry)\n"
            << "  claim cert      " << r.pki.claim_cert.string() << " (id " << r.claim_certificate_id << ")\n"
            << "  claim key       " << r.pki.claim_key.string() << "\n"
            << "  broker CA       " << r.pki.root_cert.string() << "\n"
            << "  template        " << r.template_name << " (parameter: SerialNumber)\n";
  if (!r.admin_url.empty())
    std::cout << "  admin API       " << r.admin_url << " (token in " << r.admin_token_file.string() << ")\n";
  return 0;
}

int put_template(const std::string& config_file, const std::string& name, const std::string& file) {
  auto config = service::load_config(config_file);
  auto body = read_file(file);
  auto issues = templates::ProvisioningTemplate::validate(body);
  if (!issues.empty()) {
    for (const auto& issue : issues) std::cerr << file << ": " << issue.path << ": " << issue.message << "\n";
    return 1;
  }
  auto registry = registry::Registry::open(config.registry);
  auto tx = registry.begin();
  int64_t version = registry.add_template_version(name, body);
  registry.audit({0, 0, "cli", "PutTemplate", name, "ok", "", "{\"version\":" + std::to_string(version) + "}"});
  tx.commit();
  std::cout << "template " << name << " version " << version << "\n";
  return 0;
}

int put_policy(const std::string& config_file, const std::string& name, const std::string& file) {
  auto config = service::load_config(config_file);
  auto body = read_file(file);
  policy::PolicyDocument::parse(body);
  auto registry = registry::Registry::open(config.registry);
  auto tx = registry.begin();
  registry.put_policy(name, body);
  registry.audit({0, 0, "cli", "PutPolicy", name, "ok", "", "{}"});
  tx.commit();
  std::cout << "policy " << name << "\n";
  return 0;
}

// Runs an administration function on the registry of `config_file`.
template <typename F>
int administer(const std::string& config_file, F&& change) {
  auto config = service::load_config(config_file);
  auto registry = registry::Registry::open(config.registry);
  change(registry, service::Actor{"cli", ""});
  return 0;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"provisiond: MQTT fleet provisioning worker"};
  app.require_subcommand(1);

  service::InitOptions init_options;
  init_options.plugin = PROVISION_PLUGIN_PATH;
  auto* init_cmd = app.add_subcommand("init", "create a development deployment (PKI, registry, configs) in a directory");
  init_cmd->add_option("--dir", init_options.dir, "directory to create it in")->required();
  init_cmd->add_option("--mqtt-port", init_options.mqtt_port, "TLS port of the broker")->check(CLI::Range(1, 65535));
  init_cmd->add_option("--plugin", init_options.plugin, "path of mosquitto_provision.so");
  init_cmd->add_option("--broker-host", init_options.broker_host,
                       "host name the worker uses to reach the broker (added to the broker certificate)");
  init_cmd->add_option("--listen", init_options.listen_address, "address the broker listens on");
  init_cmd->add_option("--workers", init_options.worker_threads, "MQTT links to the broker, each answering on its own thread (workerThreads)")->check(CLI::Range(1, 64));
  init_cmd->add_option("--admin-port", init_options.admin_port, "port of the admin API on 127.0.0.1 (0: none)")
      ->check(CLI::Range(0, 65535));
  init_cmd->add_flag("!--no-aws-topics", init_options.aws_topics, "do not serve the $aws/... topic aliases");

  std::string config_file;
  auto* serve_cmd = app.add_subcommand("serve", "run the worker");
  serve_cmd->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);

  std::string name, file;
  auto* template_cmd = app.add_subcommand("template", "manage provisioning templates");
  template_cmd->require_subcommand(1);
  auto* template_put = template_cmd->add_subcommand("put", "validate FILE and store it as a new version of template NAME");
  template_put->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  template_put->add_option("name", name, "template name")->required();
  template_put->add_option("file", file, "template JSON")->required()->check(CLI::ExistingFile);

  auto* policy_cmd = app.add_subcommand("policy", "manage device policies");
  policy_cmd->require_subcommand(1);
  auto* policy_put = policy_cmd->add_subcommand("put", "validate FILE and store it as policy NAME");
  policy_put->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  policy_put->add_option("name", name, "policy name")->required();
  policy_put->add_option("file", file, "policy JSON")->required()->check(CLI::ExistingFile);

  std::string id, status, templates, description, role = "claim", registration_field = "CN";
  int64_t expires_at = 0;
  auto* certificate_cmd = app.add_subcommand("certificate", "manage device certificates");
  certificate_cmd->require_subcommand(1);
  auto* certificate_status = certificate_cmd->add_subcommand("set-status", "set a certificate ACTIVE, INACTIVE or REVOKED");
  certificate_status->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  certificate_status->add_option("id", id, "certificateId")->required();
  certificate_status->add_option("status", status, "ACTIVE | INACTIVE | REVOKED")->required();

  auto* thing_cmd = app.add_subcommand("thing", "manage things");
  thing_cmd->require_subcommand(1);
  auto* thing_delete = thing_cmd->add_subcommand("delete", "delete a thing (its devices are cut off)");
  thing_delete->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  thing_delete->add_option("name", name, "thing name")->required();

  auto* claim_cmd = app.add_subcommand("claim", "manage claim certificates");
  claim_cmd->require_subcommand(1);
  auto* claim_status = claim_cmd->add_subcommand("set-status", "enable (ACTIVE) or disable (INACTIVE) a claim certificate");
  claim_status->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  claim_status->add_option("id", id, "certificateId of the claim certificate")->required();
  claim_status->add_option("status", status, "ACTIVE | INACTIVE")->required();
  auto* claim_register = claim_cmd->add_subcommand("register", "register a claim certificate for templates");
  claim_register->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  claim_register->add_option("certificate", file, "claim certificate (PEM)")->required()->check(CLI::ExistingFile);
  claim_register->add_option("--templates", templates, "comma-separated template names")->required();
  claim_register->add_option("--description", description, "what this claim is for");
  claim_register->add_option("--expires-at", expires_at, "Unix time after which the claim is refused");

  auto* token_cmd = app.add_subcommand("token", "manage admin API tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "create a token (printed once)");
  token_create->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  token_create->add_option("name", name, "token name")->required();
  token_create->add_option("--role", role, "admin | factory | operator | installer")->required()->check(CLI::IsMember({"admin", "factory", "operator", "installer"}));

  std::string kind = "worker";
  auto* identity_cmd = app.add_subcommand("identity", "manage service identities (workers, factory servers)");
  identity_cmd->require_subcommand(1);
  auto* identity_register = identity_cmd->add_subcommand("register", "register a certificate as a worker or factory identity");
  identity_register->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  identity_register->add_option("certificate", file, "its certificate (PEM)")->required()->check(CLI::ExistingFile);
  identity_register->add_option("--name", name, "a name for it")->required();
  identity_register->add_option("--kind", kind, "worker | factory")->check(CLI::IsMember({"worker", "factory"}));

  auto* janitor_cmd = app.add_subcommand("janitor", "remove expired tokens and unregistered certificates now (serve does it every minute)");
  janitor_cmd->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);

  auto* ca_cmd = app.add_subcommand("ca", "manage CAs");
  ca_cmd->require_subcommand(1);
  auto* ca_register = ca_cmd->add_subcommand("register", "register a claim, manufacturer or fleet CA");
  ca_register->add_option("--config", config_file, "provisiond.json")->required()->check(CLI::ExistingFile);
  ca_register->add_option("certificate", file, "CA certificate (PEM)")->required()->check(CLI::ExistingFile);
  ca_register->add_option("--name", name, "a name for it")->required();
  ca_register->add_option("--role", role, "claim | manufacturer | fleet");
  ca_register->add_option("--templates", templates, "comma-separated templates its certificates may use");
  ca_register->add_option("--registration-id", registration_field, "manufacturer: CN | serialNumber | certificateSerial");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "provisiond: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    if (*init_cmd) return init(init_options);
    if (*serve_cmd) return service::serve(config_file);
    if (*template_put) return put_template(config_file, name, file);
    if (*policy_put) return put_policy(config_file, name, file);
    if (*certificate_status)
      return administer(config_file, [&](auto& r, const auto& actor) { service::set_certificate_status(r, actor, id, status); });
    if (*thing_delete)
      return administer(config_file, [&](auto& r, const auto& actor) { service::delete_thing(r, actor, name); });
    if (*claim_status)
      return administer(config_file, [&](auto& r, const auto& actor) { service::set_claim_status(r, actor, id, status); });
    if (*claim_register)
      return administer(config_file, [&](auto& r, const auto& actor) {
        std::optional<int64_t> expiry;
        if (expires_at) expiry = expires_at;
        std::cout << service::register_claim(r, actor, read_file(file), split_list(templates), description, expiry) << "\n";
      });
    if (*identity_register)
      return administer(config_file, [&](auto& r, const auto& actor) {
        auto certificate = pki::Certificate::from_pem(read_file(file));
        auto tx = r.begin();
        r.put_service_identity({certificate.id(), name, registry::kActive, 0, kind});
        r.audit({0, 0, actor.name, "RegisterIdentity", certificate.id(), "ok", "", "{\"kind\":\"" + kind + "\"}"});
        tx.commit();
        std::cout << certificate.id() << "\n";
      });
    if (*janitor_cmd) {
      auto config = service::load_config(config_file);
      auto registry = registry::Registry::open(config.registry);
      auto done = service::housekeep(registry, unix_now(), config.ownership_token_ttl_seconds);
      std::cout << service::describe(done) << "\n";
      return 0;
    }
    if (*token_create)
      return administer(config_file, [&](auto& r, const auto& actor) {
        std::string secret = random_token(32);
        auto tx = r.begin();
        if (r.find_api_token(name)) throw Error("a token named " + name + " exists");
        r.insert_api_token({name, sha256_hex(secret), role, unix_now(), std::nullopt});
        r.audit({0, 0, actor.name, "CreateToken", name, "ok", "", "{\"role\":\"" + role + "\"}"});
        tx.commit();
        std::cout << secret << "\n";
      });
    if (*ca_register)
      return administer(config_file, [&](auto& r, const auto& actor) {
        std::cout << service::register_ca(r, actor, {name, role, read_file(file), split_list(templates), registration_field})
                  << "\n";
      });
  } catch (const std::exception& e) {
    std::cerr << "provisiond: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
