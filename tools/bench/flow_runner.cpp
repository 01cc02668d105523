#include "flow_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

namespace provision::bench {
namespace {

std::optional<double> difference(const std::optional<double>& before, const std::optional<double>& after) {
  if (!before || !after) return std::nullopt;
  return *after - *before;
}

std::optional<double> sum(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a) return b;
  if (!b) return a;
  return *a + *b;
}

}  // namespace

PhaseMeasurement run_phase(size_t count, size_t concurrency, const StackProcesses& processes,
                           const std::function<FlowResult(size_t)>& flow) {
  PhaseMeasurement m;
  m.flows.resize(count);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < count; i = next++) {
      try {
        m.flows[i] = flow(i);
      } catch (const std::exception& e) {
        m.flows[i].ok = false;
        m.flows[i].error = std::string("exception: ") + e.what();
      }
    }
  };

  const CpuSnapshot before = take_cpu_snapshot(processes);
  const auto start = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (size_t t = 0; t < std::max<size_t>(1, std::min(concurrency, count)); ++t) threads.emplace_back(worker);
  }
  m.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const CpuSnapshot after = take_cpu_snapshot(processes);
  m.cpu_used = {difference(before.broker, after.broker), difference(before.provisiond, after.provisiond),
                after.bench - before.bench};
  if (processes.provisiond) m.provisiond_peak_rss_kb = process_memory_kb(*processes.provisiond, "VmHWM");
  if (processes.broker) m.broker_rss_kb = process_memory_kb(*processes.broker, "VmRSS");
  return m;
}

void add_round(PhaseMeasurement& phase, PhaseMeasurement&& round) {
  for (auto& flow : round.flows) phase.flows.push_back(std::move(flow));
  phase.wall_seconds += round.wall_seconds;
  phase.cpu_used = {sum(phase.cpu_used.broker, round.cpu_used.broker),
                    sum(phase.cpu_used.provisiond, round.cpu_used.provisiond), phase.cpu_used.bench + round.cpu_used.bench};
  if (round.provisiond_peak_rss_kb) phase.provisiond_peak_rss_kb = round.provisiond_peak_rss_kb;
  if (round.broker_rss_kb) phase.broker_rss_kb = round.broker_rss_kb;
}

}  // namespace provision::bench
