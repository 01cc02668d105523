// bootstrap-bench: load on provisiond's device bootstrap listener, on
// loopback only. C clients (threads) each POST /device/info in a loop for a
// bounded number of requests (MACs from a range, enrolled or not), while one
// more thread samples GET /health; prints requests per second, latency
// percentiles and /health latency during the flood.
//   bootstrap-bench --port P [--clients 100] [--requests 20] [--mac-prefix AA:BB:CC] [--health-samples 50]
#include <CLI/CLI.hpp>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string mac(int n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "02:00:00:%02X:%02X:%02X", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  return buffer;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bootstrap-bench: load on the device bootstrap listener (loopback)"};
  int port = 0, clients = 100, requests = 20, health_samples = 50, enrolled = 0;
  app.add_option("--port", port, "the listener's port on 127.0.0.1")->required()->check(CLI::Range(1, 65535));
  app.add_option("--clients", clients, "concurrent clients")->check(CLI::Range(1, 1000));
  app.add_option("--requests", requests, "requests per client")->check(CLI::Range(1, 100000));
  app.add_option("--health-samples", health_samples, "GET /health samples during the flood")->check(CLI::Range(0, 10000));
  app.add_option("--enrolled", enrolled, "MACs 02:00:00:00:00:00.. that are enrolled (the rest are unknown)")->check(CLI::Range(0, 1 << 24));
  CLI11_PARSE(app, argc, argv);

  std::mutex mutex;
  std::vector<double> latencies;
  std::map<int, int> statuses;
  std::atomic<bool> done{false};
  std::vector<double> health;
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      std::vector<double> mine;
      std::map<int, int> seen;
      for (int r = 0; r < requests; ++r) {
        httplib::Client client("127.0.0.1", port);
        client.set_read_timeout(30, 0);
        const int n = (c * requests + r) % std::max(1, enrolled > 0 ? enrolled * 2 : 1 << 20);
        const std::string body = R"({"mac_address":")" + mac(n) + R"(","firmware_version":"1.0.0","hardware_version":"ESP32-S3"})";
        auto t0 = Clock::now();
        auto res = client.Post("/device/info", body, "application/json");
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        ++seen[res ? res->status : 0];
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      for (auto [s, k] : seen) statuses[s] += k;
    });
  std::thread sampler([&] {
    httplib::Client client("127.0.0.1", port);
    for (int i = 0; i < health_samples && !done; ++i) {
      auto t0 = Clock::now();
      auto res = client.Get("/health");
      if (res) health.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  done = true;
  sampler.join();

  std::printf("clients %d, requests %zu in %.2f s: %.1f requests/s\n", clients, latencies.size(), seconds,
              static_cast<double>(latencies.size()) / seconds);
  std::printf("latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", percentile(latencies, 50), percentile(latencies, 90),
              percentile(latencies, 99), percentile(latencies, 100));
  std::printf("statuses:");
  for (auto [s, k] : statuses) std::printf(" %d x%d", s, k);
  std::printf("\n/health during the flood (%zu samples) ms: p50 %.1f  p99 %.1f  max %.1f\n", health.size(), percentile(health, 50),
              percentile(health, 99), percentile(health, 100));
  return 0;
}
