#include "registry/postgres_database.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

namespace provision::registry {
namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

bool ok(const PGresult* r) {
  auto status = PQresultStatus(r);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

RegistryError::Kind sqlstate_kind(std::string_view s) {
  if (s.starts_with("23")) return RegistryError::Kind::Constraint;  // integrity constraint violation
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014") return RegistryError::Kind::Busy;  // serialization, deadlock, lock/statement timeout
  if (s == "53100" || s == "53200") return RegistryError::Kind::Full;  // disk full, out of memory
  if (s.starts_with("08") || s.starts_with("57P") || s == "53300" || s == "25006" || s.starts_with("28") || s == "3D000")
    return RegistryError::Kind::Unavailable;  // connection, shutdown, too many connections, read-only, auth, no database
  if (s == "XX001" || s == "XX002") return RegistryError::Kind::Corrupt;
  if (s == "42P01" || s == "42703") return RegistryError::Kind::Schema;  // no such table or column
  return RegistryError::Kind::Other;
}

std::string postgres_parameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'') quoted = !quoted;
    if (c != '?' || quoted) {
      out += c;
      continue;
    }
    size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    if (j > i + 1) {
      out += '$';
      out.append(sql.substr(i + 1, j - i - 1));
      i = j - 1;
    } else {
      out += '$' + std::to_string(++next);
    }
  }
  return out;
}

class PostgresDatabase::PostgresStatement final : public StatementImpl {
 public:
  PostgresStatement(PostgresDatabase& db, std::string sql, std::string name)
      : db_(db), sql_(std::move(sql)), name_(std::move(name)) {}

  void bind_text(int index, std::string_view value) override { slot(index) = std::string(value); }
  void bind_int64(int index, int64_t value) override { slot(index) = std::to_string(value); }
  void bind_null(int index) override { slot(index) = std::nullopt; }

  bool step() override {
    if (!result_) execute();
    return ++row_ < PQntuples(result_.get());
  }
  void reset() override {
    result_.reset();
    row_ = -1;
    params_.clear();
  }
  bool is_null(int column) const override { return PQgetisnull(result_.get(), row_, column); }
  std::string text(int column) const override {
    return std::string(PQgetvalue(result_.get(), row_, column), static_cast<size_t>(PQgetlength(result_.get(), row_, column)));
  }
  int64_t int64(int column) const override { return std::strtoll(PQgetvalue(result_.get(), row_, column), nullptr, 10); }
  int column_count() const override { return PQnfields(result_.get()); }
  std::string column_name(int column) const override { return PQfname(result_.get(), column); }

 private:
  std::optional<std::string>& slot(int index) {
    if (static_cast<size_t>(index) > params_.size()) params_.resize(static_cast<size_t>(index));
    return params_[static_cast<size_t>(index) - 1];
  }

  void execute() {
    db_.ensure_connected();
    if (prepared_in_ != db_.session_) {
      Result prepared(PQprepare(db_.conn_, name_.c_str(), sql_.c_str(), 0, nullptr));
      if (!ok(prepared.get())) db_.fail("prepare " + sql_.substr(0, 60), prepared.get());
      prepared_in_ = db_.session_;
    }
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const auto& p : params_) values.push_back(p ? p->c_str() : nullptr);
    result_.reset(PQexecPrepared(db_.conn_, name_.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
    if (!ok(result_.get())) {
      Result failed = std::move(result_);
      db_.fail(sql_.substr(0, 60), failed.get());
    }
    const char* tuples = PQcmdTuples(result_.get());
    db_.changes_ = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
    row_ = -1;
  }

  PostgresDatabase& db_;
  std::string sql_, name_;
  uint64_t prepared_in_ = 0;  // the session it was prepared in (0: none)
  std::vector<std::optional<std::string>> params_;
  Result result_;
  int row_ = -1;
};

PostgresDatabase::PostgresDatabase(std::string uri, Mode mode, int busy_timeout_ms)
    : Database(std::move(uri)), mode_(mode), busy_timeout_ms_(busy_timeout_ms) {}

std::unique_ptr<Database> PostgresDatabase::open(const std::string& uri, Mode mode, int busy_timeout_ms) {
  std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(uri, mode, busy_timeout_ms));
  db->connect();
  return db;
}

std::unique_ptr<Database> open_postgres_database(const std::string& uri, Database::Mode mode, int busy_timeout_ms) {
  return PostgresDatabase::open(uri, mode, busy_timeout_ms);
}

PostgresDatabase::~PostgresDatabase() {
  statements_.clear();
  if (conn_) PQfinish(conn_);
}

