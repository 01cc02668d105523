#include "fleet/policies.h"

#include "policy/policy.h"
#include "protocol/schema_validator.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::fleet {

std::string checked_policy(const std::string& document, const std::string& field) {
  std::string error;
  auto parsed = json::try_parse(document, &error);
  if (!parsed) throw RequestError(400, "InvalidPolicy", field + ": " + error, field);
  if (auto violation = protocol::schema_violation("policy.schema.json", *parsed)) {
    auto colon = violation->find(": ");
    std::string at = field + (colon == std::string::npos || violation->substr(0, colon) == "/"
                                  ? std::string()
                                  : "." + protocol::field_name(violation->substr(0, colon)));
    throw RequestError(400, "InvalidPolicy", at + ": " + (colon == std::string::npos ? *violation : violation->substr(colon + 2)),
                       at);
  }
  std::string text = json::stringify(*parsed);
  try {
    policy::PolicyDocument::parse(text);
  } catch (const policy::PolicyError& e) {
    throw RequestError(400, "InvalidPolicy", field + e.path.substr(1) + ": " + e.what(), field + e.path.substr(1));
  }
  return text;
}

registry::PolicyRecord create_policy(registry::Registry& registry, const Context& context, const std::string& name,
                                     const std::string& document) {
  std::string text = checked_policy(document);
  auto tx = registry.begin();
  if (registry.find_policy(name)) conflict("policy " + text::quote(name) + " already exists; PUT to replace its document", "name");
  registry.put_policy(name, text);
  audit(registry, context.actor, action::kCreatePolicy, name);
  tx.commit();
  return *registry.find_policy(name);
}

registry::PolicyRecord replace_policy(registry::Registry& registry, const Context& context, const std::string& name,
                                      const std::string& document) {
  std::string text = checked_policy(document);
  auto tx = registry.begin();
  if (!registry.find_policy(name)) not_found("policy " + text::quote(name));
  registry.put_policy(name, text);
  audit(registry, context.actor, action::kUpdatePolicy, name);
  tx.commit();
  return *registry.find_policy(name);
}

registry::PolicyRecord put_policy(registry::Registry& registry, const Context& context, const std::string& name,
                                  const std::string& document) {
  return registry.find_policy(name) ? replace_policy(registry, context, name, document)
                                    : create_policy(registry, context, name, document);
}

void delete_policy(registry::Registry& registry, const Context& context, const std::string& name) {
  auto tx = registry.begin();
  if (!registry.find_policy(name)) not_found("policy " + text::quote(name));
  if (int64_t n = registry.count_policy_attachments(name))
    conflict("policy " + text::quote(name) + " is attached to " + std::to_string(n) + " certificate(s)");
  registry.delete_policy(name);
  audit(registry, context.actor, action::kDeletePolicy, name);
  tx.commit();
}

}  // namespace provision::service::fleet
