#include "fleet/claims.h"

#include "config.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "util/clock.h"
#include "util/random.h"
#include "util/text.h"

namespace provision::service::fleet {
namespace {

constexpr int64_t kDay = 24 * 3600;

registry::ClaimCertificateRecord existing(registry::Registry& registry, const std::string& id) {
  auto c = registry.find_claim_certificate(id);
  if (!c) not_found("claim certificate " + text::quote(id));
  return *c;
}

}  // namespace

std::vector<std::string> existing_templates(registry::Registry& registry, const std::vector<std::string>& names,
                                            const std::string& field) {
  for (size_t i = 0; i < names.size(); ++i)
    if (!registry.find_template(names[i])) invalid_field(field + "[" + std::to_string(i) + "]", "no template " + names[i]);
  return names;
}

CreatedClaim create_claim(registry::Registry& registry, const Context& context, const ClaimRequest& request) {
  const int64_t now = unix_now();
  CreatedClaim created;
  auto& record = created.record;
  record.description = request.description;
  record.allowed_templates = existing_templates(registry, request.templates);
  record.expires_at = request.expires_at;
  record.created_at = now;
  if (request.certificate_pem) {
    auto certificate = [&] {
      try {
        return pki::Certificate::from_pem(*request.certificate_pem);
      } catch (const Error& e) {
        invalid_field("certificatePem", e.what());
      }
    }();
    record.id = certificate.id();
    record.pem = certificate.to_pem();
  } else {
    if (!context.config || context.config->claim_ca_certificate.empty())
      throw RequestError(409, "NoClaimCa",
                         "no claim CA is configured (claimCa in provisiond.json); register an existing claim certificate with certificatePem");
    auto ca = pki::CertificateAuthority::load(context.config->claim_ca_certificate, context.config->claim_ca_key);
    const int64_t validity = request.validity_seconds.value_or(365 * kDay);
    auto key = pki::PrivateKey::generate_ec("P-256");
    pki::IssueOptions options;
    options.subject = {{"CN", "claim-" + random_token(9)}, {"O", "fleet provisioning claim"}};
    options.validity_seconds = validity;
    auto certificate = ca.issue(key.get(), options);
    record.id = certificate.id();
    record.pem = certificate.to_pem();
    // A short-lived claim (a trusted user's installer app) also expires in the registry.
    if (!record.expires_at && validity < kDay) record.expires_at = now + validity;
    created.private_key = key.to_pem();
  }
  auto tx = registry.begin();
  if (registry.find_claim_certificate(record.id)) conflict("claim certificate " + text::quote(record.id) + " is already registered");
  registry.put_claim_certificate(record);
  audit(registry, context.actor, created.private_key ? action::kCreateClaim : action::kRegisterClaim, record.id,
        detail({{"description", record.description}}));
  tx.commit();
  return created;
}

registry::ClaimCertificateRecord update_claim(registry::Registry& registry, const Context& context, const std::string& id,
                                              const ClaimChange& change) {
  if (change.status && *change.status != registry::kActive && *change.status != registry::kInactive)
    invalid_field("status", "must be ACTIVE or INACTIVE");
  auto tx = registry.begin();
  auto c = existing(registry, id);
  const std::string before = c.status;
  if (change.description) c.description = *change.description;
  if (change.status) c.status = *change.status;
  if (change.templates) c.allowed_templates = existing_templates(registry, *change.templates);
  if (change.expires_at) c.expires_at = *change.expires_at;
  registry.put_claim_certificate(c);
  std::vector<std::pair<std::string, std::string>> fields;
  if (change.description) fields.emplace_back("description", c.description);
  if (change.status) fields.emplace_back("status", before + " -> " + c.status);
  if (change.templates) fields.emplace_back("templates", std::to_string(c.allowed_templates.size()));
  if (change.expires_at) fields.emplace_back("expiresAt", c.expires_at ? std::to_string(*c.expires_at) : "none");
  audit(registry, context.actor, action::kUpdateClaim, c.id, detail(fields));
  tx.commit();
  return c;
}

void delete_claim(registry::Registry& registry, const Context& context, const std::string& id) {
  auto tx = registry.begin();
  if (!registry.delete_claim_certificate(id)) not_found("claim certificate " + text::quote(id));
  audit(registry, context.actor, action::kDeleteClaim, id);
  tx.commit();
}

}  // namespace provision::service::fleet
