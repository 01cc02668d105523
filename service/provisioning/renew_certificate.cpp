// RenewCertificate: a provisioned device asks, from its own identity, for a
// new certificate for its thing (its CSR; the key never leaves it). The new
// certificate is ACTIVE at once, attached to the same thing with the same
// policies; the old one keeps working until the new one is first used (the
// plugin reports that) or the grace period ends, whichever comes first.
#include "metrics.h"
#include "pki/csr.h"
#include "protocol/payloads.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/json.h"

namespace provision::service {

Reply ProvisioningService::renew_certificate(const IncomingRequest& request, RegistryAccess& access) {
  if (request.identity != protocol::Identity::Device)
    throw RequestError(403, "NotAuthorized", "only a provisioned device may renew its certificate");
  auto decoded = protocol::decode_csr_request(request.topic.format, request.payload);
  auto [certificate, ca_id] = issue_for_csr(decoded.certificate_signing_request, "renewal");
  const int64_t now = unix_now();

  registry::Registry& registry = access.registry();
  auto tx = registry.begin();
  auto current = registry.find_certificate(request.certificate_id);
  if (!current || current->status != registry::kActive || current->thing_name != request.thing_name)
    throw RequestError(409, "CertificateNotActive", "the certificate this device connected with is no longer active for its thing");
  registry::CertificateRecord record;
  record.id = certificate.id();
  record.pem = certificate.to_pem();
  record.status = registry::kActive;
  record.thing_name = current->thing_name;
  record.ca_id = ca_id;
  record.serial = certificate.serial_hex();
  record.not_before = certificate.not_before();
  record.not_after = certificate.not_after();
  record.claim_certificate_id = current->claim_certificate_id;
  record.created_at = now;
  record.replaces = current->id;
  registry.insert_certificate(record);
  for (const auto& policy : registry.policies_of_certificate(current->id)) registry.attach_policy(record.id, policy);
  int64_t retire_at = now + settings_.renewal_grace_seconds;
  if (!current->retire_at || *current->retire_at > retire_at) registry.set_certificate_retire_at(current->id, retire_at);

  rapidjson::Document detail(rapidjson::kObjectType);
  auto& a = detail.GetAllocator();
  detail.AddMember("thingName", json::string_value(*current->thing_name, a), a);
  detail.AddMember("replaces", json::string_value(current->id, a), a);
  detail.AddMember("retireAt", retire_at, a);
  registry.audit({0, now, "device:" + current->id, "RenewCertificate", record.id, "ok", request.source_address,
                  json::stringify(detail)});
  tx.commit();

  return Reply{true, protocol::encode_renewal_reply({record.id, record.pem}, request.topic.format), {}};
}

bool ProvisioningService::retire_predecessor(const std::string& successor_id, registry::Registry& registry) {
  auto tx = registry.begin();
  auto successor = registry.find_certificate(successor_id);
  if (!successor || !successor->replaces) return false;
  auto old = registry.find_certificate(*successor->replaces);
  if (!old || old->status != registry::kActive) return false;
  registry.set_certificate_status(old->id, registry::kInactive);
  registry.audit({0, 0, "system", "RetireRenewedCertificate", old->id, "ok", "",
                  "{\"successor\":\"" + successor_id + "\",\"reason\":\"successor used\"}"});
  tx.commit();
  return true;
}

}  // namespace provision::service

// CheckFirmware: a provisioned device asks which firmware it should run next
// ($provision/firmware/check/<fmt>); a read of the catalog, not audited
// (devices ask often). The staged rollout's key is its thing name.
#include "provisioning/firmware.h"

namespace provision::service {

Reply ProvisioningService::check_firmware(const IncomingRequest& request, RegistryAccess& access) {
  if (request.identity != protocol::Identity::Device)
    throw RequestError(403, "NotAuthorized", "only a provisioned device may check for firmware");
  auto body = protocol::decode_request(request.topic.format, request.payload, protocol::kFirmwareCheckRequestSchema);
  auto check = firmware_check_from(body, request.thing_name);
  registry::Registry& registry = access.registry();
  FirmwareAnswer answer;
  {
    auto read = registry.read();
    answer = service::check_firmware(registry, check);
  }
  metrics().increment("provision_firmware_checks_total", {{"door", "mqtt"}, {"update", answer.release ? "yes" : "no"}});
  return Reply{true, protocol::encode(firmware_answer_json(answer), request.topic.format), {}};
}

}  // namespace provision::service

namespace provision::service {

bool ProvisioningService::password_device_connected(const std::string& thing_name, const std::string& secret_hash,
                                                    registry::Registry& registry) {
  auto tx = registry.begin();
  const int64_t now = unix_now();
  if (!registry.mark_device_connected(thing_name, secret_hash, now)) return false;
  registry.audit({0, now, "system", "PasswordDeviceFirstConnect", thing_name, "ok", "", "{}"});
  tx.commit();
  return true;
}

}  // namespace provision::service
