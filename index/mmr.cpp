#include "index/mmr.h"

#include <algorithm>
#include <limits>

#include "core/check.h"

namespace vesta::index {
namespace {

double similarity(const std::vector<float>& a, const std::vector<float>& b, Metric metric) {
  const size_t n = std::min(a.size(), b.size());
  double sum = 0.0;
  if (metric == Metric::kEuclid) {
    for (size_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(a[i]) - b[i];
      sum -= d * d;
    }
  } else {
    for (size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  }
  return sum;
}

}  // namespace

std::vector<size_t> select_mmr(std::span<const float> scores,
                               const std::vector<std::vector<float>>& vectors, Metric metric,
                               float diversity, size_t count) {
  VESTA_CHECK(scores.size() == vectors.size()) << "one score per candidate vector";
  const size_t n = scores.size();
  count = std::min(count, n);
  std::vector<double> relevance(n);
  for (size_t i = 0; i < n; ++i) {
    // Euclid scores are distances: the similarity is the negated square.
    relevance[i] = metric == Metric::kEuclid ? -static_cast<double>(scores[i]) * scores[i]
                                             : static_cast<double>(scores[i]);
  }
  // closest[i]: candidate i's largest similarity to those picked so far.
  std::vector<double> closest(n, -std::numeric_limits<double>::infinity());
  std::vector<bool> picked(n, false);
  std::vector<size_t> order;
  order.reserve(count);
  while (order.size() < count) {
    size_t best = n;
    double best_value = 0.0;
    for (size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const double value =
          order.empty() ? relevance[i] : (1.0 - diversity) * relevance[i] - diversity * closest[i];
      if (best == n || value > best_value) {
        best = i;
        best_value = value;
      }
    }
    picked[best] = true;
    order.push_back(best);
    for (size_t i = 0; i < n; ++i) {
      if (!picked[i])
        closest[i] = std::max(closest[i], similarity(vectors[i], vectors[best], metric));
    }
  }
  return order;
}

}  // namespace vesta::index
