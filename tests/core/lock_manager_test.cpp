#include "core/lock_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_seed.h"

namespace vesta::core {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

LockOptions timeout_ms(int ms) {
  LockOptions options;
  options.timeout = milliseconds(ms);
  return options;
}

LockOptions cancellable(const CancellationToken& token) {
  LockOptions options;
  options.timeout = std::chrono::seconds(30);
  options.cancel = &token;
  return options;
}

// Returns once `n` requests have blocked. stats() takes the manager's mutex, which
// a waiter gives up only inside its condition-variable wait, so afterwards the
// waiter is really queued.
void wait_for_waits(const LockManager& locks, uint64_t n) {
  while (locks.stats().waits < n) std::this_thread::yield();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- collection locks --------------------------------------------------------

TEST(LockManager, SharedLocksAreHeldTogetherByManyThreads) {
  LockManager locks;
  auto first = locks.lock_collection_shared("c");
  ASSERT_TRUE(first.is_ok());
  EXPECT_FALSE(first.value().is_exclusive());
  std::atomic<int> got{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      // Zero timeout: must not block while the main thread holds a shared lock.
      if (locks.lock_collection_shared("c", timeout_ms(0)).is_ok()) ++got;
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(got.load(), 4);
  const LockStats stats = locks.stats();
  EXPECT_EQ(stats.waits, 0u);
  EXPECT_EQ(stats.acquisitions, 5u);
}

TEST(LockManager, ExclusiveExcludesSharedAndTimesOut) {
  LockManager locks;
  auto writer = locks.lock_collection_exclusive("c");
  ASSERT_TRUE(writer.is_ok());
  EXPECT_TRUE(writer.value().is_exclusive());
  auto reader = locks.lock_collection_shared("c", timeout_ms(30));
  ASSERT_FALSE(reader.is_ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(reader.status().message(),
            "timed out after 30 ms waiting for shared lock on collection 'c'");
  EXPECT_TRUE(locks.lock_collection_shared("other", timeout_ms(30)).is_ok());
  const LockStats stats = locks.stats();
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.waits, 1u);
  EXPECT_GE(stats.wait_ns, 30'000'000u);
  writer.value().release();
  EXPECT_TRUE(locks.lock_collection_shared("c", timeout_ms(30)).is_ok());
}

TEST(LockManager, SharedExcludesExclusiveAndExclusiveExcludesExclusive) {
  LockManager locks;
  {
    auto reader = locks.lock_collection_shared("c");
    EXPECT_EQ(locks.lock_collection_exclusive("c", timeout_ms(10)).status().code(),
              StatusCode::kDeadlineExceeded);
  }
  auto writer = locks.lock_collection_exclusive("c");
  auto second = locks.lock_collection_exclusive("c", timeout_ms(10));
  EXPECT_EQ(second.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(contains(second.status().message(), "exclusive lock on collection 'c'"));
  EXPECT_EQ(locks.collection_lock_count(), 1u);
}

TEST(LockManager, WaitingWriterBlocksNewReaders) {
  LockManager locks;
  auto reader = locks.lock_collection_shared("c");
  ASSERT_TRUE(reader.is_ok());
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    auto w = locks.lock_collection_exclusive("c", timeout_ms(5000));
    EXPECT_TRUE(w.is_ok());
    writer_done = true;
  });
  wait_for_waits(locks, 1);  // the writer is queued
  // A new reader must not overtake the queued writer.
  EXPECT_EQ(locks.lock_collection_shared("c", timeout_ms(30)).status().code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(writer_done);
  reader.value().release();
  writer.join();
  EXPECT_TRUE(writer_done);
}

TEST(LockManager, WriterGetsInUnderASteadyStreamOfReaders) {
  LockManager locks;
  std::atomic<bool> stop{false};
  std::atomic<int> reader_failures{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      // Overlapping readers: without writer preference the lock is rarely free.
      while (!stop) {
        auto r = locks.lock_collection_shared("c", timeout_ms(5000));
        if (!r.is_ok()) ++reader_failures;
        std::this_thread::sleep_for(milliseconds(1));
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(20));
  const Clock::time_point start = Clock::now();
  auto writer = locks.lock_collection_exclusive("c", timeout_ms(3000));
  const Clock::duration waited = Clock::now() - start;
  EXPECT_TRUE(writer.is_ok()) << writer.status().to_string();
  EXPECT_LT(waited, milliseconds(1000));
  if (writer.is_ok()) writer.value().release();
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(reader_failures.load(), 0);  // readers queued behind the writer got in after it
}

TEST(LockManager, ReleasedWriterLetsAllWaitingReadersIn) {
  LockManager locks;
  auto writer = locks.lock_collection_exclusive("c");
  std::atomic<int> inside{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      auto r = locks.lock_collection_shared("c", timeout_ms(5000));
      if (!r.is_ok()) {
        failed = true;
        return;
      }
      ++inside;
      // Returns only once all three hold the lock at the same time.
      while (inside.load() < 3 && !failed) std::this_thread::yield();
    });
  }
  wait_for_waits(locks, 3);
  writer.value().release();
  for (std::thread& t : readers) t.join();
  EXPECT_FALSE(failed);
  EXPECT_EQ(inside.load(), 3);
  EXPECT_EQ(locks.collection_lock_count(), 0u);
}

TEST(LockManager, WriterThatGivesUpLetsQueuedReadersIn) {
  LockManager locks;
  auto reader = locks.lock_collection_shared("c");
  std::thread writer(
      [&] { EXPECT_FALSE(locks.lock_collection_exclusive("c", timeout_ms(100)).is_ok()); });
  wait_for_waits(locks, 1);
  // This reader waits behind the writer, then gets in when the writer times out.
  auto late_reader = locks.lock_collection_shared("c", timeout_ms(5000));
  EXPECT_TRUE(late_reader.is_ok());
  writer.join();
  EXPECT_EQ(locks.stats().timeouts, 1u);
}

TEST(LockManager, HugeTimeoutMeansWaitWithoutOverflow) {
  LockManager locks;
  LockOptions forever;
  forever.timeout = milliseconds::max();
  auto writer = locks.lock_collection_exclusive("c", forever);
  ASSERT_TRUE(writer.is_ok());
  std::thread releaser([&] {
    wait_for_waits(locks, 1);
    writer.value().release();
  });
  EXPECT_TRUE(locks.lock_collection_shared("c", forever).is_ok());
  releaser.join();
}

// ---- cancellation --------------------------------------------------------------

TEST(LockManager, CancellationStopsACollectionWait) {
  LockManager locks;
  auto writer = locks.lock_collection_exclusive("c");
  CancellationToken token;
  std::thread canceller([&] {
    wait_for_waits(locks, 1);
    token.cancel();
  });
  const Clock::time_point start = Clock::now();
  auto r = locks.lock_collection_shared("c", cancellable(token));
  canceller.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(r.status().message(), "cancelled while waiting for shared lock on collection 'c'");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  const LockStats stats = locks.stats();
  EXPECT_EQ(stats.cancellations, 1u);
  EXPECT_EQ(stats.timeouts, 0u);
  EXPECT_EQ(locks.collection_lock_count(), 1u);  // only the writer's entry
}

TEST(LockManager, CancellationStopsAKeyWaitAndReleasesKeysAlreadyTaken) {
  LockManager locks;
  auto holder = locks.lock_keys("ns", {"m"});
  CancellationToken token;
  std::thread canceller([&] {
    wait_for_waits(locks, 1);
    token.cancel();
  });
  // Takes "a", blocks on "m", is cancelled: "a" must be free again.
  auto r = locks.lock_keys("ns", {"m", "a"}, cancellable(token));
  canceller.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(r.status().message(), "cancelled while waiting for key 'm' in namespace 'ns'");
  EXPECT_EQ(locks.key_table_size("ns"), 1u);  // only "m", held
  EXPECT_TRUE(locks.lock_keys("ns", {"a"}, timeout_ms(0)).is_ok());
}

TEST(LockManager, CancelledTokenStillTakesFreeLocks) {
  LockManager locks;
  CancellationToken token;
  token.cancel();
  // Cancellation abandons waits; a request that does not need to wait succeeds.
  EXPECT_TRUE(locks.lock_collection_exclusive("c", cancellable(token)).is_ok());
  auto held = locks.lock_keys("ns", {"k"}, cancellable(token));
  ASSERT_TRUE(held.is_ok());
  EXPECT_EQ(locks.lock_keys("ns", {"k"}, cancellable(token)).status().code(),
            StatusCode::kCancelled);
  EXPECT_EQ(locks.stats().cancellations, 1u);
}

// ---- counters and guards ----------------------------------------------------------

TEST(LockManager, CountersTrackAcquisitionsWaitsTimeoutsAndCancellations) {
  LockManager locks;
  EXPECT_EQ(locks.stats().acquisitions, 0u);
  auto a = locks.lock_keys("ns", {"a", "b"});  // 1 acquisition, no wait
  auto c = locks.lock_collection_shared("c");  // 2
  LockStats stats = locks.stats();
  EXPECT_EQ(stats.acquisitions, 2u);
  EXPECT_EQ(stats.waits, 0u);
  EXPECT_EQ(stats.wait_ns, 0u);

  EXPECT_FALSE(locks.lock_keys("ns", {"b"}, timeout_ms(5)).is_ok());  // wait + timeout
  CancellationToken token;
  token.cancel();
  EXPECT_FALSE(locks.lock_keys("ns", {"a"}, cancellable(token)).is_ok());  // wait + cancel
  stats = locks.stats();
  EXPECT_EQ(stats.acquisitions, 2u);
  EXPECT_EQ(stats.waits, 2u);
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.cancellations, 1u);
  EXPECT_GE(stats.wait_ns, 5'000'000u);

  std::thread waiter([&] { EXPECT_TRUE(locks.lock_keys("ns", {"a"}, timeout_ms(5000)).is_ok()); });
  wait_for_waits(locks, 3);
  a.value().release();
  waiter.join();
  stats = locks.stats();
  EXPECT_EQ(stats.acquisitions, 3u);
  EXPECT_EQ(stats.waits, 3u);
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.cancellations, 1u);
}

