#include "index/search_batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "index/collection.h"
#include "index/cpu_searcher.h"
#include "test_seed.h"

namespace vesta::index {
namespace {

using std::chrono::milliseconds;

// A searcher stand-in that answers query i with one hit whose score is the
// query's first value, records batch sizes, and can hold its first `held`
// calls until released (so that others queue behind them).
class FakeRun {
 public:
  explicit FakeRun(bool hold_first, size_t held = 1) : hold_(hold_first), held_(held) {}

  core::Status operator()(const float* queries, size_t n, size_t k,
                          const std::function<void(const SearchHits&)>& deliver) {
    {
      std::unique_lock lock(mutex_);
      ++running_;
      most_running_ = std::max(most_running_, running_);
      sizes_.push_back(n);
      ks_.push_back(k);
      const bool first = sizes_.size() <= held_;
      started_.notify_all();
      if (first && hold_) released_.wait(lock, [&] { return !hold_; });
    }
    SearchHits hits(n);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < k; ++j) hits[i].push_back({queries[i] + static_cast<float>(j), j});
    }
    deliver(hits);
    std::lock_guard lock(mutex_);
    --running_;
    return core::Status::ok();
  }

  void wait_started(size_t calls) {
    std::unique_lock lock(mutex_);
    started_.wait(lock, [&] { return sizes_.size() >= calls; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    released_.notify_all();
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mutex_);
    return sizes_;
  }
  std::vector<size_t> ks() {
    std::lock_guard lock(mutex_);
    return ks_;
  }
  // The most calls that ran at the same time.
  size_t most_running() {
    std::lock_guard lock(mutex_);
    return most_running_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable started_, released_;
  bool hold_;
  size_t held_;
  std::vector<size_t> sizes_, ks_;
  size_t running_ = 0;
  size_t most_running_ = 0;
};

// Submits one request of `n` queries whose values are `base`, base+1, ...
// (dim 1) with `k`, and checks that it got back exactly its own rows.
// `runners`: batches that may run at once.
void submit_and_check(SearchBatcher& batcher, FakeRun& run, float base, size_t n, size_t k,
                      std::atomic<int>* wrong, size_t runners = 1) {
  std::vector<float> queries(n);
  for (size_t i = 0; i < n; ++i) queries[i] = base + static_cast<float>(i);
  std::vector<std::vector<kernels::Neighbor>> got;
  const core::Status status = batcher.submit(
      queries.data(), n, k,
      [&](const SearchHits& hits, size_t first) {
        got.assign(hits.begin() + static_cast<ptrdiff_t>(first),
                   hits.begin() + static_cast<ptrdiff_t>(first + n));
      },
      [&](const float* q, size_t count, size_t kk,
          const std::function<void(const SearchHits&)>& deliver) {
        return run(q, count, kk, deliver);
      },
      runners);
  if (!status.is_ok() || got.size() != n) {
    ++*wrong;
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    if (got[i].size() < k || got[i][0].score != queries[i]) ++*wrong;
  }
}

// Starts a one-query request (value 0) and waits until its search runs: with
// a holding FakeRun, it keeps running until released.
std::thread start_first(SearchBatcher& batcher, FakeRun& run, std::atomic<int>* wrong,
                        size_t runners = 1) {
  std::thread first([&batcher, &run, wrong, runners] {
    submit_and_check(batcher, run, 0.0f, 1, 1, wrong, runners);
  });
  run.wait_started(1);
  return first;
}

// Starts `count` one-query requests, of values 10, 20, ...
std::vector<std::thread> start_others(SearchBatcher& batcher, FakeRun& run, int count,
                                      std::atomic<int>* wrong, size_t runners = 1) {
  std::vector<std::thread> others;
  for (int t = 0; t < count; ++t) {
    others.emplace_back([&batcher, &run, wrong, runners, t] {
      submit_and_check(batcher, run, 10.0f * static_cast<float>(t + 1), 1, 1, wrong, runners);
    });
  }
  return others;
}

TEST(SearchBatcher, ALoneRequestRunsAtOnceWithoutWaitingForTheDelay) {
  SearchBatcher batcher(1, {.max_batch = 64, .max_delay = std::chrono::seconds(30)});
  FakeRun run(false);
  std::atomic<int> wrong{0};
  const auto start = std::chrono::steady_clock::now();
  submit_and_check(batcher, run, 5.0f, 3, 2, &wrong);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(run.sizes(), std::vector<size_t>{3});
  EXPECT_EQ(batcher.stats().batches, 1u);
}

TEST(SearchBatcher, RequestsArrivingDuringASearchShareTheNextCallAndGetTheirOwnRows) {
  SearchBatcher batcher(1, {.max_batch = 1000, .max_delay = std::chrono::seconds(30)});
  FakeRun run(/*hold_first=*/true);
  std::atomic<int> wrong{0};
  std::thread first = start_first(batcher, run, &wrong);  // running and held
  std::vector<std::thread> others;
  for (int t = 0; t < 12; ++t) {
    others.emplace_back([&, t] {
      submit_and_check(batcher, run, 100.0f * static_cast<float>(t + 1),
                       static_cast<size_t>(t % 3 + 1), static_cast<size_t>(t % 4 + 1), &wrong);
    });
  }
  // Every other request joins the waiting batch before the first ends.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (batcher.queued_requests() < 12 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(batcher.queued_requests(), 12u);
  run.release();
  first.join();
  for (std::thread& t : others) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const std::vector<size_t> sizes = run.sizes();
  ASSERT_EQ(sizes.size(), 2u) << "the 12 queued requests should make one call";
  EXPECT_EQ(sizes[1], 24u);    // 12 requests of 1, 2 or 3 queries
  EXPECT_EQ(run.ks()[1], 4u);  // the largest k among them
  const BatchingStats stats = batcher.stats();
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.requests, 13u);
  EXPECT_EQ(stats.queries, 25u);
}

// Waits (up to 20 s) until `requests` requests wait for their batches to start.
void wait_queued(const SearchBatcher& batcher, size_t requests) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (batcher.queued_requests() < requests && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
}

TEST(SearchBatcher, WithRoomForMoreSearchesNoRequestWaitsPastTheDelay) {
  // The first search never ends by itself, and the searcher has room for
  // more: queued requests must start anyway once the delay has passed, in
  // batches of at most max_batch queries.
  constexpr size_t kRunners = 16;
  SearchBatcher batcher(1, {.max_batch = 4, .max_delay = milliseconds(50)});
  FakeRun run(/*hold_first=*/true);
  std::atomic<int> wrong{0};
  std::thread first = start_first(batcher, run, &wrong, kRunners);
  std::vector<std::thread> others = start_others(batcher, run, 10, &wrong, kRunners);
  for (std::thread& t : others) t.join();  // all done while the first is still held
  EXPECT_EQ(wrong.load(), 0);
  run.release();
  first.join();
  for (size_t size : run.sizes()) EXPECT_LE(size, 4u);
  EXPECT_EQ(batcher.stats().requests, 11u);
}

TEST(SearchBatcher, WithoutRoomQueuedRequestsWaitForTheSearchAndRunOneFullBatchAtATime) {
  // One search at a time (a CPU search takes every thread): past the delay,
  // queued requests keep gathering into full batches instead of starting
  // beside the running search, then run one batch after another, oldest
  // first.
  SearchBatcher batcher(1, {.max_batch = 4, .max_delay = milliseconds(1)});
  FakeRun run(/*hold_first=*/true);
  std::atomic<int> wrong{0};
  std::thread first = start_first(batcher, run, &wrong);
  std::vector<std::thread> others = start_others(batcher, run, 10, &wrong);
  wait_queued(batcher, 10);
  ASSERT_EQ(batcher.queued_requests(), 10u);
  std::this_thread::sleep_for(milliseconds(50));  // 50 times the delay
  EXPECT_EQ(run.sizes().size(), 1u) << "a batch started beside the running search";
  run.release();
  first.join();
  for (std::thread& t : others) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(run.sizes(), (std::vector<size_t>{1, 4, 4, 2}));
  EXPECT_EQ(run.most_running(), 1u);
  EXPECT_EQ(batcher.queued_requests(), 0u);
}

TEST(SearchBatcher, ABatchStillWaitingForRoomAtItsLeadersDeadlineFailsWhole) {
  SearchBatcher batcher(1, {.max_batch = 8, .max_delay = milliseconds(1)});
  FakeRun run(/*hold_first=*/true);
  std::atomic<int> wrong{0};
  std::thread first = start_first(batcher, run, &wrong);
  // A leader that gives up after 300 ms, and a member of its batch.
  std::vector<float> queries{5.0f, 6.0f};
  core::Status statuses[2];
  const auto start = std::chrono::steady_clock::now();
  auto submit = [&](int i, std::chrono::steady_clock::time_point give_up) {
    statuses[i] = batcher.submit(
        &queries[i], 1, 1, [](const SearchHits&, size_t) {},
        [&](const float* q, size_t count, size_t kk,
            const std::function<void(const SearchHits&)>& deliver) {
          return run(q, count, kk, deliver);
        },
        1, give_up);
  };
  std::thread leader([&] { submit(0, start + milliseconds(300)); });
  wait_queued(batcher, 1);
  std::thread member([&] { submit(1, start + std::chrono::seconds(10)); });
  leader.join();
  member.join();
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(300));
  EXPECT_EQ(statuses[0].code(), core::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(statuses[1].code(), core::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(batcher.queued_requests(), 0u);
  EXPECT_EQ(run.sizes().size(), 1u);  // only the held search ran
  // The batcher goes on: the next request runs once the first ends.
  run.release();
  first.join();
  submit_and_check(batcher, run, 9.0f, 1, 1, &wrong);
  EXPECT_EQ(wrong.load(), 0);
}

TEST(SearchBatcher, CancelledRequestsLeaveTheirBatchBeforeItStartsAndALoneLeaderDropsIt) {
  // Its client gone, a request waiting in a batch that has not started
  // leaves it: its queries are not searched. A leader still alone in its
  // batch drops it; one with others in it runs it for them.
  SearchBatcher batcher(1, {.max_batch = 8, .max_delay = milliseconds(1)});
  FakeRun run(/*hold_first=*/true);
  std::atomic<int> wrong{0};
  std::thread first = start_first(batcher, run, &wrong);
  std::vector<float> queries{5.0f, 6.0f, 7.0f};
  core::CancellationToken tokens[3];
  core::Status statuses[3];
  bool consumed[3] = {false, false, false};
  auto submit = [&](int i) {
    statuses[i] = batcher.submit(
        &queries[i], 1, 1, [&consumed, i](const SearchHits&, size_t) { consumed[i] = true; },
        [&](const float* q, size_t count, size_t kk,
            const std::function<void(const SearchHits&)>& deliver) {
          return run(q, count, kk, deliver);
        },
        1, std::chrono::steady_clock::time_point::max(), &tokens[i]);
  };
  // A leader and two members queue behind the held search; member 1 goes.
  std::thread leader([&] { submit(0); });
  wait_queued(batcher, 1);
  std::thread member1([&] { submit(1); });
  std::thread member2([&] { submit(2); });
  wait_queued(batcher, 3);
  tokens[1].cancel();
  member1.join();  // returns while the held search still runs
  EXPECT_EQ(statuses[1].code(), core::StatusCode::kCancelled);
  EXPECT_EQ(core::http_status_for(statuses[1].code()), 499);
  EXPECT_EQ(batcher.queued_requests(), 2u);
  // The leader's client goes too, but member 2 is still in its batch.
  tokens[0].cancel();
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(batcher.queued_requests(), 2u) << "a leader with others in its batch dropped it";
  run.release();
  first.join();
  leader.join();
  member2.join();
  EXPECT_TRUE(statuses[0].is_ok());
  EXPECT_TRUE(statuses[2].is_ok());
  EXPECT_FALSE(consumed[1]);
  EXPECT_TRUE(consumed[0] && consumed[2]);
  EXPECT_EQ(run.sizes(), (std::vector<size_t>{1, 2}));  // member 1's query was not searched

  // A lone leader queued behind a held search drops its batch when cancelled.
  FakeRun held(/*hold_first=*/true);
  std::thread again = start_first(batcher, held, &wrong);
  core::CancellationToken alone;
  core::Status alone_status;
  std::thread lone([&] {
    alone_status = batcher.submit(
        &queries[0], 1, 1, [](const SearchHits&, size_t) {},
        [&](const float* q, size_t count, size_t kk,
            const std::function<void(const SearchHits&)>& deliver) {
          return held(q, count, kk, deliver);
        },
        1, std::chrono::steady_clock::time_point::max(), &alone);
  });
  wait_queued(batcher, 1);
  alone.cancel();
  lone.join();
  EXPECT_EQ(alone_status.code(), core::StatusCode::kCancelled);
  EXPECT_EQ(batcher.queued_requests(), 0u);
  held.release();
  again.join();
  EXPECT_EQ(held.sizes().size(), 1u);
  EXPECT_EQ(wrong.load(), 0);
}

TEST(SearchBatcher, NoMoreBatchesRunAtOnceThanTheRunners) {
  // Two at a time, and the first two calls held: with the first running, the
  // next batch starts after the delay; the rest wait for one of the two.
  SearchBatcher batcher(1, {.max_batch = 2, .max_delay = milliseconds(1)});
  FakeRun run(/*hold_first=*/true, /*held=*/2);
  std::atomic<int> wrong{0};
  std::thread first = start_first(batcher, run, &wrong, 2);
  std::vector<std::thread> others = start_others(batcher, run, 9, &wrong, 2);
  run.wait_started(2);
  wait_queued(batcher, 9 - run.sizes()[1]);
  std::this_thread::sleep_for(milliseconds(50));  // 50 times the delay
  EXPECT_EQ(run.sizes().size(), 2u) << "a third batch started beside two running ones";
  run.release();
  first.join();
  for (std::thread& t : others) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(run.most_running(), 2u);
  for (size_t size : run.sizes()) EXPECT_LE(size, 2u);
  EXPECT_EQ(batcher.stats().requests, 10u);
}

TEST(SearchBatcher, ARequestAsLargeAsTheMaximumRunsAloneAndItsErrorIsReturned) {
  SearchBatcher batcher(2, {.max_batch = 2, .max_delay = milliseconds(10)});
  std::vector<float> queries(4, 1.0f);
  int calls = 0;
  const core::Status status = batcher.submit(
      queries.data(), 2, 1, [](const SearchHits&, size_t) {},
      [&](const float*, size_t n, size_t, const std::function<void(const SearchHits&)>&) {
        ++calls;
        EXPECT_EQ(n, 2u);
        return core::Status(core::StatusCode::kUnavailable, "device lost");
      });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status.code(), core::StatusCode::kUnavailable);
}

// Through a real Collection and CpuSearcher: concurrent unfiltered searches
// give exactly what each gives alone.
TEST(SearchBatcher, ConcurrentCollectionSearchesMatchLoneSearches) {
  std::mt19937_64 rng(testing::test_seed("SearchBatcher.Collection"));
  std::normal_distribution<float> normal;
  core::ThreadPool pool(2);
  CpuSearcher searcher(pool);
  core::LockManager locks;
  Collection collection({"c", 24, Metric::kEuclid}, locks, searcher,
                        {.max_batch = 64, .max_delay = milliseconds(2)});
  std::vector<PointWrite> points;
  for (uint64_t i = 0; i < 3000; ++i) {
    std::vector<float> v(24);
    for (float& x : v) x = normal(rng);
    points.push_back({core::PointId::number(i), v, nullptr});
  }
  ASSERT_TRUE(collection.upsert(std::move(points)).is_ok());
  constexpr size_t kThreads = 8;
  constexpr size_t kPerThread = 20;
  std::vector<std::vector<float>> queries(kThreads * kPerThread, std::vector<float>(24));
  for (auto& q : queries) {
    for (float& x : q) x = normal(rng);
  }
  std::vector<std::vector<core::PointId>> alone(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    SearchParams params;
    params.limit = 1 + i % 7;
    auto hits = collection.search(queries[i], params);
    ASSERT_TRUE(hits.is_ok());
    for (const ScoredPoint& p : hits.value()) alone[i].push_back(p.id);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t j = 0; j < kPerThread; ++j) {
        const size_t i = t * kPerThread + j;
        SearchParams params;
        params.limit = 1 + i % 7;
        auto hits = collection.search(queries[i], params);
        std::vector<core::PointId> ids;
        if (hits.is_ok()) {
          for (const ScoredPoint& p : hits.value()) ids.push_back(p.id);
        }
        if (ids != alone[i]) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  const BatchingStats stats = collection.batching_stats();
  EXPECT_EQ(stats.requests, 2 * queries.size());
  std::printf("[ batching ] %llu requests in %llu searcher calls\n",
              static_cast<unsigned long long>(stats.requests),
              static_cast<unsigned long long>(stats.batches));
}

}  // namespace
}  // namespace vesta::index
