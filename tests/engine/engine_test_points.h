#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/point_id.h"
#include "index/collection.h"

// Points the engine tests write, and what a collection holds, for comparing
// before and after a restart (over either Store).
namespace vesta::engine::test_data {

inline std::vector<float> vector_of(uint64_t i, size_t dim) {
  std::vector<float> v(dim);
  for (size_t d = 0; d < dim; ++d) v[d] = static_cast<float>((i * 31 + d * 7) % 97) / 13.0f - 3.0f;
  return v;
}

inline std::vector<index::PointWrite> points(uint64_t first, uint64_t count, size_t dim) {
  std::vector<index::PointWrite> out;
  for (uint64_t i = first; i < first + count; ++i) {
    out.push_back({core::PointId::number(i), vector_of(i, dim),
                   nlohmann::json{{"i", i}, {"even", i % 2 == 0}}});
  }
  return out;
}

// Every live point of a collection, by id: vector (as stored) and payload.
inline std::map<core::PointId, std::pair<std::vector<float>, nlohmann::json>> contents(
    index::Collection& c) {
  std::map<core::PointId, std::pair<std::vector<float>, nlohmann::json>> out;
  std::optional<core::PointId> offset;
  do {
    index::Collection::ScrollPage page = c.scroll(offset, 1000, nullptr, {}, true, true).value();
    for (const index::StoredPoint& p : page.points) out[p.id] = {p.vector, p.payload};
    offset = page.next_page_offset;
  } while (offset);
  return out;
}

}  // namespace vesta::engine::test_data
