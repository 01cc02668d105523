#include "run_command.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "flow_runner.h"
#include "phase_summary.h"
#include "pre_issued_devices.h"
#include "registry/registry.h"
#include "report.h"
#include "stack.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::bench {
namespace {

StackProcesses find_stack_processes(const RunOptions& options, const StackSettings& stack) {
  StackProcesses p;
  p.broker = options.broker_pid ? options.broker_pid : find_process((stack.dir / "mosquitto.conf").string());
  p.provisiond = options.provisiond_pid ? options.provisiond_pid : find_process((stack.dir / "provisiond.json").string());
  if (!p.broker) std::cerr << "provision-bench: broker process not found; its CPU is left out (use --broker-pid)\n";
  if (!p.provisiond) std::cerr << "provision-bench: provisiond not found; its CPU is left out (use --provisiond-pid)\n";
  return p;
}

int64_t registry_things(const StackSettings& stack) {
  auto registry = registry::Registry::open_read_only(stack.registry, 5000);
  return registry.count_things();
}

void report_progress(const std::string& what) { std::cerr << "provision-bench: " << what << std::endl; }

}  // namespace

int run_benchmark(const RunOptions& options) {
  const StackSettings stack = load_stack(options.stack);
  const StackProcesses processes = find_stack_processes(options, stack);
  FlowSettings settings{stack, options.keygen, options.step_timeout, random_token(6)};
  const size_t warmup = options.warmup.value_or(options.concurrency);
  const std::string operation = options.keygen ? "CreateKeysAndCertificate" : "CreateCertificateFromCsr";

  std::vector<PreIssuedDevice> devices;
  if (options.baseline) {
    report_progress("pre-issuing " + std::to_string(options.devices + warmup) + " device certificates for the baseline");
    devices = ensure_pre_issued_devices(stack, options.devices + warmup);
    ::sync();  // their files' write-back must not overlap the timed flows
  }

  report_progress("preparing " + std::to_string(options.devices + warmup) + " devices' keys" +
                  (options.keygen ? "" : " and CSRs"));
  const std::vector<PreparedDevice> prepared = prepare_devices(settings, options.devices + warmup);

  rapidjson::Document run(rapidjson::kObjectType);
  auto& a = run.GetAllocator();
  run.AddMember("kind", "run", a);
  run.AddMember("stack", json::string_value(stack.dir.string(), a), a);
  run.AddMember("devices", static_cast<uint64_t>(options.devices), a);
  run.AddMember("concurrency", static_cast<uint64_t>(options.concurrency), a);
  run.AddMember("operation", json::string_value(operation, a), a);
  run.AddMember("registry_things", registry_things(stack), a);
  run.AddMember("cpus", static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN)), a);

  // Warm-up flows (TLS session caches, SQLite pages, allocator) are not counted.
  if (warmup > 0) {
    report_progress("warm-up: " + std::to_string(warmup) + " flows");
    run_phase(warmup, options.concurrency, processes,
              [&](size_t i) { return run_provisioning_flow(settings, prepared[options.devices + i], options.devices + i); });
    if (options.baseline)
      run_phase(warmup, options.concurrency, processes,
                [&](size_t i) { return run_baseline_flow(settings, devices[options.devices + i], options.devices + i); });
  }

  // With the baseline, the two alternate in rounds, so that a machine that
  // gets slower or faster during the run weighs on both alike.
  const size_t rounds = options.baseline ? std::clamp<size_t>(options.rounds, 1, options.devices) : 1;
  run.AddMember("rounds", static_cast<uint64_t>(rounds), a);
  PhaseMeasurement provisioning, baseline;
  for (size_t r = 0; r < rounds; ++r) {
    const size_t first = r * options.devices / rounds, count = (r + 1) * options.devices / rounds - first;
    report_progress("round " + std::to_string(r + 1) + "/" + std::to_string(rounds) + ": " + std::to_string(count) +
                    " provisioning flows, concurrency " + std::to_string(options.concurrency) +
                    (options.baseline ? ", then as many baseline flows" : ""));
    add_round(provisioning, run_phase(count, options.concurrency, processes,
                                      [&](size_t i) { return run_provisioning_flow(settings, prepared[first + i], first + i); }));
    if (options.baseline)
      add_round(baseline, run_phase(count, options.concurrency, processes,
                                    [&](size_t i) { return run_baseline_flow(settings, devices[first + i], first + i); }));
  }
  run.AddMember("provisioning", summarise_phase(provisioning, operation, options.concurrency, a), a);
  if (options.baseline) {
    run.AddMember("baseline", summarise_phase(baseline, "baseline", options.concurrency, a), a);
    const double base_rate = run["baseline"]["flows_per_second"].GetDouble();
    if (base_rate > 0) run.AddMember("rate_ratio", run["provisioning"]["flows_per_second"].GetDouble() / base_rate, a);
  }

  std::cout << run_markdown(run) << std::flush;
  if (!options.json_file.empty()) write_json_file(options.json_file, run);
  return 0;
}

}  // namespace provision::bench
