// RegisterThing: the ownership token proves the device holds a certificate
// this service issued to the same claim; the template decides the thing, its
// policies and the device configuration; everything is applied in one
// transaction, so a failure anywhere leaves nothing behind.
#include "pki/certificate.h"
#include "policy/policy.h"
#include "protocol/payloads.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/json.h"

namespace provision::service {
namespace {

using templates::Override;

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

// Creates the thing, or applies OverrideSettings to an existing one
// (re-provisioning). FAIL rejects when the thing exists and the template sets
// that property.
void apply_thing(const templates::ThingPlan& plan, registry::Registry& registry) {
  auto existing = registry.find_thing(plan.name);
  if (!existing) {
    registry::ThingRecord thing;
    thing.name = plan.name;
    thing.thing_type = plan.thing_type;
    thing.attributes = plan.attributes;
    registry.insert_thing(thing);
    return;
  }
  auto conflict = [&](const char* property) {
    throw RequestError(409, "ResourceConflict",
                       "thing " + plan.name + " already exists and OverrideSettings." + property + " is FAIL");
  };
  registry::ThingRecord updated = *existing;
  bool changed = false;
  if (plan.has_attributes) {
    switch (plan.attributes_override) {
      case Override::DoNothing: break;
      case Override::Replace: updated.attributes = plan.attributes; changed = true; break;
      case Override::Merge:
        for (const auto& [k, v] : plan.attributes) updated.attributes[k] = v;
        changed = true;
        break;
      case Override::Fail: conflict("AttributePayload");
    }
  }
  if (plan.thing_type) {
    switch (plan.thing_type_override) {
      case Override::DoNothing: break;
      case Override::Replace:
      case Override::Merge: updated.thing_type = plan.thing_type; changed = true; break;
      case Override::Fail: conflict("ThingTypeName");
    }
  }
  if (plan.has_groups && plan.groups_override == Override::Fail) conflict("ThingGroups");
  if (changed) registry.update_thing(updated);
}

// Attaches the template's policies to the certificate. A named policy must
// exist; an inline one is stored as "<template>-<logical id>".
void attach_policies(const templates::Plan& plan, const std::string& template_name, const std::string& certificate_id,
                     registry::Registry& registry) {
  for (const auto& p : plan.policies) {
    std::string name = p.name;
    if (!p.document.empty()) {
      try {
        policy::PolicyDocument::parse(p.document);
      } catch (const policy::PolicyError& e) {
        throw RequestError(400, "InvalidPolicy", "inline policy " + p.name + " of template " + template_name + ": " + e.what());
      }
      name = template_name + "-" + p.name;
      registry.put_policy(name, p.document);
    } else if (!registry.find_policy(name)) {
      throw RequestError(400, "PolicyNotFound", "policy " + name + " named by template " + template_name + " does not exist");
    }
    registry.attach_policy(certificate_id, name);
  }
}

}  // namespace

Reply ProvisioningService::register_thing(const IncomingRequest& request, registry::Registry& registry) {
  auto decoded = protocol::decode_register_thing_request(request.topic.format, request.payload);
  const std::string& template_name = request.topic.template_name;
  auto template_record = registry.find_template(template_name);
  if (!template_record) throw RequestError(404, "TemplateNotFound", "template " + template_name + " does not exist");
  if (!template_record->enabled) throw RequestError(403, "TemplateDisabled", "template " + template_name + " is disabled");
  auto version = registry.default_template_version(template_name);
  if (!version) throw RequestError(404, "TemplateNotFound", "template " + template_name + " has no version");
  auto provisioning_template = load_template(*version);

  const int64_t now = unix_now();
  auto tx = registry.begin();
  auto certificate = redeem_token(decoded.ownership_token, request, registry, now);

  templates::CertificateFacts facts;
  facts.certificate_id = certificate.id;
  facts.subject = pki::Certificate::from_pem(certificate.pem).subject();
  auto plan = provisioning_template->evaluate(decoded.parameters, facts);
  if (!plan.thing)
    throw RequestError(400, "InvalidTemplate", "template " + template_name + " has no AWS::IoT::Thing resource");

  apply_thing(*plan.thing, registry);
  registry.attach_certificate_to_thing(certificate.id, plan.thing->name);
  registry.set_certificate_status(certificate.id, plan.certificate_status);
  attach_policies(plan, template_name, certificate.id, registry);

  registry::AuditEntry audit;
  audit.at = now;
  audit.actor = "claim:" + request.claim_certificate_id;
  audit.action = "RegisterThing";
  audit.subject = plan.thing->name;
  audit.source = request.source_address;
  rapidjson::Document detail(rapidjson::kObjectType);
  auto& a = detail.GetAllocator();
  detail.AddMember("template", json::string_value(template_name, a), a);
  detail.AddMember("templateVersion", version->version, a);
  detail.AddMember("certificateId", json::string_value(certificate.id, a), a);
  detail.AddMember("clientId", json::string_value(request.client_id, a), a);
  audit.detail = json::stringify(detail);
  registry.audit(audit);
  tx.commit();

  protocol::RegisterThingReply reply{plan.thing->name, &plan.device_configuration};
  return Reply{true, protocol::encode_register_thing_reply(reply, request.topic.format), {}};
}

}  // namespace provision::service