TEST(LockManager, MultiKeyRequestHasOneDeadlineAndCountsOneWait) {
  LockManager locks;
  auto a = locks.lock_keys("ns", {"a"});
  auto b = locks.lock_keys("ns", {"b"});
  std::thread releaser([&] {
    wait_for_waits(locks, 1);
    std::this_thread::sleep_for(milliseconds(200));
    a.value().release();  // the request takes "a" and then blocks on "b"
  });
  const Clock::time_point start = Clock::now();
  auto r = locks.lock_keys("ns", {"b", "a"}, timeout_ms(600));
  const Clock::duration took = Clock::now() - start;
  releaser.join();
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), "timed out after 600 ms waiting for key 'b' in namespace 'ns'");
  // A fresh timeout per key would have given up only after about 800 ms.
  EXPECT_GE(took, milliseconds(600));
  EXPECT_LT(took, milliseconds(780));
  const LockStats stats = locks.stats();
  EXPECT_EQ(stats.waits, 1u);
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(locks.key_table_size("ns"), 1u);  // "a" given back; only "b" remains
}

TEST(LockManager, GuardsMoveAndReleaseOnce) {
  LockManager locks;
  {
    auto r = locks.lock_collection_exclusive("c");
    CollectionLockGuard a = std::move(r).value();
    CollectionLockGuard b = std::move(a);
    EXPECT_FALSE(a.holds());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    a.release();              // a moved-from guard does nothing
    EXPECT_TRUE(b.holds());
    EXPECT_TRUE(b.is_exclusive());
    EXPECT_EQ(b.collection(), "c");
    EXPECT_EQ(locks.collection_lock_count(), 1u);
    b.release();
    b.release();
    EXPECT_FALSE(b.holds());
    EXPECT_EQ(locks.collection_lock_count(), 0u);
    KeyLockGuard k = locks.lock_keys("ns", {"x"}).value();
    KeyLockGuard k2;
    EXPECT_FALSE(k2.holds());
    k2 = std::move(k);
    EXPECT_FALSE(k.holds());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(k2.keys(), std::vector<std::string>{"x"});
    EXPECT_EQ(k2.key_namespace(), "ns");
    EXPECT_EQ(locks.key_table_size("ns"), 1u);
  }
  EXPECT_EQ(locks.key_table_size("ns"), 0u);
  EXPECT_EQ(locks.namespace_count(), 0u);
  EXPECT_EQ(locks.stats().acquisitions, 2u);
}

