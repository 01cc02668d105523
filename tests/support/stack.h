#pragma once
// A whole provisioning stack for one integration test: a fresh directory with
// the development PKI and registry (made by `provisiond init`, as a user
// would), a real mosquitto with the plugin on a free loopback port, and a
// real provisiond. Everything is stopped and removed when the Stack goes away.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mqtt_session/session.h"
#include "pki/certificate.h"
#include "pki/development_pki.h"
#include "process.h"
#include "registry/registry.h"

namespace provision::test {

struct StackOptions {
  bool start_worker = true;
  bool aws_topics = true;
  int worker_threads = 2;  // two MQTT links: the tests see requests spread over both (the default is one)
  // More `plugin_opt_<name> <value>` lines for mosquitto.conf.
  std::vector<std::pair<std::string, std::string>> plugin_options;
  // The registry: empty for the stack's own SQLite file, or a postgresql://
  // URI of an empty database (see postgres.h).
  std::string registry;
  // More environment for provisiond (e.g. PROVISION_KILL_AT, util/fault.h).
  std::map<std::string, std::string> worker_environment;
  // A broker listener for password devices (password_port), TLS or plain.
  bool password_listener = false;
  bool password_listener_plain = false;
  // provisiond's bootstrap listener (bootstrap_port); bootstrap_settings are
  // merged into provisiond.json's "bootstrap" object (JSON members, e.g. "\"responseFloorMs\":0").
  bool bootstrap_listener = false;
  std::string bootstrap_settings;
};

struct CertificateFiles {
  std::string certificate, key;
};

class Stack {
 public:
  explicit Stack(StackOptions options = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Connection settings for a claim client, or any client with given files.
  mqtt_session::ConnectSettings claim(const std::string& client_id,
                                     mqtt_session::Protocol protocol = mqtt_session::Protocol::V5) const;
  mqtt_session::ConnectSettings client(const CertificateFiles& files, const std::string& client_id,
                                      mqtt_session::Protocol protocol = mqtt_session::Protocol::V5) const;
  // A password device on the password listener (StackOptions::password_listener).
  mqtt_session::ConnectSettings password_client(const std::string& username, const std::string& password,
                                               const std::string& client_id) const;

  // A read-write registry connection for set-up and assertions.
  registry::Registry registry() const;

  void start_broker();
  void stop_broker();
  void start_worker();
  // Stops provisiond (SIGTERM); returns its exit status as a shell shows it
  // (128 + signal when a signal ended it, also one before this call), -1 when none ran.
  int stop_worker();
  // provisiond's environment from its next start on.
  void set_worker_environment(std::map<std::string, std::string> environment) {
    options_.worker_environment = std::move(environment);
  }
  // Sends a signal to the broker (e.g. SIGHUP to reload its configuration).
  void signal_broker(int signal);
  bool broker_running();
  // The broker's process id (-1 when it is not started).
  pid_t broker_pid() const;
  // provisiond's process id (-1 when it is not started), and whether it still runs.
  pid_t worker_pid() const;
  bool worker_running();

  // A new claim certificate signed by the development claim CA (so it is a
  // claim through the CA), written under the stack directory. When
  // `register_it`, it is also registered with `allowed_templates`.
  CertificateFiles new_claim(const std::string& name, bool register_it = false,
                             const std::vector<std::string>& allowed_templates = {});
  // A certificate from a CA the broker has never heard of.
  CertificateFiles foreign_certificate(const std::string& name);

  // Whether the broker's trust directory (its capath, kept by the plugin)
  // holds `ca`, waiting up to `timeout` for it to (or, with false, to stop).
  // The plugin has reloaded its CAs by the time it writes the directory.
  bool wait_trusted(const pki::Certificate& ca, std::chrono::milliseconds timeout, bool trusted = true) const;
  std::filesystem::path trust_dir() const { return dir / "trust"; }

  // Runs a command-line tool of the project; returns its exit status.
  int run(const std::vector<std::string>& argv, std::string& output) const;
  // Runs `provisiond <args...> --config <this stack's config>`; REQUIREs success, returns its output.
  std::string provisiond(const std::vector<std::string>& args) const;
  // Moves the broker's listener to `port` (mosquitto.conf, read at start).
  void set_listener(int port);
  // Sets a plugin option in mosquitto.conf (read at start), replacing any
  // line with the same name.
  void set_plugin_option(const std::string& name, const std::string& value);
  // Sets an option in the plugin's options file (read again on SIGHUP).
  void set_reloadable_plugin_option(const std::string& name, const std::string& value);

  std::filesystem::path dir;
  int port = 0;
  int admin_port = 0;       // the admin API on 127.0.0.1
  int password_port = 0;    // the password devices' listener (0: none)
  int bootstrap_port = 0;   // provisiond's bootstrap listener (0: none)
  bool password_plain = false;
  std::string admin_token;  // the bootstrap admin token
  pki::DevelopmentPki pki{"."};
  std::filesystem::path broker_log, worker_log, config_file;
  std::string registry_location;  // the SQLite file or the PostgreSQL URI

 private:
  void initialise(const StackOptions& options);
  StackOptions options_;
  std::unique_ptr<Process> broker_, worker_;
};

// Paths of the binaries under test (from the build).
std::string provisiond_binary();
std::string provision_device_binary();

// Whether memory bounds are checked in this build. Under a sanitizer (ASan's
// redzones and quarantine, TSan's shadow memory and its runtime preloaded
// into the broker) RSS says nothing of the product's memory: the figures are
// printed, the bounds checked in the normal build.
inline bool memory_checked() { return std::string(PROVISION_SANITIZER_RUNTIME).empty(); }

}  // namespace provision::test
