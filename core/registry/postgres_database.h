#pragma once
// The PostgreSQL backend of the registry (database.h), through libpq: one
// session per Registry, statements prepared once per session, errors by
// SQLSTATE. A session that broke (the server restarted, a standby was
// promoted) is opened again at the next statement outside a transaction.
#include <libpq-fe.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "registry/database.h"

namespace provision::registry {

// The kind of a SQLSTATE ("23505" -> Constraint, "40001" -> Busy, ...).
RegistryError::Kind sqlstate_kind(std::string_view sqlstate);
// `?` and `?N` parameters as PostgreSQL's `$N` (outside quoted text).
std::string postgres_parameters(std::string_view sql);

class PostgresDatabase final : public Database {
 public:
  static std::unique_ptr<Database> open(const std::string& uri, Mode mode, int busy_timeout_ms);
  ~PostgresDatabase() override;

  Backend backend() const override { return Backend::Postgres; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  int64_t changes() const override { return changes_; }
  void begin_write() override;
  void begin_read() override;
  void commit() override;
  void rollback() noexcept override;
  bool in_transaction() const override;
  int64_t data_version() override;
  int user_version() override;
  void set_user_version(int version) override;
  void lock_for_migration() override;
  std::vector<std::string> table_names() override;
  void ids_inserted(const std::string& table) override;
  void set_busy_timeout(int milliseconds) override;

  // Fails with RegistryError naming `what`, from a result (or the session's error).
  [[noreturn]] void fail(std::string_view what, PGresult* result);

 private:
  class PostgresStatement;
  friend class PostgresStatement;
  PostgresDatabase(std::string uri, Mode mode, int busy_timeout_ms);
  void connect();
  // Opens the session again if it broke, outside a transaction.
  void ensure_connected();
  void run_simple(const std::string& sql, std::string_view what);

  Mode mode_;
  int busy_timeout_ms_;
  PGconn* conn_ = nullptr;
  uint64_t session_ = 0;  // counts sessions: statements are prepared again in a new one
  int64_t changes_ = 0;
  int next_statement_ = 0;
  std::map<std::string, std::unique_ptr<PostgresStatement>, std::less<>> statements_;
};

}  // namespace provision::registry
