#pragma once
// `provision-bench run`: the provisioning benchmark against a running stack,
// and in the same run the baseline.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include <sys/types.h>

namespace provision::bench {

struct RunOptions {
  std::filesystem::path stack;
  size_t devices = 1000;
  size_t concurrency = 8;
  std::optional<size_t> warmup;  // default: `concurrency` flows of each kind, not counted
  bool keygen = false;
  bool baseline = false;
  size_t rounds = 4;  // with the baseline: provisioning and baseline alternate in this many rounds
  std::optional<pid_t> broker_pid, provisiond_pid;  // default: found by the stack's config file names
  std::chrono::milliseconds step_timeout{20000};
  std::filesystem::path json_file;
};

// Prints the Markdown tables; returns the process exit status.
int run_benchmark(const RunOptions& options);

}  // namespace provision::bench
