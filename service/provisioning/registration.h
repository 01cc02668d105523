#pragma once
// Registration through a template, shared by RegisterThing (MQTT), the
// admin API's programmatic registration and its dry run: evaluate the
// template, decide what happens to the thing, apply it.
#include <map>
#include <optional>
#include <string>

#include "registry/registry.h"
#include "templates/template.h"

namespace provision::service {

// What happens to the thing a plan names.
struct ThingChange {
  enum class Action { Create, Update, Keep } action = Action::Create;
  registry::ThingRecord record;     // the thing as it will be
  std::vector<std::string> groups;  // its thing groups as they will be
};

// Decides (without writing) what a plan does to the thing, applying
// OverrideSettings when it exists (with `existing_groups`). Throws
// RequestError(409, "ResourceConflict") when an override says FAIL.
ThingChange decide_thing(const templates::ThingPlan& plan, const std::optional<registry::ThingRecord>& existing,
                         const std::vector<std::string>& existing_groups = {});
std::string_view action_name(ThingChange::Action action);

// Applies a plan for a certificate, inside the caller's transaction: the
// thing, the certificate attached with the plan's status, the policies
// (named ones must exist; inline ones are stored as "<template>-<logical id>").
void apply_plan(registry::Registry& registry, const templates::Plan& plan, const std::string& template_name,
                const std::string& certificate_id);

}  // namespace provision::service
