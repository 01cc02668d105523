#include "registry/database.h"

#include "registry/registry.h"

namespace provision::registry {

bool is_database_uri(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string display_location(const std::string& location) {
  if (!is_database_uri(location)) return location;
  // postgresql://user:secret@host/db -> postgresql://user@host/db
  auto scheme = location.find("://") + 3;
  auto at = location.find('@', scheme);
  auto colon = location.find(':', scheme);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return location;
  return location.substr(0, colon) + location.substr(at);
}

std::unique_ptr<Database> Database::open(const std::string& location, Mode mode, int busy_timeout_ms) {
  if (is_postgres_location(location)) return open_postgres_database(location, mode, busy_timeout_ms);
  return open_sqlite_database(location, mode, busy_timeout_ms);
}

std::string Database::display_location() const { return registry::display_location(location_); }

RequestError as_request_error(const RegistryError& e) {
  switch (e.kind) {
    case RegistryError::Kind::Busy: return RequestError(503, "ServiceUnavailable", "the registry is busy; retry later");
    case RegistryError::Kind::Unavailable:
      return RequestError(503, "RegistryUnavailable", "the registry cannot be reached; nothing was applied; retry later");
    case RegistryError::Kind::Full:
      return RequestError(503, "RegistryFull", "the registry has no room left; nothing was applied; retry later");
    case RegistryError::Kind::Constraint:
      return RequestError(409, "Conflict", "conflicts with what exists (perhaps just written by another request); nothing was applied");
    default: break;
  }
  return RequestError(500, "InternalError", "registry failure; nothing was applied");
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
