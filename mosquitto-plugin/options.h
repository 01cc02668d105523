#pragma once
// The plugin's settings, from `plugin_opt_<key> <value>` lines in
// mosquitto.conf.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace provision::plugin {

struct Options {
  std::string registry;                        // registry file (required)
  std::string internal_prefix = "_provision";  // internal topics between plugin and workers
  uint32_t max_payload = 16384;                // bytes, on provisioning request topics
  int64_t reply_timeout_ms = 15000;            // a request with no worker reply by then is rejected (503)
  int max_pending_per_client = 4;              // requests in flight per connection
  int max_pending_total = 10000;               // requests in flight in all
  bool aws_topics = true;                      // also serve $aws/certificates/... and $aws/provisioning-templates/...
  int64_t registry_poll_ms = 250;              // how often TICK looks for registry changes
};

// Parses key/value pairs; throws Error naming an unknown key or a bad value.
Options parse_options(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace provision::plugin
