#include "provisioning/registration.h"

#include <algorithm>

#include "policy/policy.h"
#include "util/error.h"
#include "util/text.h"

namespace provision::service {

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

void apply_plan(registry::Registry& registry, const templates::Plan& plan, const std::string& template_name,
                const std::string& certificate_id) {
  if (!plan.thing) throw RequestError(400, "InvalidTemplate", "template " + text::quote(template_name) + " has no AWS::IoT::Thing resource");
  auto change = decide_thing(*plan.thing, registry.find_thing(plan.thing->name), registry.groups_of_thing(plan.thing->name));
  if (change.action == ThingChange::Action::Create) registry.insert_thing(change.record);
  if (change.action == ThingChange::Action::Update) registry.update_thing(change.record);
  if (change.action != ThingChange::Action::Keep) registry.set_thing_groups(change.record.name, change.groups);
  registry.activate_certificate(certificate_id, plan.thing->name, plan.certificate_status);
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
    registry.attach_policy(certificate_id, name);
  }
}

}  // namespace provision::service
