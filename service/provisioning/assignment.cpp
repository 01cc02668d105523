#include "provisioning/assignment.h"

#include <cmath>
#include <cstring>

#include "protocol/schema_validator.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/json.h"

namespace provision::service {

AssignmentPolicy parse_assignment(std::string_view text) {
  auto doc = protocol::parse_valid(text, "assignment.schema.json", "brokerAssignment");
  AssignmentPolicy policy;
  std::string kind = *json::string_member(doc, "policy");
  policy.kind = kind == "static" ? AssignmentPolicy::Kind::Static
                : kind == "hook" ? AssignmentPolicy::Kind::Hook
                                 : AssignmentPolicy::Kind::Hashed;
  policy.broker = json::string_member(doc, "broker").value_or("");
  if (policy.kind == AssignmentPolicy::Kind::Static && policy.broker.empty())
    throw Error("brokerAssignment: /broker: required for the static policy");
  return policy;
}

std::optional<registry::BrokerRecord> choose_hashed(const std::vector<registry::BrokerRecord>& brokers,
                                                    const std::string& thing_name) {
  std::optional<registry::BrokerRecord> best;
  double best_score = -1;
  for (const auto& broker : brokers) {
    if (!broker.enabled || broker.weight <= 0) continue;
    // A uniform u in (0, 1) from the pair; score = -w / ln(u) gives each
    // broker its weight's share of names, and a name's winner changes only
    // when that winner goes away or a new broker outbids it.
    std::string digest = hmac_sha256(broker.name, thing_name);
    uint64_t x = 0;
    std::memcpy(&x, digest.data(), sizeof x);
    double u = (static_cast<double>(x >> 11) + 0.5) / 9007199254740992.0;  // 53 bits
    double score = -static_cast<double>(broker.weight) / std::log(u);
    if (score > best_score) {
      best_score = score;
      best = broker;
    }
  }
  return best;
}

}  // namespace provision::service
