#pragma once
// Who a TLS client is, decided once at connect from its certificate alone
// (DESIGN.md "Identities"). A username the client sent is never trusted.
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "pki/certificate.h"
#include "policy/policy.h"
#include "registry/registry.h"

namespace provision::plugin {

enum class Role { Claim, Device, Service };
std::string_view role_name(Role role);

struct Identity {
  Role role = Role::Claim;
  std::string certificate_id;
  std::string name;                            // thing name, service name, or claim description
  std::vector<std::string> allowed_templates;  // Claim: templates it may register with
  std::shared_ptr<const policy::Principal> principal;  // Device: compiled policies
  // The username the plugin sets, so that SIGHUP does not drop the client.
  std::string username() const;
};

struct Refusal {
  std::string reason;  // for the broker log
};

// Resolves identities against the registry. Not thread-safe (the broker has
// one thread).
class IdentityResolver {
 public:
  explicit IdentityResolver(registry::Registry& registry) : registry_(registry) {}

  // `client_id` feeds the ${clientId} policy variable and the connect check.
  std::variant<Identity, Refusal> resolve(const pki::Certificate& certificate, const std::string& client_id, int64_t now);

  // Forget cached CAs (call when the registry changed).
  void invalidate() { cas_loaded_ = false; }

 private:
  std::variant<Identity, Refusal> device(const registry::CertificateRecord& record, const std::string& client_id);
  const std::vector<std::pair<registry::CaRecord, pki::Certificate>>& claim_cas();

  registry::Registry& registry_;
  bool cas_loaded_ = false;
  std::vector<std::pair<registry::CaRecord, pki::Certificate>> claim_cas_;
};

}  // namespace provision::plugin
