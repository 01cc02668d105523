#pragma once
// Child processes for integration tests: started with fork/exec, output to
// files, killed with their parent (PR_SET_PDEATHSIG) so that a crashed test
// leaves no stray broker or worker behind.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace provision::test {

class Process {
 public:
  // Starts `argv[0]` with `argv`; stdout and stderr go to `output`.
  Process(std::vector<std::string> argv, const std::filesystem::path& output,
          const std::map<std::string, std::string>& extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal`, waits up to `grace`, then SIGKILL. Returns the exit status
  // (or 128 + signal) as a shell would.
  int stop(int signal = 15, std::chrono::milliseconds grace = std::chrono::seconds(5));
  void send(int signal);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs a command to completion; returns its exit status, with stdout+stderr in `output`.
int run_command(const std::vector<std::string>& argv, std::string& output,
                std::chrono::milliseconds timeout = std::chrono::seconds(60),
                const std::map<std::string, std::string>& extra_env = {});

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

// Waits until `file` contains `text` (polling); false on timeout.
bool wait_for_text(const std::filesystem::path& file, const std::string& text, std::chrono::milliseconds timeout);
size_t count_text(const std::filesystem::path& file, const std::string& text);

}  // namespace provision::test
