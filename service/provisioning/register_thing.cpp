// RegisterThing: the ownership token proves the device holds a certificate
// this service issued to the same claim; the template decides the thing, its
// policies and the device configuration; everything is applied in one
// transaction, so a failure anywhere leaves nothing behind.
#include "pki/certificate.h"
#include "provisioning/registration.h"
#include "protocol/payloads.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/json.h"

namespace provision::service {
namespace {

// Checks the token inside the transaction, so that two workers racing on the
// same token cannot both use it. Returns the certificate it is bound to.
registry::CertificateRecord redeem_token(const std::string& token, const IncomingRequest& request,
                                         registry::Registry& registry, int64_t now) {
  auto record = registry.find_token(sha256_hex(token));
  if (!record)
    throw RequestError(400, "InvalidCertificateOwnershipToken",
                       "certificateOwnershipToken is not valid: it was never issued, or its certificate was removed");
  if (record->used_at) throw RequestError(400, "CertificateOwnershipTokenUsed", "certificateOwnershipToken was already used");
  if (record->expires_at < now) throw RequestError(400, "CertificateOwnershipTokenExpired", "certificateOwnershipToken expired");
  if (record->claim_certificate_id != request.claim_certificate_id)
    throw RequestError(403, "CertificateOwnershipTokenNotOwned",
                       "certificateOwnershipToken was issued to another claim certificate");
  auto certificate = registry.find_certificate(record->certificate_id);
  if (!certificate)
    throw RequestError(400, "InvalidCertificateOwnershipToken", "the certificate of this token no longer exists");
  if (certificate->status != registry::kPendingActivation)
    throw RequestError(409, "CertificateAlreadyRegistered", "the certificate of this token is " + certificate->status);
  registry.mark_token_used(record->token_hash, now);
  return *certificate;
}

}  // namespace

Reply ProvisioningService::register_thing(const IncomingRequest& request, registry::Registry& registry) {
  auto decoded = protocol::decode_register_thing_request(request.topic.format, request.payload);
  const std::string& template_name = request.topic.template_name;
  const int64_t now = unix_now();
  auto tx = registry.begin();
  auto certificate = redeem_token(decoded.ownership_token, request, registry, now);

  templates::CertificateFacts facts;
  facts.certificate_id = certificate.id;
  facts.subject = pki::Certificate::from_pem(certificate.pem).subject();
  auto evaluation = evaluate_template(registry, template_name, std::nullopt, decoded.parameters, facts);
  const auto& plan = evaluation.plan;
  apply_plan(registry, plan, template_name, certificate.id);

  registry::AuditEntry audit;
  audit.at = now;
  audit.actor = "claim:" + request.claim_certificate_id;
  audit.action = "RegisterThing";
  audit.subject = plan.thing->name;
  audit.source = request.source_address;
  rapidjson::Document detail(rapidjson::kObjectType);
  auto& a = detail.GetAllocator();
  detail.AddMember("template", json::string_value(template_name, a), a);
  detail.AddMember("templateVersion", evaluation.version, a);
  detail.AddMember("certificateId", json::string_value(certificate.id, a), a);
  detail.AddMember("clientId", json::string_value(request.client_id, a), a);
  audit.detail = json::stringify(detail);
  registry.audit(audit);
  tx.commit();

  protocol::RegisterThingReply reply{plan.thing->name, &plan.device_configuration};
  return Reply{true, protocol::encode_register_thing_reply(reply, request.topic.format), {}};
}

}  // namespace provision::service
