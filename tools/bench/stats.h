#pragma once
// Latency distributions: percentiles by the nearest-rank method over every
// sample (no sampling, no histogram buckets).
#include <cstddef>
#include <vector>

namespace provision::bench {

struct LatencySummary {
  size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, mean = 0, max = 0;  // milliseconds
};

// Sorts `samples_ms` in place.
LatencySummary summarise(std::vector<double>& samples_ms);

}  // namespace provision::bench
