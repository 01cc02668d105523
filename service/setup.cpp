#include "setup.h"

#include "broker_config.h"
#include "config.h"
#include "pki/certificate.h"
#include "policy/policy.h"
#include "registry/registry.h"
#include "templates/template.h"
#include "util/error.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/random.h"

namespace provision::service {

namespace defaults {
std::string_view embedded(std::string_view name);  // service/defaults/*.json, compiled in
}

InitResult initialise(const InitOptions& o) {
  const auto dir = std::filesystem::absolute(o.dir);
  if (std::filesystem::exists(dir / "registry.db") || std::filesystem::exists(dir / "provisiond.json"))
    throw Error(dir.string() + " already holds a deployment (registry.db or provisiond.json exists)");
  if (!o.registry.empty() && !registry::is_database_uri(o.registry))
    throw Error("--registry must be a postgresql:// URI (the default is DIR/registry.db), not " + o.registry);
  std::filesystem::create_directories(dir);

  pki::DevelopmentPkiOptions pki_options;
  if (o.broker_host != "127.0.0.1" && o.broker_host != "localhost") pki_options.broker_dns_names.push_back(o.broker_host);
  InitResult r{pki::create_development_pki(dir / "pki", pki_options)};
  r.registry = o.registry.empty() ? dir / "registry.db" : std::filesystem::path(o.registry);
  r.service_config = dir / "provisiond.json";
  r.broker_config = dir / "mosquitto.conf";
  r.broker_log = dir / "mosquitto.log";
  r.service_log = dir / "provisiond.log";
  r.template_name = kDemoTemplate;
  const auto& p = r.pki;

  auto registry = registry::Registry::open(r.registry);
  auto tx = registry.begin();
  if (!registry.list_templates().empty())
    throw Error("registry " + registry::display_location(r.registry.string()) + " already holds a deployment");
  auto add_ca = [&](const std::filesystem::path& file, const char* name, const char* role, std::vector<std::string> templates) {
    auto cert = pki::Certificate::load(file);
    registry.put_ca({cert.id(), name, role, cert.to_pem(), registry::kActive, std::move(templates), 0, "CN"});
  };
  add_ca(p.root_cert, "development-root", "root", {});
  add_ca(p.fleet_ca_cert, "development-fleet", "fleet", {});
  add_ca(p.claim_ca_cert, "development-claim", "claim", {kDemoTemplate});

  auto claim = pki::Certificate::load(p.claim_cert);
  registry::ClaimCertificateRecord claim_record;
  claim_record.id = claim.id();
  claim_record.pem = claim.to_pem();
  claim_record.description = "development claim certificate";
  claim_record.allowed_templates = {kDemoTemplate};
  registry.put_claim_certificate(claim_record);
  r.claim_certificate_id = claim.id();

  auto service = pki::Certificate::load(p.service_cert);
  registry.put_service_identity({service.id(), "provisiond", registry::kActive, 0, "worker"});

  std::string policy(defaults::embedded("demo-policy.json"));
  policy::PolicyDocument::parse(policy);  // a broken default is a build defect: fail loudly
  registry.put_policy(kDemoPolicy, policy);
  std::string template_body(defaults::embedded("demo-template.json"));
  templates::ProvisioningTemplate::parse(template_body);
  registry.add_template_version(kDemoTemplate, template_body, "development template (SerialNumber only)");
  if (o.bootstrap_port) {
    std::string bootstrap_body(defaults::embedded("bootstrap-template.json"));
    templates::ProvisioningTemplate::parse(bootstrap_body);
    registry.add_template_version(kBootstrapTemplate, bootstrap_body, "devices that bootstrap over HTTP by MAC address");
  }
  // The first admin token; more are made through the API (POST /v1/tokens).
  std::string admin_token = random_token(32);
  registry.insert_api_token({"bootstrap-admin", sha256_hex(admin_token), "admin", unix_now(), std::nullopt});
  registry.audit({0, 0, "system", "Initialise", dir.string(), "ok", "", "{}"});
  tx.commit();
  r.admin_token_file = dir / "admin-token";
  write_file(r.admin_token_file, admin_token + "\n", 0600);

  ServiceConfig config;
  config.registry = r.registry;
  config.fleet_ca_certificate = p.fleet_ca_cert;
  config.fleet_ca_key = p.fleet_ca_key;
  config.mqtt_host = o.broker_host;
  config.mqtt_port = o.mqtt_port;
  config.mqtt_ca_file = p.root_cert;
  config.mqtt_certificate = p.service_cert;
  config.mqtt_key = p.service_key;
  config.worker_threads = o.worker_threads;
  config.log_file = r.service_log;
  config.claim_ca_certificate = p.claim_ca_cert;
  config.claim_ca_key = p.claim_ca_key;
  config.admin_port = o.admin_port;
  if (o.admin_port) r.admin_url = "http://127.0.0.1:" + std::to_string(o.admin_port);
  if (o.bootstrap_port) {
    config.bootstrap.port = o.bootstrap_port;
    if (o.password_port)
      config.bootstrap.mqtt_endpoint = std::string(o.password_plain ? "mqtt://" : "mqtts://") + o.broker_host + ":" + std::to_string(o.password_port);
  }
  save_config(config, r.service_config);

  BrokerConfig broker;
  broker.bind_address = o.listen_address;
  broker.port = o.mqtt_port;
  // The broker trusts client CAs through its trust directory alone, which
  // the plugin keeps from the registry's active CAs (written at the broker's
  // start, before its listeners open, and on every CA change). A cafile
  // would be read once: a CA registered later would need a restart, and one
  // deleted or disabled in the registry would stay trusted by TLS for good.
  // With the directory alone the registry is the one list of trusted CAs
  // (pki/ca-bundle.pem stays, for a broker configured by hand with cafile).
  broker.trust_dir = r.trust_dir = dir / "trust";
  std::filesystem::create_directories(broker.trust_dir);
  std::filesystem::permissions(broker.trust_dir, std::filesystem::perms(0755), std::filesystem::perm_options::replace);
  broker.certificate = p.broker_cert;
  broker.key = p.broker_key;
  broker.plugin = std::filesystem::absolute(o.plugin);
  broker.registry = r.registry;
  broker.log_file = r.broker_log;
  broker.aws_topics = o.aws_topics;
  broker.password_port = o.password_port;
  broker.password_plain = o.password_plain;
  broker.plugin_options_file = dir / "provision-plugin.conf";
  write_file(broker.plugin_options_file, render_plugin_options_file(), 0644);
  write_file(r.broker_config, render_broker_config(broker), 0644);
  return r;
}

}  // namespace provision::service
