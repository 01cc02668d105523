// provision-bench: the provisioning benchmark. Against a running stack
// (`scripts/demo --serve DIR`, or scripts/bench, which runs everything):
//
//   provision-bench run --stack DIR [--devices N] [--concurrency K] [--keygen] [--baseline] [--json FILE]
//       N full provisioning flows, K at a time; with --baseline also N flows
//       of what no provisioning system can avoid, and the ratio of the rates
//   provision-bench prefill --registry FILE | --stack DIR [--things N]
//       N things with ACTIVE certificates straight into the registry (provisiond stopped)
//   provision-bench hold --stack DIR [--connections N]
//       N claim connections (and the pre-issued devices): broker memory per connection
//   provision-bench report --run FILE [--scale FILE] [--hold FILE] [--prefill FILE]
//       the Markdown tables of earlier --json files
//
// Tables go to stdout as Markdown, progress to stderr.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "hold.h"
#include "prefill.h"
#include "report.h"
#include "run_command.h"

using namespace provision::bench;

namespace {

struct ReportOptions {
  std::filesystem::path run, scale, hold, prefill;
};

// All or nothing: a file that cannot be reported on leaves stdout empty.
int print_report(const ReportOptions& o) {
  auto run = read_json_file(o.run);
  std::string out = run_markdown(run);
  if (!o.prefill.empty()) out += "\n" + prefill_markdown(read_json_file(o.prefill));
  if (!o.scale.empty()) out += "\n" + scale_markdown(run, read_json_file(o.scale));
  if (!o.hold.empty()) out += "\n" + hold_markdown(read_json_file(o.hold));
  std::cout << out;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"provision-bench: the fleet provisioning benchmark (Markdown tables on stdout)"};
  app.require_subcommand(1);

  RunOptions run;
  int step_timeout_ms = 20000;
  pid_t broker_pid = 0, provisiond_pid = 0;
  size_t warmup = 0;
  auto* run_cmd = app.add_subcommand("run", "provision N devices with concurrency K through the full flow");
  run_cmd->add_option("--stack", run.stack, "stack directory (stack.env, provisiond.json)")->required();
  run_cmd->add_option("--devices", run.devices, "flows to time")->capture_default_str()->check(CLI::PositiveNumber);
  run_cmd->add_option("--concurrency", run.concurrency, "flows in flight")->capture_default_str()->check(CLI::PositiveNumber);
  auto* warmup_opt = run_cmd->add_option("--warmup", warmup, "untimed flows first (default: the concurrency)");
  run_cmd->add_flag("--keygen", run.keygen, "CreateKeysAndCertificate instead of CreateCertificateFromCsr");
  run_cmd->add_flag("--baseline", run.baseline, "also time the baseline flow and report the ratio");
  run_cmd->add_option("--rounds", run.rounds, "with --baseline: alternate the two in this many rounds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* broker_opt = run_cmd->add_option("--broker-pid", broker_pid, "broker pid (default: found by DIR/mosquitto.conf)");
  auto* provisiond_opt =
      run_cmd->add_option("--provisiond-pid", provisiond_pid, "provisiond pid (default: found by DIR/provisiond.json)");
  run_cmd->add_option("--step-timeout-ms", step_timeout_ms, "deadline of each step")->capture_default_str();
  run_cmd->add_option("--json", run.json_file, "also write every figure to this JSON file");

  PrefillOptions prefill;
  auto* prefill_cmd = app.add_subcommand("prefill", "insert many things and certificates into a registry, fast");
  auto* registry_opt = prefill_cmd->add_option("--registry", prefill.registry, "registry file");
  auto* prefill_stack = prefill_cmd->add_option("--stack", prefill.stack, "stack directory (registry and fleet CA)");
  registry_opt->excludes(prefill_stack);
  prefill_cmd->add_option("--things", prefill.things, "things to add")->capture_default_str();
  prefill_cmd->add_option("--batch", prefill.batch, "rows per transaction")->capture_default_str();
  prefill_cmd->add_option("--json", prefill.json_file, "also write the figures to this JSON file");

  HoldOptions hold;
  size_t device_connections = 0;
  int hold_broker_pid = 0;
  auto* hold_cmd = app.add_subcommand("hold", "hold many connections and measure the broker's memory per connection");
  hold_cmd->add_option("--stack", hold.stack, "stack directory")->required();
  hold_cmd->add_option("--connections", hold.connections, "claim connections")->capture_default_str();
  auto* devices_opt = hold_cmd->add_option("--device-connections", device_connections,
                                           "device connections on top (default: every pre-issued device)");
  auto* hold_broker_opt = hold_cmd->add_option("--broker-pid", hold_broker_pid, "broker pid");
  hold_cmd->add_option("--json", hold.json_file, "also write the figures to this JSON file");

  ReportOptions report;
  auto* report_cmd = app.add_subcommand("report", "the Markdown tables of earlier --json files");
  report_cmd->add_option("--run", report.run, "run JSON (the small registry)")->required();
  report_cmd->add_option("--scale", report.scale, "run JSON on the pre-filled registry");
  report_cmd->add_option("--prefill", report.prefill, "prefill JSON");
  report_cmd->add_option("--hold", report.hold, "hold JSON");

  CLI11_PARSE(app, argc, argv);
  // A write to a connection the broker just closed must fail, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    if (*run_cmd) {
      run.step_timeout = std::chrono::milliseconds(step_timeout_ms);
      if (*warmup_opt) run.warmup = warmup;
      if (*broker_opt) run.broker_pid = broker_pid;
      if (*provisiond_opt) run.provisiond_pid = provisiond_pid;
      return run_benchmark(run);
    }
    if (*prefill_cmd) {
      if (prefill.registry.empty() && prefill.stack.empty()) throw std::runtime_error("prefill needs --registry or --stack");
      return prefill_registry(prefill);
    }
    if (*hold_cmd) {
      if (*devices_opt) hold.device_connections = device_connections;
      if (*hold_broker_opt) hold.broker_pid = hold_broker_pid;
      return hold_connections(hold);
    }
    if (*report_cmd) return print_report(report);
  } catch (const std::exception& e) {
    std::cerr << "provision-bench: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
