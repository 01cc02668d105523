#include "registry/sqlite_database.h"

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

class SqliteDatabase::SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(const SqliteDatabase& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void bind_text(int index, std::string_view value) override {
    int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) db_.fail("bind", rc);
  }
  void bind_int64(int index, int64_t value) override {
    int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) db_.fail("bind", rc);
  }
  void bind_null(int index) override {
    int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) db_.fail("bind", rc);
  }
  bool step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
    sqlite3_reset(stmt_);
    db_.fail(sql.substr(0, 60), rc);
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool is_null(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string text(int column) const override {
    const auto* p = sqlite3_column_text(stmt_, column);
    int n = sqlite3_column_bytes(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  int64_t int64(int column) const override { return sqlite3_column_int64(stmt_, column); }
  int column_count() const override { return sqlite3_column_count(stmt_); }
  std::string column_name(int column) const override { return sqlite3_column_name(stmt_, column); }

 private:
  const SqliteDatabase& db_;
  sqlite3_stmt* stmt_;
};

std::unique_ptr<Database> SqliteDatabase::open(const std::string& path, Mode mode, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Writers go through the WAL-batching layer (wal_batching_vfs.h); readers
  // (the broker plugin) write no WAL and use SQLite's default.
  const char* vfs = mode == Mode::ReadWrite ? wal_batching_vfs() : nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string message = "registry " + path + ": cannot open: " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close(raw);
    throw RegistryError(message, error_kind(rc));
  }
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw, path));
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

std::unique_ptr<Database> open_sqlite_database(const std::string& path, Database::Mode mode, int busy_timeout_ms) {
  return SqliteDatabase::open(path, mode, busy_timeout_ms);
}

SqliteDatabase::~SqliteDatabase() {
  statements_.clear();  // finalized before the connection closes
  sqlite3_close(db_);
}

void SqliteDatabase::disable_auto_checkpoint(std::atomic<int>& frames) {
  // Replaces SQLite's automatic checkpoints, which use the same hook.
  sqlite3_wal_hook(
      db_,
      [](void* counter, sqlite3*, const char*, int frames_in_wal) {
        static_cast<std::atomic<int>*>(counter)->store(frames_in_wal, std::memory_order_relaxed);
        return SQLITE_OK;
      },
      &frames);
}

int SqliteDatabase::checkpoint(bool restart) {
  int wal_frames = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE,
                                           &wal_frames, &copied);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return wal_frames;  // busy: next time
  if (rc != SQLITE_OK) fail("checkpoint", rc);
  return wal_frames;
}

void SqliteDatabase::set_busy_timeout(int milliseconds) { sqlite3_busy_timeout(db_, milliseconds); }
void SqliteDatabase::set_synchronous_off() { exec("PRAGMA synchronous=OFF"); }
void SqliteDatabase::set_page_cache(int kib) { exec("PRAGMA cache_size=-" + std::to_string(kib)); }

void SqliteDatabase::fail(std::string_view what, int rc) const {
  throw RegistryError("registry " + std::filesystem::path(location()).filename().string() + ": " + std::string(what) +
                          ": " + sqlite3_errmsg(db_),
                      error_kind(rc));
}

void SqliteDatabase::exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw RegistryError("registry " + std::filesystem::path(location()).filename().string() + ": " + message, error_kind(rc));
  }
}

Statement SqliteDatabase::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) fail("prepare " + std::string(sql.substr(0, 60)), rc);
    it = statements_.emplace(std::string(sql), std::make_unique<SqliteStatement>(*this, stmt)).first;
  }
  return Statement(*it->second);
}

int64_t SqliteDatabase::changes() const { return sqlite3_changes64(db_); }

int64_t SqliteDatabase::data_version() {
  auto stmt = prepare("PRAGMA data_version");
  return stmt.step() ? stmt.int64(0) : 0;
}

std::vector<std::string> SqliteDatabase::table_names() {
  auto s = prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

int SqliteDatabase::user_version() {
  auto stmt = prepare("PRAGMA user_version");
  return stmt.step() ? static_cast<int>(stmt.int64(0)) : 0;
}

void SqliteDatabase::set_user_version(int version) { exec("PRAGMA user_version = " + std::to_string(version)); }

// BEGIN and COMMIT as cached statements: sqlite3_exec would parse them for
// every transaction.
void SqliteDatabase::begin_write() { prepare("BEGIN IMMEDIATE").run(); }
void SqliteDatabase::begin_read() { prepare("BEGIN").run(); }
void SqliteDatabase::commit() { prepare("COMMIT").run(); }
void SqliteDatabase::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
bool SqliteDatabase::in_transaction() const { return !sqlite3_get_autocommit(db_); }

}  // namespace provision::registry
