#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace vesta::core {

// A flag a caller sets to abandon its lock waits. Thread-safe.
class CancellationToken {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct LockOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // longest a wait may block
  const CancellationToken* cancel = nullptr;                    // optional; must outlive the call
};

struct LockStats {
  uint64_t acquisitions = 0;  // successful lock requests
  uint64_t waits = 0;         // requests that had to block at least once
  uint64_t wait_ns = 0;       // total time spent blocked
  uint64_t timeouts = 0;
  uint64_t cancellations = 0;
};

class LockManager;

// Holds a collection lock (shared or exclusive) until destroyed or released.
// Movable, not copyable; a moved-from guard holds nothing.
class CollectionLockGuard {
 public:
  CollectionLockGuard() = default;
  CollectionLockGuard(CollectionLockGuard&& other) noexcept;
  CollectionLockGuard& operator=(CollectionLockGuard&& other) noexcept;
  ~CollectionLockGuard() { release(); }

  bool holds() const { return manager_ != nullptr; }
  bool is_exclusive() const { return exclusive_; }
  void release();

 private:
  friend class LockManager;
  CollectionLockGuard(LockManager* manager, std::string collection, bool exclusive)
      : manager_(manager), collection_(std::move(collection)), exclusive_(exclusive) {}
  LockManager* manager_ = nullptr;
  std::string collection_;
  bool exclusive_ = false;
};

// Holds a set of keyed locks until destroyed or released. Movable, not copyable.
class KeyLockGuard {
 public:
  KeyLockGuard() = default;
  KeyLockGuard(KeyLockGuard&& other) noexcept;
  KeyLockGuard& operator=(KeyLockGuard&& other) noexcept;
  ~KeyLockGuard() { release(); }

  bool holds() const { return manager_ != nullptr; }
  // The keys held, sorted and without duplicates.
  const std::vector<std::string>& keys() const { return keys_; }
  void release();

 private:
  friend class LockManager;
  KeyLockGuard(LockManager* manager, std::string ns, std::vector<std::string> keys)
      : manager_(manager), ns_(std::move(ns)), keys_(std::move(keys)) {}
  LockManager* manager_ = nullptr;
  std::string ns_;
  std::vector<std::string> keys_;
};

// The one lock service of a Vesta process, shared by the CPU and GPU search
// paths, the write path and the graph path.
//
// - Collection locks: a reader/writer lock per collection name. Waiting
//   writers block new readers, so a stream of searches cannot starve a write.
//   Not re-entrant: a thread must not ask again for a lock it holds.
// - Keyed locks: exclusive locks on strings within a namespace (for example
//   "points/<collection>" or "graph/<workspace>"). One request names all its
//   keys; they are sorted, de-duplicated and taken in that order, all or
//   nothing: on timeout or cancellation the keys already taken are released.
//   Because every request takes keys in sorted order, requests cannot
//   deadlock one another.
//
// Lock order: keyed locks first, then the collection lock, never the reverse.
// While waiting a request holds nothing but the keys it already took.
// Tables hold an entry only while a lock is held or awaited; idle entries and
// empty namespaces are removed. Thread-safe. Must outlive every guard it
// issued.
class LockManager {
 public:
  LockManager() = default;
  ~LockManager();
  LockManager(const LockManager&) = delete;
  LockManager& operator=(const LockManager&) = delete;

  Result<CollectionLockGuard> lock_collection_shared(std::string_view collection,
                                                     const LockOptions& options = {});
  Result<CollectionLockGuard> lock_collection_exclusive(std::string_view collection,
                                                        const LockOptions& options = {});
  // Exclusive locks on every key in `keys` within namespace `ns`.
  Result<KeyLockGuard> lock_keys(std::string_view ns, std::vector<std::string> keys,
                                 const LockOptions& options = {});

  LockStats stats() const;
  // Live entries (held or awaited) of a namespace; 0 when it has none.
  size_t key_table_size(std::string_view ns) const;
  size_t namespace_count() const;
  size_t collection_lock_count() const;  // collections with a holder or a waiter

 private:
  friend class CollectionLockGuard;
  friend class KeyLockGuard;

  struct CollectionEntry {
    int readers = 0;
    bool writer = false;
    int waiting_writers = 0;
    int users = 0;  // holders + waiters; the entry is removed at 0
    std::condition_variable changed;
  };
  struct KeyEntry {
    bool held = false;
    int waiters = 0;
    std::condition_variable released;
  };
  using KeyTable = std::unordered_map<std::string, std::unique_ptr<KeyEntry>>;

  // Waits on `cv` until `ready()` or the deadline or cancellation. Returns ok
  // or the failure; updates the wait counters. `mutex_` is held by `lock`.
  template <typename Ready>
  Status wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
              const LockOptions& options, const std::string& what, Ready ready);

  Result<CollectionLockGuard> lock_collection(std::string_view collection, bool exclusive,
                                              const LockOptions& options);
  void release_collection(const std::string& collection, bool exclusive);
  void release_keys(const std::string& ns, const std::vector<std::string>& keys);
  // Drops idle entries of `keys` (caller holds mutex_), and the table when empty.
  void release_keys_locked(const std::string& ns, const std::vector<std::string>& keys,
                           bool were_held);

  mutable std::mutex mutex_;  // guards everything below
  std::unordered_map<std::string, std::unique_ptr<CollectionEntry>> collections_;
  std::unordered_map<std::string, KeyTable> namespaces_;
  LockStats stats_;
};

}  // namespace vesta::core
