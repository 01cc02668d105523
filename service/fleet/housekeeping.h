#pragma once
// Housekeeping: what nobody will ever use is removed, renewed certificates
// past their grace period are retired. `provisiond serve` runs it every
// minute; `provisiond janitor` at once.
#include <string>
#include <vector>

#include "registry/registry.h"

namespace provision::service::fleet {

struct Housekeeping {
  int64_t tokens = 0;                     // expired ownership tokens deleted
  std::vector<std::string> certificates;  // certificates never registered, deleted
  std::vector<std::string> retired;       // renewed certificates past their grace period, set INACTIVE
  int64_t access_log = 0;                 // bootstrap access log rows past their retention, deleted
  int64_t signatures = 0;                 // signed bootstrap requests' signatures that can no longer be fresh, deleted
  bool ran = true;                        // false: another worker had run it
};
inline constexpr int64_t kDefaultAccessLogRetentionSeconds = 30 * 24 * 3600;
// Expired ownership tokens, certificates never registered within the token
// lifetime, renewed certificates whose grace period is over, the change log
// older than a day, the bootstrap access log older than its retention. One transaction, audited (actor "system").
// With `every_seconds`, it runs only if no worker sharing the registry ran
// it within that time (nothing is done otherwise: Housekeeping::ran false).
Housekeeping housekeep(registry::Registry& registry, int64_t now, int64_t token_ttl_seconds, int64_t every_seconds = 0,
                       int64_t access_log_retention_seconds = kDefaultAccessLogRetentionSeconds);
std::string describe(const Housekeeping& done);

}  // namespace provision::service::fleet
