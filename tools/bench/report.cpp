#include "report.h"

#include <cstdio>
#include <initializer_list>
#include <optional>

#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace provision::bench {
namespace {

const rapidjson::Value* object_member(const rapidjson::Value& v, const char* name) {
  const rapidjson::Value* m = v.IsObject() ? json::member(v, name) : nullptr;
  return m && m->IsObject() ? m : nullptr;
}

std::optional<double> number(const rapidjson::Value* object, const char* name) {
  if (!object) return std::nullopt;
  const rapidjson::Value* m = json::member(*object, name);
  if (!m || !m->IsNumber()) return std::nullopt;
  return m->GetDouble();
}

std::string fixed(std::optional<double> value, int decimals) {
  if (!value) return "–";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, *value);
  return text;
}

// 1234567 -> "1,234,567"
std::string grouped(std::optional<double> value) {
  if (!value) return "–";
  std::string digits = std::to_string(static_cast<long long>(*value));
  std::string out;
  const size_t first = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out = digits.substr(0, first);
  for (size_t i = first; i < digits.size(); i += 3) out += "," + digits.substr(i, 3);
  return out;
}

std::string mib(std::optional<double> kib) { return kib ? fixed(*kib / 1024, 1) : "–"; }

std::string flow_label(const rapidjson::Value& phase) {
  std::string flow = json::string_member(phase, "flow").value_or("?");
  if (flow == "baseline") return "baseline (claim connect + device connect + 1 publish)";
  return "provisioning (" + flow + ")";
}

std::string phase_row(const rapidjson::Value& phase) {
  return "| " + flow_label(phase) + " | " + grouped(number(&phase, "flows")) + " | " + grouped(number(&phase, "failed")) +
         " | " + fixed(number(&phase, "wall_seconds"), 2) + " | " + fixed(number(&phase, "flows_per_second"), 1) + " |\n";
}

// Rows of the CPU table: each process, then all three together.
std::string cpu_rows(const rapidjson::Value& phase, std::optional<double> cpus) {
  const auto* seconds = object_member(phase, "cpu_seconds");
  const auto* per_flow = object_member(phase, "cpu_ms_per_flow");
  const auto* cores = object_member(phase, "cpu_cores_busy");
  const std::pair<const char*, const char*> processes[] = {
      {"broker", "broker (mosquitto + plugin)"}, {"provisiond", "provisiond"}, {"bench", "provision-bench (the devices)"}};
  std::string out;
  double total_seconds = 0, total_per_flow = 0, total_cores = 0;
  bool first = true;
  for (const auto& [key, label] : processes) {
    out += "| " + (first ? flow_label(phase) : std::string()) + " | " + label + " | " + fixed(number(seconds, key), 2) +
           " | " + fixed(number(per_flow, key), 2) + " | " + fixed(number(cores, key), 2) + " |\n";
    first = false;
    total_seconds += number(seconds, key).value_or(0);
    total_per_flow += number(per_flow, key).value_or(0);
    total_cores += number(cores, key).value_or(0);
  }
  out += "| | all three | " + fixed(total_seconds, 2) + " | " + fixed(total_per_flow, 2) + " | " + fixed(total_cores, 2) +
         (cpus ? " of " + fixed(cpus, 0) : std::string()) + " |\n";
  return out;
}

std::string latency_cells(const rapidjson::Value* phase, const std::string& step) {
  const rapidjson::Value* latency = phase ? object_member(*phase, "latency_ms") : nullptr;
  const rapidjson::Value* s = latency ? object_member(*latency, step.c_str()) : nullptr;
  return " " + fixed(number(s, "p50"), 1) + " | " + fixed(number(s, "p95"), 1) + " | " + fixed(number(s, "p99"), 1) + " |";
}

const char* const kSteps[] = {"claim connect",  "subscribe", "certificate request", "register thing",
                              "device connect", "publish",   "whole flow"};

std::string errors_rows(const rapidjson::Value& phase) {
  std::string out;
  const auto* errors = object_member(phase, "errors");
  if (!errors || errors->MemberCount() == 0) return "| " + flow_label(phase) + " | none | 0 |\n";
  for (const auto& e : errors->GetObject())
    out += "| " + flow_label(phase) + " | " + std::string(json::view(e.name)) + " | " + grouped(e.value.GetDouble()) + " |\n";
  return out;
}

std::string percent(double fraction) { return fixed(fraction * 100, 1) + " %"; }

// CPU ms per flow of the given processes ("broker", "provisiond", "bench").
std::optional<double> cpu_per_flow(const rapidjson::Value& phase, std::initializer_list<const char*> processes) {
  const auto* per_flow = object_member(phase, "cpu_ms_per_flow");
  double sum = 0;
  for (const char* process : processes) {
    auto ms = number(per_flow, process);
    if (!ms) return std::nullopt;
    sum += *ms;
  }
  return sum;
}

