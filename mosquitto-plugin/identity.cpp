#include "identity.h"

#include "util/encoding.h"
#include "util/error.h"
#include "util/text.h"

namespace provision::plugin {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::Claim: return "claim";
    case Role::Enrollment: return "enrollment";
    case Role::Device: return "device";
    case Role::Service: return "service";
    case Role::Factory: return "factory";
  }
  return "unknown";
}

std::string Identity::username() const {
  switch (role) {
    case Role::Device: return "thing:" + name;
    case Role::Service: return "service:" + name;
    case Role::Factory: return "factory:" + name;
    case Role::Enrollment: return "enrollment:" + name;
    case Role::Claim: break;
  }
  return "claim:" + certificate_id.substr(0, 16);
}

std::string registration_id(const pki::Certificate& certificate, const std::string& field) {
  if (field == "certificateSerial") return certificate.serial_hex();
  return certificate.subject_field(field == "serialNumber" ? "serialNumber" : "CN");
}

const std::vector<IdentityResolver::TrustedCa>& IdentityResolver::trusted_cas() {
  if (!cas_loaded_) {
    cas_.clear();
    for (auto& ca : registry_.list_cas()) {
      if ((ca.role != "claim" && ca.role != "manufacturer") || ca.status != registry::kActive) continue;
      try {
        auto cert = pki::Certificate::from_pem(ca.pem);
        cas_.push_back({std::move(ca), std::move(cert)});
      } catch (const Error&) {
        // A CA row with a broken PEM can never match; skip it rather than
        // refusing every client.
      }
    }
    cas_loaded_ = true;
  }
  return cas_;
}

Resolution IdentityResolver::device(const registry::CertificateRecord& record, const std::string& client_id,
                                    int64_t not_after) {
  std::string id_short = record.id.substr(0, 16);
  if (record.status != registry::kActive) return Refusal{"device certificate " + id_short + " is " + record.status};
  if (!record.thing_name) return Refusal{"device certificate " + id_short + " is not attached to a thing"};
  auto thing = registry_.find_thing(*record.thing_name);
  if (!thing) return Refusal{"thing " + *record.thing_name + " of certificate " + id_short + " does not exist"};
  if (options_.client_id_must_be_thing_name && client_id != thing->name)
    return Refusal{"thing " + thing->name + ": the client id must be the thing name, not '" + text::escape(client_id) + "'"};

  auto resolved = device_identity(*thing, registry_.policies_of_certificate(record.id), client_id, record.id);
  auto* identity = std::get_if<Identity>(&resolved);
  if (!identity) return resolved;
  identity->not_after = not_after;
  if (record.replaces) {
    auto old = registry_.find_certificate(*record.replaces);
    identity->renewal_successor = old && old->status == registry::kActive;
  }
  return resolved;
}

Resolution IdentityResolver::device_identity(const registry::ThingRecord& thing, const std::vector<std::string>& policy_names,
                                             const std::string& client_id, const std::string& certificate_id) {
  std::vector<policy::PolicyDocument> documents;
  for (const auto& name : policy_names) {
    auto policy = registry_.find_policy(name);
    if (!policy) continue;
    try {
      documents.push_back(policy::PolicyDocument::parse(policy->document));
    } catch (const Error&) {
      // A broken policy grants nothing; the others still apply.
    }
  }
  policy::Variables variables{thing.name, client_id, certificate_id, thing.attributes};
  auto principal = std::make_shared<const policy::Principal>(documents, variables);
  if (!principal->allows(policy::Action::Connect, client_id))
    return Refusal{"thing " + thing.name + ": policy does not allow connect with client id '" + text::escape(client_id) + "'"};

  Identity identity;
  identity.role = Role::Device;
  identity.certificate_id = certificate_id;
  identity.name = thing.name;
  identity.principal = std::move(principal);
  return identity;
}

Resolution IdentityResolver::password_device(const std::string& thing_name, const std::string& secret_hash,
                                             const std::string& client_id) {
  // One answer for an unknown thing and a wrong secret.
  const Refusal wrong{"username or password not accepted for thing '" + text::escape(thing_name) + "'"};
  auto credential = registry_.find_device_credential(thing_name);
  if (!credential) {
    (void)constant_time_equal(secret_hash, secret_hash);  // the same work either way
    return wrong;
  }
  if (!constant_time_equal(secret_hash, credential->secret_hash)) return wrong;
  if (credential->status != registry::kActive) return Refusal{"password device " + thing_name + " is " + credential->status};
  if (client_id != credential->device_uuid)
    return Refusal{"password device " + thing_name + ": the client id must be its device uuid, not '" + text::escape(client_id) + "'"};
  auto thing = registry_.find_thing(thing_name);
  if (!thing) return Refusal{"thing " + thing_name + " does not exist"};
  auto resolved = device_identity(*thing, credential->policies, client_id, "password:" + credential->device_uuid);
  if (auto* identity = std::get_if<Identity>(&resolved)) {
    identity->password = true;
    identity->secret_hash = credential->secret_hash;
    identity->not_after = INT64_MAX;
    identity->first_connect = !credential->first_connected_at.has_value();
  }
  return resolved;
}

