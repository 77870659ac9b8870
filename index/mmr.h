#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "index/metric.h"

namespace vesta::index {

// Maximal marginal relevance, as Qdrant's query API does it ("mmr" in a
// nearest query): from candidates given best first, with their scores (in
// the metric's convention) and vectors, picks up to `count` one at a time:
// first the most relevant, then each time the one that maximises
//   (1 - diversity) * relevance - diversity * (its largest similarity to
//   those already picked),
// where relevance and similarity are the metric's similarity (Cosine and Dot:
// the inner product; Euclid: the negated squared distance). Ties go to the
// earlier candidate. Returns candidate indexes in the order picked.
std::vector<size_t> select_mmr(std::span<const float> scores,
                               const std::vector<std::vector<float>>& vectors, Metric metric,
                               float diversity, size_t count);

}  // namespace vesta::index
