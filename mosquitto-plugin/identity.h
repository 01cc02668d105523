#pragma once
// Who a TLS client is, decided at connect from its certificate alone
// (docs/architecture.md, "The plugin"), and re-checked whenever the registry changes
// something it depends on. A username the client sent is never trusted.
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "options.h"
#include "pki/certificate.h"
#include "policy/policy.h"
#include "registry/registry.h"

namespace provision::plugin {

enum class Role {
  Claim,       // a shared claim certificate (registered, or issued by a claim CA)
  Enrollment,  // a per-device factory certificate issued by a manufacturer CA
  Device,      // a registered device certificate attached to a thing
  Service,     // a provisioning worker
  Factory,     // a factory server publishing enrollments
};
std::string_view role_name(Role role);

struct Identity {
  Role role = Role::Claim;
  std::string certificate_id;
  std::string name;             // thing name, service name, claim description, or registration id
  std::string issuer_ca_id;     // Claim via a CA, Enrollment: the CA that vouches for it
  int64_t not_after = 0;        // the certificate's
  std::vector<std::string> allowed_templates;          // Claim, Enrollment
  std::shared_ptr<const policy::Principal> principal;  // Device: compiled policies
  bool renewal_successor = false;  // Device: this certificate renews one that is still active
  std::optional<int64_t> expires_at;  // Claim: the registry's expiry (temporary claims), checked while connected
  // Device: a password device (HTTP bootstrap): certificate_id is
  // "password:<device uuid>", and the secret's hash it signed in with is kept
  // so that a rotation cuts it off.
  bool password = false;
  std::string secret_hash;
  bool first_connect = false;  // password device: never connected with this secret (the workers record it)

  bool provisioning() const { return role == Role::Claim || role == Role::Enrollment; }
  // The username the plugin sets, so that SIGHUP does not drop the client.
  std::string username() const;
};

struct Refusal {
  std::string reason;  // for the broker log
};

using Resolution = std::variant<Identity, Refusal>;

// Resolves identities against the registry. Not thread-safe (the broker has
// one thread).
class IdentityResolver {
 public:
  IdentityResolver(registry::Registry& registry, const Options& options) : registry_(registry), options_(options) {}

  // At connect. `client_id` feeds the ${clientId} policy variable and the
  // connect check.
  Resolution resolve(const pki::Certificate& certificate, const std::string& client_id, int64_t now);
  // After a registry change: the same decision from what was recorded at
  // connect (no certificate needed), with current registry contents.
  Resolution refresh(const Identity& identity, const std::string& client_id, int64_t now);
  // At connect, for a client without a certificate (options.password_devices):
  // `username` is the thing name ("thing:" prefix allowed: the username the
  // plugin sets, which SIGHUP's re-check sends again), `password` its
  // secret, compared as SHA-256 digests in constant time; the client id must
  // be the credential's device uuid.
  Resolution resolve_password(const std::string& username, const std::string& password, const std::string& client_id);

  // Forget cached CAs (call when a CA changed).
  void invalidate() { cas_loaded_ = false; }

 private:
  struct TrustedCa {
    registry::CaRecord record;
    pki::Certificate certificate;
  };
  Resolution device(const registry::CertificateRecord& record, const std::string& client_id, int64_t not_after);
  Resolution claim(const std::string& id, int64_t not_after, int64_t now);
  Resolution password_device(const std::string& thing_name, const std::string& secret_hash, const std::string& client_id);
  // Compiled policies of a device, and the connect check.
  Resolution device_identity(const registry::ThingRecord& thing, const std::vector<std::string>& policy_names,
                             const std::string& client_id, const std::string& certificate_id);
  Resolution issued_by_ca(const registry::CaRecord& ca, const std::string& id, const pki::Certificate* certificate,
                          const std::string& registration_id, int64_t not_after);
  const std::vector<TrustedCa>& trusted_cas();

  registry::Registry& registry_;
  const Options& options_;
  bool cas_loaded_ = false;
  std::vector<TrustedCa> cas_;
};

// The registration id a manufacturer CA's `field` names in `certificate`
// ("CN", "serialNumber" (subject attribute) or "certificateSerial").
std::string registration_id(const pki::Certificate& certificate, const std::string& field);

}  // namespace provision::plugin
