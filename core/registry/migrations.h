#pragma once
// Versioned schema migrations of the registry. PRAGMA user_version records
// the version reached; each migration runs in its own transaction, so a
// failure leaves the file at the previous version.
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
// The version a fully migrated registry has.
int latest_schema_version();
// Applies every migration above the file's version. Refuses (Error) a file
// newer than this build knows.
void migrate(Database& db);

}  // namespace provision::registry
