#include "provisioning/registration.h"

#include <algorithm>

#include "policy/policy.h"
#include "util/error.h"
#include "util/text.h"

namespace provision::service {

registry::CertificateRecord issued_certificate_record(const pki::Certificate& certificate, const std::string& ca_id,
                                                      int64_t now) {
  registry::CertificateRecord record;
  record.id = certificate.id();
  record.pem = certificate.to_pem();
  record.status = registry::kPendingActivation;
  record.ca_id = ca_id;
  record.serial = certificate.serial_hex();
  record.not_before = certificate.not_before();
  record.not_after = certificate.not_after();
  record.created_at = now;
  return record;
}


using templates::Override;

std::string_view action_name(ThingChange::Action action) {
  switch (action) {
    case ThingChange::Action::Create: return "create";
    case ThingChange::Action::Update: return "update";
    case ThingChange::Action::Keep: return "keep";
  }
  return "keep";
}

ThingChange decide_thing(const templates::ThingPlan& plan, const std::optional<registry::ThingRecord>& existing,
                         const std::vector<std::string>& existing_groups) {
  ThingChange change;
  if (!existing) {
    change.record.name = plan.name;
    change.record.thing_type = plan.thing_type;
    change.record.attributes = plan.attributes;
    change.groups = plan.groups;
    return change;
  }
  auto conflict = [&](const char* property) {
    throw RequestError(409, "ResourceConflict", "thing " + plan.name + " already exists and OverrideSettings." + property + " is FAIL");
  };
  change.action = ThingChange::Action::Keep;
  change.record = *existing;
  if (plan.has_attributes) {
    switch (plan.attributes_override) {
      case Override::DoNothing: break;
      case Override::Replace: change.record.attributes = plan.attributes; break;
      case Override::Merge:
        for (const auto& [k, v] : plan.attributes) change.record.attributes[k] = v;
        break;
      case Override::Fail: conflict("AttributePayload");
    }
  }
  if (plan.thing_type) {
    switch (plan.thing_type_override) {
      case Override::DoNothing: break;
      case Override::Replace:
      case Override::Merge: change.record.thing_type = plan.thing_type; break;
      case Override::Fail: conflict("ThingTypeName");
    }
  }
  change.groups = existing_groups;
  if (plan.has_groups) {
    switch (plan.groups_override) {
      case Override::DoNothing: break;
      case Override::Replace: change.groups = plan.groups; break;
      case Override::Merge:
        for (const auto& g : plan.groups)
          if (std::find(change.groups.begin(), change.groups.end(), g) == change.groups.end()) change.groups.push_back(g);
        break;
      case Override::Fail: conflict("ThingGroups");
    }
  }
  std::sort(change.groups.begin(), change.groups.end());
  auto before = existing_groups;
  std::sort(before.begin(), before.end());
  if (change.record.attributes != existing->attributes || change.record.thing_type != existing->thing_type ||
      change.groups != before)
    change.action = ThingChange::Action::Update;
  return change;
}

std::vector<std::string> registered_certificates(registry::Registry& registry, const std::string& thing_name,
                                                 const std::string& certificate_id) {
  std::vector<std::string> ids;
  for (const auto& c : registry.certificates_of_thing(thing_name))
    if (c.id != certificate_id && (c.status == registry::kActive || c.status == registry::kInactive)) ids.push_back(c.id);
  return ids;
}

RequestError reprovisioning_refused(const std::string& thing_name, const std::string& template_name) {
  return RequestError(409, "ReprovisioningNotAllowed",
                      "thing " + text::quote(thing_name) + " is registered to another device's certificate, and template " +
                          text::quote(template_name) + " does not allow re-provisioning it");
}

std::vector<std::string> apply_plan(registry::Registry& registry, const templates::Plan& plan,
                                    const std::string& template_name, const std::string& certificate_id,
                                    bool may_reprovision, std::vector<std::string>* policies) {
  if (!plan.thing) throw RequestError(400, "InvalidTemplate", "template " + text::quote(template_name) + " has no AWS::IoT::Thing resource");
  // Workers sharing a registry: one registration of this thing at a time, or
  // two devices could each see it unowned and both take it (the lock:
  // postgres_registry_tests; the race it stops: cluster_tests).
  registry.lock_thing(plan.thing->name);
  auto earlier = registered_certificates(registry, plan.thing->name, certificate_id);
  if (!earlier.empty() && !may_reprovision) throw reprovisioning_refused(plan.thing->name, template_name);
  auto change = decide_thing(*plan.thing, registry.find_thing(plan.thing->name), registry.groups_of_thing(plan.thing->name));
  if (change.action == ThingChange::Action::Create) {
    try {
      registry.insert_thing(change.record);
    } catch (const registry::RegistryError& e) {
      // Another worker registered the thing between our look and now (a shared registry).
      if (e.constraint() && !may_reprovision) throw reprovisioning_refused(plan.thing->name, template_name);
      throw;
    }
  }
  if (change.action == ThingChange::Action::Update) registry.update_thing(change.record);
  if (change.action != ThingChange::Action::Keep) registry.set_thing_groups(change.record.name, change.groups);
  if (!certificate_id.empty()) registry.activate_certificate(certificate_id, plan.thing->name, plan.certificate_status);
  for (const auto& p : plan.policies) {
    std::string name = p.name;
    if (!p.document.empty()) {
      try {
        policy::PolicyDocument::parse(p.document);
      } catch (const policy::PolicyError& e) {
        throw RequestError(400, "InvalidPolicy", "inline policy " + text::quote(p.name) + " of template " + text::quote(template_name) + ": " + e.what());
      }
      name = template_name + "-" + p.name;
      auto existing = registry.find_policy(name);
      if (!existing || existing->document != p.document) registry.put_policy(name, p.document);
    } else if (!registry.find_policy(name)) {
      throw RequestError(400, "PolicyNotFound", "policy " + text::quote(name) + " named by template " + text::quote(template_name) + " does not exist");
    }
    if (!certificate_id.empty()) registry.attach_policy(certificate_id, name);
    if (policies) policies->push_back(name);
  }
  // The device was re-provisioned: whatever it held before stops working
  // (the broker cuts off a connection that still uses one).
  for (const auto& id : earlier) registry.set_certificate_status(id, registry::kRevoked);
  return earlier;
}

}  // namespace provision::service
