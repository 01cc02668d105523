#include "registry/database.h"

#include "registry/registry.h"
#include "registry/wal_batching_vfs.h"

namespace provision::registry {

RegistryError::Kind error_kind(int sqlite_code) {
  switch (sqlite_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return RegistryError::Kind::Busy;
    case SQLITE_CONSTRAINT: return RegistryError::Kind::Constraint;
    case SQLITE_FULL: return RegistryError::Kind::Full;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return RegistryError::Kind::Corrupt;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM: return RegistryError::Kind::Unavailable;
    case SQLITE_SCHEMA: return RegistryError::Kind::Schema;
  }
  return RegistryError::Kind::Other;
}

Statement::~Statement() {
  if (stmt_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

Statement& Statement::bind(int index, std::nullopt_t) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  db_->fail(sql.substr(0, 60), rc);
}

void Statement::run() {
  while (step()) {
  }
  sqlite3_reset(stmt_);  // ready to be bound and run again
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<int64_t> Statement::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

std::unique_ptr<Database> Database::open(const std::filesystem::path& path, Mode mode, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Writers go through the WAL-batching layer (wal_batching_vfs.h); readers
  // (the broker plugin) write no WAL and use SQLite's default.
  const char* vfs = mode == Mode::ReadWrite ? wal_batching_vfs() : nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string message = "registry " + path.string() + ": cannot open: " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close(raw);
    throw RegistryError(message, error_kind(rc));
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_extended_result_codes(raw, 0);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (mode == Mode::ReadWrite) {
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=NORMAL");
    // The WAL file keeps the size it grew to; past 64 MiB it is cut back when it restarts.
    db->exec("PRAGMA journal_size_limit=67108864");
  }
  // Small by default: the plugin, the admin API's threads and housekeeping
  // each hold a connection, and a connection's page cache is dropped whenever
  // another one commits. provisiond's request connection sets a larger one.
  db->exec("PRAGMA cache_size=-512");
  db->exec("PRAGMA foreign_keys=ON");
  return db;
}

void Database::disable_auto_checkpoint(std::atomic<int>& frames) {
  // Replaces SQLite's automatic checkpoints, which use the same hook.
  sqlite3_wal_hook(
      db_,
      [](void* counter, sqlite3*, const char*, int frames_in_wal) {
        static_cast<std::atomic<int>*>(counter)->store(frames_in_wal, std::memory_order_relaxed);
        return SQLITE_OK;
      },
      &frames);
}

int Database::checkpoint(bool restart) {
  int wal_frames = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE,
                                           &wal_frames, &copied);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return wal_frames;  // busy: next time
  if (rc != SQLITE_OK) fail("checkpoint", rc);
  return wal_frames;
}

void Database::set_busy_timeout(int milliseconds) { sqlite3_busy_timeout(db_, milliseconds); }

void Database::set_synchronous_off() { exec("PRAGMA synchronous=OFF"); }

void Database::set_page_cache(int kib) { exec("PRAGMA cache_size=-" + std::to_string(kib)); }

Database::~Database() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

void Database::fail(std::string_view what, int rc) const {
  throw RegistryError("registry " + path_.filename().string() + ": " + std::string(what) + ": " + sqlite3_errmsg(db_), error_kind(rc));
}

void Database::exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw RegistryError("registry " + path_.filename().string() + ": " + message, error_kind(rc));
  }
}

Statement Database::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) fail("prepare " + std::string(sql.substr(0, 60)), rc);
    it = statements_.emplace(std::string(sql), stmt).first;
  }
  return Statement(*this, it->second);
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }
int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int64_t Database::data_version() {
  auto stmt = prepare("PRAGMA data_version");
  return stmt.step() ? stmt.int64(0) : 0;
}

int Database::user_version() {
  auto stmt = prepare("PRAGMA user_version");
  return stmt.step() ? static_cast<int>(stmt.int64(0)) : 0;
}

// BEGIN and COMMIT as cached statements: sqlite3_exec would parse them for
// every transaction.
Transaction::Transaction(Registry& registry) : Transaction(registry.database()) {}

Transaction::Transaction(Database& db) : db_(db) { db_.prepare("BEGIN IMMEDIATE").run(); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.prepare("COMMIT").run();
  done_ = true;
}

ReadTransaction::ReadTransaction(Registry& registry) : ReadTransaction(registry.database()) {}

ReadTransaction::ReadTransaction(Database& db) : db_(db) { db_.prepare("BEGIN").run(); }

// COMMIT as a cached statement too (the broker ends one per connect); should
// it fail, ROLLBACK, which ends a read transaction whatever happened.
ReadTransaction::~ReadTransaction() {
  if (sqlite3_get_autocommit(db_.handle())) return;
  try {
    db_.prepare("COMMIT").run();
    return;
  } catch (const std::exception&) {
  }
  sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace provision::registry
