#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace provision::bench {
namespace {

// Nearest rank: the smallest sample with at least p of the samples at or below it.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

LatencySummary summarise(std::vector<double>& samples_ms) {
  LatencySummary s;
  s.count = samples_ms.size();
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.p50 = percentile(samples_ms, 0.50);
  s.p95 = percentile(samples_ms, 0.95);
  s.p99 = percentile(samples_ms, 0.99);
  s.max = samples_ms.back();
  s.mean = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / static_cast<double>(samples_ms.size());
  return s;
}

}  // namespace provision::bench
