#include "kernels/cpu/scan.h"

#include <algorithm>
#include <vector>

namespace vesta::kernels {
namespace {

// A row tile of this many float16 bytes stays in a 1 MiB L2 next to a query
// block of kQueryBlock float32 vectors (256 KiB + 144 KiB at d = 768). Both
// are multiples of the register blocks (6 x 4 for AVX-512, 3 x 3 for AVX2) so
// that few edge tiles run.
constexpr size_t kRowTileBytes = 256 * 1024;
constexpr size_t kQueryBlock = 48;
constexpr size_t kRowTileMultiple = 12;

// Above this many queries the blocked kernels (6 x 4 for AVX-512, 3 x 3 for
// AVX2) compute a tile, reading several rows side by side; that defeats the
// hardware prefetcher, so the first pass over a tile waits on memory latency.
constexpr size_t kSequentialQueries = 6;

// Reads values [0, n) one load per 64-byte line, in order: brings a row tile
// into the cache at streaming speed before the blocked kernel passes over it.
// On one core of an Intel Xeon (Sapphire Rapids class), 21 queries x 262,144
// rows x 768: 103 instead of 135 ms (docs/benchmarks.md, "CPU kernel
// micro-benchmarks").
void read_sequentially(const uint16_t* values, size_t n) {
  constexpr size_t kLineValues = 64 / sizeof(uint16_t);
  uint32_t sink = 0;
  for (size_t i = 0; i < n; i += kLineValues) sink += values[i];
  asm volatile("" : : "r"(sink));  // the loads must happen; their sum is unused
}

size_t row_tile_rows(size_t stride) {
  const size_t rows = std::clamp<size_t>(kRowTileBytes / (stride * sizeof(uint16_t)), 12, 1024);
  return rows / kRowTileMultiple * kRowTileMultiple;
}

}  // namespace

void scan_rows(DistanceKind kind, const float* queries, size_t n_queries, const uint16_t* rows,
               size_t stride, size_t row_begin, size_t row_end, const RowFilter& filter,
               TopKCollector* collectors, Isa isa) {
  if (n_queries == 0 || row_begin >= row_end) return;
  const size_t tile_rows = row_tile_rows(stride);
  const size_t block_queries = std::min(kQueryBlock, n_queries);
  std::vector<float> tile(block_queries * tile_rows);
  std::vector<uint32_t> eligible;  // offsets within the tile, when a filter restricts rows
  eligible.reserve(tile_rows);

  for (size_t r0 = row_begin; r0 < row_end; r0 += tile_rows) {
    const size_t nr = std::min(tile_rows, row_end - r0);
    if (filter.restricts()) {
      eligible.clear();
      for (size_t r = 0; r < nr; ++r) {
        if (filter.eligible(r0 + r)) eligible.push_back(static_cast<uint32_t>(r));
      }
      if (eligible.empty()) continue;
    }
    if (n_queries > kSequentialQueries) read_sequentially(rows + r0 * stride, nr * stride);
    for (size_t q0 = 0; q0 < n_queries; q0 += block_queries) {
      const size_t nq = std::min(block_queries, n_queries - q0);
      compute_distance_tile(kind, queries + q0 * stride, nq, rows + r0 * stride, nr, stride,
                            tile.data(), tile_rows, isa);
      for (size_t q = 0; q < nq; ++q) {
        TopKCollector& collector = collectors[q0 + q];
        const float* scores = tile.data() + q * tile_rows;
        if (filter.restricts()) {
          for (uint32_t r : eligible) collector.push(scores[r], r0 + r);
        } else {
          collector.push_all(scores, nr, r0);
        }
      }
    }
  }
}

}  // namespace vesta::kernels
