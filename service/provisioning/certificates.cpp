// CreateKeysAndCertificate and CreateCertificateFromCsr: the claim is
// exchanged for a unique device certificate, PENDING_ACTIVATION until
// RegisterThing, with a single-use ownership token bound to it and to the
// claim that asked.
#include "metrics.h"
#include "pki/csr.h"
#include "protocol/payloads.h"
#include "provisioning/registration.h"
#include "provisioning/ownership_token.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/json.h"

namespace provision::service {

protocol::CertificateReply ProvisioningService::store_pending_certificate(const pki::Certificate& certificate,
                                                                         const std::string& ca_id,
                                                                         const IncomingRequest& request,
                                                                         registry::Registry& registry) {
  int64_t now = unix_now();
  registry::CertificateRecord record = issued_certificate_record(certificate, ca_id, now);
  record.claim_certificate_id = request.certificate_id;
  NewOwnershipToken token = new_ownership_token(record.id);
  record.token_hash = std::move(token.hash);
  record.token_expires_at = now + settings_.ownership_token_ttl_seconds;

  registry::AuditEntry audit;
  audit.at = now;
  audit.actor = "claim:" + request.certificate_id;
  audit.action = std::string(protocol::operation_name(request.topic.operation));
  audit.subject = record.id;
  audit.source = request.source_address;
  rapidjson::Document detail(rapidjson::kObjectType);
  detail.AddMember("clientId", json::string_value(request.client_id, detail.GetAllocator()), detail.GetAllocator());
  audit.detail = json::stringify(detail);

  auto tx = registry.begin();
  registry.insert_certificate(record);
  registry.audit(audit);
  tx.commit();

  protocol::CertificateReply reply;
  reply.ownership_token = std::move(token.token);
  reply.certificate_id = std::move(record.id);
  reply.certificate_pem = std::move(record.pem);
  return reply;
}

Reply ProvisioningService::create_keys_and_certificate(const IncomingRequest& request, RegistryAccess& access) {
  protocol::decode_create_keys_request(request.topic.format, request.payload);
  auto key = pki::PrivateKey::generate_ec("P-256");
  auto [certificate, ca_id] = issue_for_key(key, "keygen");
  protocol::CertificateReply reply = store_pending_certificate(certificate, ca_id, request, access.registry());
  reply.private_key = key.to_pem();
  return Reply{true, protocol::encode_certificate_reply(reply, request.topic.format), {}};
}

Reply ProvisioningService::create_certificate_from_csr(const IncomingRequest& request, RegistryAccess& access) {
  auto decoded = protocol::decode_csr_request(request.topic.format, request.payload);
  auto [certificate, ca_id] = issue_for_csr(decoded.certificate_signing_request, "csr");
  protocol::CertificateReply reply = store_pending_certificate(certificate, ca_id, request, access.registry());
  return Reply{true, protocol::encode_certificate_reply(reply, request.topic.format), {}};
}

}  // namespace provision::service