TEST(LockManager, MoveAssignmentReleasesTheLocksItReplaces) {
  LockManager locks;
  KeyLockGuard x = locks.lock_keys("ns", {"x"}).value();
  KeyLockGuard y = locks.lock_keys("ns", {"y"}).value();
  x = std::move(y);
  EXPECT_EQ(x.keys(), std::vector<std::string>{"y"});
  EXPECT_EQ(locks.key_table_size("ns"), 1u);
  EXPECT_TRUE(locks.lock_keys("ns", {"x"}, timeout_ms(0)).is_ok());

  CollectionLockGuard c = locks.lock_collection_exclusive("c").value();
  c = locks.lock_collection_shared("d").value();
  EXPECT_FALSE(c.is_exclusive());
  EXPECT_EQ(locks.collection_lock_count(), 1u);
  EXPECT_TRUE(locks.lock_collection_exclusive("c", timeout_ms(0)).is_ok());
}

// ---- keyed locks -------------------------------------------------------------

TEST(LockManager, KeysAreSortedAndDeduplicated) {
  LockManager locks;
  auto g = locks.lock_keys("ns", {"b", "a", "c", "a", "b"});
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g.value().keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(locks.key_table_size("ns"), 3u);
}

TEST(LockManager, EmptyKeyListIsAnInvalidArgument) {
  LockManager locks;
  auto r = locks.lock_keys("points/c", {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "'points/c'"));
  EXPECT_EQ(locks.namespace_count(), 0u);
  EXPECT_EQ(locks.stats().acquisitions, 0u);
}

