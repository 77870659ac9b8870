#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "kernels/cpu/distance.h"

namespace vesta::index {

// How a collection compares vectors, with Qdrant's score conventions.
enum class Metric {
  kCosine,  // vectors normalised at insert; score = cosine similarity, higher is better
  kDot,     // score = inner product, higher is better
  kEuclid,  // score = Euclidean distance, lower is better
};

std::string_view metric_name(Metric metric);                // "Cosine", "Dot", "Euclid"
std::optional<Metric> parse_metric(std::string_view name);  // the names above

// The kernel distance a metric is computed with.
inline kernels::DistanceKind distance_kind(Metric metric) {
  return metric == Metric::kEuclid ? kernels::DistanceKind::kL2Squared
                                   : kernels::DistanceKind::kInnerProduct;
}
inline bool higher_is_better(Metric metric) { return metric != Metric::kEuclid; }

// The user-facing score of a kernel distance (sqrt for Euclid).
float score_from_distance(Metric metric, float distance);

// Scales `v` to unit length, as Cosine stores vectors and queries them; a
// zero vector stays zero.
void normalise(std::span<float> v);

}  // namespace vesta::index
