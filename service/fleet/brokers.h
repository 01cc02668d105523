#pragma once
// The brokers devices are assigned to (deviceConfiguration.brokerEndpoint).
#include <optional>
#include <string>

#include "fleet/fleet.h"

namespace provision::service::fleet {

struct BrokerRequest {
  std::string name;
  std::string endpoint;  // e.g. mqtts://broker-2.example.com:8883
  int64_t weight = 1;    // >= 0, for hashed assignment
  bool enabled = true;
  std::optional<std::string> password_endpoint;  // password devices': mqtts://host:port or mqtt://host:port
};
registry::BrokerRecord create_broker(registry::Registry& registry, const Context& context, const BrokerRequest& request);

struct BrokerChange {
  std::optional<std::string> endpoint;
  std::optional<int64_t> weight;
  std::optional<bool> enabled;
  std::optional<std::string> password_endpoint;  // "" removes it
};
registry::BrokerRecord update_broker(registry::Registry& registry, const Context& context, const std::string& name,
                                     const BrokerChange& change);
// 409 while enrollments or static template assignments name it.
void delete_broker(registry::Registry& registry, const Context& context, const std::string& name);

}  // namespace provision::service::fleet
