#include "fleet/brokers.h"
#include "provisioning/assignment.h"
#include "util/text.h"

namespace provision::service::fleet {
namespace {

registry::BrokerRecord existing(registry::Registry& registry, const std::string& name) {
  auto b = registry.find_broker(name);
  if (!b) not_found("broker " + text::quote(name));
  return *b;
}

void check_weight(int64_t weight) {
  if (weight < 0) invalid_field("weight", "must be 0 or more");
}

// mqtts://host:port or mqtt://host:port (a listener that allows plain TCP).
void check_password_endpoint(const std::string& endpoint) {
  auto parsed = parse_endpoint(endpoint);
  if (!parsed) invalid_field("passwordEndpoint", "must be mqtts://host:port or mqtt://host:port");
}

}  // namespace

registry::BrokerRecord create_broker(registry::Registry& registry, const Context& context, const BrokerRequest& request) {
  if (request.name.empty()) invalid_field("name", "is required");
  if (request.endpoint.empty()) invalid_field("endpoint", "is required");
  check_weight(request.weight);
  registry::BrokerRecord b;
  b.name = request.name;
  b.endpoint = request.endpoint;
  b.weight = request.weight;
  b.enabled = request.enabled;
  if (request.password_endpoint) {
    check_password_endpoint(*request.password_endpoint);
    b.password_endpoint = request.password_endpoint;
  }
  auto tx = registry.begin();
  if (registry.find_broker(b.name)) conflict("broker " + text::quote(b.name) + " exists", "name");
  registry.put_broker(b);
  audit(registry, context.actor, action::kCreateBroker, b.name, detail({{"endpoint", b.endpoint}}));
  tx.commit();
  return existing(registry, b.name);
}

registry::BrokerRecord update_broker(registry::Registry& registry, const Context& context, const std::string& name,
                                     const BrokerChange& change) {
  if (change.weight) check_weight(*change.weight);
  if (change.password_endpoint && !change.password_endpoint->empty()) check_password_endpoint(*change.password_endpoint);
  auto tx = registry.begin();
  auto b = existing(registry, name);
  std::vector<std::pair<std::string, std::string>> fields;
  if (change.endpoint) fields.emplace_back("endpoint", b.endpoint = *change.endpoint);
  if (change.weight) fields.emplace_back("weight", std::to_string(b.weight = *change.weight));
  if (change.enabled) fields.emplace_back("enabled", (b.enabled = *change.enabled) ? "true" : "false");
  if (change.password_endpoint) {
    if (change.password_endpoint->empty()) b.password_endpoint.reset();
    else b.password_endpoint = *change.password_endpoint;
    fields.emplace_back("passwordEndpoint", *change.password_endpoint);
  }
  registry.put_broker(b);
  audit(registry, context.actor, action::kUpdateBroker, b.name, detail(fields));
  tx.commit();
  return existing(registry, b.name);
}

void delete_broker(registry::Registry& registry, const Context& context, const std::string& name) {
  auto tx = registry.begin();
  existing(registry, name);
  if (int64_t users = registry.count_broker_users(name))
    conflict("broker " + text::quote(name) + " is pinned by " + std::to_string(users) +
             " enrollment(s) or static template assignment(s); disable it or change those first");
  registry.delete_broker(name);
  audit(registry, context.actor, action::kDeleteBroker, name);
  tx.commit();
}

}  // namespace provision::service::fleet
