#include "registry/copy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "registry/database.h"
#include "util/encoding.h"

namespace provision::registry {
namespace {

// Every table of the registry, parents before children, with the columns
// that order its rows. A table the database holds and this list does not
// (a newer schema) stops a copy before anything is written.
struct Table {
  const char* name;
  const char* key;  // ORDER BY
  bool counted_ids = false;  // ids the database hands out (audit_log, registry_changes)
};
constexpr Table kTables[] = {
    {"cas", "id"},
    {"things", "name"},
    {"policies", "name"},
    {"templates", "name"},
    {"template_versions", "template_name, version"},
    {"claim_certificates", "id"},
    {"service_identities", "certificate_id"},
    {"certificates", "id"},
    {"certificate_policies", "certificate_id, policy_name"},
    {"ownership_tokens", "token_hash"},
    {"thing_group_members", "thing_name, group_name"},
    {"enrollments", "registration_id"},
    {"brokers", "name"},
    {"api_tokens", "name"},
    {"cluster_tasks", "name"},
    {"device_credentials", "thing_name"},
    {"firmware_releases", "id", true},
    {"bootstrap_access_log", "id", true},
    {"bootstrap_signatures", "signature"},
    {"audit_log", "id", true},
    {"registry_changes", "id", true},
};

void check_known_tables(Database& db) {
  for (const auto& name : db.table_names()) {
    bool known = std::any_of(std::begin(kTables), std::end(kTables), [&](const Table& t) { return name == t.name; });
    if (!known)
      throw Error("registry " + db.display_location() + " has a table this build cannot copy: " + name +
                  " (copy with the provisiond that made it)");
  }
}

// Rows in key order: their count, and a SHA-256 over every value (NULL and
// '' told apart, each value length-prefixed).
std::pair<int64_t, std::string> digest(Database& db, const Table& table) {
  auto s = db.prepare(std::string("SELECT * FROM ") + table.name + " ORDER BY " + table.key);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> hash(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!hash || EVP_DigestInit_ex(hash.get(), EVP_sha256(), nullptr) != 1) throw Error("SHA-256 is not available");
  std::string all;  // one row at a time
  int64_t rows = 0;
  std::vector<std::string> names;
  while (s.step()) {
    if (names.empty())
      for (int i = 0; i < s.column_count(); ++i) names.push_back(s.column_name(i));
    // Columns by name, sorted: the two databases may order them differently.
    std::vector<std::pair<std::string, int>> order;
    for (int i = 0; i < static_cast<int>(names.size()); ++i) order.emplace_back(names[i], i);
    std::sort(order.begin(), order.end());
    for (const auto& [name, i] : order) {
      all += name;
      if (s.is_null(i)) {
        all += '\0';
      } else {
        std::string value = s.text(i);
        all += '\1' + std::to_string(value.size()) + ':' + value;
      }
    }
    all += '\n';
    EVP_DigestUpdate(hash.get(), all.data(), all.size());
    all.clear();
    ++rows;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(hash.get(), out, &length);
  return {rows, to_hex(std::string_view(reinterpret_cast<const char*>(out), length))};
}

std::vector<TableCopy> compare(Database& a, Database& b) {
  std::vector<TableCopy> out;
  for (const auto& table : kTables) {
    TableCopy c;
    c.table = table.name;
    std::tie(c.rows_from, c.digest_from) = digest(a, table);
    std::tie(c.rows_to, c.digest_to) = digest(b, table);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::vector<TableCopy> compare_registries(Registry& a, Registry& b) {
  ReadTransaction ra(a), rb(b);
  return compare(database_of(a), database_of(b));
}

std::vector<TableCopy> copy_registry(Registry& from, Registry& to) {
  Database& source = database_of(from);
  Database& target = database_of(to);
  if (source.user_version() != target.user_version())
    throw Error("the registries have schema versions " + std::to_string(source.user_version()) + " and " +
                std::to_string(target.user_version()));
  check_known_tables(source);
  check_known_tables(target);
  {
    ReadTransaction snapshot(source);
    Transaction tx(target);
    for (const auto& table : kTables) {
      auto count = target.prepare(std::string("SELECT count(*) FROM ") + table.name);
      if (count.step() && count.int64(0) != 0)
        throw Error("registry " + target.display_location() + " is not empty (" + table.name + " has rows): copy only into a new one");
    }
    for (const auto& table : kTables) {
      // Rows the target's triggers write while copying (the change log) are
      // replaced by the source's own.
      if (std::string(table.name) == "registry_changes") target.prepare("DELETE FROM registry_changes").run();
      auto rows = source.prepare(std::string("SELECT * FROM ") + table.name + " ORDER BY " + table.key);
      std::optional<Statement> insert;
      std::vector<std::string> columns;
      while (rows.step()) {
        if (!insert) {
          std::string names, marks;
          for (int i = 0; i < rows.column_count(); ++i) {
            columns.push_back(rows.column_name(i));
            names += (i ? ", " : "") + columns.back();
            marks += i ? ", ?" : "?";
          }
          insert.emplace(target.prepare(std::string("INSERT INTO ") + table.name + " (" + names + ") VALUES (" + marks + ")"));
        }
        for (int i = 0; i < rows.column_count(); ++i) {
          if (rows.is_null(i)) insert->bind(i + 1, std::nullopt);
          else insert->bind(i + 1, rows.text(i));
        }
        insert->run();
      }
      if (table.counted_ids) target.ids_inserted(table.name);
    }
    tx.commit();
  }
  ReadTransaction ra(from), rb(to);
  return compare(source, target);
}

}  // namespace provision::registry
