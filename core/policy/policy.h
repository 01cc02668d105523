#pragma once
// Device policies: what a registered device may do on the broker.
//
// A policy document is JSON (schemas/policy.schema.json):
//   {"statements": [
//      {"effect": "allow", "actions": ["publish", "receive"], "topics": ["devices/${thingName}/telemetry"]},
//      {"effect": "allow", "actions": ["subscribe"], "topics": ["devices/${thingName}/commands/#"]},
//      {"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}"]},
//      {"effect": "deny",  "actions": ["publish"], "topics": ["devices/${thingName}/telemetry/raw"]}]}
// Variables: ${thingName}, ${clientId}, ${certificateId}, ${attributes.NAME}
// (a thing attribute). Deny wins over allow; anything not allowed is denied.
//
// Documents are parsed once; a Principal binds the variables of one
// connection and compiles the statements into plain filter lists, so that a
// decision costs O(statements) at worst.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace provision::policy {

enum class Action { Connect, Publish, Subscribe, Receive };

struct PolicyError : Error {
  PolicyError(std::string json_path, const std::string& message)
      : Error(json_path + ": " + message), path(std::move(json_path)) {}
  std::string path;
};

struct Statement {
  bool allow = true;
  std::vector<Action> actions;
  std::vector<std::string> topics;     // filters, may hold variables
  std::vector<std::string> client_ids; // exact client ids (or "*"), may hold variables
};

class PolicyDocument {
 public:
  // Throws PolicyError naming the JSON path of the first problem.
  static PolicyDocument parse(std::string_view json);
  const std::vector<Statement>& statements() const { return statements_; }

 private:
  std::vector<Statement> statements_;
};

// The values a connection's variables take.
struct Variables {
  std::string thing_name;
  std::string client_id;
  std::string certificate_id;
  std::map<std::string, std::string> attributes;
};

// One connection's compiled permissions.
class Principal {
 public:
  Principal() = default;
  Principal(const std::vector<PolicyDocument>& documents, const Variables& variables);

  // Publish/Receive: `resource` is a topic. Subscribe: a filter (allowed when
  // an allow filter covers it and no deny filter intersects it). Connect: a
  // client id.
  bool allows(Action action, std::string_view resource) const;

 private:
  // One bound pattern with the actions it applies to: a filter shared by
  // several actions ("publish", "receive") is stored once. Kept small, as the
  // broker holds one Principal per connected device.
  struct Rule {
    std::string pattern;  // a topic filter, or a client id for connect
    uint8_t actions = 0;  // bit per Action
    bool allow = true;
  };
  std::vector<Rule> rules_;
  uint8_t deny_all_ = 0;  // bit per Action: a deny statement whose variables could not be bound safely
};

// Substitutes ${...} variables in `pattern`. Returns false when a variable is
// unknown, empty, or its value holds a character that would widen a topic
// filter ('+', '#', '/') or a NUL.
bool substitute(std::string_view pattern, const Variables& variables, std::string& out);

}  // namespace provision::policy
