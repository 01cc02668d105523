#include "phase_summary.h"

#include <map>
#include <optional>

#include "stats.h"
#include "util/json.h"

namespace provision::bench {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

rapidjson::Value latency_object(const LatencySummary& s, Allocator& a) {
  rapidjson::Value v(rapidjson::kObjectType);
  v.AddMember("count", static_cast<uint64_t>(s.count), a);
  v.AddMember("p50", s.p50, a);
  v.AddMember("p95", s.p95, a);
  v.AddMember("p99", s.p99, a);
  v.AddMember("mean", s.mean, a);
  v.AddMember("max", s.max, a);
  return v;
}

void add_number(rapidjson::Value& object, const char* name, const std::optional<double>& value, Allocator& a) {
  if (value) object.AddMember(rapidjson::StringRef(name), *value, a);
}

}  // namespace

rapidjson::Value summarise_phase(const PhaseMeasurement& m, const std::string& flow, size_t concurrency, Allocator& a) {
  size_t succeeded = 0;
  std::map<std::string, uint64_t> errors;
  std::array<std::vector<double>, kStepCount> samples;
  for (const auto& f : m.flows) {
    if (f.ok) ++succeeded;
    else ++errors[f.error];
    // Latencies of successful flows only: a timeout is an error, not a latency.
    if (!f.ok) continue;
    for (size_t s = 0; s < kStepCount; ++s)
      if (f.step_ms[s]) samples[s].push_back(*f.step_ms[s]);
  }

  rapidjson::Value v(rapidjson::kObjectType);
  v.AddMember("flow", json::string_value(flow, a), a);
  v.AddMember("flows", static_cast<uint64_t>(m.flows.size()), a);
  v.AddMember("succeeded", static_cast<uint64_t>(succeeded), a);
  v.AddMember("failed", static_cast<uint64_t>(m.flows.size() - succeeded), a);
  v.AddMember("concurrency", static_cast<uint64_t>(concurrency), a);
  v.AddMember("wall_seconds", m.wall_seconds, a);
  const double rate = m.wall_seconds > 0 ? static_cast<double>(succeeded) / m.wall_seconds : 0;
  v.AddMember("flows_per_second", rate, a);

  rapidjson::Value latency(rapidjson::kObjectType);
  for (size_t s = 0; s < kStepCount; ++s) {
    if (samples[s].empty()) continue;
    latency.AddMember(json::string_value(step_name(static_cast<Step>(s)), a), latency_object(summarise(samples[s]), a), a);
  }
  v.AddMember("latency_ms", latency, a);

  rapidjson::Value error_counts(rapidjson::kObjectType);
  for (const auto& [error, count] : errors) error_counts.AddMember(json::string_value(error, a), rapidjson::Value(count), a);
  v.AddMember("errors", error_counts, a);

  const std::optional<double> cpu[] = {m.cpu_used.broker, m.cpu_used.provisiond, m.cpu_used.bench};
  const char* names[] = {"broker", "provisiond", "bench"};
  rapidjson::Value seconds(rapidjson::kObjectType), per_flow(rapidjson::kObjectType), cores(rapidjson::kObjectType);
  for (size_t i = 0; i < 3; ++i) {
    add_number(seconds, names[i], cpu[i], a);
    if (cpu[i] && !m.flows.empty()) add_number(per_flow, names[i], *cpu[i] * 1000 / static_cast<double>(m.flows.size()), a);
    if (cpu[i] && m.wall_seconds > 0) add_number(cores, names[i], *cpu[i] / m.wall_seconds, a);
  }
  v.AddMember("cpu_seconds", seconds, a);
  v.AddMember("cpu_ms_per_flow", per_flow, a);
  v.AddMember("cpu_cores_busy", cores, a);  // CPU seconds per wall second: 1.0 is one core at 100 %

  rapidjson::Value memory(rapidjson::kObjectType);
  if (m.provisiond_peak_rss_kb) memory.AddMember("provisiond_peak_rss_kb", static_cast<int64_t>(*m.provisiond_peak_rss_kb), a);
  if (m.broker_rss_kb) memory.AddMember("broker_rss_kb", static_cast<int64_t>(*m.broker_rss_kb), a);
  v.AddMember("memory_kb", memory, a);
  return v;
}

}  // namespace provision::bench
