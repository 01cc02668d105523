#include "postgres.h"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "process.h"

namespace provision::test {
namespace {

constexpr const char* kServiceUser = "provision-pg";

struct Account {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Who the server's programs run as: ourselves, or (as root) provision-pg.
Account account() {
  Account a;
  if (geteuid() != 0) return a;
  const passwd* pw = getpwnam(kServiceUser);
  if (!pw) throw std::runtime_error(std::string("PostgreSQL refuses to run as root and there is no user ") + kServiceUser +
                                    " to run it as: run scripts/install-deps");
  a.switch_user = true;
  a.uid = pw->pw_uid;
  a.gid = pw->pw_gid;
  return a;
}

// In a forked child: become the account (then nothing clears the
// parent-death signal, which a change of credentials would).
void become(const Account& a, int death_signal) {
  if (a.switch_user) {
    if (setgroups(0, nullptr) != 0 || setgid(a.gid) != 0 || setuid(a.uid) != 0) _exit(126);
  }
  if (death_signal) prctl(PR_SET_PDEATHSIG, death_signal);
}

// Runs a server program as the account; returns its exit status, output in `log`.
int run_as(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const Account a = account();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    become(a, SIGKILL);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void give_to_account(const std::filesystem::path& path) {
  const Account a = account();
  if (a.switch_user && chown(path.c_str(), a.uid, a.gid) != 0) throw std::runtime_error("cannot chown " + path.string());
}

}  // namespace

std::filesystem::path postgres_bindir() {
  for (const char* version : {"17", "16", "15", "14", "13"}) {
    std::filesystem::path dir = std::string("/usr/lib/postgresql/") + version + "/bin";
    if (std::filesystem::exists(dir / "postgres")) return dir;
  }
  throw std::runtime_error("PostgreSQL's server programs are not installed (Debian's postgresql package: scripts/install-deps)");
}

PostgresServer::PostgresServer(Options options) {
  const auto bin = postgres_bindir();
  char pattern[] = "/tmp/provision-pg-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir = pattern;
  chmod(dir.c_str(), 0755);
  give_to_account(dir);
  port = free_port();
  const auto log = dir / "setup.log";
  if (options.primary) {
    int rc = run_as({(bin / "pg_basebackup").string(), "-h", "127.0.0.1", "-p", std::to_string(options.primary->port), "-U",
                     kUser, "-D", (dir / "data").string(), "-R", "-X", "stream", "--no-sync"},
                    log);
    if (rc != 0) throw std::runtime_error("pg_basebackup failed: " + read_all(log));
  } else {
    int rc = run_as({(bin / "initdb").string(), "-D", (dir / "data").string(), "-U", kUser, "--auth=trust", "-E", "UTF8",
                     "--locale=C", "--no-sync"},
                    log);
    if (rc != 0) throw std::runtime_error("initdb failed: " + read_all(log));
  }
  // Loopback only; quick rather than durable, unless a test says otherwise.
  std::ofstream conf(dir / "data" / "postgresql.conf", std::ios::app);
  conf << "\nlisten_addresses = '127.0.0.1'\nport = " << port << "\nunix_socket_directories = '" << dir.string()
       << "'\nfsync = off\nfull_page_writes = off\nmax_connections = 200\nlog_min_messages = warning\n";
  for (const auto& line : options.settings) conf << line << "\n";
  conf.close();
  start();
}

PostgresServer::~PostgresServer() {
  try {
    stop();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

void PostgresServer::start() {
  if (pid_ > 0) return;
  const Account a = account();
  const auto postgres = (postgres_bindir() / "postgres").string();
  const auto data = (dir / "data").string();
  const auto log = (dir / "postgres.log").string();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    become(a, SIGQUIT);  // immediate shutdown when the test process goes
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execl(postgres.c_str(), postgres.c_str(), "-D", data.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  wait_ready();
}

void PostgresServer::wait_ready() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string output;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("postgres exited at start: " + read_all(dir / "postgres.log"));
    }
    if (run_command({(postgres_bindir() / "pg_isready").string(), "-h", "127.0.0.1", "-p", std::to_string(port), "-U", kUser, "-q"},
                    output, std::chrono::seconds(5)) == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("postgres did not accept connections within 30 s: " + read_all(dir / "postgres.log"));
}

void PostgresServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
}

void PostgresServer::promote() { psql("postgres", "SELECT pg_promote(true, 30)"); }

std::string PostgresServer::uri(const std::string& database) const {
  return "postgresql://" + std::string(kUser) + "@127.0.0.1:" + std::to_string(port) + "/" + database;
}

std::string PostgresServer::psql(const std::string& database, const std::string& sql) const {
  std::string output;
  int rc = run_command({(postgres_bindir() / "psql").string(), "-h", "127.0.0.1", "-p", std::to_string(port), "-U", kUser, "-d",
                        database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql},
                       output, std::chrono::seconds(60));
  INFO(sql << "\n" << output);
  REQUIRE(rc == 0);
  return output;
}

std::string PostgresServer::create_database(const std::string& name) {
  psql("postgres", "CREATE DATABASE \"" + name + "\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
  return uri(name);
}

}  // namespace provision::test
