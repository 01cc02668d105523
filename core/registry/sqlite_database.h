#pragma once
// The SQLite backend of the registry (database.h): one file in WAL mode;
// writers go through the WAL-batching layer (wal_batching_vfs.h).
#include <sqlite3.h>

#include <map>

#include "registry/database.h"

namespace provision::registry {

// The kind of a SQLite result code (its primary code).
RegistryError::Kind error_kind(int sqlite_code);

class SqliteDatabase final : public Database {
 public:
  static std::unique_ptr<Database> open(const std::string& path, Mode mode, int busy_timeout_ms);
  ~SqliteDatabase() override;

  Backend backend() const override { return Backend::Sqlite; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  int64_t changes() const override;
  void begin_write() override;
  void begin_read() override;
  void commit() override;
  void rollback() noexcept override;
  bool in_transaction() const override;
  int64_t data_version() override;
  std::vector<std::string> table_names() override;
  int user_version() override;
  void set_user_version(int version) override;
  void disable_auto_checkpoint(std::atomic<int>& frames) override;
  int checkpoint(bool restart = false) override;
  void set_busy_timeout(int milliseconds) override;
  void set_synchronous_off() override;
  void set_page_cache(int kib) override;

  sqlite3* handle() const { return db_; }
  [[noreturn]] void fail(std::string_view what, int rc) const;

 private:
  class SqliteStatement;
  SqliteDatabase(sqlite3* db, std::string path) : Database(std::move(path)), db_(db) {}
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<SqliteStatement>, std::less<>> statements_;
};

}  // namespace provision::registry
