#pragma once
// Runs many flows with a fixed concurrency: K threads, each running flows one
// after another until all N are done, and measures what the stack's
// processes spent meanwhile.
#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "flows.h"
#include "process_metrics.h"

namespace provision::bench {

struct PhaseMeasurement {
  std::vector<FlowResult> flows;
  double wall_seconds = 0;
  CpuSnapshot cpu_before, cpu_after;
  std::optional<long> provisiond_peak_rss_kb;  // VmHWM after the phase
  std::optional<long> broker_rss_kb;           // VmRSS after the phase
};

// Calls flow(i) once for every i in [0, count), on `concurrency` threads. An
// exception from a flow counts as that flow's failure.
PhaseMeasurement run_phase(size_t count, size_t concurrency, const StackProcesses& processes,
                           const std::function<FlowResult(size_t)>& flow);

}  // namespace provision::bench
