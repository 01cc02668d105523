#include "registry/database.h"

#include "registry/registry.h"

namespace provision::registry {

bool is_postgres_location(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::unique_ptr<Database> Database::open(const std::string& location, Mode mode, int busy_timeout_ms) {
  if (is_postgres_location(location)) return open_postgres_database(location, mode, busy_timeout_ms);
  return open_sqlite_database(location, mode, busy_timeout_ms);
}

std::string Database::display_location() const {
  if (!is_postgres_location(location_)) return location_;
  // postgresql://user:secret@host/db -> postgresql://user@host/db
  auto scheme = location_.find("://") + 3;
  auto at = location_.find('@', scheme);
  auto colon = location_.find(':', scheme);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return location_;
  return location_.substr(0, colon) + location_.substr(at);
}

Transaction::Transaction(Registry& registry) : Transaction(database_of(registry)) {}
Transaction::Transaction(Database& db) : db_(db) { db_.begin_write(); }
Transaction::~Transaction() {
  if (!done_) db_.rollback();
}
void Transaction::commit() {
  db_.commit();
  done_ = true;
}

ReadTransaction::ReadTransaction(Registry& registry) : ReadTransaction(database_of(registry)) {}
ReadTransaction::ReadTransaction(Database& db) : db_(db) { db_.begin_read(); }
// COMMIT (the broker ends one per connect); should it fail, ROLLBACK, which
// ends a read transaction whatever happened.
ReadTransaction::~ReadTransaction() {
  if (!db_.in_transaction()) return;
  try {
    db_.commit();
    return;
  } catch (const std::exception&) {
  }
  db_.rollback();
}

}  // namespace provision::registry