void PostgresDatabase::connect() {
  if (conn_) PQfinish(conn_);
  // Fail fast when the server is away (a broker thread may be waiting),
  // unless the URI says otherwise.
  std::string uri = location();
  if (uri.find("connect_timeout=") == std::string::npos)
    uri += (uri.find('?') == std::string::npos ? "?" : "&") + std::string("connect_timeout=2");
  conn_ = PQconnectdb(uri.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw RegistryError("registry " + display_location() + ": cannot connect: " + message, RegistryError::Kind::Unavailable);
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // IF NOT EXISTS and the like are not news
  ++session_;
  std::string settings = "SET client_encoding = 'UTF8'; SET client_min_messages = warning; SET lock_timeout = " +
                         std::to_string(busy_timeout_ms_) + "; SET idle_in_transaction_session_timeout = 60000";
  // A reader is the broker's thread: it must not wait long on a slow server.
  if (mode_ == Mode::ReadOnly)
    settings += "; SET default_transaction_read_only = on; SET statement_timeout = " + std::to_string(std::max(busy_timeout_ms_ * 5, 500));
  run_simple(settings, "session settings");
}

void PostgresDatabase::ensure_connected() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return;
  if (conn_ && PQtransactionStatus(conn_) != PQTRANS_IDLE && PQtransactionStatus(conn_) != PQTRANS_UNKNOWN)
    throw RegistryError("registry " + display_location() + ": the session broke inside a transaction",
                        RegistryError::Kind::Unavailable);
  connect();
}

void PostgresDatabase::fail(std::string_view what, PGresult* result) {
  std::string message = result ? PQresultErrorMessage(result) : "";
  if (message.empty() && conn_) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  RegistryError::Kind kind = state ? sqlstate_kind(state) : RegistryError::Kind::Unavailable;
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) kind = RegistryError::Kind::Unavailable;
  throw RegistryError("registry " + display_location() + ": " + std::string(what) + ": " + message, kind);
}

void PostgresDatabase::run_simple(const std::string& sql, std::string_view what) {
  Result r(PQexec(conn_, sql.c_str()));
  if (!ok(r.get())) fail(what, r.get());
  const char* tuples = PQcmdTuples(r.get());
  changes_ = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
}

// No parameters here: the text (schema migrations, with their comments) goes as it is.
void PostgresDatabase::exec(std::string_view sql) {
  ensure_connected();
  run_simple(std::string(sql), sql.substr(0, 60));
}

Statement PostgresDatabase::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    auto statement =
        std::make_unique<PostgresStatement>(*this, postgres_parameters(sql), "registry_" + std::to_string(++next_statement_));
    it = statements_.emplace(std::string(sql), std::move(statement)).first;
  }
  return Statement(*it->second);
}

// Writers see what others committed at each statement (READ COMMITTED);
// whatever must happen once (a token used, a thing name taken, an
// enrollment used) is a unique constraint or a conditional update, which
// PostgreSQL serialises with row locks.
void PostgresDatabase::begin_write() {
  ensure_connected();
  run_simple("BEGIN", "BEGIN");
}

void PostgresDatabase::begin_read() {
  ensure_connected();
  run_simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN");
}

void PostgresDatabase::commit() { run_simple("COMMIT", "COMMIT"); }

void PostgresDatabase::rollback() noexcept {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return;
  PQclear(PQexec(conn_, "ROLLBACK"));
}

bool PostgresDatabase::in_transaction() const {
  if (!conn_) return false;
  auto status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

int64_t PostgresDatabase::data_version() {
  auto s = prepare("SELECT coalesce(max(id), 0) FROM registry_changes");
  return s.step() ? s.int64(0) : 0;
}

int PostgresDatabase::user_version() {
  auto exists = prepare("SELECT to_regclass('schema_version') IS NOT NULL");
  if (!exists.step() || exists.text(0) != "t") return 0;
  auto s = prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  return s.step() ? static_cast<int>(s.int64(0)) : 0;
}

void PostgresDatabase::set_user_version(int version) {
  exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL); DELETE FROM schema_version; "
       "INSERT INTO schema_version (version) VALUES (" +
       std::to_string(version) + ")");
}

std::vector<std::string> PostgresDatabase::table_names() {
  auto s = prepare("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_version' ORDER BY tablename");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void PostgresDatabase::ids_inserted(const std::string& table) {
  exec("SELECT setval(pg_get_serial_sequence('" + table + "', 'id'), coalesce((SELECT max(id) FROM " + table + "), 0) + 1, false)");
}

void PostgresDatabase::lock_for_migration() { exec("SELECT pg_advisory_xact_lock(7264031)"); }

void PostgresDatabase::set_busy_timeout(int milliseconds) {
  busy_timeout_ms_ = milliseconds;
  exec("SET lock_timeout = " + std::to_string(milliseconds));
}

}  // namespace provision::registry
