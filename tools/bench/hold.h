#pragma once
// `provision-bench hold`: what a connected device costs the broker. Opens N
// claim connections (the plugin keeps per-connection state for each), then
// as many device connections as there are pre-issued devices, and reads the
// broker's resident memory before and after each.
//
// libmosquitto takes three descriptors per client (its socket and a wake-up
// socket pair), so the connections are spread over child processes that each
// stay within the open-files limit; the limits found are said in the output.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>

namespace provision::bench {

struct HoldOptions {
  std::filesystem::path stack;
  size_t connections = 10000;                // claim connections
  std::optional<size_t> device_connections;  // default: every pre-issued device
  std::optional<pid_t> broker_pid;
  std::chrono::seconds timeout{180};         // to open everything
  std::filesystem::path json_file;
};

int hold_connections(const HoldOptions& options);

}  // namespace provision::bench
