#include "flow_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

namespace provision::bench {

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

  m.cpu_before = take_cpu_snapshot(processes);
  const auto start = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (size_t t = 0; t < std::max<size_t>(1, std::min(concurrency, count)); ++t) threads.emplace_back(worker);
  }
  m.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  m.cpu_after = take_cpu_snapshot(processes);
  if (processes.provisiond) m.provisiond_peak_rss_kb = process_memory_kb(*processes.provisiond, "VmHWM");
  if (processes.broker) m.broker_rss_kb = process_memory_kb(*processes.broker, "VmRSS");
  return m;
}

}  // namespace provision::bench
