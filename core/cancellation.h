#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

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

// With a cancellation token, waits wake this often to look at it.
inline constexpr std::chrono::milliseconds kCancelPollInterval{2};

enum class WaitEnd { kReady, kTimedOut, kCancelled };

// Waits on `cv` (with `lock` held) until `ready()`, `until`, or — only when
// `token` is given — `cancelled()` (the caller's test: the token, and
// whatever else must hold for it to give up), waking every
// kCancelPollInterval to look. ready() is asked first each time, so what
// became ready by the deadline counts as ready.
template <typename Ready, typename Cancelled>
WaitEnd wait_cancellable(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         std::chrono::steady_clock::time_point until,
                         const CancellationToken* token, Ready ready, Cancelled cancelled) {
  if (token == nullptr && until == std::chrono::steady_clock::time_point::max()) {
    cv.wait(lock, ready);
    return WaitEnd::kReady;
  }
  for (;;) {
    if (ready()) return WaitEnd::kReady;
    if (token != nullptr && cancelled()) return WaitEnd::kCancelled;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return WaitEnd::kTimedOut;
    cv.wait_until(lock, token != nullptr ? std::min(until, now + kCancelPollInterval) : until);
  }
}

}  // namespace vesta::core
