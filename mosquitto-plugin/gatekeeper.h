#pragma once
// The plugin's decisions, with no broker in sight: who may connect, what each
// connection may touch, where each provisioning message goes. plugin.cpp
// feeds it broker events and carries out the Actions it returns; unit tests
// call it directly.
#include <openssl/x509.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "acl.h"
#include "actions.h"
#include "identity.h"
#include "options.h"
#include "routing.h"

namespace provision::plugin {

using Logger = std::function<void(LogLevel, const std::string&)>;

struct ClientInfo {
  const void* key = nullptr;  // the broker's struct mosquitto*, used only as an identity
  std::string client_id;
  std::string address;
};

struct AuthResult {
  bool allowed = false;
  std::string username;  // set on the client when allowed
};

class Gatekeeper {
 public:
  Gatekeeper(Options options, Logger logger);
  ~Gatekeeper();

  // MOSQ_EVT_BASIC_AUTH. `certificate` is borrowed (may be null: refused).
  AuthResult authenticate(const ClientInfo& client, X509* certificate, int64_t now_s);
  // MOSQ_EVT_ACL_CHECK.
  bool check_acl(const void* key, const AclRequest& request);
  // MOSQ_EVT_MESSAGE, after the broker's ACL check passed. Requests are
  // forwarded to the workers and worker replies delivered to devices.
  void on_message(const void* key, std::string_view topic, std::string_view payload, int qos,
                  const UserProperties& properties, int64_t now_ms, Actions& out);
  // MOSQ_EVT_TICK.
  void on_tick(int64_t now_ms, Actions& out);
  // MOSQ_EVT_DISCONNECT (may come twice, or for clients never authenticated).
  void on_disconnect(const void* key);

  const Options& options() const { return options_; }
  size_t connection_count() const { return connections_.size(); }
  size_t pending_requests() const { return router_.pending(); }

 private:
  struct Connection {
    Identity identity;
    std::string client_id;
    std::string address;
    int in_flight = 0;
    // Cached decisions for devices: policy evaluation happens once per
    // (access, topic) on a connection.
    std::unordered_map<std::string, bool> decisions[4];
  };

  registry::Registry* registry();  // opens lazily; nullptr (logged) when unavailable
  void log(LogLevel level, const std::string& message) const { if (logger_) logger_(level, message); }

  Options options_;
  Logger logger_;
  protocol::InternalTopics internal_;
  std::optional<registry::Registry> registry_;
  std::unique_ptr<IdentityResolver> resolver_;
  int64_t registry_version_ = -1;
  bool registry_failing_ = false;
  int64_t next_registry_poll_ms_ = 0;
  std::unordered_map<const void*, Connection> connections_;
  std::unordered_map<std::string, const void*> by_client_id_;
  Router router_;
};

}  // namespace provision::plugin
