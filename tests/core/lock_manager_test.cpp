#include "core/lock_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "test_seed.h"

namespace vesta::core {
namespace {

using std::chrono::milliseconds;

LockOptions timeout_ms(int ms) {
  LockOptions o;
  o.timeout = milliseconds(ms);
  return o;
}

TEST(LockManager, SharedLocksCoexist) {
  LockManager locks;
  auto a = locks.lock_collection_shared("c");
  auto b = locks.lock_collection_shared("c", timeout_ms(50));
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE(b.is_ok());
  EXPECT_FALSE(a.value().is_exclusive());
  EXPECT_EQ(locks.stats().waits, 0u);
}

TEST(LockManager, ExclusiveExcludesSharedAndTimesOut) {
  LockManager locks;
  auto writer = locks.lock_collection_exclusive("c");
  ASSERT_TRUE(writer.is_ok());
  auto reader = locks.lock_collection_shared("c", timeout_ms(30));
  ASSERT_FALSE(reader.is_ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(reader.status().message().find("collection 'c'"), std::string::npos);
  EXPECT_TRUE(locks.lock_collection_shared("other", timeout_ms(30)).is_ok());
  const LockStats stats = locks.stats();
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.waits, 1u);
  EXPECT_GE(stats.wait_ns, 25'000'000u);
  writer.value().release();
  EXPECT_TRUE(locks.lock_collection_shared("c", timeout_ms(30)).is_ok());
}

TEST(LockManager, WaitingWriterBlocksNewReaders) {
  LockManager locks;
  auto reader = locks.lock_collection_shared("c");
  ASSERT_TRUE(reader.is_ok());
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    auto w = locks.lock_collection_exclusive("c", timeout_ms(5000));
    ASSERT_TRUE(w.is_ok());
    writer_done = true;
  });
  while (locks.stats().waits == 0) std::this_thread::yield();  // the writer is queued
  // A new reader must not overtake the queued writer.
  EXPECT_EQ(locks.lock_collection_shared("c", timeout_ms(30)).status().code(),
            StatusCode::kDeadlineExceeded);
  reader.value().release();
  writer.join();
  EXPECT_TRUE(writer_done);
}

TEST(LockManager, WriterThatGivesUpLetsReadersIn) {
  LockManager locks;
  auto reader = locks.lock_collection_shared("c");
  std::thread writer(
      [&] { EXPECT_FALSE(locks.lock_collection_exclusive("c", timeout_ms(100)).is_ok()); });
  while (locks.stats().waits == 0) std::this_thread::yield();
  // This reader waits behind the writer, then gets in when the writer times out.
  auto late_reader = locks.lock_collection_shared("c", timeout_ms(5000));
  EXPECT_TRUE(late_reader.is_ok());
  writer.join();
}

TEST(LockManager, CancellationStopsAWait) {
  LockManager locks;
  auto writer = locks.lock_collection_exclusive("c");
  CancellationToken token;
  LockOptions options;
  options.timeout = std::chrono::seconds(30);
  options.cancel = &token;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(20));
    token.cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = locks.lock_collection_shared("c", options);
  canceller.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(locks.stats().cancellations, 1u);

  auto keys = locks.lock_keys("ns", {"k"});
  EXPECT_EQ(locks.lock_keys("ns", {"k"}, options).status().code(), StatusCode::kCancelled);
}

TEST(LockManager, GuardsMoveAndReleaseOnce) {
  LockManager locks;
  {
    auto r = locks.lock_collection_exclusive("c");
    CollectionLockGuard a = std::move(r).value();
    CollectionLockGuard b = std::move(a);
    EXPECT_FALSE(a.holds());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.holds());
    b.release();
    b.release();
    EXPECT_EQ(locks.collection_lock_count(), 0u);
    KeyLockGuard k = locks.lock_keys("ns", {"x"}).value();
    KeyLockGuard k2;
    k2 = std::move(k);
    EXPECT_EQ(locks.key_table_size("ns"), 1u);
  }
  EXPECT_EQ(locks.key_table_size("ns"), 0u);
  EXPECT_EQ(locks.namespace_count(), 0u);
}

