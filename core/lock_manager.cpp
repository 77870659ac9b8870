#include "core/lock_manager.h"

#include <algorithm>

#include "core/check.h"

namespace vesta::core {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_after(Clock::time_point now, std::chrono::milliseconds timeout) {
  return now + std::min<std::chrono::milliseconds>(timeout, kLongestLockTimeout);
}

std::string collection_target(bool exclusive, std::string_view collection) {
  std::string what = exclusive ? "exclusive" : "shared";
  what += " lock on collection '";
  what += collection;
  what += "'";
  return what;
}

std::string key_target(std::string_view key, std::string_view ns) {
  std::string what = "key '";
  what += key;
  what += "' in namespace '";
  what += ns;
  what += "'";
  return what;
}

}  // namespace

// The waiting state of one lock call. Every key of a multi-key request shares
// one deadline, set when the request first blocks (until then it holds mutex_
// throughout, so no time of the caller's is lost), and the request counts as one
// wait however many keys it blocks on.
struct LockManager::Request {
  explicit Request(const LockOptions& request_options) : options(request_options) {}

  // The failure for `outcome` (not kReady), naming what the request waited for.
  Status failure(WaitOutcome outcome, const std::string& what) const {
    if (outcome == WaitOutcome::kCancelled) {
      return {StatusCode::kCancelled, "cancelled while waiting for " + what};
    }
    return {
        StatusCode::kDeadlineExceeded,
        "timed out after " + std::to_string(options.timeout.count()) + " ms waiting for " + what};
  }

  const LockOptions& options;
  bool blocked = false;
  Clock::time_point deadline;  // valid once `blocked`
};

// ---- guards ----------------------------------------------------------------

CollectionLockGuard::CollectionLockGuard(CollectionLockGuard&& other) noexcept
    : manager_(std::exchange(other.manager_, nullptr)),
      collection_(std::move(other.collection_)),
      exclusive_(other.exclusive_) {}

CollectionLockGuard& CollectionLockGuard::operator=(CollectionLockGuard&& other) noexcept {
  if (this != &other) {
    release();
    manager_ = std::exchange(other.manager_, nullptr);
    collection_ = std::move(other.collection_);
    exclusive_ = other.exclusive_;
  }
  return *this;
}

void CollectionLockGuard::release() {
  if (manager_ == nullptr) return;
  std::exchange(manager_, nullptr)->release_collection(collection_, exclusive_);
}

KeyLockGuard::KeyLockGuard(KeyLockGuard&& other) noexcept
    : manager_(std::exchange(other.manager_, nullptr)),
      ns_(std::move(other.ns_)),
      keys_(std::move(other.keys_)) {}

KeyLockGuard& KeyLockGuard::operator=(KeyLockGuard&& other) noexcept {
  if (this != &other) {
    release();
    manager_ = std::exchange(other.manager_, nullptr);
    ns_ = std::move(other.ns_);
    keys_ = std::move(other.keys_);
  }
  return *this;
}

void KeyLockGuard::release() {
  if (manager_ == nullptr) return;
  std::exchange(manager_, nullptr)->release_keys(ns_, keys_);
}

// ---- LockManager -----------------------------------------------------------

LockManager::~LockManager() {
  std::lock_guard lock(mutex_);
  VESTA_CHECK(collections_.empty() && namespaces_.empty())
      << "LockManager destroyed while " << collections_.size() << " collection locks and "
      << namespaces_.size() << " key namespaces are held or awaited";
}

template <typename Ready>
LockManager::WaitOutcome LockManager::wait(std::unique_lock<std::mutex>& lock,
                                           std::condition_variable& cv, Request& request,
                                           Ready ready) {
  if (ready()) return WaitOutcome::kReady;
  const Clock::time_point start = Clock::now();
  if (!request.blocked) {
    request.blocked = true;
    request.deadline = deadline_after(start, request.options.timeout);
    ++stats_.waits;
  }
  const CancellationToken* cancel = request.options.cancel;
  // A lock that became free is taken, even late: wait_cancellable asks
  // ready() before the deadline.
  const WaitEnd end = wait_cancellable(cv, lock, request.deadline, cancel, ready,
                                       [&] { return cancel->cancelled(); });
  const WaitOutcome outcome = end == WaitEnd::kReady       ? WaitOutcome::kReady
                              : end == WaitEnd::kCancelled ? WaitOutcome::kCancelled
                                                           : WaitOutcome::kTimedOut;
  const Clock::time_point now = Clock::now();
  stats_.wait_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count());
  if (outcome == WaitOutcome::kTimedOut) ++stats_.timeouts;
  if (outcome == WaitOutcome::kCancelled) ++stats_.cancellations;
  return outcome;
}

Result<CollectionLockGuard> LockManager::lock_collection_shared(std::string_view collection,
                                                                const LockOptions& options) {
  return lock_collection(collection, false, options);
}

Result<CollectionLockGuard> LockManager::lock_collection_exclusive(std::string_view collection,
                                                                   const LockOptions& options) {
  return lock_collection(collection, true, options);
}

