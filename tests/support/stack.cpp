#include "stack.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <sstream>

#include <stdexcept>
#include <thread>

#include "pki/authority.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::test {
namespace {

std::map<std::string, std::string> sanitizer_environment() {
  std::map<std::string, std::string> env;
#ifdef PROVISION_SANITIZER_RUNTIME
  // mosquitto is not built with a sanitizer: preload its runtime for our plugin.
  const std::string runtime = PROVISION_SANITIZER_RUNTIME;
  if (!runtime.empty()) env["LD_PRELOAD"] = runtime;
  if (runtime.find("libasan") != std::string::npos) env["ASAN_OPTIONS"] = "detect_leaks=0:quarantine_size_mb=16";  // a small quarantine: memory figures stay the product's
#endif
  return env;
}

// What a process has written to its output file so far ("" before it exists).
std::string said_so_far(const std::filesystem::path& output) {
  return std::filesystem::exists(output) ? read_file(output) : std::string();
}

// Starts a process and waits until its log holds one more `ready_text` line
// than before; throws when it exits first or takes too long.
std::unique_ptr<Process> start_and_wait(std::vector<std::string> argv, const std::filesystem::path& output,
                                        const std::map<std::string, std::string>& env, const std::filesystem::path& log,
                                        const std::string& ready_text, const char* what) {
  size_t before = count_text(log, ready_text);
  auto process = std::make_unique<Process>(std::move(argv), output, env);
  // Sanitizer builds start slowly.
  const auto patience = std::string(PROVISION_SANITIZER_RUNTIME).empty() ? std::chrono::seconds(15) : std::chrono::seconds(60);
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (count_text(log, ready_text) <= before) {
    if (!process->running() || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(std::string(what) + " did not start; see " + log.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return process;
}

}  // namespace

std::string provisiond_binary() { return PROVISIOND_BIN; }
std::string provision_device_binary() { return PROVISION_DEVICE_BIN; }

Stack::Stack(StackOptions options) : options_(options) {
  dir = std::filesystem::temp_directory_path() / ("provision-it-" + random_token(9));
  try {
    initialise(options);
  } catch (...) {
    std::filesystem::remove_all(dir);
    throw;
  }
  // A port can be taken between free_port() and mosquitto's bind: retry on
  // another (the deployment stays: a PostgreSQL registry holds it already).
  for (int attempt = 1;; ++attempt) {
    try {
      start_broker();
      break;
    } catch (const std::exception&) {
      broker_.reset();
      if (attempt == 3) {
        if (!getenv("PROVISION_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir);
        throw;
      }
      port = free_port();
      auto config = json::parse(read_file(config_file), "provisiond.json");
      config["mqtt"]["port"].SetInt(port);
      write_file(config_file, json::stringify(config), 0644);
      set_listener(port);
    }
  }
  if (!options.start_worker) return;
  try {
    start_worker();
  } catch (...) {
    // No destructor runs for a constructor that throws: leave nothing behind.
    if (broker_) broker_->stop(SIGTERM);
    broker_.reset();
    if (!getenv("PROVISION_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir);
    throw;
  }
}

Stack::~Stack() {
  if (worker_) worker_->stop(SIGTERM);
  if (broker_) broker_->stop(SIGTERM);
  if (!getenv("PROVISION_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir);
}

void Stack::initialise(const StackOptions& options) {
  port = free_port();
  admin_port = free_port();
  std::vector<std::string> argv{provisiond_binary(), "init", "--dir", dir.string(), "--mqtt-port", std::to_string(port),
                                "--admin-port", std::to_string(admin_port),
                                "--plugin", PROVISION_PLUGIN, "--workers", std::to_string(options.worker_threads)};
  if (!options.aws_topics) argv.push_back("--no-aws-topics");
  if (options.password_listener) {
    password_port = free_port();
    password_plain = options.password_listener_plain;
    argv.insert(argv.end(), {"--password-port", std::to_string(password_port)});
    if (password_plain) argv.push_back("--password-port-plain");
  }
  if (options.bootstrap_listener) {
    bootstrap_port = free_port();
    argv.insert(argv.end(), {"--bootstrap-port", std::to_string(bootstrap_port)});
  }
  if (!options.registry.empty()) argv.insert(argv.end(), {"--registry", options.registry});
  registry_location = options.registry.empty() ? (dir / "registry.db").string() : options.registry;
  std::string output;
  if (run_command(argv, output) != 0) throw std::runtime_error("provisiond init failed: " + output);
  pki = pki::DevelopmentPki(dir / "pki");
  admin_token = read_file(dir / "admin-token");
  while (!admin_token.empty() && (admin_token.back() == '\n' || admin_token.back() == '\r')) admin_token.pop_back();
  for (const auto& [name, value] : options.plugin_options) set_plugin_option(name, value);
  broker_log = dir / "mosquitto.log";
  worker_log = dir / "provisiond.log";
  config_file = dir / "provisiond.json";
  if (!options.bootstrap_settings.empty()) {
    std::string text = read_file(config_file);
    auto at = text.find("\"bootstrap\": {");
    if (at == std::string::npos) throw std::runtime_error("provisiond.json has no bootstrap object");
    at += std::string("\"bootstrap\": {").size();
    text.insert(at, options.bootstrap_settings + ",");
    write_file(config_file, text, 0644);
  }
}

void Stack::start_broker() {
  broker_ = start_and_wait({MOSQUITTO_BIN, "-c", (dir / "mosquitto.conf").string()}, dir / "mosquitto.out",
                           sanitizer_environment(), broker_log, " running", "mosquitto");
}

void Stack::stop_broker() {
  if (broker_) broker_->stop(SIGTERM);
  broker_.reset();
}

void Stack::signal_broker(int signal) {
  if (broker_) broker_->send(signal);
}

bool Stack::broker_running() { return broker_ && broker_->running(); }

pid_t Stack::broker_pid() const { return broker_ ? broker_->pid() : -1; }

pid_t Stack::worker_pid() const { return worker_ ? worker_->pid() : -1; }

bool Stack::worker_running() { return worker_ && worker_->running(); }

void Stack::start_worker() {
  // The admin port can be taken between free_port() and provisiond's bind
  // (tests run in parallel): then provisiond says so and exits; retry on another.
  for (int attempt = 1;; ++attempt) {
    auto said_before = said_so_far(dir / "provisiond.out").size();
    try {
      worker_ = start_and_wait({provisiond_binary(), "serve", "--config", config_file.string()}, dir / "provisiond.out",
                               options_.worker_environment, worker_log, "provisiond ready", "provisiond");
      return;
    } catch (const std::exception&) {
      bool port_taken = said_so_far(dir / "provisiond.out").find("cannot listen", said_before) != std::string::npos;
      if (attempt == 3 || !port_taken) throw;
      admin_port = free_port();
      auto config = json::parse(read_file(config_file), "provisiond.json");
      config["adminApi"]["port"].SetInt(admin_port);
      write_file(config_file, json::stringify(config), 0644);
    }
  }
}

int Stack::stop_worker() {
  int status = worker_ ? worker_->stop(SIGTERM) : -1;
  worker_.reset();
  return status;
}

mqtt_session::ConnectSettings Stack::claim(const std::string& client_id, mqtt_session::Protocol protocol) const {
  return client({pki.claim_cert.string(), pki.claim_key.string()}, client_id, protocol);
}

mqtt_session::ConnectSettings Stack::client(const CertificateFiles& files, const std::string& client_id,
                                           mqtt_session::Protocol protocol) const {
  mqtt_session::ConnectSettings s;
  s.endpoint = {"127.0.0.1", port};
  s.tls = {pki.root_cert.string(), files.certificate, files.key};
  s.client_id = client_id;
  s.protocol = protocol;
  s.timeout = std::chrono::seconds(5);
  return s;
}

mqtt_session::ConnectSettings Stack::password_client(const std::string& username, const std::string& password,
                                                    const std::string& client_id) const {
  mqtt_session::ConnectSettings s;
  s.endpoint = {"127.0.0.1", password_port};
  s.tls.ca_file = pki.root_cert.string();
  s.tls.plain = password_plain;
  s.client_id = client_id;
  s.username = username;
  s.password = password;
  s.timeout = std::chrono::seconds(5);
  return s;
}

registry::Registry Stack::registry() const { return registry::Registry::open(registry_location); }

CertificateFiles Stack::new_claim(const std::string& name, bool register_it, const std::vector<std::string>& allowed) {
  auto ca = pki::CertificateAuthority::load(pki.claim_ca_cert, pki.claim_ca_key);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", name}};
  auto cert = ca.issue(key.get(), options);
  CertificateFiles files{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string()};
  write_file(files.certificate, cert.to_pem(), 0644);
  write_file(files.key, key.to_pem(), 0600);
  if (register_it) {
    auto reg = registry();
    registry::ClaimCertificateRecord record;
    record.id = cert.id();
    record.pem = cert.to_pem();
    record.description = name;
    record.allowed_templates = allowed;
    reg.put_claim_certificate(record);
  }
  return files;
}

CertificateFiles Stack::foreign_certificate(const std::string& name) {
  auto root = pki::CertificateAuthority::create_root("Foreign Root " + name, 3600);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", name}};
  auto cert = root.issue(key.get(), options);
  CertificateFiles files{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string()};
  write_file(files.certificate, cert.to_pem() + root.certificate().to_pem(), 0644);
  write_file(files.key, key.to_pem(), 0600);
  return files;
}

namespace {
// Replaces the "<key> ..." line of a config file (or appends one).
void set_line(const std::filesystem::path& file, const std::string& key, const std::string& value) {
  std::string text = read_file(file), out, line;
  std::istringstream in(text);
  while (std::getline(in, line))
    if (!line.starts_with(key + " ")) out += line + "\n";
  out += key + " " + value + "\n";
  write_file(file, out, 0644);
}
}  // namespace

void Stack::set_listener(int new_port) {
  // In place: the TLS settings after the listener line are that listener's.
  std::string text = read_file(dir / "mosquitto.conf"), out, line;
  std::istringstream in(text);
  while (std::getline(in, line)) out += (line.starts_with("listener ") ? "listener " + std::to_string(new_port) + " 127.0.0.1" : line) + "\n";
  write_file(dir / "mosquitto.conf", out, 0644);
}

void Stack::set_plugin_option(const std::string& name, const std::string& value) {
  set_line(dir / "mosquitto.conf", "plugin_opt_" + name, value);
}

void Stack::set_reloadable_plugin_option(const std::string& name, const std::string& value) {
  set_line(dir / "provision-plugin.conf", name, value);
}

bool Stack::wait_trusted(const pki::Certificate& ca, std::chrono::milliseconds timeout, bool trusted) const {
  const std::string pem = ca.to_pem();
  auto holds = [&] {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(trust_dir(), ec))
      // The plugin writes each file as a .tmp and renames it: skip those (gone by the time they are read).
      if (const auto name = entry.path().filename().string(); name.starts_with(ca.subject_name_hash() + ".") && !name.ends_with(".tmp")) {
        std::ifstream in(entry.path());
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (text.find(pem) != std::string::npos) return true;
      }
    return false;
  };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (holds() != trusted) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string Stack::provisiond(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{provisiond_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config_file.string());
  std::string output;
  int code = run(argv, output);
  INFO(output);
  REQUIRE(code == 0);
  return output;
}

int Stack::run(const std::vector<std::string>& argv, std::string& output) const {
  return run_command(argv, output, std::chrono::seconds(60));
}

}  // namespace provision::test
