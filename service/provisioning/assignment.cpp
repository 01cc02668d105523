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

std::optional<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint e;
  if (url.starts_with("mqtts://")) {
    url.remove_prefix(8);
  } else if (url.starts_with("mqtt://")) {
    url.remove_prefix(7);
    e.tls = false;
    e.port = 1883;
  } else {
    return std::nullopt;
  }
  if (url.ends_with("/")) url.remove_suffix(1);
  // host, host:port, [v6], [v6]:port
  std::string_view host = url;
  const auto bracket = url.rfind(']');
  const auto colon = url.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    std::string_view port = url.substr(colon + 1);
    if (port.empty() || port.size() > 5) return std::nullopt;
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return std::nullopt;
    e.port = value;
    host = url.substr(0, colon);
  }
  if (host.empty() || host.size() > 253) return std::nullopt;
  for (char c : host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '@' || c == '?' || c == '#' || c == 0x7f) return std::nullopt;
  e.host = std::string(host);
  return e;
}

}  // namespace provision::service