Result<CollectionLockGuard> LockManager::lock_collection(std::string_view collection,
                                                         bool exclusive,
                                                         const LockOptions& options) {
  std::string name(collection);
  Request request(options);
  std::unique_lock lock(mutex_);
  std::unique_ptr<CollectionEntry>& slot = collections_[name];
  if (!slot) slot = std::make_unique<CollectionEntry>();
  CollectionEntry& entry = *slot;  // stable while `users` counts this request
  ++entry.users;
  WaitOutcome outcome;
  if (exclusive) {
    ++entry.waiting_writers;
    outcome =
        wait(lock, entry.writer_turn, request, [&] { return !entry.writer && entry.readers == 0; });
    --entry.waiting_writers;
    if (outcome == WaitOutcome::kReady) {
      entry.writer = true;
    } else if (entry.waiting_writers == 0 && !entry.writer) {
      // This writer may have been all that held the waiting readers back.
      entry.reader_turn.notify_all();
    }
  } else {
    outcome = wait(lock, entry.reader_turn, request,
                   [&] { return !entry.writer && entry.waiting_writers == 0; });
    if (outcome == WaitOutcome::kReady) ++entry.readers;
  }
  if (outcome != WaitOutcome::kReady) {
    if (--entry.users == 0) collections_.erase(name);
    return request.failure(outcome, collection_target(exclusive, name));
  }
  ++stats_.acquisitions;
  return CollectionLockGuard(this, std::move(name), exclusive);
}

void LockManager::release_collection(const std::string& collection, bool exclusive) {
  std::lock_guard lock(mutex_);
  auto it = collections_.find(collection);
  VESTA_CHECK(it != collections_.end()) << "release of unknown collection lock " << collection;
  CollectionEntry& entry = *it->second;
  if (exclusive) {
    VESTA_CHECK(entry.writer) << "exclusive release without a writer on " << collection;
    entry.writer = false;
  } else {
    VESTA_CHECK(entry.readers > 0) << "shared release without readers on " << collection;
    --entry.readers;
  }
  if (--entry.users == 0) {
    collections_.erase(it);
    return;
  }
  // A woken writer always takes the lock when it is free (it checks before its
  // deadline), so waking one is enough; readers go in together, and only when
  // no writer waits.
  if (entry.waiting_writers > 0) {
    if (!entry.writer && entry.readers == 0) entry.writer_turn.notify_one();
  } else if (exclusive) {
    entry.reader_turn.notify_all();
  }
}

Result<KeyLockGuard> LockManager::lock_keys(std::string_view ns, std::vector<std::string> keys,
                                            const LockOptions& options) {
  if (keys.empty()) {
    return invalid_argument("a keyed lock request in namespace '" + std::string(ns) +
                            "' names no key");
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string table_name(ns);
  Request request(options);

  std::unique_lock lock(mutex_);
  // Not removed while this request runs: it always has an entry in the table
  // (a key it holds or waits for). References stay valid across rehashing.
  KeyTable& table = namespaces_[table_name];
  for (size_t i = 0; i < keys.size(); ++i) {
    std::unique_ptr<KeyEntry>& slot = table[keys[i]];
    if (!slot) slot = std::make_unique<KeyEntry>();
    KeyEntry& entry = *slot;  // stable while held or awaited by this request
    ++entry.waiters;
    const WaitOutcome outcome = wait(lock, entry.released, request, [&] { return !entry.held; });
    --entry.waiters;
    if (outcome != WaitOutcome::kReady) {
      // All or nothing: give back keys[0, i), then drop keys[i] if now idle.
      // In this order the table keeps keys[i] until the last step.
      const std::span<const std::string> all(keys);
      release_keys_locked(table_name, all.first(i), true);
      release_keys_locked(table_name, all.subspan(i, 1), false);
      return request.failure(outcome, key_target(keys[i], table_name));
    }
    entry.held = true;
  }
  ++stats_.acquisitions;
  return KeyLockGuard(this, std::move(table_name), std::move(keys));
}

void LockManager::release_keys(const std::string& ns, std::span<const std::string> keys) {
  std::lock_guard lock(mutex_);
  release_keys_locked(ns, keys, true);
}

void LockManager::release_keys_locked(const std::string& ns, std::span<const std::string> keys,
                                      bool were_held) {
  auto table_it = namespaces_.find(ns);
  VESTA_CHECK(table_it != namespaces_.end()) << "release in unknown key namespace " << ns;
  KeyTable& table = table_it->second;
  for (const std::string& key : keys) {
    auto it = table.find(key);
    VESTA_CHECK(it != table.end()) << "release of unknown key " << key << " in " << ns;
    KeyEntry& entry = *it->second;
    if (were_held) {
      VESTA_CHECK(entry.held) << "release of key " << key << " in " << ns << " that is not held";
      entry.held = false;
      if (entry.waiters > 0) {
        // A woken waiter always takes a free key, so one is enough.
        entry.released.notify_one();
        continue;
      }
    }
    if (!entry.held && entry.waiters == 0) table.erase(it);
  }
  if (table.empty()) {
    namespaces_.erase(table_it);
  } else if (table.bucket_count() > 64 && table.size() * 8 < table.bucket_count()) {
    table.rehash(0);  // shrink the bucket array after a burst of keys went idle
  }
}

LockStats LockManager::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

size_t LockManager::key_table_size(std::string_view ns) const {
  std::lock_guard lock(mutex_);
  auto it = namespaces_.find(std::string(ns));
  return it == namespaces_.end() ? 0 : it->second.size();
}

size_t LockManager::namespace_count() const {
  std::lock_guard lock(mutex_);
  return namespaces_.size();
}

size_t LockManager::collection_lock_count() const {
  std::lock_guard lock(mutex_);
  return collections_.size();
}

}  // namespace vesta::core
