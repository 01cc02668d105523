// `provisiond serve`: the worker (MQTT side), the admin API, and the
// housekeeping that runs every minute, until SIGINT or SIGTERM.
#include "serve.h"

#include <sys/resource.h>

#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "admin/server.h"
#include "bootstrap/server.h"
#include "fleet/housekeeping.h"
#include "config.h"
#include "mqtt_worker.h"
#include "pki/authority.h"
#include "provisioning/provisioning_service.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::service {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

void setup_logging(const ServiceConfig& config) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  std::vector<spdlog::sink_ptr> sinks{console};
  if (!config.log_file.empty()) {
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.log_file.string()));
    console->set_level(spdlog::level::warn);  // the file has everything; the console what needs a person
  }
  auto logger = std::make_shared<spdlog::logger>("provisiond", sinks.begin(), sinks.end());
  // One line per request: flushing each would cost two write(2)s per request.
  logger->flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

void housekeeping_pass(const ServiceConfig& config) {
  try {
    auto registry = registry::Registry::open(config.registry);
    // Every minute across the workers sharing the registry, whichever runs it.
    auto done = fleet::housekeep(registry, unix_now(), config.ownership_token_ttl_seconds, 55,
                                 config.bootstrap.access_log_retention_days * 24 * 3600);
    if (done.tokens || !done.certificates.empty() || !done.retired.empty()) spdlog::info("janitor: {}", fleet::describe(done));
  } catch (const std::exception& e) {
    spdlog::error("janitor: {}", e.what());
  }
}

// The request connection leaves WAL checkpoints to this thread (see
// Registry::checkpoint), so that no request waits on one. Each checkpoint
// syncs the WAL and the database file (two fdatasyncs) and copies the pages
// written since the last one. Ten checkpoints a second, whatever the load,
// made about twenty fsyncs a second under load; now a passive checkpoint runs
// once the WAL holds 1,000 frames (4 MiB, SQLite's own threshold) or has held
// new frames for a second: half the fsyncs at 200 devices a second, none
// when idle (provisiond's CPU per device did not move measurably). Past 4,096
// frames (a reader kept the passive ones from finishing) a restart waits up
// to 20 ms for the requests in flight, so that the WAL starts over and stays
// short.
class Checkpoints {
 public:
  Checkpoints(const ServiceConfig& config, const std::atomic<int>& wal_frames) : config_(config), wal_frames_(wal_frames) {}

  // Called ten times a second. (A registry on PostgreSQL keeps its own write-ahead log.)
  void pass() {
    if (registry::is_database_uri(config_.registry.string())) return;
    constexpr int kPassiveFrames = 1000, kRestartFrames = 4096;  // of 4 KiB pages
    const int frames = wal_frames_.load(std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (frames == frames_at_last_ || (frames < kPassiveFrames && now - last_ < std::chrono::seconds(1))) return;
    try {
      if (!connection_) {
        registry::OpenOptions options;
        options.busy_timeout_ms = 20;  // a restart waits this long for the requests in flight
        connection_ = std::make_unique<registry::Registry>(registry::Registry::open(config_.registry, options));
      }
      if (connection_->checkpoint() > kRestartFrames) connection_->checkpoint(true);
      frames_at_last_ = frames;
      last_ = now;
    } catch (const std::exception& e) {
      connection_.reset();
      spdlog::warn("checkpoint: {}", e.what());
    }
  }

 private:
  const ServiceConfig& config_;
  const std::atomic<int>& wal_frames_;
  std::unique_ptr<registry::Registry> connection_;
  int frames_at_last_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

int serve(const std::string& config_file) {
  // glibc gives a thread arena's free top back to the kernel as soon as it
  // passes 128 KiB (munmap/madvise, and TLB shootdowns across every worker
  // thread); requests free that much all the time. Keep up to 64 MiB per
  // arena: 15 % less CPU per provisioned device, peak RSS unchanged.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Each HTTP connection is a descriptor (the listeners hold thousands of
  // slow or idle ones, docs/reliability.md): the soft limit up to the hard one.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  auto config = load_config(config_file);
  setup_logging(config);
  auto ca = pki::CertificateAuthority::load(config.fleet_ca_certificate, config.fleet_ca_key);
  { auto migrate = registry::Registry::open(config.registry); }  // create or migrate before the workers start
  ProvisioningSettings settings{config.certificate_validity_days * 24 * 3600, config.ownership_token_ttl_seconds,
                                config.renewal_grace_seconds};
  ProvisioningService provisioning(std::move(ca), settings);

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  // A write to a peer that went away (an exec hook that exits before reading
  // its stdin, an admin client that hung up) must fail with EPIPE, not end
  // the process. Paho's C library ignores SIGPIPE too, but only once it runs.
  signal(SIGPIPE, SIG_IGN);
  std::atomic<int> wal_frames{0};  // after the request connection's last commit
  std::thread housekeeping([&] {
    auto next = std::chrono::steady_clock::now();
    Checkpoints checkpoints(config, wal_frames);
    while (!g_stop) {
      if (std::chrono::steady_clock::now() >= next) {
        housekeeping_pass(config);
        next = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      }
      checkpoints.pass();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // When starting fails below (the admin port is taken, say), the error must
  // reach main's one-line message, not std::terminate on a joinable thread.
  struct StopsHousekeeping {
    std::thread& thread;
    ~StopsHousekeeping() {
      g_stop = true;
      if (thread.joinable()) thread.join();
    }
  } stops_housekeeping{housekeeping};
  MqttWorker worker(config, provisioning, wal_frames);
  std::unique_ptr<AdminServer> admin;
  if (config.admin_port) {
    AdminSettings admin_settings;
    admin_settings.listen = config.admin_listen;
    admin_settings.port = config.admin_port;
    admin_settings.tls_certificate = config.admin_tls_certificate;
    admin_settings.tls_key = config.admin_tls_key;
    admin = std::make_unique<AdminServer>(admin_settings, config, config_file, provisioning,
                                          [&worker] { return worker.connected(); });
    admin->start();
  }
  std::unique_ptr<BootstrapServer> bootstrap_listener;
  if (config.bootstrap.port) {
    bootstrap_listener = std::make_unique<BootstrapServer>(config, provisioning, [&worker] { return worker.connected(); });
    bootstrap_listener->start();
  }
  spdlog::info("provisiond starting: broker {}:{}, registry {}, {} worker threads", config.mqtt_host, config.mqtt_port,
               registry::display_location(config.registry.string()), config.worker_threads);
  worker.run(g_stop, [] {
    spdlog::info("provisiond ready");
    spdlog::default_logger()->flush();  // scripts and tests wait for this line
  });
  if (bootstrap_listener) bootstrap_listener->stop();
  if (admin) admin->stop();
  spdlog::info("provisiond stopped");
  return 0;
}

}  // namespace provision::service