// What the CPU each flow costs allows the headline ratio to reach, whatever
// the waits: the rate ratio of two flows that keep the same resource equally
// busy is the inverse ratio of their cost on it. Three resources: both cores
// (all three processes), both cores with provisiond's CPU taken away (the
// most any worker could reach against this broker and these devices), and
// the broker's one thread, which alone bounds a flow whatever the cores.
std::string ceiling_rows(const rapidjson::Value& provisioning, const rapidjson::Value& baseline) {
  struct Ceiling {
    const char* label;
    std::initializer_list<const char*> processes;
  };
  const Ceiling ceilings[] = {
      {"both cores: CPU of broker, provisiond and devices per flow", {"broker", "provisiond", "bench"}},
      {"both cores, provisiond's CPU taken away", {"broker", "bench"}},
      {"the broker's thread: broker CPU per flow", {"broker"}},
  };
  std::string out;
  for (const auto& c : ceilings) {
    auto base = cpu_per_flow(baseline, c.processes), provisioning_cost = cpu_per_flow(provisioning, c.processes);
    if (!base || !provisioning_cost || *provisioning_cost <= 0) continue;
    out += std::string("| ") + c.label + " | " + fixed(*base, 2) + " | " + fixed(*provisioning_cost, 2) + " | " +
           percent(*base / *provisioning_cost) + " |\n";
  }
  if (out.empty()) return out;
  return "\n### What the CPU per flow allows the ratio to reach\n\n"
         "A flow that costs more of a resource that both flows keep equally busy runs slower in that proportion.\n\n"
         "| resource | baseline ms/flow | provisioning ms/flow | highest ratio it allows |\n|---|---:|---:|---:|\n" +
         out;
}

}  // namespace

std::string run_markdown(const rapidjson::Value& run) {
  const auto* provisioning = object_member(run, "provisioning");
  const auto* baseline = object_member(run, "baseline");
  std::string out;
  out += "### Provisioning rate: " + grouped(number(&run, "devices")) + " devices, concurrency " +
         grouped(number(&run, "concurrency")) + ", registry of " + grouped(number(&run, "registry_things")) +
         " things\n\n";
  out += "| flow | flows | failed | wall s | flows/s |\n";
  out += "|---|---:|---:|---:|---:|\n";
  if (provisioning) out += phase_row(*provisioning);
  if (baseline) out += phase_row(*baseline);
  if (auto ratio = number(&run, "rate_ratio")) {
    out += "\n**Headline: provisioning runs at " + percent(*ratio) + " of the baseline rate";
    if (*ratio > 0) out += " (one provisioning flow costs the time of " + fixed(1 / *ratio, 2) + " baseline flows)";
    out += ".**\n";
  }
  if (auto rounds = number(&run, "rounds"); rounds && *rounds > 1)
    out += "\nProvisioning and baseline flows alternated in " + grouped(rounds) +
           " rounds, so that changes in the machine's speed during the run weigh on both alike.\n";
  out += "\n### CPU during the timed flows\n\n";
  out += "Cores busy: CPU seconds per wall-clock second (1.00 = one CPU at 100 %).\n\n";
  out += "| flow | process | CPU s | CPU ms/flow | cores busy |\n|---|---|---:|---:|---:|\n";
  if (provisioning) out += cpu_rows(*provisioning, number(&run, "cpus"));
  if (baseline) out += cpu_rows(*baseline, number(&run, "cpus"));
  if (provisioning && baseline) out += ceiling_rows(*provisioning, *baseline);
  out += "\n### Latency per step (ms, successful flows)\n\n";
  out += "| step | provisioning p50 | p95 | p99 |";
  if (baseline) out += " baseline p50 | p95 | p99 |";
  out += "\n|---|---:|---:|---:|";
  if (baseline) out += "---:|---:|---:|";
  out += "\n";
  for (const char* step : kSteps) {
    out += std::string("| ") + step + " |" + latency_cells(provisioning, step);
    if (baseline) out += latency_cells(baseline, step);
    out += "\n";
  }

  out += "\n### Errors\n\n| flow | error | count |\n|---|---|---:|\n";
  if (provisioning) out += errors_rows(*provisioning);
  if (baseline) out += errors_rows(*baseline);

  const auto* memory = provisioning ? object_member(*provisioning, "memory_kb") : nullptr;
  out += "\n### Memory after the provisioning run\n\n| provisiond peak RSS (VmHWM) | broker RSS (VmRSS) |\n|---:|---:|\n";
  out += "| " + mib(number(memory, "provisiond_peak_rss_kb")) + " MiB | " + mib(number(memory, "broker_rss_kb")) + " MiB |\n";
  return out;
}

