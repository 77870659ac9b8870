#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/distance.h"
#include "kernels/cpu/top_k.h"

namespace vesta::kernels {

// Which rows a scan may return. Both bitmaps are indexed by absolute row
// (bit r of word r / 64); a null pointer means "no restriction".
struct RowFilter {
  const uint64_t* deleted = nullptr;  // set bit: the row is a tombstone
  const uint64_t* allowed = nullptr;  // clear bit: a filter excludes the row

  bool eligible(uint64_t row) const {
    const uint64_t bit = uint64_t{1} << (row % 64);
    if (deleted != nullptr && (deleted[row / 64] & bit) != 0) return false;
    return allowed == nullptr || (allowed[row / 64] & bit) != 0;
  }
  bool restricts() const { return deleted != nullptr || allowed != nullptr; }
};

// Offers every eligible row r in [row_begin, row_end) with its distance to
// queries[q] to collectors[q], for q < n_queries. Rows and queries follow the
// padded layout of distance.h (`stride` = padded_dim(dim)); `rows` points at
// row 0. Blocks rows and queries so that a tile of rows stays in L2 while
// every query of the block visits it, and selects straight after each tile.
// Reentrant; the caller owns the collectors (one thread per collector set).
void scan_rows(DistanceKind kind, const float* queries, size_t n_queries, const uint16_t* rows,
               size_t stride, size_t row_begin, size_t row_end, const RowFilter& filter,
               TopKCollector* collectors, Isa isa = active_isa());

}  // namespace vesta::kernels
