#pragma once
// Runs many flows with a fixed concurrency: K threads, each running flows one
// after another until all N are done, and measures what the stack's
// processes spent meanwhile. A phase may be run in rounds (interleaved with
// another phase, so that both see the same machine) and added up.
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
  CpuSnapshot cpu_used;                         // CPU seconds spent during the flows
  std::optional<long> provisiond_peak_rss_kb;  // VmHWM after the phase
  std::optional<long> broker_rss_kb;           // VmRSS after the phase
};

// Calls flow(i) once for every i in [0, count), on `concurrency` threads. An
// exception from a flow counts as that flow's failure.
PhaseMeasurement run_phase(size_t count, size_t concurrency, const StackProcesses& processes,
                           const std::function<FlowResult(size_t)>& flow);

// Adds a round to a phase: flows, wall time and CPU add up; memory is the latest.
void add_round(PhaseMeasurement& phase, PhaseMeasurement&& round);

}  // namespace provision::bench
