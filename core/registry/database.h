#pragma once
// Internal to the registry: a thin RAII layer over SQLite, a connection and
// its prepared statements (cached per connection). Every SQLite error
// becomes a RegistryError that names the operation. Only core/registry
// includes this header (tests may, to set up what no product code writes).
#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "registry/error.h"
#include "registry/transaction.h"

namespace provision::registry {

class Registry;
// The connection behind a registry: for core/registry, and for tests that set
// up what no product code writes.
Database& database_of(Registry& registry);

// The kind of a SQLite result code (its primary code).
RegistryError::Kind error_kind(int sqlite_code);

class Database;

// A prepared statement borrowed from its connection's cache. Bind parameters
// are 1-based, columns 0-based. The statement is reset when this goes away.
class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, bool value) { return bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  Statement& bind(int index, std::nullopt_t);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }

  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Runs a statement that returns no rows; it can then be bound and run again.
  void run();

  bool is_null(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;
  int64_t int64(int column) const;
  std::optional<int64_t> optional_int64(int column) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  enum class Mode { ReadWrite, ReadOnly };

  // Opens (and for ReadWrite, creates) the registry file. ReadWrite turns on
  // WAL, synchronous=NORMAL and foreign keys. busy_timeout_ms bounds how long
  // a call waits for a lock before failing with SQLITE_BUSY.
  static std::unique_ptr<Database> open(const std::filesystem::path& path, Mode mode, int busy_timeout_ms = 5000);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements with no results.
  void exec(std::string_view sql);
  // A cached prepared statement for `sql` (prepared on first use).
  Statement prepare(std::string_view sql);

  // WAL checkpoints: SQLite runs one (with an fsync) inside whichever commit
  // pushes the WAL past 1000 pages. A service that answers requests turns
  // that off on its request connections and calls checkpoint() from a thread
  // of its own, so no request waits on a checkpoint. After each commit on
  // this connection `frames` holds the number of frames in the WAL (for
  // whoever checkpoints instead).
  void disable_auto_checkpoint(std::atomic<int>& frames);
  // PRAGMA wal_checkpoint(PASSIVE): copies what no reader still needs back to
  // the database file without blocking anyone. Returns the frames in the WAL.
  // Under steady writes the WAL never gets a moment to start over; `restart`
  // (RESTART) waits, up to this connection's busy timeout, for the readers
  // and writers in flight so that the next commit writes from its start.
  int checkpoint(bool restart = false);
  void set_busy_timeout(int milliseconds);

  int64_t changes() const;
  int64_t last_insert_rowid() const;
  // PRAGMA data_version: changes when another connection commits.
  int64_t data_version();
  int user_version();
  // Only for this connection: no fsync at commit (a bulk load that can be
  // started over), and a page cache of `kib` KiB.
  void set_synchronous_off();
  void set_page_cache(int kib);
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  [[noreturn]] void fail(std::string_view what, int rc) const;

 private:
  Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::filesystem::path path_;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace provision::registry
