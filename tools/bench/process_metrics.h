#pragma once
// What the processes of a stack use, read from /proc: CPU time (utime +
// stime), resident memory (VmRSS) and its peak (VmHWM); the benchmark's own
// CPU from getrusage(RUSAGE_SELF).
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace provision::bench {

// User + system CPU seconds of a process (fields 14 and 15 of /proc/PID/stat).
std::optional<double> process_cpu_seconds(pid_t pid);
// User + system CPU seconds of this process, all threads.
double own_cpu_seconds();
// A "Vm..." line of /proc/PID/status in KiB (e.g. "VmRSS", "VmHWM").
std::optional<long> process_memory_kb(pid_t pid, std::string_view field);
// The soft "Max open files" limit of a process (/proc/PID/limits).
std::optional<long> process_open_files_limit(pid_t pid);
// How many descriptors a process has open (entries of /proc/PID/fd).
std::optional<long> process_open_files(pid_t pid);
// The single process whose command line contains `fragment` (e.g.
// "DIR/mosquitto.conf"); nullopt when none or several match.
std::optional<pid_t> find_process(std::string_view fragment);

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit; returns
// the soft limit now in force.
long raise_open_files_limit();
long open_files_hard_limit();

// The processes a run measures; a missing pid leaves its figures out.
struct StackProcesses {
  std::optional<pid_t> broker, provisiond;
};

// CPU seconds of every measured process (at one instant, or spent over a span).
struct CpuSnapshot {
  std::optional<double> broker, provisiond;
  double bench = 0;
};
CpuSnapshot take_cpu_snapshot(const StackProcesses& processes);

}  // namespace provision::bench
