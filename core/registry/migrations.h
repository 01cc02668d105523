#pragma once
// Versioned schema migrations of the registry, the same versions for each
// backend: `sql` is SQLite's text, postgres_migration_sql() PostgreSQL's
// (migrations_postgres.cpp). The database records the version reached
// (SQLite: PRAGMA user_version; PostgreSQL: the schema_version table); each
// migration runs in its own transaction, so a failure leaves the registry at
// the previous version.
#include <string_view>
#include <vector>

namespace provision::registry {

class Database;

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

const std::vector<Migration>& migrations();
// PostgreSQL's text of a version ("" when it has none).
std::string_view postgres_migration_sql(int version);
// The version a fully migrated registry has.
int latest_schema_version();
// Applies every migration above the file's version. Refuses (Error) a file
// newer than this build knows.
void migrate(Database& db);

}  // namespace provision::registry
