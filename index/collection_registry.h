#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/lock_manager.h"
#include "core/status.h"
#include "index/collection.h"
#include "index/searcher.h"

namespace vesta::index {

// The named collections of one process. Hands out shared_ptr<Collection> so
// that a collection dropped while a request still uses it lives until that
// request ends. Thread-safe (its own mutex, held only to look up or change
// the name table; never while a collection lock is taken).
class CollectionRegistry {
 public:
  CollectionRegistry(core::LockManager& locks, Searcher& searcher)
      : locks_(locks), searcher_(searcher) {}

  // AlreadyExists when the name is taken; InvalidArgument for a bad name or size.
  core::Status create(CollectionConfig config);
  // NotFound when absent.
  core::Result<std::shared_ptr<Collection>> get(const std::string& name) const;
  // True when a collection was dropped.
  bool drop(const std::string& name);
  bool exists(const std::string& name) const;
  // Names, sorted.
  std::vector<std::string> names() const;

  // Collection names: 1..255 bytes of letters, digits, '_', '-' and '.'.
  static core::Status validate_name(const std::string& name);
  // The largest vector dimension a collection may have.
  static constexpr size_t kMaxDim = 65536;

 private:
  core::LockManager& locks_;
  Searcher& searcher_;
  mutable std::mutex mutex_;  // guards collections_
  std::unordered_map<std::string, std::shared_ptr<Collection>> collections_;
};

}  // namespace vesta::index
