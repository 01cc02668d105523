#pragma once
// Moving a registry between backends (SQLite -> PostgreSQL when a fleet
// outgrows one machine, and back): every row of every table, in one
// transaction on the target, proved by row counts and a content digest per
// table read back from both sides. The target must be empty (freshly
// migrated: its tables hold no rows), and both at this build's schema.
#include <string>
#include <vector>

#include "registry/registry.h"

namespace provision::registry {

struct TableCopy {
  std::string table;
  int64_t rows_from = 0, rows_to = 0;
  std::string digest_from, digest_to;  // SHA-256 (hex) of the rows in key order
  bool same() const { return rows_from == rows_to && digest_from == digest_to; }
};

// Throws RegistryError or Error (an unknown table, a target that is not
// empty, different schema versions); nothing is written to the target then.
std::vector<TableCopy> copy_registry(Registry& from, Registry& to);
// The same digests without copying (to check two registries agree).
std::vector<TableCopy> compare_registries(Registry& a, Registry& b);

}  // namespace provision::registry
