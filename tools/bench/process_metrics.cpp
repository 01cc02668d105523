#include "process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace provision::bench {
namespace {

std::optional<std::string> read_proc_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

std::optional<double> process_cpu_seconds(pid_t pid) {
  auto stat = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: count
  // fields from the last ')'. Field 3 is then the first token.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(close + 1));
  std::vector<std::string> tokens;
  for (std::string t; fields >> t && tokens.size() < 13;) tokens.push_back(t);
  if (tokens.size() < 13) return std::nullopt;
  const double ticks = static_cast<double>(std::stoull(tokens[11]) + std::stoull(tokens[12]));  // fields 14, 15
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::optional<long> process_memory_kb(pid_t pid, std::string_view field) {
  auto status = read_proc_file("/proc/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  std::istringstream lines(*status);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 && line[field.size()] == ':')
      return std::stol(line.substr(field.size() + 1));
  }
  return std::nullopt;
}

std::optional<long> process_open_files_limit(pid_t pid) {
  auto limits = read_proc_file("/proc/" + std::to_string(pid) + "/limits");
  if (!limits) return std::nullopt;
  std::istringstream lines(*limits);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream values(line.substr(std::string("Max open files").size()));
    std::string soft;
    values >> soft;
    if (soft == "unlimited") return 1L << 30;
    return std::stol(soft);
  }
  return std::nullopt;
}

std::optional<long> process_open_files(pid_t pid) {
  std::error_code ec;
  long count = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++count;
  if (ec) return std::nullopt;
  return count;
}

std::optional<pid_t> find_process(std::string_view fragment) {
  std::optional<pid_t> found;
  std::error_code ec;
  const pid_t self = getpid();
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    auto cmdline = read_proc_file("/proc/" + name + "/cmdline");
    if (!cmdline) continue;
    for (char& c : *cmdline)
      if (c == '\0') c = ' ';
    if (cmdline->find(fragment) == std::string::npos) continue;
    if (found) return std::nullopt;  // ambiguous
    found = pid;
  }
  return found;
}

long raise_open_files_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur == RLIM_INFINITY ? (1L << 30) : static_cast<long>(limit.rlim_cur);
}

long open_files_hard_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_max == RLIM_INFINITY ? (1L << 30) : static_cast<long>(limit.rlim_max);
}

CpuSnapshot take_cpu_snapshot(const StackProcesses& processes) {
  CpuSnapshot s;
  if (processes.broker) s.broker = process_cpu_seconds(*processes.broker);
  if (processes.provisiond) s.provisiond = process_cpu_seconds(*processes.provisiond);
  s.bench = own_cpu_seconds();
  return s;
}

}  // namespace provision::bench
