#include "development_fleet.h"

#include "pki/key.h"
#include "util/clock.h"

namespace provision::testing {

DevelopmentFleet::DevelopmentFleet()
    : files(pki::create_development_pki(dir.path / "pki")),
      registry_path(dir.path / "registry.db"),
      reg(registry::Registry::open(registry_path)),
      fleet_ca(pki::CertificateAuthority::load(files.fleet_ca_cert, files.fleet_ca_key)),
      claim_ca(pki::CertificateAuthority::load(files.claim_ca_cert, files.claim_ca_key)),
      claim(pki::Certificate::load(files.claim_cert)),
      service(pki::Certificate::load(files.service_cert)),
      now(unix_now()) {
  auto tx = reg.begin();
  registry::CaRecord claim_ca_row;
  claim_ca_row.id = claim_ca.certificate().id();
  claim_ca_row.name = "Development Claim CA";
  claim_ca_row.role = "claim";
  claim_ca_row.pem = claim_ca.certificate().to_pem();
  claim_ca_row.allowed_templates = {"DemoFleet"};
  reg.put_ca(claim_ca_row);

  registry::CaRecord fleet_ca_row;
  fleet_ca_row.id = fleet_ca.certificate().id();
  fleet_ca_row.name = "Development Fleet CA";
  fleet_ca_row.role = "fleet";
  fleet_ca_row.pem = fleet_ca.certificate().to_pem();
  reg.put_ca(fleet_ca_row);

  registry::ClaimCertificateRecord claim_row;
  claim_row.id = claim.id();
  claim_row.pem = claim.to_pem();
  claim_row.description = "claim-batch-1";
  claim_row.allowed_templates = {"DemoFleet"};
  reg.put_claim_certificate(claim_row);

  registry::ServiceIdentityRecord service_row;
  service_row.certificate_id = service.id();
  service_row.name = "provisiond";
  reg.put_service_identity(service_row);
  tx.commit();
}

pki::Certificate DevelopmentFleet::issue(const pki::CertificateAuthority& ca, const std::string& common_name,
                                         int64_t validity_seconds) {
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", common_name}};
  options.validity_seconds = validity_seconds;
  return ca.issue(key.get(), options);
}

void DevelopmentFleet::register_device(const pki::Certificate& certificate, const std::string& thing,
                                       const std::string& status, const std::string& policy,
                                       const std::map<std::string, std::string>& attributes) {
  if (!reg.find_thing(thing)) reg.insert_thing({thing, std::nullopt, attributes});
  registry::CertificateRecord r;
  r.id = certificate.id();
  r.pem = certificate.to_pem();
  r.status = status;
  r.thing_name = thing;
  r.ca_id = fleet_ca.certificate().id();
  r.serial = certificate.serial_hex();
  r.not_before = certificate.not_before();
  r.not_after = certificate.not_after();
  reg.insert_certificate(r);
  reg.attach_policy(certificate.id(), policy);
}

}  // namespace provision::testing
