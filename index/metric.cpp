#include "index/metric.h"

#include <algorithm>
#include <cmath>

namespace vesta::index {

std::string_view metric_name(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "Cosine";
    case Metric::kDot: return "Dot";
    case Metric::kEuclid: return "Euclid";
  }
  return "Unknown";
}

std::optional<Metric> parse_metric(std::string_view name) {
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kEuclid}) {
    if (metric_name(m) == name) return m;
  }
  return std::nullopt;
}

float score_from_distance(Metric metric, float distance) {
  // Rounding can make a squared distance slightly negative; clamp before sqrt.
  return metric == Metric::kEuclid ? std::sqrt(std::max(distance, 0.0f)) : distance;
}

void normalise(std::span<float> v) {
  double norm_sq = 0.0;
  for (float x : v) norm_sq += static_cast<double>(x) * x;
  if (norm_sq <= 0.0) return;
  const double scale = 1.0 / std::sqrt(norm_sq);
  for (float& x : v) x = static_cast<float>(x * scale);
}

}  // namespace vesta::index
