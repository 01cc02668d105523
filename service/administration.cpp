#include "administration.h"

#include "pki/certificate.h"
#include "util/error.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service {
namespace {

void audit(registry::Registry& registry, const Actor& actor, const std::string& action, const std::string& subject,
           const std::string& detail = "{}") {
  registry.audit({0, 0, actor.name, action, subject, "ok", actor.source, detail});
}

std::string status_detail(const std::string& from, const std::string& to) {
  rapidjson::Document d(rapidjson::kObjectType);
  d.AddMember("from", json::string_value(from, d.GetAllocator()), d.GetAllocator());
  d.AddMember("to", json::string_value(to, d.GetAllocator()), d.GetAllocator());
  return json::stringify(d);
}

}  // namespace

void set_certificate_status(registry::Registry& registry, const Actor& actor, const std::string& certificate_id,
                            const std::string& status) {
  if (status != registry::kActive && status != registry::kInactive && status != registry::kRevoked)
    throw RequestError(400, "InvalidStatus", "certificate status must be ACTIVE, INACTIVE or REVOKED, not " + text::quote(status));
  auto tx = registry.begin();
  auto certificate = registry.find_certificate(certificate_id);
  if (!certificate) throw RequestError(404, "NotFound", "no certificate " + text::quote(certificate_id));
  if (certificate->status == registry::kRevoked && status != registry::kRevoked)
    throw RequestError(409, "Conflict", "certificate " + certificate_id + " is revoked; revocation is final");
  if (certificate->status == registry::kPendingActivation && status == registry::kActive)
    throw RequestError(409, "Conflict", "certificate " + certificate_id + " was never registered (RegisterThing activates it)");
  registry.set_certificate_status(certificate_id, status);
  std::string action = status == registry::kRevoked ? "RevokeCertificate"
                       : status == registry::kActive ? "ActivateCertificate"
                                                     : "DeactivateCertificate";
  audit(registry, actor, action, certificate_id, status_detail(certificate->status, status));
  tx.commit();
}

void set_claim_status(registry::Registry& registry, const Actor& actor, const std::string& claim_id, const std::string& status) {
  if (status != registry::kActive && status != registry::kInactive)
    throw RequestError(400, "InvalidStatus", "claim status must be ACTIVE or INACTIVE, not " + text::quote(status));
  auto tx = registry.begin();
  auto claim = registry.find_claim_certificate(claim_id);
  if (!claim) throw RequestError(404, "NotFound", "no claim certificate " + text::quote(claim_id));
  registry.set_claim_status(claim_id, status);
  audit(registry, actor, status == registry::kActive ? "EnableClaim" : "DisableClaim", claim_id,
        status_detail(claim->status, status));
  tx.commit();
}

void delete_thing(registry::Registry& registry, const Actor& actor, const std::string& thing_name) {
  auto tx = registry.begin();
  if (!registry.delete_thing(thing_name)) throw RequestError(404, "NotFound", "no thing " + text::quote(thing_name));
  audit(registry, actor, "DeleteThing", thing_name);
  tx.commit();
}

Deprovisioned deprovision_thing(registry::Registry& registry, const Actor& actor, const std::string& thing_name) {
  Deprovisioned result;
  auto tx = registry.begin();
  for (const auto& certificate : registry.certificates_of_thing(thing_name)) {
    registry.detach_policies(certificate.id);
    registry.set_certificate_status(certificate.id, registry::kInactive);
    registry.delete_certificate(certificate.id);
    result.certificates_removed.push_back(certificate.id);
  }
  result.existed = registry.delete_thing(thing_name);
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("existed", result.existed, a);
  rapidjson::Value removed(rapidjson::kArrayType);
  for (const auto& id : result.certificates_removed) removed.PushBack(json::string_value(id, a), a);
  d.AddMember("certificatesRemoved", removed, a);
  audit(registry, actor, "DeprovisionThing", thing_name, json::stringify(d));
  tx.commit();
  return result;
}

Housekeeping housekeep(registry::Registry& registry, int64_t now, int64_t token_ttl_seconds) {
  Housekeeping done;
  auto tx = registry.begin();
  done.tokens = registry.delete_expired_tokens(now);
  done.certificates = registry.delete_pending_certificates_before(now - token_ttl_seconds);
  for (const auto& id : done.certificates) registry.audit({0, now, "system", "RemoveUnregisteredCertificate", id, "ok", "", "{}"});
  done.retired = registry.certificates_due_for_retirement(now);
  for (const auto& id : done.retired) {
    registry.set_certificate_status(id, registry::kInactive);
    registry.audit({0, now, "system", "RetireRenewedCertificate", id, "ok", "", "{\"reason\":\"grace period over\"}"});
  }
  registry.delete_changes_before(now - 24 * 3600);  // the plugin reads changes within a second
  tx.commit();
  return done;
}

std::string describe(const Housekeeping& done) {
  return "removed " + std::to_string(done.tokens) + " expired ownership tokens and " +
         std::to_string(done.certificates.size()) + " unregistered certificates; retired " +
         std::to_string(done.retired.size()) + " renewed certificates";
}

std::string register_ca(registry::Registry& registry, const Actor& actor, const CaRegistration& ca) {
  if (ca.role != "claim" && ca.role != "manufacturer" && ca.role != "fleet")
    throw RequestError(400, "InvalidRole", "CA role must be claim, manufacturer or fleet, not " + text::quote(ca.role));
  if (ca.registration_id_field != "CN" && ca.registration_id_field != "serialNumber" &&
      ca.registration_id_field != "certificateSerial")
    throw RequestError(400, "InvalidRegistrationIdField", "registration id field must be CN, serialNumber or certificateSerial");
  pki::Certificate certificate = [&] {
    try {
      return pki::Certificate::from_pem(ca.pem);
    } catch (const Error& e) {
      throw RequestError(400, "InvalidCertificate", std::string("CA certificate: ") + e.what());
    }
  }();
  if (!certificate.is_ca()) throw RequestError(400, "InvalidCertificate", "the certificate is not a CA (basicConstraints CA:FALSE)");
  registry::CaRecord record;
  record.id = certificate.id();
  record.name = ca.name;
  record.role = ca.role;
  record.pem = certificate.to_pem();
  record.allowed_templates = ca.allowed_templates;
  record.registration_id_field = ca.registration_id_field;
  auto tx = registry.begin();
  registry.put_ca(record);
  audit(registry, actor, "RegisterCa", record.id, "{\"role\":\"" + ca.role + "\"}");
  tx.commit();
  return record.id;
}

std::string register_claim(registry::Registry& registry, const Actor& actor, const std::string& pem,
                           const std::vector<std::string>& allowed_templates, const std::string& description,
                           std::optional<int64_t> expires_at) {
  pki::Certificate certificate = [&] {
    try {
      return pki::Certificate::from_pem(pem);
    } catch (const Error& e) {
      throw RequestError(400, "InvalidCertificate", std::string("claim certificate: ") + e.what());
    }
  }();
  registry::ClaimCertificateRecord record;
  record.id = certificate.id();
  record.pem = certificate.to_pem();
  record.description = description;
  record.allowed_templates = allowed_templates;
  record.expires_at = expires_at;
  auto tx = registry.begin();
  registry.put_claim_certificate(record);
  audit(registry, actor, "RegisterClaim", record.id);
  tx.commit();
  return record.id;
}

}  // namespace provision::service
