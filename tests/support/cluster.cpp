#include "cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::test {
namespace {

StackOptions on(PostgresServer& server, std::string& uri, std::vector<std::pair<std::string, std::string>> plugin_options) {
  uri = server.create_database("cluster_" + random_token(8));
  StackOptions options;
  options.plugin_options = std::move(plugin_options);
  options.registry = uri;
  options.start_worker = false;
  return options;
}

// `text` with every line starting with `key ` replaced by `key value`.
std::string with_line(const std::string& text, const std::string& key, const std::string& value) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += (line.starts_with(key + " ") ? key + " " + value : line) + "\n";
  return out;
}

std::unique_ptr<Process> start_until(std::vector<std::string> argv, const std::filesystem::path& output,
                                     const std::map<std::string, std::string>& env, const std::filesystem::path& log,
                                     const std::string& ready_text, const std::string& what) {
  size_t before = count_text(log, ready_text);
  auto process = std::make_unique<Process>(std::move(argv), output, env);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count_text(log, ready_text) <= before) {
    if (!process->running() || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(what + " did not start; see " + log.string() + " and " + output.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return process;
}

std::map<std::string, std::string> broker_environment() {
  std::map<std::string, std::string> env;
  const std::string runtime = PROVISION_SANITIZER_RUNTIME;
  if (!runtime.empty()) env["LD_PRELOAD"] = runtime;
  if (runtime.find("libasan") != std::string::npos) env["ASAN_OPTIONS"] = "detect_leaks=0:quarantine_size_mb=16";  // a small quarantine: memory figures stay the product's
  return env;
}

}  // namespace

std::string haproxy_binary() { return HAPROXY_BIN; }

Cluster::Cluster(PostgresServer& server, std::vector<std::pair<std::string, std::string>> plugin_options)
    : stack(on(server, registry_uri, std::move(plugin_options))) {
  const auto& dir = stack.dir;
  broker_ports[0] = stack.port;
  broker_logs[0] = stack.broker_log;
  // Broker B: A's configuration on another port, with its own log and trust directory.
  broker_ports[1] = free_port();
  broker_logs[1] = dir / "mosquitto-b.log";
  std::string conf = read_file(dir / "mosquitto.conf");
  conf = with_line(conf, "listener", std::to_string(broker_ports[1]) + " 127.0.0.1");
  conf = with_line(conf, "log_dest", "file " + broker_logs[1].string());
  conf = with_line(conf, "capath", (dir / "trust-b").string());
  conf = with_line(conf, "plugin_opt_trust_dir", (dir / "trust-b").string());
  write_file(dir / "mosquitto-b.conf", conf, 0644);
  start_broker(1);

  // Two workers, each linked to both brokers, each with its own admin API and log.
  auto base = json::parse(read_file(stack.config_file), "provisiond.json");
  for (int i = 0; i < 2; ++i) {
    rapidjson::Document c;
    c.CopyFrom(base, c.GetAllocator());
    auto& a = c.GetAllocator();
    rapidjson::Value brokers(rapidjson::kArrayType);
    for (int b = 0; b < 2; ++b) {
      rapidjson::Value broker(rapidjson::kObjectType);
      broker.AddMember("host", "127.0.0.1", a);
      broker.AddMember("port", broker_ports[b], a);
      brokers.PushBack(broker, a);
    }
    c["mqtt"].RemoveMember("host");
    c["mqtt"].RemoveMember("port");
    c["mqtt"].AddMember("brokers", brokers, a);
    admin_ports[i] = i == 0 ? stack.admin_port : free_port();
    c["adminApi"]["port"].SetInt(admin_ports[i]);
    worker_logs[i] = dir / ("provisiond-" + std::to_string(i + 1) + ".log");
    c["logFile"].SetString(worker_logs[i].string().c_str(), a);
    worker_configs[i] = dir / ("provisiond-" + std::to_string(i + 1) + ".json");
    write_file(worker_configs[i], json::stringify(c), 0644);
    start_worker(i);
  }

  // haproxy: TCP, round robin over A and B, a broker that stops answering
  // taken out within a fifth of a second.
  balancer_port = free_port();
  balancer_log = dir / "haproxy.out";
  std::string cfg =
      "global\n  maxconn 4096\n"
      "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 60s\n  timeout server 60s\n  retries 2\n  option redispatch\n"
      "frontend mqtt\n  bind 127.0.0.1:" + std::to_string(balancer_port) + "\n  default_backend brokers\n"
      "backend brokers\n  balance roundrobin\n"
      "  server a 127.0.0.1:" + std::to_string(broker_ports[0]) + " check inter 200ms fall 1 rise 1\n"
      "  server b 127.0.0.1:" + std::to_string(broker_ports[1]) + " check inter 200ms fall 1 rise 1\n";
  write_file(dir / "haproxy.cfg", cfg, 0644);
  balancer_ = std::make_unique<Process>(std::vector<std::string>{haproxy_binary(), "-db", "-f", (dir / "haproxy.cfg").string()},
                                        balancer_log);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::string out;
    // haproxy is listening once a TCP connect succeeds.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(balancer_port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (up) break;
    if (!balancer_->running() || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("haproxy did not start; see " + balancer_log.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stack.port = balancer_port;
}

Cluster::~Cluster() {
  if (balancer_) balancer_->stop(SIGTERM);
  for (auto& w : workers_)
    if (w) w->stop(SIGTERM);
  for (int i = 1; i < 2; ++i)
    if (brokers_[i]) brokers_[i]->stop(SIGTERM);
  // Broker A is the Stack's own.
  brokers_[0].reset();
}

void Cluster::start_broker(int i) {
  if (i == 0) {
    stack.start_broker();
    return;
  }
  brokers_[1] = start_until({MOSQUITTO_BIN, "-c", (stack.dir / "mosquitto-b.conf").string()}, stack.dir / "mosquitto-b.out",
                            broker_environment(), broker_logs[1], " running", "mosquitto B");
}

void Cluster::kill_broker(int i) {
  if (i == 0) {
    stack.signal_broker(SIGKILL);
    stack.stop_broker();
    return;
  }
  if (brokers_[1]) brokers_[1]->stop(SIGKILL);
  brokers_[1].reset();
}

bool Cluster::broker_running(int i) { return i == 0 ? stack.broker_running() : brokers_[1] && brokers_[1]->running(); }

pid_t Cluster::broker_pid(int i) const { return i == 1 && brokers_[1] ? brokers_[1]->pid() : -1; }

void Cluster::start_worker(int i) {
  workers_[i] = start_until({provisiond_binary(), "serve", "--config", worker_configs[i].string()},
                            stack.dir / ("provisiond-" + std::to_string(i + 1) + ".out"), {}, worker_logs[i],
                            "provisiond ready", "provisiond " + std::to_string(i + 1));
}

void Cluster::kill_worker(int i) {
  if (workers_[i]) workers_[i]->stop(SIGKILL);
  workers_[i].reset();
}

bool Cluster::worker_running(int i) { return workers_[i] && workers_[i]->running(); }

mqtt_session::ConnectSettings Cluster::direct(int i, const CertificateFiles& files, const std::string& client_id) const {
  auto settings = stack.client(files, client_id);
  settings.endpoint.port = broker_ports[i];
  return settings;
}

int Cluster::broker_of(const std::string& client_id) const {
  const std::string text = "client '" + client_id + "'";
  for (int i = 0; i < 2; ++i)
    if (count_text(broker_logs[i], text) > 0) return i;
  return -1;
}

}  // namespace provision::test
