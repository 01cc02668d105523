#include "identity.h"

#include "util/error.h"

namespace provision::plugin {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::Claim: return "claim";
    case Role::Device: return "device";
    case Role::Service: return "service";
  }
  return "unknown";
}

std::string Identity::username() const {
  switch (role) {
    case Role::Device: return "thing:" + name;
    case Role::Service: return "service:" + name;
    case Role::Claim: break;
  }
  return "claim:" + certificate_id.substr(0, 16);
}

const std::vector<std::pair<registry::CaRecord, pki::Certificate>>& IdentityResolver::claim_cas() {
  if (!cas_loaded_) {
    claim_cas_.clear();
    for (auto& ca : registry_.list_cas()) {
      if (ca.role != "claim" || ca.status != registry::kActive) continue;
      try {
        auto cert = pki::Certificate::from_pem(ca.pem);
        claim_cas_.emplace_back(std::move(ca), std::move(cert));
      } catch (const Error&) {
        // A CA row with a broken PEM can never match; skip it rather than
        // refusing every client.
      }
    }
    cas_loaded_ = true;
  }
  return claim_cas_;
}

std::variant<Identity, Refusal> IdentityResolver::device(const registry::CertificateRecord& record,
                                                         const std::string& client_id) {
  std::string id_short = record.id.substr(0, 16);
  if (record.status != registry::kActive)
    return Refusal{"device certificate " + id_short + " is " + record.status};
  if (!record.thing_name) return Refusal{"device certificate " + id_short + " is not attached to a thing"};
  auto thing = registry_.find_thing(*record.thing_name);
  if (!thing) return Refusal{"thing " + *record.thing_name + " of certificate " + id_short + " does not exist"};

  std::vector<policy::PolicyDocument> documents;
  for (const auto& name : registry_.policies_of_certificate(record.id)) {
    auto policy = registry_.find_policy(name);
    if (!policy) continue;
    try {
      documents.push_back(policy::PolicyDocument::parse(policy->document));
    } catch (const Error& e) {
      // A broken policy grants nothing; the others still apply.
      (void)e;
    }
  }
  policy::Variables variables{thing->name, client_id, record.id, thing->attributes};
  auto principal = std::make_shared<const policy::Principal>(documents, variables);
  if (!principal->allows(policy::Action::Connect, client_id))
    return Refusal{"thing " + thing->name + ": policy does not allow connect with client id '" + client_id + "'"};

  Identity identity;
  identity.role = Role::Device;
  identity.certificate_id = record.id;
  identity.name = thing->name;
  identity.principal = std::move(principal);
  return identity;
}

std::variant<Identity, Refusal> IdentityResolver::resolve(const pki::Certificate& certificate, const std::string& client_id,
                                                          int64_t now) {
  const std::string id = certificate.id();
  const std::string id_short = id.substr(0, 16);
  if (certificate.not_after() < now) return Refusal{"certificate " + id_short + " expired"};

  if (auto service = registry_.find_service_identity(id)) {
    if (service->status != registry::kActive) return Refusal{"service identity " + service->name + " is " + service->status};
    Identity identity;
    identity.role = Role::Service;
    identity.certificate_id = id;
    identity.name = service->name;
    return identity;
  }

  if (auto record = registry_.find_certificate(id)) return device(*record, client_id);

  if (auto claim = registry_.find_claim_certificate(id)) {
    if (claim->status != registry::kActive) return Refusal{"claim certificate " + id_short + " is " + claim->status};
    if (claim->expires_at && *claim->expires_at < now) return Refusal{"claim certificate " + id_short + " expired"};
    Identity identity;
    identity.role = Role::Claim;
    identity.certificate_id = id;
    identity.name = claim->description;
    identity.allowed_templates = claim->allowed_templates;
    return identity;
  }

  for (const auto& [ca, ca_certificate] : claim_cas()) {
    if (!certificate.issued_by(ca_certificate)) continue;
    Identity identity;
    identity.role = Role::Claim;
    identity.certificate_id = id;
    identity.name = ca.name;
    identity.allowed_templates = ca.allowed_templates;
    return identity;
  }

  return Refusal{"certificate " + id_short + " (" + certificate.subject_line() + ", issuer " + certificate.issuer_line() +
                 ") is not a registered identity"};
}

}  // namespace provision::plugin
