#include "index/cpu_searcher.h"

#include <gtest/gtest.h>

#include <random>

#include "core/float16.h"
#include "kernels/cpu/distance.h"
#include "test_seed.h"

namespace vesta::index {
namespace {

using core::PointId;

// Brute force through the tile kernel and one collector: the expected answer.
SearchHits brute_force(const FlatIndex& index, const std::vector<float>& queries, size_t nq,
                       size_t k, const uint64_t* allowed) {
  const size_t stride = index.stride();
  std::vector<float> padded(nq * stride, 0.0f);
  for (size_t q = 0; q < nq; ++q) {
    std::copy_n(queries.begin() + static_cast<ptrdiff_t>(q * index.dim()), index.dim(),
                padded.begin() + static_cast<ptrdiff_t>(q * stride));
  }
  std::vector<float> all(nq * index.row_count());
  kernels::compute_distance_tile(distance_kind(index.metric()), padded.data(), nq, index.rows(),
                                 index.row_count(), stride, all.data(), index.row_count());
  SearchHits hits(nq);
  for (size_t q = 0; q < nq; ++q) {
    kernels::TopKCollector c(k, higher_is_better(index.metric()));
    for (uint64_t r = 0; r < index.row_count(); ++r) {
      const bool ok = index.is_live(r) && (allowed == nullptr || (allowed[r / 64] >> (r % 64)) & 1);
      if (ok) c.push(all[q * index.row_count() + r], r);
    }
    hits[q] = c.take_sorted();
  }
  return hits;
}

TEST(CpuSearcher, MatchesBruteForceForEveryPoolSizeWithDeletesAndMasks) {
  std::mt19937_64 rng(testing::test_seed("CpuSearcher"));
  std::normal_distribution<float> normal;
  for (Metric metric : {Metric::kDot, Metric::kEuclid, Metric::kCosine}) {
    const size_t dim = 40;
    FlatIndex index(dim, metric);
    const size_t n = 30000;  // several parts of kMinRowsPerPart
    std::vector<float> v(dim);
    for (size_t i = 0; i < n; ++i) {
      // Every tenth point duplicates the previous vector: exact ties.
      if (i % 10 != 0) {
        for (float& x : v) x = normal(rng);
      }
      index.upsert(PointId::number(i), v, nullptr);
    }
    for (size_t i = 0; i < n; i += 7) index.remove(PointId::number(i));
    std::vector<uint64_t> allowed((n + 63) / 64, 0);
    for (size_t r = 0; r < n; ++r) {
      if (rng() % 2) allowed[r / 64] |= uint64_t{1} << (r % 64);
    }
    const size_t nq = 9;
    std::vector<float> queries(nq * dim);
    for (float& x : queries) x = normal(rng);

    for (size_t threads : {1, 2, 3}) {
      core::ThreadPool pool(threads);
      CpuSearcher searcher(pool);
      for (const uint64_t* mask :
           {static_cast<const uint64_t*>(nullptr), static_cast<const uint64_t*>(allowed.data())}) {
        for (size_t k : {1, 10, 1024}) {
          SearchRequest request{queries.data(), nq, k, mask};
          core::Result<SearchHits> got = searcher.search(index, request);
          ASSERT_TRUE(got.is_ok()) << got.status().to_string();
          ASSERT_EQ(got.value(), brute_force(index, queries, nq, k, mask))
              << "metric " << metric_name(metric) << " threads " << threads << " k " << k;
        }
      }
    }
  }
}

TEST(CpuSearcher, RejectsKAboveTheMaximum) {
  core::ThreadPool pool(1);
  CpuSearcher searcher(pool);
  FlatIndex index(2, Metric::kDot);
  std::vector<float> q{1, 1};
  core::Result<SearchHits> r =
      searcher.search(index, {q.data(), 1, kernels::kMaxTopK + 1, nullptr});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("1025"), std::string::npos);
}

TEST(CpuSearcher, EmptyIndexAndKZeroGiveEmptyLists) {
  core::ThreadPool pool(2);
  CpuSearcher searcher(pool);
  FlatIndex index(2, Metric::kDot);
  std::vector<float> q{1, 1, 2, 2};
  EXPECT_EQ(searcher.search(index, {q.data(), 2, 5, nullptr}).value(), SearchHits(2));
  index.upsert(PointId::number(1), std::vector<float>{1, 0}, nullptr);
  EXPECT_EQ(searcher.search(index, {q.data(), 2, 0, nullptr}).value(), SearchHits(2));
}

TEST(CpuSearcher, SmallIndexesLeaveThreadsForSearchesSideBySide) {
  core::ThreadPool pool(4);
  CpuSearcher searcher(pool);
  FlatIndex index(2, Metric::kDot);
  // Under 16,384 rows a search is one part on one thread: four fit at once.
  EXPECT_EQ(searcher.searches_side_by_side(index), 4u);
  for (uint64_t i = 0; i < 16384; ++i) {
    index.upsert(PointId::number(i), std::vector<float>{1, static_cast<float>(i)}, nullptr);
  }
  EXPECT_EQ(searcher.searches_side_by_side(index), 2u);  // two parts
  for (uint64_t i = 16384; i < 40000; ++i) {
    index.upsert(PointId::number(i), std::vector<float>{1, static_cast<float>(i)}, nullptr);
  }
  EXPECT_EQ(searcher.searches_side_by_side(index), 1u);  // every thread per search
  CpuSearcher one_thread(pool, 1);
  FlatIndex small(2, Metric::kDot);
  EXPECT_EQ(one_thread.searches_side_by_side(small), 1u);
}

}  // namespace
}  // namespace vesta::index
