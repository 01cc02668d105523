#pragma once
// Device policies (schemas/policy.schema.json): checked against the schema
// (naming the field) and by the policy engine (variables, topic filters).
// A changed policy applies to connected devices within a second.
#include <string>

#include "fleet/fleet.h"

namespace provision::service::fleet {

// The document as stored; throws RequestError(400, "InvalidPolicy") naming
// the field (below `field`, the document's place in the caller's input).
std::string checked_policy(const std::string& document, const std::string& field = "document");

registry::PolicyRecord create_policy(registry::Registry& registry, const Context& context, const std::string& name,
                                     const std::string& document);
registry::PolicyRecord replace_policy(registry::Registry& registry, const Context& context, const std::string& name,
                                      const std::string& document);
// Creates or replaces (provisiond policy put).
registry::PolicyRecord put_policy(registry::Registry& registry, const Context& context, const std::string& name,
                                  const std::string& document);
// 409 while it is attached to certificates.
void delete_policy(registry::Registry& registry, const Context& context, const std::string& name);

}  // namespace provision::service::fleet
