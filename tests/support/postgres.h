#pragma once
// A real PostgreSQL server for tests: initdb into a temporary directory,
// `postgres` on a free loopback port (C collation, UTF-8, trust
// authentication on 127.0.0.1 only), stopped and removed when the object
// goes away. PostgreSQL refuses to run as root: as root, the server runs as
// the unprivileged user `provision-pg` (scripts/install-deps creates it). The
// server dies with the test process (parent-death signal), so a crashed test
// leaves no server behind.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace provision::test {

class PostgresServer {
 public:
  struct Options {
    // More postgresql.conf settings ("name = value" lines).
    std::vector<std::string> settings;
    // A standby of `primary` (streaming replication from a base backup).
    const PostgresServer* primary = nullptr;
  };
  PostgresServer() : PostgresServer(Options{}) {}
  explicit PostgresServer(Options options);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // One server for a whole test program, started on first use.
  static PostgresServer& shared();

  // A new, empty database; returns its URI.
  std::string create_database(const std::string& name);
  std::string uri(const std::string& database) const;
  // Runs SQL with psql on `database`; REQUIREs success, returns what it printed.
  std::string psql(const std::string& database, const std::string& sql) const;

  void stop();     // fast shutdown (clients disconnected)
  void start();    // again, same port and data
  void promote();  // a standby becomes a primary
  bool running() const { return pid_ > 0; }

  int port = 0;
  std::filesystem::path dir;  // data in dir/data, log in dir/postgres.log
  static constexpr const char* kUser = "provision";  // the database superuser

 private:
  void wait_ready();
  pid_t pid_ = -1;
};

// The directory of PostgreSQL's server programs (initdb, postgres, pg_ctl).
std::filesystem::path postgres_bindir();

}  // namespace provision::test