TEST(LockManager, MultiKeyTimeoutReleasesKeysAlreadyTaken) {
  LockManager locks;
  auto holder = locks.lock_keys("ns", {"m"});
  // Takes "a" then blocks on "m" and times out: "a" must be free again, and "z"
  // was never taken.
  auto blocked = locks.lock_keys("ns", {"z", "m", "a"}, timeout_ms(30));
  EXPECT_EQ(blocked.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(blocked.status().message(),
            "timed out after 30 ms waiting for key 'm' in namespace 'ns'");
  EXPECT_EQ(locks.key_table_size("ns"), 1u);  // only "m" remains, held
  EXPECT_TRUE(locks.lock_keys("ns", {"a"}, timeout_ms(0)).is_ok());
  EXPECT_TRUE(locks.lock_keys("ns", {"z"}, timeout_ms(0)).is_ok());
}

TEST(LockManager, WaiterGetsTheKeyWhenItIsReleased) {
  LockManager locks;
  auto holder = locks.lock_keys("ns", {"k"});
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto r = locks.lock_keys("ns", {"k", "j"}, timeout_ms(5000));
    EXPECT_TRUE(r.is_ok());
    got = r.is_ok();
  });
  wait_for_waits(locks, 1);
  EXPECT_EQ(locks.key_table_size("ns"), 2u);  // "j" held by the waiter, "k" held and awaited
  EXPECT_FALSE(got);
  holder.value().release();
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(locks.namespace_count(), 0u);
}

