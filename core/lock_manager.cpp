#include "core/lock_manager.h"

#include <algorithm>

#include "core/check.h"

namespace vesta::core {
namespace {

// With a cancellation token, waits wake this often to look at it.
constexpr std::chrono::milliseconds kCancelPollInterval{2};

}  // namespace

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
      << "LockManager destroyed while locks are held or awaited";
}

template <typename Ready>
Status LockManager::wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         const LockOptions& options, const std::string& what, Ready ready) {
  if (ready()) return Status::ok();
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + options.timeout;
  ++stats_.waits;
  Status result;
  for (;;) {
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      ++stats_.cancellations;
      result = Status(StatusCode::kCancelled, "cancelled while waiting for " + what);
      break;
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      ++stats_.timeouts;
      result = Status(
          StatusCode::kDeadlineExceeded,
          "timed out after " + std::to_string(options.timeout.count()) + " ms waiting for " + what);
      break;
    }
    const Clock::time_point wake =
        options.cancel != nullptr ? std::min(deadline, now + kCancelPollInterval) : deadline;
    cv.wait_until(lock, wake);
    if (ready()) break;
  }
  stats_.wait_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
  return result;
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
  std::unique_lock lock(mutex_);
  std::unique_ptr<CollectionEntry>& slot = collections_[name];
  if (!slot) slot = std::make_unique<CollectionEntry>();
  CollectionEntry& entry = *slot;  // stable: entries are heap-allocated
  ++entry.users;
  const std::string what =
      std::string(exclusive ? "exclusive" : "shared") + " lock on collection '" + name + "'";
  Status status;
  if (exclusive) {
    ++entry.waiting_writers;
    status = wait(lock, entry.changed, options, what,
                  [&] { return !entry.writer && entry.readers == 0; });
    --entry.waiting_writers;
    if (status.is_ok()) entry.writer = true;
  } else {
    status = wait(lock, entry.changed, options, what,
                  [&] { return !entry.writer && entry.waiting_writers == 0; });
    if (status.is_ok()) ++entry.readers;
  }
  if (!status.is_ok()) {
    --entry.users;
    // A writer that gave up may have been the only thing holding readers back.
    entry.changed.notify_all();
    if (entry.users == 0) collections_.erase(name);
    return status;
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
  } else {
    entry.changed.notify_all();
  }
}

Result<KeyLockGuard> LockManager::lock_keys(std::string_view ns, std::vector<std::string> keys,
                                            const LockOptions& options) {
  if (keys.empty()) return invalid_argument("a keyed lock request needs at least one key");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string table_name(ns);

  std::unique_lock lock(mutex_);
  KeyTable& table = namespaces_[table_name];  // references stay valid across rehash
  for (size_t i = 0; i < keys.size(); ++i) {
    std::unique_ptr<KeyEntry>& slot = table[keys[i]];
    if (!slot) slot = std::make_unique<KeyEntry>();
    KeyEntry& entry = *slot;
    ++entry.waiters;
    const Status status = wait(lock, entry.released, options,
                               "key '" + keys[i] + "' in namespace '" + table_name + "'",
                               [&] { return !entry.held; });
    --entry.waiters;
    if (!status.is_ok()) {
      // All or nothing: give back keys[0, i), and drop keys[i] if idle.
      release_keys_locked(table_name, {keys.begin(), keys.begin() + static_cast<ptrdiff_t>(i)},
                          true);
      release_keys_locked(table_name, {keys[i]}, false);
      return status;
    }
    entry.held = true;
  }
  ++stats_.acquisitions;
  return KeyLockGuard(this, std::move(table_name), std::move(keys));
}

void LockManager::release_keys(const std::string& ns, const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  release_keys_locked(ns, keys, true);
}

void LockManager::release_keys_locked(const std::string& ns, const std::vector<std::string>& keys,
                                      bool were_held) {
  auto table_it = namespaces_.find(ns);
  VESTA_CHECK(table_it != namespaces_.end()) << "release in unknown key namespace " << ns;
  KeyTable& table = table_it->second;
  for (const std::string& key : keys) {
    auto it = table.find(key);
    VESTA_CHECK(it != table.end()) << "release of unknown key " << key << " in " << ns;
    KeyEntry& entry = *it->second;
    if (were_held) {
      VESTA_CHECK(entry.held) << "release of key " << key << " that is not held";
      entry.held = false;
    }
    if (entry.waiters > 0) {
      // Every waiter rechecks; one takes the key, the rest wait again.
      entry.released.notify_all();
    } else if (!entry.held) {
      table.erase(it);
    }
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
