#include "fleet/housekeeping.h"

namespace provision::service::fleet {

Housekeeping housekeep(registry::Registry& registry, int64_t now, int64_t token_ttl_seconds, int64_t every_seconds,
                       int64_t access_log_retention_seconds) {
  Housekeeping done;
  auto tx = registry.begin();
  if (every_seconds > 0 && !registry.claim_task("housekeeping", now, every_seconds)) {
    done.ran = false;
    return done;  // rolled back: nothing written
  }
  done.tokens = registry.delete_expired_tokens(now);
  done.certificates = registry.delete_pending_certificates_before(now - token_ttl_seconds);
  for (const auto& id : done.certificates) registry.audit({0, now, "system", "RemoveUnregisteredCertificate", id, "ok", "", "{}"});
  done.retired = registry.certificates_due_for_retirement(now);
  for (const auto& id : done.retired) {
    registry.set_certificate_status(id, registry::kInactive);
    registry.audit({0, now, "system", "RetireRenewedCertificate", id, "ok", "", "{\"reason\":\"grace period over\"}"});
  }
  registry.delete_changes_before(now - 24 * 3600);
  done.access_log = registry.delete_bootstrap_access_before((now - access_log_retention_seconds) * 1000);  // the plugin reads changes within a second
  done.signatures = registry.delete_bootstrap_signatures_before(now);
  tx.commit();
  return done;
}

std::string describe(const Housekeeping& done) {
  return "removed " + std::to_string(done.tokens) + " expired ownership tokens and " +
         std::to_string(done.certificates.size()) + " unregistered certificates; retired " +
         std::to_string(done.retired.size()) + " renewed certificates; pruned " +
         std::to_string(done.access_log) + " bootstrap access log entries and " + std::to_string(done.signatures) +
         " expired bootstrap signatures";
}

}  // namespace provision::service::fleet
