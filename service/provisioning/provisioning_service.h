#pragma once
// The provisioning operations: CreateKeysAndCertificate,
// CreateCertificateFromCsr and RegisterThing (docs/protocol.md, "Topics"
// and "Payloads"). Thread-safe: each call uses the registry connection of the
// calling thread.
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>

#include "config.h"
#include "pki/authority.h"
#include "protocol/payloads.h"
#include "provisioning/bootstrap.h"
#include "provisioning/request.h"
#include "registry_pool.h"
#include "registry/registry.h"
#include "templates/template.h"

namespace provision::service {

// A template evaluated for some inputs.
struct Evaluation {
  int64_t version = 0;
  templates::Plan plan;
};

// Programmatic registration by a trusted factory server (admin API).
struct ProgrammaticRegistration {
  std::string template_name;
  std::map<std::string, std::string> parameters;
  std::optional<std::string> csr_pem;  // absent: the service makes the key
};
struct ProgrammaticResult {
  std::string thing_name, certificate_id, certificate_pem;
  std::optional<std::string> private_key;
  rapidjson::Document device_configuration;
};

struct ProvisioningSettings {
  int64_t certificate_validity_seconds = 365LL * 24 * 3600;
  int64_t ownership_token_ttl_seconds = 3600;
  int64_t renewal_grace_seconds = 7LL * 24 * 3600;  // a renewed certificate works at most this long after renewal
};

class ProvisioningService {
 public:
  ProvisioningService(pki::CertificateAuthority fleet_ca, ProvisioningSettings settings);

  // Never throws: every failure becomes a rejected reply with a precise
  // errorCode, and every request (accepted or not) is in the audit log.
  // The registry is borrowed through `access` when first needed, and given
  // back while a pre-provisioning hook runs. A caller that must not wait
  // (the worker's MQTT link) passes may_wait_on_hook = false: a request
  // that needs an http or exec hook then comes back unanswered
  // (Reply::waits_on_hook), before anything is written, for a thread that may.
  Reply handle(const IncomingRequest& request, RegistryAccess& access, bool may_wait_on_hook = true);

  // Loads template `name` (its default version, or `version`), checks it is
  // enabled, and evaluates it. Throws RequestError (TemplateNotFound,
  // TemplateDisabled, template errors).
  Evaluation evaluate_template(registry::Registry& registry, const std::string& name, std::optional<int64_t> version,
                               const std::map<std::string, std::string>& parameters,
                               const templates::CertificateFacts& certificate);

  // Issues a certificate (for the CSR, or with a new key) and registers it
  // through the template, in one transaction. Throws RequestError.
  ProgrammaticResult register_programmatically(registry::Registry& registry, const ProgrammaticRegistration& input,
                                               const std::string& actor, const std::string& source);

  // The CA that issues device certificates now, and a way to replace it.
  std::shared_ptr<const pki::CertificateAuthority> fleet_ca() const;

  // A device certificate from the fleet CA, for a device's CSR (checked:
  // RequestError InvalidCsr/InvalidCsrSignature/UnsupportedKey) or for a key
  // the service made; counted in provision_certificates_issued_total{how}.
  struct Issued {
    pki::Certificate certificate;
    std::string ca_id;
  };
  Issued issue_for_csr(const std::string& csr_pem, const char* how);
  Issued issue_for_key(const pki::PrivateKey& key, const char* how);
  void set_fleet_ca(pki::CertificateAuthority ca);

  // A renewed certificate's successor was used: retire the certificate it
  // replaces (idempotent). Returns true when one was retired.
  bool retire_predecessor(const std::string& successor_id, registry::Registry& registry);

 private:
  // The certificate operations issue before they borrow the registry: key
  // generation, CSR checks and signing never hold it.
  Reply create_keys_and_certificate(const IncomingRequest& request, RegistryAccess& access);
  Reply create_certificate_from_csr(const IncomingRequest& request, RegistryAccess& access);
  Reply register_thing(const IncomingRequest& request, RegistryAccess& access, bool may_wait_on_hook);
  Reply renew_certificate(const IncomingRequest& request, RegistryAccess& access);
  Reply check_firmware(const IncomingRequest& request, RegistryAccess& access);

 public:
  // The plugin saw a password device connect with the secret whose hash is
  // `secret_hash` (first_connected_at, audited once). False when already recorded.
  bool password_device_connected(const std::string& thing_name, const std::string& secret_hash, registry::Registry& registry);
  // HTTP bootstrap by MAC (provisioning/bootstrap.h). Throws RequestError, RegistryError.
  BootstrapResult bootstrap_device(registry::Registry& registry, const BootstrapInput& input);

 private:
  Reply publish_enrollment(const IncomingRequest& request, registry::Registry& registry);
  // The broker a new device is told to use: pinned by its enrollment, else by
  // the template's assignment policy; nullopt when the template has none.
  std::optional<registry::BrokerRecord> assign_broker(registry::Registry& registry, const registry::TemplateRecord& t,
                                                      const std::string& thing_name, const std::optional<std::string>& pinned,
                                                      const std::optional<std::string>& hook_choice);
  // Stores a new PENDING_ACTIVATION certificate with a fresh ownership token;
  // returns the reply's token, certificate id and PEM (each encoded once).
  protocol::CertificateReply store_pending_certificate(const pki::Certificate& certificate, const std::string& ca_id,
                                                       const IncomingRequest& request, registry::Registry& registry);
  void check_thing_name_bound(registry::Registry& registry, const std::string& template_name,
                              const std::map<std::string, std::string>& trusted_parameters,
                              const templates::CertificateFacts& facts, const templates::Plan& plan,
                              const std::optional<registry::EnrollmentRecord>& enrollment);
  std::shared_ptr<const templates::ProvisioningTemplate> load_template(const registry::TemplateVersionRecord& version);

  ProvisioningSettings settings_;
  mutable std::mutex fleet_ca_mutex_;
  std::shared_ptr<const pki::CertificateAuthority> fleet_ca_;
  std::mutex templates_mutex_;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const templates::ProvisioningTemplate>> templates_;
};

}  // namespace provision::service
