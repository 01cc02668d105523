#pragma once
// The provisioning operations: CreateKeysAndCertificate,
// CreateCertificateFromCsr and RegisterThing (DESIGN.md "Device-facing
// topics"). Thread-safe: each call uses the registry connection of the
// calling thread.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config.h"
#include "pki/authority.h"
#include "provisioning/request.h"
#include "registry/registry.h"
#include "templates/template.h"

namespace provision::service {

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
  Reply handle(const IncomingRequest& request, registry::Registry& registry);

  // A renewed certificate's successor was used: retire the certificate it
  // replaces (idempotent). Returns true when one was retired.
  bool retire_predecessor(const std::string& successor_id, registry::Registry& registry);

 private:
  Reply create_keys_and_certificate(const IncomingRequest& request, registry::Registry& registry);
  Reply create_certificate_from_csr(const IncomingRequest& request, registry::Registry& registry);
  Reply register_thing(const IncomingRequest& request, registry::Registry& registry);
  Reply renew_certificate(const IncomingRequest& request, registry::Registry& registry);
  // Stores a new PENDING_ACTIVATION certificate with a fresh ownership token.
  std::string store_pending_certificate(const pki::Certificate& certificate, const IncomingRequest& request,
                                        registry::Registry& registry);
  std::shared_ptr<const templates::ProvisioningTemplate> load_template(const registry::TemplateVersionRecord& version);

  pki::CertificateAuthority fleet_ca_;
  std::string fleet_ca_id_;
  ProvisioningSettings settings_;
  std::mutex templates_mutex_;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const templates::ProvisioningTemplate>> templates_;
};

}  // namespace provision::service
