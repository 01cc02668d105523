#pragma once
// Provisioning templates and their versions (docs/provisioning.md): every
// body is validated (InvalidTemplate, each problem with its JSON path), and
// so are the hook, the broker assignment and the re-provisioning policy.
#include <optional>
#include <string>

#include "fleet/fleet.h"

namespace provision::service::fleet {

// The settings of a template besides its body. Absent: left as is (on
// create: the default). A hook or assignment of nullopt inside: removed.
struct TemplateSettings {
  std::optional<std::string> description;
  std::optional<bool> enabled;
  std::optional<std::string> reprovisioning;             // never | replace
  std::optional<std::optional<std::string>> hook;        // JSON (schemas/hook.schema.json)
  std::optional<std::optional<std::string>> assignment;  // JSON (schemas/assignment.schema.json)
  std::optional<int64_t> default_version;
};

// A template body checked on save; throws RequestError(400, "InvalidTemplate")
// whose details name every problem's JSON path, with `field` naming the
// body's place in the caller's input (e.g. "body").
void check_template_body(const std::string& body, const std::string& field = "body");

// A new template, its body version 1.
registry::TemplateRecord create_template(registry::Registry& registry, const Context& context, const std::string& name,
                                         const std::string& body, const TemplateSettings& settings = {});
registry::TemplateRecord update_template(registry::Registry& registry, const Context& context, const std::string& name,
                                         const TemplateSettings& settings);
// A new version (the default unless make_default is false); returns it.
registry::TemplateVersionRecord add_template_version(registry::Registry& registry, const Context& context,
                                                     const std::string& name, const std::string& body, bool make_default = true);
// Creates the template, or adds a version to it (provisiond template put).
registry::TemplateVersionRecord put_template(registry::Registry& registry, const Context& context, const std::string& name,
                                             const std::string& body);
void delete_template(registry::Registry& registry, const Context& context, const std::string& name);
void delete_template_version(registry::Registry& registry, const Context& context, const std::string& name, int64_t version);

}  // namespace provision::service::fleet