Resolution IdentityResolver::resolve_password(const std::string& username, const std::string& password,
                                              const std::string& client_id) {
  std::string thing_name = username.starts_with("thing:") ? username.substr(6) : username;
  if (thing_name.empty() || thing_name.size() > 128) return Refusal{"a password device must give its thing name as username"};
  if (password.empty() || password.size() > 256) return Refusal{"a password device must give its secret as password"};
  return password_device(thing_name, sha256_hex(password), client_id);
}

Resolution IdentityResolver::claim(const std::string& id, int64_t not_after, int64_t now) {
  auto claim = registry_.find_claim_certificate(id);
  if (!claim) return Refusal{"claim certificate " + id.substr(0, 16) + " is no longer registered"};
  if (claim->status != registry::kActive) return Refusal{"claim certificate " + id.substr(0, 16) + " is " + claim->status};
  if (claim->expires_at && *claim->expires_at < now) return Refusal{"claim certificate " + id.substr(0, 16) + " expired"};
  Identity identity;
  identity.role = Role::Claim;
  identity.certificate_id = id;
  identity.name = claim->description;
  identity.not_after = not_after;
  identity.allowed_templates = claim->allowed_templates;
  identity.expires_at = claim->expires_at;
  return identity;
}

Resolution IdentityResolver::issued_by_ca(const registry::CaRecord& ca, const std::string& id,
                                          const pki::Certificate* certificate, const std::string& known_registration_id,
                                          int64_t not_after) {
  Identity identity;
  identity.certificate_id = id;
  identity.issuer_ca_id = ca.id;
  identity.not_after = not_after;
  identity.allowed_templates = ca.allowed_templates;
  if (ca.role == "claim") {
    identity.role = Role::Claim;
    identity.name = ca.name;
    return identity;
  }
  identity.role = Role::Enrollment;
  identity.name = certificate ? registration_id(*certificate, ca.registration_id_field) : known_registration_id;
  if (identity.name.empty())
    return Refusal{"certificate " + id.substr(0, 16) + " from manufacturer CA " + ca.name + " has no " +
                   ca.registration_id_field + " to use as its registration id"};
  return identity;
}

Resolution IdentityResolver::resolve(const pki::Certificate& certificate, const std::string& client_id, int64_t now) {
  const std::string id = certificate.id();
  const std::string id_short = id.substr(0, 16);
  const int64_t not_after = certificate.not_after();
  if (not_after < now) return Refusal{"certificate " + id_short + " expired"};

  if (auto service = registry_.find_service_identity(id)) {
    if (service->status != registry::kActive) return Refusal{"service identity " + service->name + " is " + service->status};
    Identity identity;
    identity.role = service->kind == "factory" ? Role::Factory : Role::Service;
    identity.certificate_id = id;
    identity.name = service->name;
    identity.not_after = not_after;
    return identity;
  }
  if (auto record = registry_.find_certificate(id)) return device(*record, client_id, not_after);
  if (registry_.find_claim_certificate(id)) return claim(id, not_after, now);
  for (const auto& ca : trusted_cas())
    if (certificate.issued_by(ca.certificate)) return issued_by_ca(ca.record, id, &certificate, "", not_after);

  return Refusal{"certificate " + id_short + " (" + certificate.subject_line() + ", issuer " + certificate.issuer_line() +
                 ") is not a registered identity"};
}

Resolution IdentityResolver::refresh(const Identity& identity, const std::string& client_id, int64_t now) {
  const std::string& id = identity.certificate_id;
  if (identity.not_after < now) return Refusal{"certificate " + id.substr(0, 16) + " expired"};
  switch (identity.role) {
    case Role::Service:
    case Role::Factory: {
      auto service = registry_.find_service_identity(id);
      if (!service || service->status != registry::kActive)
        return Refusal{"service identity " + identity.name + " was disabled or removed"};
      return identity;
    }
    case Role::Device: {
      if (identity.password) return password_device(identity.name, identity.secret_hash, client_id);
      auto record = registry_.find_certificate(id);
      if (!record) return Refusal{"device certificate " + id.substr(0, 16) + " was deleted"};
      return device(*record, client_id, identity.not_after);
    }
    case Role::Claim:
      if (identity.issuer_ca_id.empty() || registry_.find_claim_certificate(id)) return claim(id, identity.not_after, now);
      [[fallthrough]];
    case Role::Enrollment: {
      auto ca = registry_.find_ca(identity.issuer_ca_id);
      if (!ca || ca->status != registry::kActive || (ca->role != "claim" && ca->role != "manufacturer"))
        return Refusal{"the CA that issued certificate " + id.substr(0, 16) + " was disabled or removed"};
      return issued_by_ca(*ca, id, nullptr, identity.name, identity.not_after);
    }
  }
  return Refusal{"unknown role"};
}

}  // namespace provision::plugin
