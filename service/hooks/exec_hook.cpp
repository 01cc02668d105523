// An exec hook: a local program (argv, no shell) reads the input on stdin and
// answers on stdout. It runs in its own process group, which is killed at
// the timeout; its answer is limited to 64 KiB.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hooks/hook.h"

extern char** environ;

namespace provision::service::hooks {
namespace {

constexpr size_t kMaxAnswer = kMaxAnswerBytes;

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fds, O_CLOEXEC) != 0) throw failed(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (fds[0] >= 0) ::close(fds[0]);
    fds[0] = -1;
  }
  void close_write() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
};

}  // namespace

HookDecision run_exec(const HookConfig& config, const HookInput& input) {
  Pipe in, out;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fds[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out.fds[1], 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);  // its own group: the timeout kills what it started too

  std::vector<char*> argv;
  for (const auto& arg : config.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) throw failed("cannot run the hook " + config.command[0] + ": " + std::strerror(rc));
  in.close_read();
  out.close_write();
  ::fcntl(in.fds[1], F_SETFL, O_NONBLOCK);
  ::fcntl(out.fds[0], F_SETFL, O_NONBLOCK);

  const std::string request = input_json(input);
  size_t written = 0;
  std::string answer;
  bool too_long = false, timed = false;
  auto deadline = std::chrono::steady_clock::now() + config.timeout;
  while (out.fds[0] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed = true;
      break;
    }
    pollfd fds[2] = {{out.fds[0], POLLIN, 0}, {in.fds[1], POLLOUT, 0}};
    int count = in.fds[1] >= 0 ? 2 : 1;
    if (::poll(fds, static_cast<nfds_t>(count), static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    if (count == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in.fds[1], request.data() + written, request.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) written = request.size();  // it closed stdin: fine, it may answer anyway
      if (written == request.size()) in.close_write();
    }
    if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      char buffer[4096];
      ssize_t n = ::read(out.fds[0], buffer, sizeof buffer);
      if (n > 0) {
        answer.append(buffer, static_cast<size_t>(n));
        if (answer.size() > kMaxAnswer) {
          too_long = true;
          break;
        }
      } else if (n == 0 || errno != EAGAIN) {
        out.close_read();
      }
    }
  }
  int status = 0;
  if (timed || too_long) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (timed) throw timed_out("the pre-provisioning hook did not answer within " + std::to_string(config.timeout.count()) + " ms");
    throw invalid_response("the pre-provisioning hook's answer is larger than 64 KiB");
  }
  // Its answer is complete (stdout closed); give it until the deadline to exit.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw timed_out("the pre-provisioning hook did not exit within " + std::to_string(config.timeout.count()) + " ms");
    }
    ::usleep(1000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw failed("the pre-provisioning hook exited with " +
                 (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status)) : "signal " + std::to_string(WTERMSIG(status))));
  return parse_output(answer);
}

}  // namespace provision::service::hooks
