#pragma once
// Broker assignment: which broker a newly registered device is told to use
// (deviceConfiguration.brokerEndpoint). Per template: static (one named
// broker), hashed (weighted rendezvous hashing on the thing name: stable,
// and only the things of a broker that goes away move), or decided by the
// template's hook. An enrollment may pin a broker, which wins.
#include <optional>
#include <string>
#include <vector>

#include "registry/models.h"

namespace provision::service {

struct AssignmentPolicy {
  enum class Kind { Static, Hashed, Hook } kind = Kind::Hashed;
  std::string broker;  // static
};

// A broker endpoint as a device connects to it: mqtts://host:port (TLS) or
// mqtt://host:port (plain TCP); the port defaults to 8883 / 1883.
struct Endpoint {
  std::string host;
  int port = 8883;
  bool tls = true;
};
std::optional<Endpoint> parse_endpoint(std::string_view url);

// Parses schemas/assignment.schema.json; throws Error naming the field.
AssignmentPolicy parse_assignment(std::string_view json);

// The enabled broker with the highest weighted rendezvous score for
// `thing_name`; nullopt when no broker is enabled or all weights are 0.
std::optional<registry::BrokerRecord> choose_hashed(const std::vector<registry::BrokerRecord>& brokers,
                                                    const std::string& thing_name);

}  // namespace provision::service
