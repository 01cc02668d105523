#include "fleet/templates.h"

#include "hooks/hook.h"
#include "provisioning/assignment.h"
#include "templates/template.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::fleet {
namespace {

// The message of a parse error without the "<document>: " it starts with.
std::string reason(const Error& e) {
  std::string what = e.what();
  auto colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

void apply(registry::Registry& registry, const TemplateSettings& s, registry::TemplateRecord& t) {
  if (s.description) t.description = *s.description;
  if (s.enabled) t.enabled = *s.enabled;
  if (s.reprovisioning) {
    if (*s.reprovisioning != registry::kReprovisionNever && *s.reprovisioning != registry::kReprovisionReplace)
      invalid_field("reprovisioning", "must be never or replace");
    t.reprovisioning = *s.reprovisioning;
  }
  if (s.default_version) {
    if (!registry.find_template_version(t.name, *s.default_version))
      invalid_field("defaultVersion", "template " + text::quote(t.name) + " has no version " + std::to_string(*s.default_version));
    t.default_version = *s.default_version;
  }
  if (s.hook) {
    if (*s.hook) {
      try {
        hooks::parse_hook(**s.hook);
      } catch (const Error& e) {
        invalid_field("preProvisioningHook", reason(e));
      }
    }
    t.hook = *s.hook;
  }
  if (s.assignment) {
    if (*s.assignment) {
      AssignmentPolicy policy;
      try {
        policy = parse_assignment(**s.assignment);
      } catch (const Error& e) {
        invalid_field("brokerAssignment", reason(e));
      }
      if (policy.kind == AssignmentPolicy::Kind::Static && !registry.find_broker(policy.broker))
        invalid_field("brokerAssignment.broker", "no broker " + text::quote(policy.broker));
    }
    t.assignment = *s.assignment;
  }
}

registry::TemplateRecord existing(registry::Registry& registry, const std::string& name) {
  auto t = registry.find_template(name);
  if (!t) not_found("template " + text::quote(name));
  return *t;
}

std::string version_detail(int64_t version) { return R"({"version":)" + std::to_string(version) + "}"; }

}  // namespace

void check_template_body(const std::string& body, const std::string& field) {
  auto issues = templates::ProvisioningTemplate::validate(body);
  if (issues.empty()) return;
  // "$.Resources..." -> "body.Resources..."
  const std::string first = field + issues.front().path.substr(1);
  RequestError error(400, "InvalidTemplate", first + ": " + issues.front().message, first);
  for (const auto& issue : issues) error.details.emplace_back(issue.path, issue.message);
  throw error;
}

registry::TemplateRecord create_template(registry::Registry& registry, const Context& context, const std::string& name,
                                         const std::string& body, const TemplateSettings& settings) {
  check_template_body(body);
  auto tx = registry.begin();
  if (registry.find_template(name)) conflict("template " + text::quote(name) + " already exists; add a version instead", "name");
  registry.add_template_version(name, body, settings.description.value_or(""));
  auto record = existing(registry, name);
  apply(registry, settings, record);
  registry.update_template(record);
  audit(registry, context.actor, action::kCreateTemplate, name, version_detail(1));
  tx.commit();
  return existing(registry, name);
}

registry::TemplateRecord update_template(registry::Registry& registry, const Context& context, const std::string& name,
                                         const TemplateSettings& settings) {
  auto tx = registry.begin();
  auto t = existing(registry, name);
  apply(registry, settings, t);
  registry.update_template(t);
  // Which fields changed, not their values: a hook's secret stays out of the log.
  std::string fields;
  auto note = [&](bool changed, const char* field) {
    if (changed) fields += (fields.empty() ? "" : ",") + std::string(field);
  };
  note(settings.description.has_value(), "description");
  note(settings.enabled.has_value(), "enabled");
  note(settings.reprovisioning.has_value(), "reprovisioning");
  note(settings.default_version.has_value(), "defaultVersion");
  note(settings.hook.has_value(), "preProvisioningHook");
  note(settings.assignment.has_value(), "brokerAssignment");
  audit(registry, context.actor, action::kUpdateTemplate, name, detail({{"fields", fields}}));
  tx.commit();
  return existing(registry, name);
}

registry::TemplateVersionRecord add_template_version(registry::Registry& registry, const Context& context,
                                                     const std::string& name, const std::string& body, bool make_default) {
  check_template_body(body);
  auto tx = registry.begin();
  auto t = existing(registry, name);
  int64_t version = registry.add_template_version(t.name, body);
  if (!make_default) {
    auto updated = existing(registry, t.name);
    updated.default_version = t.default_version;
    registry.update_template(updated);
  }
  audit(registry, context.actor, action::kAddTemplateVersion, t.name, version_detail(version));
  tx.commit();
  return *registry.find_template_version(t.name, version);
}

registry::TemplateVersionRecord put_template(registry::Registry& registry, const Context& context, const std::string& name,
                                             const std::string& body) {
  if (!registry.find_template(name)) {
    create_template(registry, context, name, body);
    return *registry.find_template_version(name, 1);
  }
  return add_template_version(registry, context, name, body);
}

void delete_template(registry::Registry& registry, const Context& context, const std::string& name) {
  auto tx = registry.begin();
  auto t = existing(registry, name);
  if (int64_t users = registry.count_template_users(t.name))
    conflict("template " + text::quote(t.name) + " is allowed by " + std::to_string(users) + " claim certificate(s) or CA(s); remove it there first");
  registry.delete_template(t.name);
  audit(registry, context.actor, action::kDeleteTemplate, t.name);
  tx.commit();
}

void delete_template_version(registry::Registry& registry, const Context& context, const std::string& name, int64_t version) {
  auto tx = registry.begin();
  auto t = existing(registry, name);
  if (!registry.find_template_version(t.name, version)) not_found("version " + std::to_string(version) + " of template " + text::quote(t.name));
  if (t.default_version == version)
    conflict("version " + std::to_string(version) + " is the default version of " + text::quote(t.name) + " (in use); make another the default first");
  registry.delete_template_version(t.name, version);
  audit(registry, context.actor, action::kDeleteTemplateVersion, t.name, version_detail(version));
  tx.commit();
}

}  // namespace provision::service::fleet
