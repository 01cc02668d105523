#include "fleet/things.h"

#include "util/json.h"
#include "util/text.h"

namespace provision::service::fleet {

registry::CertificateRecord set_certificate_status(registry::Registry& registry, const Context& context,
                                                   const std::string& certificate_id, const std::string& status) {
  if (status != registry::kActive && status != registry::kInactive && status != registry::kRevoked)
    throw RequestError(400, "InvalidStatus", "certificate status must be ACTIVE, INACTIVE or REVOKED, not " + status, "status");
  auto tx = registry.begin();
  auto certificate = registry.find_certificate(certificate_id);
  if (!certificate) not_found("certificate " + text::quote(certificate_id));
  if (certificate->status == registry::kRevoked && status != registry::kRevoked)
    conflict("certificate " + text::quote(certificate_id) + " is revoked; revocation is final");
  if (certificate->status == registry::kPendingActivation && status == registry::kActive)
    conflict("certificate " + text::quote(certificate_id) + " was never registered (RegisterThing activates it)");
  registry.set_certificate_status(certificate_id, status);
  audit(registry, context.actor, action::for_certificate_status(status), certificate_id,
        detail({{"from", certificate->status}, {"to", status}}));
  tx.commit();
  certificate->status = status;
  return *certificate;
}

bool delete_thing(registry::Registry& registry, const Context& context, const std::string& thing_name) {
  auto tx = registry.begin();
  bool existed = registry.delete_thing(thing_name);
  audit(registry, context.actor, action::kDeleteThing, thing_name, existed ? R"({"existed":true})" : R"({"existed":false})");
  tx.commit();
  return existed;
}

bool detach_certificate(registry::Registry& registry, const Context& context, const std::string& thing_name,
                        const std::string& certificate_id) {
  auto tx = registry.begin();
  bool attached = registry.detach_certificate(certificate_id, thing_name);
  rapidjson::Document d(rapidjson::kObjectType);
  d.AddMember("thingName", json::string_value(thing_name, d.GetAllocator()), d.GetAllocator());
  d.AddMember("wasAttached", attached, d.GetAllocator());
  audit(registry, context.actor, action::kDetachCertificate, certificate_id, json::stringify(d));
  tx.commit();
  return attached;
}

bool delete_certificate(registry::Registry& registry, const Context& context, const std::string& certificate_id) {
  auto tx = registry.begin();
  auto certificate = registry.find_certificate(certificate_id);
  if (certificate) {
    if (certificate->status == registry::kActive)
      conflict("certificate " + text::quote(certificate_id) + " is ACTIVE; set it INACTIVE first");
    if (certificate->thing_name)
      conflict("certificate " + text::quote(certificate_id) + " is attached to thing " + text::quote(*certificate->thing_name) + "; detach it first");
    registry.detach_policies(certificate_id);
    registry.delete_certificate(certificate_id);
  }
  audit(registry, context.actor, action::kDeleteCertificate, certificate_id,
        certificate ? R"({"existed":true})" : R"({"existed":false})");
  tx.commit();
  return certificate.has_value();
}

Deprovisioned deprovision_thing(registry::Registry& registry, const Context& context, const std::string& thing_name) {
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
  d.AddMember("certificatesRemoved", json::string_list(result.certificates_removed, a), a);
  audit(registry, context.actor, action::kDeprovisionThing, thing_name, json::stringify(d));
  tx.commit();
  return result;
}

}  // namespace provision::service::fleet
