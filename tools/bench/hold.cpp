#include "hold.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>

#include "connection_holder.h"
#include "pki/certificate.h"
#include "pre_issued_devices.h"
#include "process_metrics.h"
#include "report.h"
#include "stack.h"
#include "util/error.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::bench {
namespace {

constexpr long kDescriptorMargin = 64;  // for everything else a process has open
constexpr auto kSettle = std::chrono::seconds(2);

struct Limits {
  long bench_soft = 0, bench_hard = 0;
  int per_client = 3;
  size_t per_process = 0;  // connections one holder process can take
  std::optional<long> broker_limit, broker_open;
  size_t broker_room = 0;  // connections the broker can still accept
};

Limits find_limits(const StackSettings& stack, pid_t broker) {
  Limits l;
  l.bench_soft = raise_open_files_limit();  // children inherit it
  l.bench_hard = open_files_hard_limit();
  l.per_client = std::max(1, descriptors_per_client(*stack.claim));
  const long own = static_cast<long>(process_open_files(getpid()).value_or(16));
  l.per_process = static_cast<size_t>(std::max(0L, (l.bench_soft - own - kDescriptorMargin) / l.per_client));
  l.broker_limit = process_open_files_limit(broker);
  l.broker_open = process_open_files(broker);
  l.broker_room = l.broker_limit && l.broker_open
                      ? static_cast<size_t>(std::max(0L, *l.broker_limit - *l.broker_open - kDescriptorMargin))
                      : SIZE_MAX;
  return l;
}

long broker_rss_kb(pid_t broker) {
  auto rss = process_memory_kb(broker, "VmRSS");
  if (!rss) throw Error("cannot read the broker's VmRSS (pid " + std::to_string(broker) + ")");
  return *rss;
}

// Opens `specs` in as many holder processes as the descriptor limit needs,
// waits until they are open, and measures the broker around it. The holders
// stay in `holders` (connections open) until the caller releases them.
rapidjson::Value hold_part(const std::vector<ConnectionSpec>& specs, size_t requested, const StackSettings& stack,
                           pid_t broker, const Limits& limits, std::chrono::seconds timeout,
                           std::vector<std::unique_ptr<ConnectionHolder>>& holders,
                           rapidjson::Document::AllocatorType& a) {
  std::this_thread::sleep_for(kSettle);
  const long before = broker_rss_kb(broker);
  const auto start = Clock::now();
  std::vector<ConnectionHolder*> mine;
  const size_t per_process = std::max<size_t>(1, limits.per_process);
  for (size_t first = 0; first < specs.size(); first += per_process) {
    std::vector<ConnectionSpec> slice(specs.begin() + static_cast<long>(first),
                                      specs.begin() + static_cast<long>(std::min(specs.size(), first + per_process)));
    holders.push_back(std::make_unique<ConnectionHolder>(slice, stack.broker, timeout));
    mine.push_back(holders.back().get());
  }
  HoldReport total;
  const auto deadline = Clock::now() + timeout + std::chrono::seconds(10);
  for (auto* holder : mine) {
    HoldReport r = holder->wait_until_open(deadline);
    total.held += r.held;
    total.failed += r.failed;
    if (total.first_error.empty()) total.first_error = r.first_error;
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(kSettle);
  const long after = broker_rss_kb(broker);

  rapidjson::Value v(rapidjson::kObjectType);
  v.AddMember("requested", static_cast<uint64_t>(requested), a);
  v.AddMember("attempted", static_cast<uint64_t>(specs.size()), a);
  v.AddMember("held", static_cast<uint64_t>(total.held), a);
  v.AddMember("failed", static_cast<uint64_t>(total.failed), a);
  v.AddMember("holder_processes", static_cast<uint64_t>(mine.size()), a);
  v.AddMember("open_seconds", open_seconds, a);
  v.AddMember("broker_rss_before_kb", static_cast<int64_t>(before), a);
  v.AddMember("broker_rss_after_kb", static_cast<int64_t>(after), a);
  if (total.held > 0)
    v.AddMember("kib_per_connection", static_cast<double>(after - before) / static_cast<double>(total.held), a);
  if (!total.first_error.empty()) v.AddMember("first_error", json::string_value(total.first_error, a), a);
  return v;
}

std::string limits_note(const Limits& l, size_t claims, size_t requested, pid_t broker) {
  std::string note = "Limits: provision-bench open files " + std::to_string(l.bench_soft) + " (soft, raised to the hard limit " +
                     std::to_string(l.bench_hard) + "); libmosquitto takes " + std::to_string(l.per_client) +
                     " descriptors per client, so one process holds at most " + std::to_string(l.per_process) +
                     " connections; the connections were spread over holder processes accordingly. Broker (pid " +
                     std::to_string(broker) + "): open files limit " +
                     (l.broker_limit ? std::to_string(*l.broker_limit) : "unknown") + ", " +
                     (l.broker_open ? std::to_string(*l.broker_open) : "?") + " in use before.";
  if (claims < requested)
    note += " Only " + std::to_string(claims) + " of the " + std::to_string(requested) +
            " requested claim connections fit within the broker's open-files limit.";
  return note;
}

}  // namespace

int hold_connections(const HoldOptions& options) {
  const StackSettings stack = load_stack(options.stack);
  const auto broker = options.broker_pid ? options.broker_pid : find_process((stack.dir / "mosquitto.conf").string());
  if (!broker) throw Error("broker process not found (use --broker-pid)");
  const Limits limits = find_limits(stack, *broker);

  const size_t claims = std::min(options.connections, limits.broker_room);
  const auto devices = load_pre_issued_devices(stack);
  size_t device_count = std::min(options.device_connections.value_or(devices.size()), devices.size());
  device_count = std::min(device_count, limits.broker_room - claims);

  const std::string tag = random_token(4);
  std::vector<ConnectionSpec> claim_specs, device_specs;
  for (size_t i = 0; i < claims; ++i) claim_specs.push_back({"hold-" + tag + "-" + std::to_string(i), stack.claim});
  for (size_t i = 0; i < device_count; ++i)
    device_specs.push_back({devices[i].thing_name,
                            std::make_shared<const TlsContext>(
                                *stack.trust, pki::Certificate::from_pem(devices[i].certificate_pem), *devices[i].key)});

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("kind", "hold", a);
  std::vector<std::unique_ptr<ConnectionHolder>> holders;
  std::cerr << "provision-bench: holding " << claims << " claim connections" << std::endl;
  doc.AddMember("claim", hold_part(claim_specs, options.connections, stack, *broker, limits, options.timeout, holders, a), a);
  if (device_count > 0) {
    // Added on top of the claims (still connected): memory freed by closed
    // connections would otherwise be reused and hide the cost.
    std::cerr << "provision-bench: holding " << device_count << " device connections" << std::endl;
    doc.AddMember("device", hold_part(device_specs, options.device_connections.value_or(devices.size()), stack,
                                      *broker, limits, options.timeout, holders, a),
                  a);
  }
  doc.AddMember("limits", json::string_value(limits_note(limits, claims, options.connections, *broker), a), a);
  for (auto& holder : holders) holder->release();

  std::cout << hold_markdown(doc) << std::flush;
  if (!options.json_file.empty()) write_json_file(options.json_file, doc);
  return 0;
}

}  // namespace provision::bench
