// Programmatic registration (admin API, factory role): a trusted factory
// server registers a thing from a template and gets its certificate in one
// call, for the device's CSR or with a key the service makes. Nothing is
// written unless everything succeeds.
#include "metrics.h"
#include "pki/csr.h"
#include "provisioning/provisioning_service.h"
#include "provisioning/registration.h"
#include "util/clock.h"
#include "util/json.h"

namespace provision::service {

ProgrammaticResult ProvisioningService::register_programmatically(registry::Registry& registry,
                                                                  const ProgrammaticRegistration& input,
                                                                  const std::string& actor, const std::string& source) {
  std::optional<pki::PrivateKey> key;
  if (!input.csr_pem) key = pki::PrivateKey::generate_ec("P-256");
  auto [certificate, ca_id] = input.csr_pem ? issue_for_csr(*input.csr_pem, "api") : issue_for_key(*key, "api");
  const int64_t now = unix_now();

  templates::CertificateFacts facts{certificate.id(), certificate.subject()};
  auto evaluation = evaluate_template(registry, input.template_name, std::nullopt, input.parameters, facts);

  registry::CertificateRecord record = issued_certificate_record(certificate, ca_id, now);

  auto tx = registry.begin();
  registry.insert_certificate(record);
  auto template_record = registry.find_template(input.template_name);
  auto revoked = apply_plan(registry, evaluation.plan, input.template_name, record.id,
                            template_record && template_record->reprovisioning == registry::kReprovisionReplace);
  rapidjson::Document detail(rapidjson::kObjectType);
  auto& a = detail.GetAllocator();
  detail.AddMember("template", json::string_value(input.template_name, a), a);
  detail.AddMember("templateVersion", evaluation.version, a);
  detail.AddMember("certificateId", json::string_value(record.id, a), a);
  if (!revoked.empty()) detail.AddMember("revokedCertificates", json::string_list(revoked, a), a);
  detail.AddMember("keyMadeBy", json::string_value(input.csr_pem ? "device" : "service", a), a);
  registry.audit({0, now, actor, "RegisterThingProgrammatically", evaluation.plan.thing->name, "ok", source,
                  json::stringify(detail)});
  tx.commit();

  ProgrammaticResult result;
  result.thing_name = evaluation.plan.thing->name;
  result.certificate_id = record.id;
  result.certificate_pem = record.pem;
  if (key) result.private_key = key->to_pem();
  result.device_configuration.CopyFrom(evaluation.plan.device_configuration, result.device_configuration.GetAllocator());
  return result;
}

}  // namespace provision::service