TEST(LockManager, NamespacesAreIndependent) {
  LockManager locks;
  auto a = locks.lock_keys("points/a", {"1"});
  auto b = locks.lock_keys("graph/w", {"1", "2"}, timeout_ms(0));
  EXPECT_TRUE(b.is_ok());
  EXPECT_TRUE(locks.lock_keys("points/b", {"1"}, timeout_ms(0)).is_ok());
  EXPECT_FALSE(locks.lock_keys("points/a", {"1"}, timeout_ms(0)).is_ok());
  EXPECT_EQ(locks.namespace_count(), 2u);
  EXPECT_EQ(locks.key_table_size("points/a"), 1u);
  EXPECT_EQ(locks.key_table_size("graph/w"), 2u);
  EXPECT_EQ(locks.key_table_size("points/b"), 0u);
  EXPECT_EQ(locks.key_table_size("never-used"), 0u);
  // Collection locks and key namespaces do not interfere either.
  EXPECT_TRUE(locks.lock_collection_exclusive("points/a", timeout_ms(0)).is_ok());
}

TEST(LockManager, TablesShrinkWhenKeysGoIdle) {
  LockManager locks;
  {
    std::vector<KeyLockGuard> guards;
    for (int i = 0; i < 1000; ++i) {
      guards.push_back(locks.lock_keys("ns", {"key" + std::to_string(i)}).value());
    }
    EXPECT_EQ(locks.key_table_size("ns"), 1000u);
    guards.resize(10);
    EXPECT_EQ(locks.key_table_size("ns"), 10u);
  }
  EXPECT_EQ(locks.key_table_size("ns"), 0u);
  EXPECT_EQ(locks.namespace_count(), 0u);
}

TEST(LockManager, CollectionEntriesAreRemovedWhenIdle) {
  LockManager locks;
  {
    auto a = locks.lock_collection_shared("a");
    auto b = locks.lock_collection_exclusive("b");
    EXPECT_EQ(locks.collection_lock_count(), 2u);
  }
  EXPECT_EQ(locks.collection_lock_count(), 0u);
  // A failed wait leaves no entry behind once the holder is gone.
  auto holder = locks.lock_collection_exclusive("c");
  EXPECT_FALSE(locks.lock_collection_exclusive("c", timeout_ms(1)).is_ok());
  EXPECT_EQ(locks.collection_lock_count(), 1u);
  holder.value().release();
  EXPECT_EQ(locks.collection_lock_count(), 0u);
}

// ---- stress ------------------------------------------------------------------