TEST(LockManager, KeysAreSortedAndDeduplicated) {
  LockManager locks;
  auto g = locks.lock_keys("ns", {"b", "a", "c", "a"});
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g.value().keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(locks.key_table_size("ns"), 3u);
  EXPECT_EQ(locks.lock_keys("ns", {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(LockManager, MultiKeyTimeoutReleasesKeysAlreadyTaken) {
  LockManager locks;
  auto holder = locks.lock_keys("ns", {"m"});
  // Takes "a" then blocks on "m" and times out: "a" must be free again.
  auto blocked = locks.lock_keys("ns", {"a", "m", "z"}, timeout_ms(30));
  EXPECT_EQ(blocked.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(blocked.status().message().find("key 'm' in namespace 'ns'"), std::string::npos);
  EXPECT_TRUE(locks.lock_keys("ns", {"a"}, timeout_ms(0)).is_ok());
  EXPECT_TRUE(locks.lock_keys("ns", {"z"}, timeout_ms(0)).is_ok());
  EXPECT_EQ(locks.key_table_size("ns"), 1u);  // only "m" remains, held
}

TEST(LockManager, NamespacesAreIndependent) {
  LockManager locks;
  auto a = locks.lock_keys("points/a", {"1"});
  EXPECT_TRUE(locks.lock_keys("points/b", {"1"}, timeout_ms(0)).is_ok());
  EXPECT_FALSE(locks.lock_keys("points/a", {"1"}, timeout_ms(0)).is_ok());
}

TEST(LockManager, TablesShrinkWhenKeysGoIdle) {
  LockManager locks;
  {
    std::vector<KeyLockGuard> guards;
    for (int i = 0; i < 1000; ++i) {
      guards.push_back(locks.lock_keys("ns", {"key" + std::to_string(i)}).value());
    }
    EXPECT_EQ(locks.key_table_size("ns"), 1000u);
  }
  EXPECT_EQ(locks.key_table_size("ns"), 0u);
  EXPECT_EQ(locks.namespace_count(), 0u);
}

TEST(LockManager, StressRandomKeySetsLoseNoUpdates) {
  const uint64_t seed = testing::test_seed("LockManager.Stress");
  constexpr int kKeys = 20;
  constexpr int kThreads = 8;
  LockManager locks;
  std::vector<long> counters(kKeys, 0);  // guarded only by the keyed locks
  long collection_counter = 0;           // guarded only by the collection lock
  std::atomic<long> key_increments{0};
  std::atomic<long> collection_increments{0};
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
      while (!stop) {
        if (t < 2) {  // collection lock users: writers increment, readers read
          if (rng() % 3 == 0) {
            auto w = locks.lock_collection_exclusive("c");
            if (!w.is_ok()) {
              ++failures;
              continue;
            }
            const long v = collection_counter;
            std::this_thread::yield();
            collection_counter = v + 1;
            ++collection_increments;
          } else {
            auto r = locks.lock_collection_shared("c");
            if (!r.is_ok()) {
              ++failures;
              continue;
            }
            volatile long v = collection_counter;
            (void)v;
          }
          continue;
        }
        std::vector<std::string> keys;
        const int n = 1 + static_cast<int>(rng() % 5);
        std::vector<int> ids;
        for (int i = 0; i < n; ++i) {
          const int k = static_cast<int>(rng() % kKeys);
          ids.push_back(k);
          keys.push_back("k" + std::to_string(k));
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        auto g = locks.lock_keys("stress", keys);
        if (!g.is_ok()) {
          ++failures;
          continue;
        }
        for (int k : ids) {  // a non-atomic read-modify-write per key
          const long v = counters[static_cast<size_t>(k)];
          if (rng() % 8 == 0) std::this_thread::yield();
          counters[static_cast<size_t>(k)] = v + 1;
          ++key_increments;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (std::thread& th : threads) th.join();

  long sum = 0;
  for (long c : counters) sum += c;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(sum, key_increments.load());
  EXPECT_GT(sum, 0);
  EXPECT_EQ(collection_counter, collection_increments.load());
  EXPECT_EQ(locks.key_table_size("stress"), 0u);
  EXPECT_EQ(locks.namespace_count(), 0u);
  EXPECT_EQ(locks.collection_lock_count(), 0u);
  const LockStats stats = locks.stats();
  EXPECT_GT(stats.waits, 0u);
  std::printf("[ stats    ] acquisitions %llu waits %llu wait_ms %.1f\n",
              static_cast<unsigned long long>(stats.acquisitions),
              static_cast<unsigned long long>(stats.waits),
              static_cast<double>(stats.wait_ns) / 1e6);
}

}  // namespace
}  // namespace vesta::core
