#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "index/metric.h"

namespace vesta::loadgen {

// The exact k nearest of `points` (n rows of `dim` float32 values) to
// `query`, as row numbers best first, computed in float64 with the metric's
// Qdrant score (Cosine: both sides normalised; Euclid: smallest distance
// first). Ties go to the smaller row. The reference that recall is measured
// against.
std::vector<uint64_t> exact_top_k(std::span<const float> points, size_t dim, index::Metric metric,
                                  std::span<const float> query, size_t k);

// |answer ∩ exact| / |exact| (1 when exact is empty); ids in `answer` may
// repeat or include padding, which never match.
double recall_of(std::span<const uint64_t> answer, std::span<const uint64_t> exact);

}  // namespace vesta::loadgen
