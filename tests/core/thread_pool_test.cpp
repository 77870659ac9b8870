#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace vesta::core {
namespace {

TEST(ThreadPool, ParallelForRunsEveryIndexExactlyOnce) {
  for (size_t threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (size_t n : {0, 1, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, [&](size_t i) { hits[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << threads << " " << n << " " << i;
    }
  }
}

TEST(ThreadPool, MaxParallelismBoundsConcurrency) {
  ThreadPool pool(4);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  pool.parallel_for(
      64,
      [&](size_t) {
        const int now = running.fetch_add(1) + 1;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        running.fetch_sub(1);
      },
      2);
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST(ThreadPool, NestedParallelForWithEveryWorkerBusyCompletes) {
  ThreadPool pool(2);
  std::atomic<int> total{0};
  std::vector<std::future<void>> done;
  for (int t = 0; t < 2; ++t) {
    auto promise = std::make_shared<std::promise<void>>();
    done.push_back(promise->get_future());
    pool.submit([&pool, &total, promise] {
      pool.parallel_for(100, [&](size_t) { total.fetch_add(1); });
      promise->set_value();
    });
  }
  for (auto& f : done) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "deadlock";
  }
  EXPECT_EQ(total.load(), 200);
}

TEST(ThreadPool, DestructorRunsQueuedTasks) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 50; ++i) pool.submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(ThreadPool, ZeroThreadsMeansOnePerHardwareThread) {
  ThreadPool pool(0);
  EXPECT_GE(pool.size(), 1u);
}

}  // namespace
}  // namespace vesta::core
