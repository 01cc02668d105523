#pragma once
// The plugin's decisions, with no broker in sight: who may connect, what each
// connection may touch, where each provisioning message goes, and who must
// be cut off when the registry changes. plugin.cpp feeds it broker events and
// carries out the Actions it returns; unit tests call it directly.
#include <openssl/x509.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "acl.h"
#include "actions.h"
#include "decision_cache.h"
#include "identity.h"
#include "util/rate_limits.h"
#include "options.h"
#include "routing.h"
#include "trust_dir.h"

namespace provision::plugin {

using Logger = std::function<void(LogLevel, const std::string&)>;

struct ClientInfo {
  const void* key = nullptr;  // the broker's struct mosquitto*, used only as an identity
  std::string client_id;
  std::string address;
};

// What a client without a certificate sent in CONNECT (password devices); a
// certificate client's username is never trusted.
struct PasswordLogin {
  std::string username;
  std::string password;
};

struct AuthResult {
  bool allowed = false;
  std::string username;  // set on the client when allowed
};

class Gatekeeper {
 public:
  Gatekeeper(Options options, Logger logger);
  ~Gatekeeper();

  // MOSQ_EVT_BASIC_AUTH. `certificate` is borrowed (may be null: refused,
  // unless options.password_devices: then a password device by username
  // and password).
  // now_s is wall-clock time (certificate validity), now_ms a monotonic clock
  // (rate limits).
  AuthResult authenticate(const ClientInfo& client, X509* certificate, int64_t now_s, int64_t now_ms = 0,
                          const PasswordLogin& login = {});
  // MOSQ_EVT_ACL_CHECK.
  bool check_acl(const void* key, const AclRequest& request);
  // MOSQ_EVT_MESSAGE, after the broker's ACL check passed. Requests are
  // forwarded to the workers and worker replies delivered to devices.
  void on_message(const void* key, std::string_view topic, std::string_view payload, int qos,
                  const UserProperties& properties, int64_t now_ms, Actions& out);
  // MOSQ_EVT_TICK: reply timeouts, registry changes (clients that lost their
  // right to be here are put in out.kicks), queued events for the workers.
  void on_tick(int64_t now_ms, Actions& out, int64_t now_s = 0);
  // MOSQ_EVT_DISCONNECT (may come twice, or for clients never authenticated).
  // When the last worker goes away, the requests pending on it are answered
  // (503) in `out`; the overload without `out` sends them on the next TICK.
  void on_disconnect(const void* key, Actions& out);
  void on_disconnect(const void* key);
  // MOSQ_EVT_RELOAD: options that can change at run time take effect.
  void reconfigure(Options options);

  const Options& options() const { return options_; }
  size_t connection_count() const { return connections_.size(); }
  size_t pending_requests() const { return router_.pending(); }
  // Service connections subscribed to the workers' request topic.
  int linked_workers() const { return linked_workers_; }

 private:
  struct Connection {
    Identity identity;
    std::string client_id;
    std::string address;
    int in_flight = 0;
    bool cut_off = false;  // lost its right to be here; kicked on TICK, denied everything until then
    // Service: its subscriptions that take the workers' requests; a worker
    // is linked (requests can reach it) while it holds one.
    std::vector<std::string> request_filters;
    // Rejections the plugin answered itself (Options::rejection_rate_per_client).
    TokenBucket rejections;
    // Cached decisions for devices: policy evaluation happens once per
    // (access, topic) on a connection; cleared when its identity is refreshed.
    DecisionCache decisions;
  };

  registry::Registry* registry();  // opens lazily; nullptr (logged once) when unavailable
  void close_registry(const std::string& why);
  // Writes the trust directory from the registry's active CAs (trust_dir
  // option); a failure is logged once and retried at every registry poll.
  void sync_trust_directory();
  void apply_registry_changes(int64_t now_s, Actions& out);
  // Which connections a batch of changes concerns.
  void note_changes(const std::vector<registry::Change>& changes, std::unordered_set<const void*>& affected,
                    bool& all_devices, bool& all_provisioning);
  void refresh(const void* key, Connection& connection, int64_t now_s, Actions& out);
  // By certificate and thing: follow the connection's identity (re-checks and refreshes change it).
  void index(const void* key, const Connection& connection);
  void unindex(const void* key, const Connection& connection);
  // By client id: the newest connection with a client id owns it, from sign-in to disconnect.
  void take_client_id(const void* key, const Connection& connection);
  void release_client_id(const void* key, const Connection& connection);
  // A worker's subscription to the requests came or went (ACL check).
  void note_request_subscription(Connection& connection, std::string_view filter, bool subscribed);
  // The connection takes no requests any more; the last worker's going
  // answers every pending request in `out`.
  void unlink_worker(Connection& connection, Actions& out);
  void worker_left(const Connection& connection, Actions& out);  // one linked worker fewer
  void forward_request(const void* key, Connection& c, const protocol::RequestTopic& request, std::string_view payload,
                       int qos, int64_t now_ms, Actions& out);
  void log(LogLevel level, const std::string& message) const {
    if (logger_) logger_(level, message);
  }

  Options options_;
  Logger logger_;
  protocol::InternalTopics internal_;
  std::optional<registry::Registry> registry_;
  std::unique_ptr<IdentityResolver> resolver_;
  std::optional<TrustDirectory> trust_;
  bool trust_stale_ = false;   // the trust directory must be written again (registry opened, a CA changed, or it failed)
  std::string trust_failure_;  // the last failure, logged once
  ino_t registry_inode_ = 0;
  int64_t registry_version_ = -1;
  int64_t last_change_id_ = 0;
  bool registry_failing_ = false;
  std::chrono::steady_clock::time_point next_open_attempt_{};  // a database server: at most one attempt a second
  int64_t next_registry_poll_ms_ = 0;
  std::unordered_map<const void*, Connection> connections_;
  // Indexes; their keys view the connection's own strings (no copies: the
  // broker keeps one entry per client).
  std::unordered_map<std::string_view, const void*> by_client_id_;
  std::unordered_multimap<std::string_view, const void*> by_certificate_;  // certificate id -> connections
  std::unordered_multimap<std::string_view, const void*> by_thing_;        // thing name -> device connections
  // Sent on the next TICK: events for the workers, and answers decided
  // where nothing can be sent (an ACL check, a reconnect on the same object).
  std::vector<OutgoingMessage> queued_;
  // Connections cut off outside a TICK, kicked on the next one (by client
  // id: only while that connection still holds it).
  std::vector<const void*> kicks_due_;
  int linked_workers_ = 0;
  RateLimiter connects_per_claim_, connects_per_address_, requests_per_claim_, requests_per_address_;
  Router router_;
};

}  // namespace provision::plugin
