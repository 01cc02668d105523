#pragma once
// The plugin's settings, from `plugin_opt_<key> <value>` lines in
// mosquitto.conf.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/rate_limits.h"

namespace provision::plugin {

struct Options {
  std::string registry;                        // registry file (required)
  // A file of more options ("name value" lines, # comments) read at start
  // and again on SIGHUP: Mosquitto 2.0 hands plugins no options on reload,
  // so options meant to change at run time go here.
  std::string options_file;
  std::string internal_prefix = "_provision";  // internal topics between plugin and workers
  // The broker's capath, kept from the registry's active CAs (empty: the
  // plugin writes no trust directory). See trust_dir.h.
  std::string trust_dir;
  uint32_t max_payload = 16384;                // bytes, on provisioning request topics
  int64_t reply_timeout_ms = 15000;            // a request with no worker reply by then is rejected (503)
  int max_pending_per_client = 4;              // requests in flight per connection
  int max_pending_total = 10000;               // requests in flight in all
  bool aws_topics = true;                      // also serve $aws/certificates/... and $aws/provisioning-templates/...
  int64_t registry_poll_ms = 250;              // how often TICK looks for registry changes
  bool client_id_must_be_thing_name = false;   // devices must connect with their thing name as client id
  // Clients without a certificate may sign in as password devices (thing
  // name, secret; client id = device uuid). They can only reach a listener
  // without require_certificate: the one the operator made for them.
  bool password_devices = false;
  // Token buckets (0 = no limit). Connects over the limit are refused; requests
  // over the limit get a 429 Throttled rejected reply.
  Rate connect_rate_per_claim, connect_rate_per_address;
  Rate request_rate_per_claim, request_rate_per_address;
  // Rejections the plugin answers itself, without a worker (429 Throttled
  // over a limit, 503 ServiceUnavailable with no worker or too much pending),
  // per connection. They cost a client nothing to provoke, and Mosquitto
  // 2.0.11 never frees a message the plugin addresses to one client that it
  // drops because that client's queue is full (src/loop.c, single_publish):
  // a client that floods requests and never reads its replies would grow the
  // broker without bound. A connection past this rate is disconnected (on
  // the next TICK) and answered nothing more meanwhile. 0: no limit.
  Rate rejection_rate_per_client{10, 100};
};

using OptionPairs = std::vector<std::pair<std::string, std::string>>;

// A rate option's value ("20/40", "20" or "0"); throws Error naming
// plugin_opt_<key> otherwise.
Rate parse_rate(const std::string& key, const std::string& text);

// Parses key/value pairs, then the options_file if one is named (its lines
// override); throws Error naming an unknown key, a bad value or the file.
Options parse_options(const OptionPairs& pairs);
// The "name value" lines of an options file (a "plugin_opt_" prefix is allowed).
OptionPairs read_options_file(const std::string& path);

}  // namespace provision::plugin