std::string scale_markdown(const rapidjson::Value& small_run, const rapidjson::Value& large_run) {
  const auto* small = object_member(small_run, "provisioning");
  const auto* large = object_member(large_run, "provisioning");
  if (!small || !large) throw Error("scale report: both runs need a provisioning phase");
  std::string out = "### Scale: the same benchmark on a pre-filled registry\n\n";
  out += "| registry things | flows | failed | flows/s | baseline flows/s | whole flow p50 | p95 | p99 ms | broker CPU ms/flow | provisiond CPU ms/flow | provisiond peak RSS |\n";
  out += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto* run : {&small_run, &large_run}) {
    const auto* phase = object_member(*run, "provisioning");
    const auto* cpu = object_member(*phase, "cpu_ms_per_flow");
    const auto* memory = object_member(*phase, "memory_kb");
    const auto* baseline = object_member(*run, "baseline");
    out += "| " + grouped(number(run, "registry_things")) + " | " + grouped(number(phase, "flows")) + " | " +
           grouped(number(phase, "failed")) + " | " + fixed(number(phase, "flows_per_second"), 1) + " | " +
           fixed(number(baseline, "flows_per_second"), 1) + " |" +
           latency_cells(phase, "whole flow") + " " + fixed(number(cpu, "broker"), 2) + " | " +
           fixed(number(cpu, "provisiond"), 2) + " | " + mib(number(memory, "provisiond_peak_rss_kb")) + " MiB |\n";
  }
  out += "\n| step | p50 small | p99 small | p50 large | p99 large |\n|---|---:|---:|---:|---:|\n";
  for (const char* step : kSteps) {
    const auto* s = object_member(*object_member(*small, "latency_ms"), step);
    const auto* l = object_member(*object_member(*large, "latency_ms"), step);
    out += std::string("| ") + step + " | " + fixed(number(s, "p50"), 1) + " | " + fixed(number(s, "p99"), 1) + " | " +
           fixed(number(l, "p50"), 1) + " | " + fixed(number(l, "p99"), 1) + " |\n";
  }
  const std::string large_things = grouped(number(&large_run, "registry_things")),
                    small_things = grouped(number(&small_run, "registry_things"));
  auto before = number(small, "flows_per_second"), after = number(large, "flows_per_second");
  if (before && after && *before > 0) {
    const double ratio = *after / *before;
    out += "\n**Rate with " + large_things + " things: " + percent(ratio) + " of the rate with " + small_things +
           " things (target: no lower than 90 %; " + (ratio >= 0.9 ? "met" : "NOT met") + ").**\n";
  }
  // The two runs are minutes apart, and a shared machine's speed changes in
  // minutes: each run's own baseline (the same handshakes against the same
  // registry, alternating with the provisioning flows) takes the machine's
  // speed out of the comparison.
  auto small_ratio = number(&small_run, "rate_ratio"), large_ratio = number(&large_run, "rate_ratio");
  if (small_ratio && large_ratio && *small_ratio > 0) {
    const double relative = *large_ratio / *small_ratio;
    out += "\n**Against each run's own baseline: provisioning at " + percent(*large_ratio) + " of the baseline rate with " +
           large_things + " things, " + percent(*small_ratio) + " with " + small_things + " things: " + percent(relative) +
           " of its relative rate kept (target: no lower than 90 %; " + (relative >= 0.9 ? "met" : "NOT met") +
           "). The baseline's device connects read the same registry.**\n";
  }
  return out;
}

std::string prefill_markdown(const rapidjson::Value& prefill) {
  std::string out = "### Registry pre-fill\n\n";
  out += "| things + ACTIVE certificates added | seconds | rows/s | registry things now | registry file |\n";
  out += "|---:|---:|---:|---:|---:|\n";
  out += "| " + grouped(number(&prefill, "added")) + " | " + fixed(number(&prefill, "seconds"), 1) + " | " +
         grouped(number(&prefill, "things_per_second")) + " | " + grouped(number(&prefill, "registry_things")) + " | " +
         mib(number(&prefill, "registry_kb")) + " MiB |\n";
  return out;
}

std::string hold_markdown(const rapidjson::Value& hold) {
  std::string out = "### Broker memory per connection\n\n";
  out += "| connections | requested | held | failed | broker RSS before | after | per connection |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|\n";
  const std::pair<const char*, const char*> kinds[] = {
      {"claim", "claim (mTLS; the plugin's per-connection claim state)"},
      {"device", "device (pre-issued certificates; the plugin compiles each one's policy)"}};
  for (const auto& [key, label] : kinds) {
    const auto* part = object_member(hold, key);
    if (!part) continue;
    out += std::string("| ") + label + " | " + grouped(number(part, "requested")) + " | " + grouped(number(part, "held")) +
           " | " + grouped(number(part, "failed")) + " | " + mib(number(part, "broker_rss_before_kb")) + " MiB | " +
           mib(number(part, "broker_rss_after_kb")) + " MiB | " + fixed(number(part, "kib_per_connection"), 1) +
           " KiB |\n";
  }
  if (auto note = json::string_member(hold, "limits")) out += "\n" + *note + "\n";
  out += "\nPer connection: the broker's resident memory (VmRSS) after minus before, divided by the connections held, "
         "measured 2 s after the last CONNACK; device connections are opened on top of the claim connections.\n";
  const auto* claim = object_member(hold, "claim");
  if (auto error = claim ? json::string_member(*claim, "first_error") : std::nullopt)
    out += "\nFirst failure: " + *error + "\n";
  return out;
}

void write_json_file(const std::filesystem::path& path, const rapidjson::Value& value) {
  write_file(path, json::pretty(value) + "\n", 0644);
}

rapidjson::Document read_json_file(const std::filesystem::path& path) {
  return json::parse(read_file(path), path.string());
}

}  // namespace provision::bench
