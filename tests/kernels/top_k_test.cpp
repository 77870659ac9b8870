#include "kernels/cpu/top_k.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "test_seed.h"

namespace vesta::kernels {
namespace {

// The reference: a full sort by (score, row) in the collector's order.
std::vector<Neighbor> full_sort(const std::vector<float>& scores, size_t k, bool higher) {
  std::vector<Neighbor> all;
  for (size_t i = 0; i < scores.size(); ++i) all.push_back({scores[i], i});
  std::sort(all.begin(), all.end(), [&](const Neighbor& a, const Neighbor& b) {
    if (a.score != b.score) return higher ? a.score > b.score : a.score < b.score;
    return a.row < b.row;
  });
  all.resize(std::min(k, all.size()));
  return all;
}

// Scores drawn from only `distinct` values, so ties are everywhere.
std::vector<float> random_scores(std::mt19937_64& rng, size_t n, int distinct) {
  std::uniform_int_distribution<int> pick(0, distinct - 1);
  std::vector<float> s(n);
  for (float& x : s) x = static_cast<float>(pick(rng)) * 0.25f - 3.0f;
  return s;
}

TEST(TopK, MatchesFullSortIncludingTiesForManySizes) {
  std::mt19937_64 rng(testing::test_seed("TopK.MatchesFullSort"));
  for (size_t n : {1, 2, 31, 100, 1000, 5000}) {
    for (size_t k : {1, 2, 10, 99, 100, 101, 1024}) {
      for (int distinct : {1, 3, 50, 1 << 20}) {
        for (bool higher : {true, false}) {
          const std::vector<float> scores = random_scores(rng, n, distinct);
          ASSERT_EQ(select_top_k(scores, k, higher), full_sort(scores, k, higher))
              << "n " << n << " k " << k << " distinct " << distinct << " higher " << higher;
        }
      }
    }
  }
}

TEST(TopK, KGreaterThanRowsReturnsAllRowsSorted) {
  const std::vector<float> scores{0.5f, 2.0f, -1.0f};
  const std::vector<Neighbor> top = select_top_k(scores, 10, true);
  EXPECT_EQ(top, (std::vector<Neighbor>{{2.0f, 1}, {0.5f, 0}, {-1.0f, 2}}));
}

TEST(TopK, KZeroReturnsNothing) {
  const std::vector<float> scores{1.0f, 2.0f};
  EXPECT_TRUE(select_top_k(scores, 0, true).empty());
  TopKCollector c(0, false);
  c.push(1.0f, 3);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_FALSE(c.could_keep(-100.0f));
}

TEST(TopK, TiesPreferTheSmallerRowWhateverThePushOrder) {
  TopKCollector forward(2, true);
  TopKCollector backward(2, true);
  for (uint64_t r = 0; r < 10; ++r) forward.push(1.0f, r);
  for (uint64_t r = 10; r-- > 0;) backward.push(1.0f, r);
  const std::vector<Neighbor> expected{{1.0f, 0}, {1.0f, 1}};
  EXPECT_EQ(forward.take_sorted(), expected);
  EXPECT_EQ(backward.take_sorted(), expected);
}

TEST(TopK, MergeOfPartsEqualsSelectionOfTheWhole) {
  std::mt19937_64 rng(testing::test_seed("TopK.Merge"));
  for (int trial = 0; trial < 50; ++trial) {
    const std::vector<float> scores = random_scores(rng, 3000, 40);
    const size_t k = std::uniform_int_distribution<size_t>(1, 300)(rng);
    const bool higher = trial % 2 == 0;
    // Split the rows among 5 collectors in a random assignment, merge in order.
    std::vector<TopKCollector> parts(5, TopKCollector(k, higher));
    std::uniform_int_distribution<size_t> pick(0, parts.size() - 1);
    for (size_t i = 0; i < scores.size(); ++i) parts[pick(rng)].push(scores[i], i);
    for (size_t p = 1; p < parts.size(); ++p) parts[0].merge(parts[p]);
    ASSERT_EQ(parts[0].take_sorted(), full_sort(scores, k, higher)) << "trial " << trial;
  }
}

TEST(TopK, CouldKeepIsConservative) {
  TopKCollector c(2, true);
  EXPECT_TRUE(c.could_keep(-1e30f));
  c.push(5.0f, 0);
  c.push(4.0f, 1);
  EXPECT_FALSE(c.could_keep(3.0f));
  EXPECT_TRUE(c.could_keep(4.0f));  // a tie may still win on row
  EXPECT_TRUE(c.could_keep(6.0f));
}

TEST(TopK, TakeSortedEmptiesTheCollector) {
  TopKCollector c(3, false);
  c.push(1.0f, 1);
  EXPECT_EQ(c.take_sorted().size(), 1u);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace vesta::kernels
