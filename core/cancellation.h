#pragma once

#include <atomic>

namespace vesta::core {

// A flag a caller sets to abandon its waits (for example when the client of a
// request has gone away): lock waits (LockManager) and a search's wait for its
// batch (index::SearchBatcher) give up with kCancelled. Thread-safe: any thread
// may cancel while others wait. Once set it stays set.
class CancellationToken {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace vesta::core
