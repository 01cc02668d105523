#pragma once
// Transactions on a registry connection. A Transaction writes: it rolls back
// in its destructor unless committed, so that an exception anywhere leaves
// nothing half-written. A ReadTransaction gives its reads one consistent view
// of the registry (and takes the database's locks once for all of them).
namespace provision::registry {

class Database;
class Registry;

class Transaction {
 public:
  explicit Transaction(Registry& registry);
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

class ReadTransaction {
 public:
  explicit ReadTransaction(Registry& registry);
  explicit ReadTransaction(Database& db);
  ~ReadTransaction();  // ends it (nothing was written)
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Database& db_;
};

}  // namespace provision::registry