// Keyed-lock threads take random sets of 1-5 keys out of 20 and do a
// non-atomic read-modify-write on each key's counter; some of their requests
// use a 1 ms timeout or an already-cancelled token (and may fail, releasing what
// they took), and some also take the collection lock exclusively afterwards, in
// the documented order. Collection threads read or increment a counter under
// the collection lock. Counters protected only by the locks must lose nothing
// (ThreadSanitizer would also report the race).
TEST(LockManager, StressRandomKeySetsLoseNoUpdates) {
  const uint64_t seed = testing::test_seed("LockManager.StressRandomKeySetsLoseNoUpdates");
  constexpr int kKeys = 20;
  constexpr int kKeyThreads = 8;
  constexpr int kCollectionThreads = 2;
  constexpr milliseconds kDuration{2000};
  LockManager locks;
  CancellationToken cancelled;
  cancelled.cancel();
  std::vector<int64_t> counters(kKeys, 0);  // each guarded only by its keyed lock
  int64_t collection_counter = 0;           // guarded only by the collection lock
  std::atomic<int64_t> key_increments{0};
  std::atomic<int64_t> collection_increments{0};
  std::atomic<uint64_t> successes{0};
  std::atomic<uint64_t> expected_timeouts{0};
  std::atomic<uint64_t> expected_cancellations{0};
  std::atomic<int> unexpected_failures{0};
  std::atomic<bool> stop{false};

  auto collection_thread = [&](uint64_t thread_seed) {
    std::mt19937_64 rng(thread_seed);
    while (!stop) {
      const bool write = rng() % 3 == 0;
      auto guard = write ? locks.lock_collection_exclusive("c") : locks.lock_collection_shared("c");
      if (!guard.is_ok()) {
        ++unexpected_failures;
        continue;
      }
      ++successes;
      if (write) {
        const int64_t v = collection_counter;
        std::this_thread::yield();
        collection_counter = v + 1;
        ++collection_increments;
      } else {
        volatile int64_t v = collection_counter;
        (void)v;
      }
    }
  };

  auto key_thread = [&](uint64_t thread_seed) {
    std::mt19937_64 rng(thread_seed);
    while (!stop) {
      const int n = 1 + static_cast<int>(rng() % 5);
      std::vector<size_t> ids;
      std::vector<std::string> keys;
      for (int i = 0; i < n; ++i) {
        const size_t k = rng() % kKeys;
        ids.push_back(k);
        keys.push_back("k" + std::to_string(k));
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      LockOptions options;  // the default 30 s: must never fail here
      const uint64_t kind = rng() % 20;
      if (kind == 0) options.timeout = milliseconds(1);
      if (kind == 1) options.cancel = &cancelled;
      auto guard = locks.lock_keys("stress", std::move(keys), options);
      if (!guard.is_ok()) {
        const StatusCode code = guard.status().code();
        if (kind == 0 && code == StatusCode::kDeadlineExceeded) {
          ++expected_timeouts;
        } else if (kind == 1 && code == StatusCode::kCancelled) {
          ++expected_cancellations;
        } else {
          ++unexpected_failures;
        }
        continue;
      }
      ++successes;
      if (guard.value().keys().size() != ids.size()) ++unexpected_failures;
      for (size_t k : ids) {  // a non-atomic read-modify-write per key
        const int64_t v = counters[k];
        if (rng() % 8 == 0) std::this_thread::yield();
        counters[k] = v + 1;
        ++key_increments;
      }
      if (rng() % 10 == 0) {  // like a write: keys first, then the collection lock
        auto collection = locks.lock_collection_exclusive("c");
        if (!collection.is_ok()) {
          ++unexpected_failures;
          continue;
        }
        ++successes;
        collection_counter = collection_counter + 1;
        ++collection_increments;
      }
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kKeyThreads + kCollectionThreads; ++t) {
    const uint64_t thread_seed = seed + static_cast<uint64_t>(t);
    if (t < kCollectionThreads) {
      threads.emplace_back(collection_thread, thread_seed);
    } else {
      threads.emplace_back(key_thread, thread_seed);
    }
  }
  std::this_thread::sleep_for(kDuration);
  stop = true;
  for (std::thread& th : threads) th.join();

  int64_t sum = 0;
  for (int64_t c : counters) sum += c;
  EXPECT_EQ(unexpected_failures.load(), 0);
  EXPECT_EQ(sum, key_increments.load());
  EXPECT_GT(sum, 0);
  EXPECT_EQ(collection_counter, collection_increments.load());
  EXPECT_GT(collection_counter, 0);
  EXPECT_EQ(locks.key_table_size("stress"), 0u);
  EXPECT_EQ(locks.namespace_count(), 0u);
  EXPECT_EQ(locks.collection_lock_count(), 0u);
  const LockStats stats = locks.stats();
  EXPECT_EQ(stats.acquisitions, successes.load());
  EXPECT_EQ(stats.timeouts, expected_timeouts.load());
  EXPECT_EQ(stats.cancellations, expected_cancellations.load());
  EXPECT_GT(stats.waits, 0u);
  std::printf(
      "[ stats    ] acquisitions %llu waits %llu wait_ms %.1f timeouts %llu "
      "cancellations %llu\n",
      static_cast<unsigned long long>(stats.acquisitions),
      static_cast<unsigned long long>(stats.waits), static_cast<double>(stats.wait_ns) / 1e6,
      static_cast<unsigned long long>(stats.timeouts),
      static_cast<unsigned long long>(stats.cancellations));
}

}  // namespace
}  // namespace vesta::core
