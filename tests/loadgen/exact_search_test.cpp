#include "loadgen/exact_search.h"

#include <gtest/gtest.h>

#include <vector>

#include "loadgen/http_client.h"
#include "loadgen/load_generator.h"

namespace vesta::loadgen {
namespace {

TEST(ExactSearch, EachMetricRanksAsQdrantScores) {
  // Rows: 0 [1, 0], 1 [3, 0], 2 [0, 2], 3 [-1, 0].
  const std::vector<float> points = {1, 0, 3, 0, 0, 2, -1, 0};
  const std::vector<float> query = {1, 0.1f};
  EXPECT_EQ(exact_top_k(points, 2, index::Metric::kDot, query, 2), (std::vector<uint64_t>{1, 0}));
  // Cosine: rows 0 and 1 tie (same direction); the smaller row goes first.
  EXPECT_EQ(exact_top_k(points, 2, index::Metric::kCosine, query, 3),
            (std::vector<uint64_t>{0, 1, 2}));
  // Euclid: rows 1 and 3 tie at a distance of sqrt(4.01).
  EXPECT_EQ(exact_top_k(points, 2, index::Metric::kEuclid, query, 4),
            (std::vector<uint64_t>{0, 1, 3, 2}));
  // k above the point count gives every point.
  EXPECT_EQ(exact_top_k(points, 2, index::Metric::kDot, query, 10).size(), 4u);
}

TEST(ExactSearch, RecallCountsEachExactIdOnce) {
  const std::vector<uint64_t> exact = {4, 5, 6, 7};
  EXPECT_DOUBLE_EQ(recall_of(std::vector<uint64_t>{4, 5, 6, 7}, exact), 1.0);
  EXPECT_DOUBLE_EQ(recall_of(std::vector<uint64_t>{7, 6, 1, 2}, exact), 0.5);
  EXPECT_DOUBLE_EQ(recall_of(std::vector<uint64_t>{4, 4, 4, 4}, exact), 0.25);
  EXPECT_DOUBLE_EQ(recall_of(std::vector<uint64_t>{}, exact), 0.0);
  EXPECT_DOUBLE_EQ(recall_of(std::vector<uint64_t>{1}, std::vector<uint64_t>{}), 1.0);
}

TEST(LatencySummary, NearestRankPercentiles) {
  std::vector<double> micros;
  for (int i = 100; i >= 1; --i) micros.push_back(i * 1000.0);  // 1..100 ms, unsorted
  const LatencySummary s = LatencySummary::of(micros);
  EXPECT_DOUBLE_EQ(s.p50_ms, 50);
  EXPECT_DOUBLE_EQ(s.p95_ms, 95);
  EXPECT_DOUBLE_EQ(s.p99_ms, 99);
  EXPECT_DOUBLE_EQ(s.max_ms, 100);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  std::vector<double> one = {2500};
  EXPECT_DOUBLE_EQ(LatencySummary::of(one).p99_ms, 2.5);
  std::vector<double> none;
  EXPECT_DOUBLE_EQ(LatencySummary::of(none).p50_ms, 0);
}

TEST(HttpEndpoint, ParsesHttpUrls) {
  auto e = HttpEndpoint::parse_url("http://127.0.0.1:6333");
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e.value().host, "127.0.0.1");
  EXPECT_EQ(e.value().port, 6333);
  auto slash = HttpEndpoint::parse_url("http://localhost/");
  ASSERT_TRUE(slash.is_ok());
  EXPECT_EQ(slash.value().host, "localhost");
  EXPECT_EQ(slash.value().port, 80);
  EXPECT_FALSE(HttpEndpoint::parse_url("https://x:1").is_ok());
  EXPECT_FALSE(HttpEndpoint::parse_url("http://x:0").is_ok());
  EXPECT_FALSE(HttpEndpoint::parse_url("http://x:99999").is_ok());
  EXPECT_FALSE(HttpEndpoint::parse_url("http://x:1/collections").is_ok());
  EXPECT_FALSE(HttpEndpoint::parse_url("http://:1").is_ok());
}

}  // namespace
}  // namespace vesta::loadgen
