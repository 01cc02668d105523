#pragma once
// The registry connection(s) provisiond's request threads share: a request
// borrows one when it first needs the registry, and gives it back when it
// ends or while it waits on something slow (a pre-provisioning hook).
//
// Why one shared connection rather than one per thread: SQLite drops a
// connection's whole page cache whenever another connection has written
// since its last transaction. With a connection per request thread, nearly
// every transaction started cold and re-read its pages (provision-bench,
// strace: about 80 page reads per device; 8 with one shared connection, and
// provisiond's CPU per device about 8 % lower). Requests spend a small part
// of their time in the registry, so taking turns on it costs little; the
// slow part, hooks, runs without holding it.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "registry/registry.h"

namespace provision::service {

class RegistryPool {
 public:
  using Opener = std::function<registry::Registry()>;
  // At most `connections` are opened (lazily, by the first borrowers).
  RegistryPool(Opener open, int connections) : open_(std::move(open)), capacity_(connections < 1 ? 1 : connections) {}
  RegistryPool(const RegistryPool&) = delete;
  RegistryPool& operator=(const RegistryPool&) = delete;

  // A borrowed connection, returned to the pool when the lease ends.
  class Lease {
   public:
    Lease(RegistryPool& pool, std::unique_ptr<registry::Registry> registry)
        : pool_(&pool), registry_(std::move(registry)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (registry_) pool_->give_back(std::move(registry_));
    }
    registry::Registry& operator*() const { return *registry_; }
    registry::Registry* operator->() const { return registry_.get(); }

   private:
    RegistryPool* pool_;
    std::unique_ptr<registry::Registry> registry_;
  };

  // The most recently returned connection; a new one while fewer than
  // `connections` exist; otherwise waits for one to come back. Throws what
  // the opener throws (and then opens nothing).
  Lease acquire() {
    {
      std::unique_lock lock(mutex_);
      returned_.wait(lock, [&] { return !idle_.empty() || opened_ < capacity_; });
      if (!idle_.empty()) {
        auto registry = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(registry));
      }
      ++opened_;
    }
    try {
      // Opened outside the lock: opening migrates and may wait on the file.
      return Lease(*this, std::make_unique<registry::Registry>(open_()));
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        --opened_;
      }
      returned_.notify_one();
      throw;
    }
  }

  // Connections opened and not lent right now.
  size_t idle() const {
    std::lock_guard lock(mutex_);
    return idle_.size();
  }

 private:
  void give_back(std::unique_ptr<registry::Registry> registry) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(std::move(registry));
    }
    returned_.notify_one();
  }

  Opener open_;
  const int capacity_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  int opened_ = 0;
  std::vector<std::unique_ptr<registry::Registry>> idle_;  // the back is the warmest
};

// One request's access to the registry: borrowed from the pool on first use,
// kept until give_back() or the end of the request.
class RegistryAccess {
 public:
  explicit RegistryAccess(RegistryPool& pool) : pool_(pool) {}
  // The borrowed connection; borrows one (and may wait for it) when none is held.
  registry::Registry& registry() {
    if (!lease_) lease_.emplace(pool_.acquire());
    return **lease_;
  }
  // Before waiting on something slow: references from registry() are invalid
  // afterwards. No transaction may be open.
  void give_back() { lease_.reset(); }
  bool holding() const { return lease_.has_value(); }

 private:
  RegistryPool& pool_;
  std::optional<RegistryPool::Lease> lease_;
};

}  // namespace provision::service
