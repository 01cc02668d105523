#pragma once
// Internal to the registry: a connection to the database behind it and its
// prepared statements (cached per connection), with two backends: SQLite (a
// file; the embedded default) and PostgreSQL (a postgresql:// URI, several
// machines). The registry's table-family files write one SQL for both, in
// their common dialect: `?` or `?N` parameters, ON CONFLICT, coalesce, LIMIT;
// where the two differ (schema, triggers), migrations.cpp has a text for each.
// A parameter whose type nothing else in the statement gives (an optional
// filter: `?2 IS NULL OR status = ?2`) is cast where it is first used
// (`CAST(?2 AS TEXT) IS NULL`), which PostgreSQL needs and SQLite accepts.
// Every database error becomes a RegistryError that names the operation.
// Only core/registry includes this header (tests may, to set up what no
// product code writes).
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/error.h"
#include "registry/registry.h"
#include "registry/transaction.h"

namespace provision::registry {

class Database;
class Registry;
// The connection behind a registry: for core/registry, and for tests that set
// up what no product code writes.
Database& database_of(Registry& registry);

inline bool is_postgres_location(std::string_view location) { return is_database_uri(location); }

// What a backend's prepared statement does; Statement is its handle.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_text(int index, std::string_view value) = 0;
  virtual void bind_int64(int index, int64_t value) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;
  // Ready to be bound and run again (bindings cleared).
  virtual void reset() = 0;
  virtual bool is_null(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual int64_t int64(int column) const = 0;
  // After the first step: the columns of the result.
  virtual int column_count() const = 0;
  virtual std::string column_name(int column) const = 0;
};

// A prepared statement borrowed from its connection's cache. Bind parameters
// are 1-based, columns 0-based. The statement is reset when this goes away.
class Statement {
 public:
  explicit Statement(StatementImpl& impl) : impl_(&impl) {}
  Statement(Statement&& other) noexcept : impl_(other.impl_) { other.impl_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (impl_) impl_->reset();
  }

  Statement& bind(int index, std::string_view value) {
    impl_->bind_text(index, value);
    return *this;
  }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, int64_t value) {
    impl_->bind_int64(index, value);
    return *this;
  }
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, bool value) { return bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  Statement& bind(int index, std::nullopt_t) {
    impl_->bind_null(index);
    return *this;
  }
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }

  // Advances to the next row: true when a row is available, false when done.
  bool step() { return impl_->step(); }
  // Runs a statement that returns no rows; it can then be bound and run again.
  void run() {
    while (impl_->step()) {
    }
    impl_->reset();
  }

  bool is_null(int column) const { return impl_->is_null(column); }
  std::string text(int column) const { return impl_->text(column); }
  std::optional<std::string> optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
  }
  int64_t int64(int column) const { return impl_->int64(column); }
  int column_count() const { return impl_->column_count(); }
  std::string column_name(int column) const { return impl_->column_name(column); }
  std::optional<int64_t> optional_int64(int column) const {
    if (is_null(column)) return std::nullopt;
    return int64(column);
  }

 private:
  StatementImpl* impl_;
};

class Database {
 public:
  enum class Mode { ReadWrite, ReadOnly };
  enum class Backend { Sqlite, Postgres };

  // Opens the registry at `location`: a SQLite file (ReadWrite creates it;
  // WAL, synchronous=NORMAL, foreign keys) or a postgresql:// URI.
  // busy_timeout_ms bounds how long a call waits for a lock before failing
  // with RegistryError (busy).
  static std::unique_ptr<Database> open(const std::string& location, Mode mode, int busy_timeout_ms = 5000);
  static std::unique_ptr<Database> open(const std::filesystem::path& path, Mode mode, int busy_timeout_ms = 5000) {
    return open(path.string(), mode, busy_timeout_ms);
  }
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Backend backend() const = 0;
  // Runs one or more statements with no results.
  virtual void exec(std::string_view sql) = 0;
  // A cached prepared statement for `sql` (prepared on first use).
  virtual Statement prepare(std::string_view sql) = 0;
  // Rows the last statement changed.
  virtual int64_t changes() const = 0;

  // Transactions (Transaction, ReadTransaction): a write transaction takes
  // the database's write lock at once (SQLite: BEGIN IMMEDIATE); a read one
  // sees one snapshot.
  virtual void begin_write() = 0;
  virtual void begin_read() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual bool in_transaction() const = 0;

  // Changes whenever a commit may have changed what a reader sees that
  // matters to it (SQLite: any other connection's commit; PostgreSQL: the
  // newest change-log row).
  virtual int64_t data_version() = 0;
  // The schema version reached by migrations.cpp (SQLite: PRAGMA
  // user_version; PostgreSQL: the schema_version table).
  virtual int user_version() = 0;
  virtual void set_user_version(int version) = 0;
  // Taken inside the migration's transaction, so that two processes
  // starting at once do not both migrate.
  virtual void lock_for_migration() {}
  // The registry's tables (not the database's own, nor schema_version).
  virtual std::vector<std::string> table_names() = 0;
  // After rows were inserted with their own ids into a table whose ids the
  // database counts (audit_log, registry_changes): the next id follows them.
  virtual void ids_inserted(const std::string& table) { (void)table; }

  // WAL checkpoints (SQLite; no-ops elsewhere): SQLite runs one (with an
  // fsync) inside whichever commit pushes the WAL past 1000 pages. A service
  // that answers requests turns that off on its request connections and
  // calls checkpoint() from a thread of its own, so no request waits on a
  // checkpoint. After each commit on this connection `frames` holds the
  // number of frames in the WAL (for whoever checkpoints instead).
  virtual void disable_auto_checkpoint(std::atomic<int>& frames) { (void)frames; }
  // PASSIVE: copies what no reader still needs back to the database file
  // without blocking anyone; `restart` (RESTART) waits, up to the busy
  // timeout, for the transactions in flight so that the WAL starts over.
  // Returns the frames left in the WAL.
  virtual int checkpoint(bool restart = false) {
    (void)restart;
    return 0;
  }
  virtual void set_busy_timeout(int milliseconds) = 0;
  // Only for this connection: no fsync at commit (a bulk load that can be
  // started over), and a page cache of `kib` KiB (SQLite).
  virtual void set_synchronous_off() {}
  virtual void set_page_cache(int kib) { (void)kib; }

  const std::string& location() const { return location_; }
  // The location without a password, for messages.
  std::string display_location() const;

 protected:
  explicit Database(std::string location) : location_(std::move(location)) {}

 private:
  std::string location_;
};

// The backends' own openers (sqlite_database.cpp, postgres_database.cpp).
std::unique_ptr<Database> open_sqlite_database(const std::string& path, Database::Mode mode, int busy_timeout_ms);
std::unique_ptr<Database> open_postgres_database(const std::string& uri, Database::Mode mode, int busy_timeout_ms);

}  // namespace provision::registry
