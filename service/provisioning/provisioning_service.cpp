#include "provisioning/provisioning_service.h"

#include <spdlog/spdlog.h>

#include "metrics.h"
#include "pki/csr.h"
#include "protocol/payloads.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service {

ProvisioningService::ProvisioningService(pki::CertificateAuthority fleet_ca, ProvisioningSettings settings)
    : settings_(settings), fleet_ca_(std::make_shared<const pki::CertificateAuthority>(std::move(fleet_ca))) {}

std::shared_ptr<const pki::CertificateAuthority> ProvisioningService::fleet_ca() const {
  std::lock_guard lock(fleet_ca_mutex_);
  return fleet_ca_;
}

void ProvisioningService::set_fleet_ca(pki::CertificateAuthority ca) {
  auto replacement = std::make_shared<const pki::CertificateAuthority>(std::move(ca));
  std::lock_guard lock(fleet_ca_mutex_);
  fleet_ca_ = std::move(replacement);
}

ProvisioningService::Issued ProvisioningService::issue_for_csr(const std::string& csr_pem, const char* how) {
  auto csr = pki::CertificateRequest::from_pem(csr_pem);
  pki::IssueOptions options;
  options.validity_seconds = settings_.certificate_validity_seconds;
  auto ca = fleet_ca();
  Issued issued{ca->issue_from_csr(csr, options), ca->id()};
  metrics().increment("provision_certificates_issued_total", {{"how", how}});
  return issued;
}

ProvisioningService::Issued ProvisioningService::issue_for_key(const pki::PrivateKey& key, const char* how) {
  pki::IssueOptions options;
  options.subject = {{"CN", "Provisioned device"}};
  options.validity_seconds = settings_.certificate_validity_seconds;
  auto ca = fleet_ca();
  Issued issued{ca->issue(key.get(), options), ca->id()};
  metrics().increment("provision_certificates_issued_total", {{"how", how}});
  return issued;
}

Evaluation ProvisioningService::evaluate_template(registry::Registry& registry, const std::string& name,
                                                  std::optional<int64_t> version,
                                                  const std::map<std::string, std::string>& parameters,
                                                  const templates::CertificateFacts& certificate) {
  auto record = registry.find_template(name);
  if (!record) throw RequestError(404, "TemplateNotFound", "template " + text::quote(name) + " does not exist");
  if (!record->enabled) throw RequestError(403, "TemplateDisabled", "template " + text::quote(name) + " is disabled");
  auto body = version ? registry.find_template_version(name, *version) : registry.default_template_version(name);
  if (!body)
    throw RequestError(404, "TemplateNotFound",
                       "template " + text::quote(name) + " has no version " + (version ? std::to_string(*version) : std::string("(default)")));
  return Evaluation{body->version, load_template(*body)->evaluate(parameters, certificate)};
}

Reply ProvisioningService::handle(const IncomingRequest& request, RegistryAccess& access, bool may_wait_on_hook) {
  protocol::Rejection rejection;
  try {
    switch (request.topic.operation) {
      case protocol::Operation::CreateKeysAndCertificate: return create_keys_and_certificate(request, access);
      case protocol::Operation::CreateCertificateFromCsr: return create_certificate_from_csr(request, access);
      case protocol::Operation::RegisterThing: return register_thing(request, access, may_wait_on_hook);
      case protocol::Operation::RenewCertificate: return renew_certificate(request, access);
      case protocol::Operation::PublishEnrollment: return publish_enrollment(request, access.registry());
      case protocol::Operation::CheckFirmware: return check_firmware(request, access);
    }
    rejection = {400, "InvalidRequest", "unknown operation"};
  } catch (const RequestError& e) {
    rejection = {e.status_code, e.code, e.what()};
  } catch (const registry::RegistryError& e) {
    auto answer = registry::as_request_error(e);
    rejection = {answer.status_code, answer.code, answer.what()};
  } catch (const std::exception& e) {
    // The device learns only that it failed; the operator, why.
    spdlog::error("{} from client '{}': internal failure: {}", protocol::operation_name(request.topic.operation),
                  text::escape(request.client_id), e.what());
    rejection = {500, "InternalError", "internal failure; the request was not applied"};
  }
  try {
    registry::AuditEntry entry;
    entry.actor = std::string(protocol::identity_name(request.identity)) + ":" + request.certificate_id;
    entry.action = std::string(protocol::operation_name(request.topic.operation));
    entry.subject = request.topic.template_name;
    entry.result = rejection.error_code;
    entry.source = request.source_address;
    rapidjson::Document detail(rapidjson::kObjectType);
    detail.AddMember("clientId", json::string_value(request.client_id, detail.GetAllocator()), detail.GetAllocator());
    detail.AddMember("errorMessage", json::string_value(rejection.error_message, detail.GetAllocator()), detail.GetAllocator());
    entry.detail = json::stringify(detail);
    access.registry().audit(entry);
  } catch (const std::exception&) {
    // The rejection still reaches the device when the audit log cannot be written.
  }
  return Reply{false, protocol::encode_rejection(rejection, request.topic.format), rejection.error_code};
}

std::shared_ptr<const templates::ProvisioningTemplate> ProvisioningService::load_template(
    const registry::TemplateVersionRecord& version) {
  auto key = std::make_pair(version.template_name, version.version);
  {
    std::lock_guard lock(templates_mutex_);
    if (auto it = templates_.find(key); it != templates_.end()) return it->second;
  }
  // Parsed outside the lock; two threads may parse the same version once each.
  auto parsed = std::make_shared<const templates::ProvisioningTemplate>(templates::ProvisioningTemplate::parse(version.body));
  std::lock_guard lock(templates_mutex_);
  return templates_.emplace(key, std::move(parsed)).first->second;
}

}  // namespace provision::service
