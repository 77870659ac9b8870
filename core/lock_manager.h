#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/cancellation.h"
#include "core/status.h"

namespace vesta::core {

// Longer timeouts are cut to this, so that a deadline never overflows the clock;
// a year stands for "wait as long as it takes".
inline constexpr std::chrono::hours kLongestLockTimeout{24 * 365};

struct LockOptions {
  // The longest one request may block, all its keys together. Zero or less:
  // never block (fail at once with kDeadlineExceeded where a lock is not free).
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // Optional; must outlive the call. A set token fails a request where it would
  // block; locks that are free at once are still taken.
  const CancellationToken* cancel = nullptr;
};

// Counters since the LockManager was built; each is a count of requests (one
// lock_keys call counts once, however many keys it names or blocks on).
struct LockStats {
  uint64_t acquisitions = 0;   // requests that got their locks
  uint64_t waits = 0;          // requests that found a lock not free, whatever the outcome
  uint64_t wait_ns = 0;        // total time requests spent blocked
  uint64_t timeouts = 0;       // requests failed with kDeadlineExceeded
  uint64_t cancellations = 0;  // requests failed with kCancelled
};

class LockManager;

// Holds a collection lock, shared or exclusive, until destroyed or released.
// Movable, not copyable; a moved-from or released guard holds nothing, and
// release() on it does nothing, so a lock is never released twice. One owner at
// a time, not thread-safe itself; locks are not tied to threads, so a guard may
// be moved to and released on another thread. Points back to the LockManager
// that issued it, which must outlive it.
class CollectionLockGuard {
 public:
  CollectionLockGuard() = default;
  CollectionLockGuard(CollectionLockGuard&& other) noexcept;
  CollectionLockGuard& operator=(CollectionLockGuard&& other) noexcept;
  CollectionLockGuard(const CollectionLockGuard&) = delete;
  CollectionLockGuard& operator=(const CollectionLockGuard&) = delete;
  ~CollectionLockGuard() { release(); }

  bool holds() const { return manager_ != nullptr; }
  bool is_exclusive() const { return exclusive_; }
  const std::string& collection() const { return collection_; }
  void release();

 private:
  friend class LockManager;
  CollectionLockGuard(LockManager* manager, std::string collection, bool exclusive)
      : manager_(manager), collection_(std::move(collection)), exclusive_(exclusive) {}

  LockManager* manager_ = nullptr;  // null once released or moved from
  std::string collection_;
  bool exclusive_ = false;
};

// Holds a set of keyed locks of one namespace until destroyed or released, and
// then releases all of them. Movable, not copyable; ownership and threads as
// for CollectionLockGuard. The LockManager that issued it must outlive it.
class KeyLockGuard {
 public:
  KeyLockGuard() = default;
  KeyLockGuard(KeyLockGuard&& other) noexcept;
  KeyLockGuard& operator=(KeyLockGuard&& other) noexcept;
  KeyLockGuard(const KeyLockGuard&) = delete;
  KeyLockGuard& operator=(const KeyLockGuard&) = delete;
  ~KeyLockGuard() { release(); }

  bool holds() const { return manager_ != nullptr; }
  const std::string& key_namespace() const { return ns_; }
  // The keys held, sorted and without duplicates.
  const std::vector<std::string>& keys() const { return keys_; }
  void release();

 private:
  friend class LockManager;
  KeyLockGuard(LockManager* manager, std::string ns, std::vector<std::string> keys)
      : manager_(manager), ns_(std::move(ns)), keys_(std::move(keys)) {}

  LockManager* manager_ = nullptr;  // null once released or moved from
  std::string ns_;
  std::vector<std::string> keys_;
};

// The one lock service of a Vesta process, shared by the CPU and GPU search
// paths, the write path and the graph path.
//
// - Collection locks: a reader/writer lock per collection name. Writers are
//   preferred: while a writer waits, new readers wait behind it, so a steady
//   stream of searches cannot starve a write (a steady stream of writes can
//   delay readers). Not re-entrant: a thread must not ask again for a lock it
//   holds (a second shared request would queue behind a waiting writer).
// - Keyed locks: exclusive locks on strings within a namespace (for example
//   "points/<collection>" or "graph/<workspace>"). One request names all its
//   keys; they are sorted, de-duplicated and taken in that order, all or
//   nothing: on timeout or cancellation the keys already taken are released
//   before the call returns. One deadline covers the whole request.
//
// Lock order: keyed locks first, then the collection lock, never the reverse.
// A thread names all the keys it needs in one request rather than holding one
// KeyLockGuard while asking for more. While waiting, a request holds nothing
// but the keys it already took; since every request takes its keys in sorted
// order, requests cannot deadlock one another.
//
// Thread-safe: every method may be called from any thread. One internal mutex
// guards all tables and counters; it is never held while a caller holds a
// guard. Tables hold an entry only while a lock is held or awaited: idle
// entries, empty namespaces and idle collections are removed. Must outlive
// every guard it issued (the destructor checks that nothing is held).
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
  // Exclusive locks on every key in `keys` within namespace `ns`. An empty
  // `keys` is an InvalidArgument.
  Result<KeyLockGuard> lock_keys(std::string_view ns, std::vector<std::string> keys,
                                 const LockOptions& options = {});

  LockStats stats() const;
  // Live entries (held or awaited) of a namespace; 0 when it has none.
  size_t key_table_size(std::string_view ns) const;
  size_t namespace_count() const;        // namespaces with a live entry
  size_t collection_lock_count() const;  // collections with a holder or a waiter

 private:
  friend class CollectionLockGuard;
  friend class KeyLockGuard;

  struct CollectionEntry {
    int readers = 0;
    bool writer = false;
    int waiting_writers = 0;
    int users = 0;  // holders + waiters; the entry is removed at 0
    // Readers wait for !writer && waiting_writers == 0; writers for !writer &&
    // readers == 0. Separate so that each event wakes only those it may let in.
    std::condition_variable reader_turn;
    std::condition_variable writer_turn;
  };
  struct KeyEntry {
    bool held = false;
    int waiters = 0;  // the entry is removed when !held && waiters == 0
    std::condition_variable released;
  };
  using KeyTable = std::unordered_map<std::string, std::unique_ptr<KeyEntry>>;

  enum class WaitOutcome { kReady, kTimedOut, kCancelled };
  struct Request;  // one call's deadline and whether it has blocked yet

  // Returns at once when `ready()`; otherwise blocks on `cv` until `ready()`,
  // the request's deadline or its cancellation, and updates the counters.
  // `lock` holds mutex_ throughout, except inside the waits.
  template <typename Ready>
  WaitOutcome wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                   Request& request, Ready ready);

  Result<CollectionLockGuard> lock_collection(std::string_view collection, bool exclusive,
                                              const LockOptions& options);
  void release_collection(const std::string& collection, bool exclusive);
  void release_keys(const std::string& ns, std::span<const std::string> keys);
  // With mutex_ held: releases `keys` of `ns` (when `were_held`, waking one
  // waiter of each) and drops the entries left idle, and the namespace when it
  // becomes empty.
  void release_keys_locked(const std::string& ns, std::span<const std::string> keys,
                           bool were_held);

  mutable std::mutex mutex_;  // guards everything below; a leaf lock
  std::unordered_map<std::string, std::unique_ptr<CollectionEntry>> collections_;
  std::unordered_map<std::string, KeyTable> namespaces_;
  LockStats stats_;
};

}  // namespace vesta::core
