#include "loadgen/exact_search.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/check.h"

namespace vesta::loadgen {

std::vector<uint64_t> exact_top_k(std::span<const float> points, size_t dim, index::Metric metric,
                                  std::span<const float> query, size_t k) {
  VESTA_CHECK(dim > 0 && points.size() % dim == 0 && query.size() == dim)
      << points.size() << " point values, query of " << query.size() << ", dim " << dim;
  const size_t n = points.size() / dim;
  auto norm = [](std::span<const float> v) {
    double sum = 0;
    for (float x : v) sum += static_cast<double>(x) * x;
    return std::sqrt(sum);
  };
  const double query_norm = norm(query);
  // A key where larger is better, whatever the metric.
  std::vector<std::pair<double, uint64_t>> keyed(n);
  for (size_t r = 0; r < n; ++r) {
    const std::span<const float> row = points.subspan(r * dim, dim);
    double key = 0;
    if (metric == index::Metric::kEuclid) {
      for (size_t i = 0; i < dim; ++i) {
        const double d = static_cast<double>(row[i]) - query[i];
        key -= d * d;
      }
    } else {
      for (size_t i = 0; i < dim; ++i) key += static_cast<double>(row[i]) * query[i];
      if (metric == index::Metric::kCosine) {
        const double denominator = norm(row) * query_norm;
        key = denominator > 0 ? key / denominator : 0.0;
      }
    }
    keyed[r] = {key, r};
  }
  const size_t take = std::min(k, n);
  auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::partial_sort(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(take), keyed.end(),
                    better);
  std::vector<uint64_t> out(take);
  for (size_t i = 0; i < take; ++i) out[i] = keyed[i].second;
  return out;
}

double recall_of(std::span<const uint64_t> answer, std::span<const uint64_t> exact) {
  if (exact.empty()) return 1.0;
  const std::unordered_set<uint64_t> want(exact.begin(), exact.end());
  std::unordered_set<uint64_t> found;
  for (uint64_t id : answer) {
    if (want.count(id) != 0) found.insert(id);
  }
  return static_cast<double>(found.size()) / static_cast<double>(want.size());
}

}  // namespace vesta::loadgen
