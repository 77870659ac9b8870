#include "index/mmr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "test_seed.h"

namespace vesta::index {
namespace {

double similarity(const std::vector<float>& a, const std::vector<float>& b, Metric metric) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    sum += metric == Metric::kEuclid ? -(static_cast<double>(a[i]) - b[i]) * (a[i] - b[i])
                                     : static_cast<double>(a[i]) * b[i];
  }
  return sum;
}

// The definition, recomputed from scratch at every step.
std::vector<size_t> reference(const std::vector<float>& scores,
                              const std::vector<std::vector<float>>& vectors, Metric metric,
                              double diversity, size_t count) {
  auto relevance = [&](size_t i) {
    return metric == Metric::kEuclid ? -static_cast<double>(scores[i]) * scores[i]
                                     : static_cast<double>(scores[i]);
  };
  std::vector<size_t> picked;
  while (picked.size() < std::min(count, scores.size())) {
    size_t best = scores.size();
    double best_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < scores.size(); ++i) {
      if (std::find(picked.begin(), picked.end(), i) != picked.end()) continue;
      double value = relevance(i);
      if (!picked.empty()) {
        double closest = -std::numeric_limits<double>::infinity();
        for (size_t j : picked)
          closest = std::max(closest, similarity(vectors[i], vectors[j], metric));
        value = (1.0 - diversity) * value - diversity * closest;
      }
      if (value > best_value) {
        best = i;
        best_value = value;
      }
    }
    picked.push_back(best);
  }
  return picked;
}

TEST(Mmr, MatchesTheDefinitionForEveryMetricAndDiversity) {
  std::mt19937_64 rng(testing::test_seed("Mmr.Reference"));
  std::normal_distribution<float> normal;
  for (Metric metric : {Metric::kCosine, Metric::kDot, Metric::kEuclid}) {
    for (float diversity : {0.0f, 0.25f, 0.5f, 0.8f, 1.0f}) {
      for (int round = 0; round < 20; ++round) {
        const size_t n = 1 + rng() % 9;
        const std::vector<float> query{normal(rng), normal(rng), normal(rng)};
        std::vector<std::vector<float>> vectors(n, std::vector<float>(3));
        std::vector<float> scores(n);
        for (size_t i = 0; i < n; ++i) {
          for (float& x : vectors[i]) x = normal(rng);
          const double s = similarity(query, vectors[i], metric);
          scores[i] =
              metric == Metric::kEuclid ? static_cast<float>(std::sqrt(-s)) : static_cast<float>(s);
        }
        const size_t count = rng() % (n + 2);
        EXPECT_EQ(select_mmr(scores, vectors, metric, diversity, count),
                  reference(scores, vectors, metric, diversity, count))
            << "metric " << static_cast<int>(metric) << " diversity " << diversity << " n " << n;
      }
    }
  }
}

TEST(Mmr, WithoutDiversityItIsTheNearestInOrderTiesToTheEarlier) {
  const std::vector<std::vector<float>> vectors{{1, 0}, {1, 0}, {0, 1}, {0.5f, 0.5f}};
  EXPECT_EQ(select_mmr(std::vector<float>{0.9f, 0.9f, 0.7f, 0.8f}, vectors, Metric::kDot, 0.0f, 4),
            (std::vector<size_t>{0, 1, 3, 2}));
  // Euclid scores are distances: nearest first.
  EXPECT_EQ(
      select_mmr(std::vector<float>{3.0f, 1.0f, 2.0f, 0.5f}, vectors, Metric::kEuclid, 0.0f, 3),
      (std::vector<size_t>{3, 1, 2}));
}

TEST(Mmr, ANearDuplicateGivesWayToADifferentCandidate) {
  // Unit vectors: 1 is almost 0, 2 is orthogonal to 0, less relevant.
  const std::vector<std::vector<float>> vectors{{1, 0, 0}, {0.999f, 0.0447f, 0}, {0, 0, 1}};
  const std::vector<float> scores{0.9f, 0.89f, 0.4f};
  EXPECT_EQ(select_mmr(scores, vectors, Metric::kCosine, 0.5f, 2), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(select_mmr(scores, vectors, Metric::kCosine, 0.1f, 2), (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(select_mmr(scores, vectors, Metric::kCosine, 0.5f, 0).empty());
  EXPECT_EQ(select_mmr(scores, vectors, Metric::kCosine, 0.5f, 10).size(), 3u);
}

}  // namespace
}  // namespace vesta::index
