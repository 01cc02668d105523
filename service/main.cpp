// provisiond: the command line. `serve` runs the worker (serve.cpp); the other
// commands set up and change a deployment on the machine that holds it.
//
// Exit status: 0 success, 1 failure at run time (message on stderr),
// 2 bad usage.
#include <CLI/CLI.hpp>

#include <iostream>

#include "config.h"
#include "fleet/access.h"
#include "fleet/cas.h"
#include "fleet/claims.h"
#include "fleet/housekeeping.h"
#include "fleet/policies.h"
#include "fleet/templates.h"
#include "fleet/things.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "policy/policy.h"
#include "provisioning/provisioning_service.h"
#include "registry/copy.h"
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
            << "  registry        " << registry::display_location(r.registry.string()) << "\n"
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

// Runs a fleet change on the registry of `config_file`, as the operator at
// this machine's command line.
template <typename F>
int change(const std::string& config_file, F&& make_change) {
  auto config = service::load_config(config_file);
  auto registry = registry::Registry::open(config.registry);
  service::fleet::Context context;
  context.actor = {"cli", ""};
  context.config = &config;
  context.config_file = config_file;
  make_change(registry, context);
  return 0;
}

// A template refused on save: each problem on a line of its own, by its JSON path.
int refused_template(const std::string& file, const RequestError& e) {
  if (e.details.empty()) throw e;
  for (const auto& [path, message] : e.details) std::cerr << file << ": " << path << ": " << message << "\n";
  return 1;
}

// provisiond registry copy: one line per table, then the verdict.
int copy_registry(const std::string& from, const std::string& to) {
  if (!registry::is_database_uri(from) && !std::filesystem::exists(from)) throw Error("registry " + from + " does not exist");
  if (!registry::is_database_uri(to) && std::filesystem::exists(to))
    throw Error("registry " + to + " exists already: copy only into a new file");
  auto source = registry::Registry::open(from);
  auto target = registry::Registry::open(to);
  auto tables = registry::copy_registry(source, target);
  bool same = true;
  for (const auto& t : tables) {
    std::cout << "  " << t.table << ": " << t.rows_from << " rows"
              << (t.same() ? "" : " -> " + std::to_string(t.rows_to) + " rows, DIFFERENT CONTENT") << "  sha256 "
              << t.digest_to.substr(0, 16) << "\n";
    same = same && t.same();
  }
  std::cout << (same ? "copied " : "COPY DIFFERS: ") << registry::display_location(from) << " -> "
            << registry::display_location(to) << (same ? ": every table has the same rows and the same content\n" : "\n");
  return same ? 0 : 1;
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
  init_cmd->add_option("--password-port", init_options.password_port,
                       "a broker listener for password devices (TLS, no client certificate; 0: none)")
      ->check(CLI::Range(0, 65535));
  init_cmd->add_option("--bootstrap-port", init_options.bootstrap_port,
                       "the device bootstrap listener (HTTP by MAC address) on 127.0.0.1 (0: none)")
      ->check(CLI::Range(0, 65535));
  init_cmd->add_flag("--password-port-plain", init_options.password_plain,
                     "UNSAFE: make the password devices' listener plain TCP (secrets in clear)");
  init_cmd->add_option("--registry", init_options.registry,
                       "a postgresql:// URI of an empty database to use as the registry (default: DIR/registry.db)");

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
  token_create->add_option("--role", role, "admin | factory | operator | installer | activator")->required()->check(CLI::IsMember({"admin", "factory", "operator", "installer", "activator"}));

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
  ca_register->add_option("--role", role, "claim | manufacturer | fleet")->check(CLI::IsMember({"claim", "manufacturer", "fleet"}));
  ca_register->add_option("--templates", templates, "comma-separated templates its certificates may use");
  ca_register->add_option("--registration-id", registration_field, "manufacturer: CN | serialNumber | certificateSerial");
  std::string key_file;
  ca_register->add_option("--key", key_file, "fleet: the CA's private key (PEM); the service issues device certificates with it")
      ->check(CLI::ExistingFile);

  std::string copy_from, copy_to;
  auto* registry_cmd = app.add_subcommand("registry", "the registry itself");
  registry_cmd->require_subcommand(1);
  auto* registry_copy = registry_cmd->add_subcommand(
      "copy", "copy every row of a registry into a new, empty one (SQLite file <-> postgresql:// URI), then prove the copy");
  registry_copy->add_option("--from", copy_from, "the registry to copy (a file or a postgresql:// URI)")->required();
  registry_copy->add_option("--to", copy_to, "an empty registry (a new file, or an empty database)")->required();

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
    namespace fleet = service::fleet;
    if (*template_put) {
      try {
        return change(config_file, [&](auto& r, const auto& context) {
          auto version = fleet::put_template(r, context, name, read_file(file));
          std::cout << "template " << name << " version " << version.version << "\n";
        });
      } catch (const RequestError& e) {
        return refused_template(file, e);
      }
    }
    if (*policy_put)
      return change(config_file, [&](auto& r, const auto& context) {
        fleet::put_policy(r, context, name, read_file(file));
        std::cout << "policy " << name << "\n";
      });
    if (*certificate_status)
      return change(config_file, [&](auto& r, const auto& context) { fleet::set_certificate_status(r, context, id, status); });
    if (*thing_delete)
      return change(config_file, [&](auto& r, const auto& context) {
        if (!fleet::delete_thing(r, context, name)) std::cout << "thing " << name << " does not exist; nothing to do\n";
      });
    if (*claim_status)
      return change(config_file, [&](auto& r, const auto& context) {
        fleet::ClaimChange c;
        c.status = status;
        fleet::update_claim(r, context, id, c);
      });
    if (*claim_register)
      return change(config_file, [&](auto& r, const auto& context) {
        fleet::ClaimRequest request;
        request.certificate_pem = read_file(file);
        request.templates = split_list(templates);
        request.description = description;
        if (expires_at) request.expires_at = expires_at;
        std::cout << fleet::create_claim(r, context, request).record.id << "\n";
      });
    if (*identity_register)
      return change(config_file, [&](auto& r, const auto& context) {
        std::cout << fleet::register_service_identity(r, context, read_file(file), name, kind).record.certificate_id << "\n";
      });
    if (*registry_copy) return copy_registry(copy_from, copy_to);
    if (*janitor_cmd) {
      auto config = service::load_config(config_file);
      auto registry = registry::Registry::open(config.registry);
      auto done = fleet::housekeep(registry, unix_now(), config.ownership_token_ttl_seconds, 0,
                                   config.bootstrap.access_log_retention_days * 24 * 3600);
      std::cout << fleet::describe(done) << "\n";
      return 0;
    }
    if (*token_create)
      return change(config_file, [&](auto& r, const auto& context) {
        std::cout << fleet::create_token(r, context, name, role).secret << "\n";
      });
    if (*ca_register)
      return change(config_file, [&](auto& r, const auto& context) {
        fleet::CaRequest request;
        request.name = name;
        request.role = role;
        request.certificate_pem = read_file(file);
        request.templates = split_list(templates);
        request.registration_id_field = registration_field;
        if (!key_file.empty()) request.private_key_pem = read_file(key_file);
        std::cout << fleet::register_ca(r, context, request).id << "\n";
      });
  } catch (const std::exception& e) {
    std::cerr << "provisiond: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
