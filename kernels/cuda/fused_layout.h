#pragma once

// Where the fused small-batch scan (kernels/cuda/flat_search.cu) puts rows and
// queries in the registers of one tensor-core instruction, written once for
// the kernel and the host tests. Plain C++ when not compiled by nvcc.
//
// The scan multiplies 16 rows by up to 8 queries per instruction
// (mma.sync.m16n8k16.row.col, float16 in, float32 accumulated): A = 16 rows x
// 16 dims, B = 16 dims x 8 queries, C = 16 rows x 8 queries. In PTX's layout
// lane l = 4 g + t (g = l / 4, t = l % 4) holds
//   A: reg 0 = row g, dims (2t, 2t+1); reg 1 = row g+8, dims (2t, 2t+1);
//      reg 2 = row g, dims (2t+8, 2t+9); reg 3 = row g+8, dims (2t+8, 2t+9);
//   B: reg 0 = dims (2t, 2t+1) of query g; reg 1 = dims (2t+8, 2t+9);
//   C: c0, c1 = row g, queries 2t, 2t+1; c2, c3 = row g+8, the same queries,
// where "dims" are the instruction's 16 k positions. A dot product does not
// care which real dimension sits at which k position as long as A and B agree,
// so the scan gives lane t's four k positions (2t, 2t+1, 2t+8, 2t+9) four
// consecutive real dimensions D, D+1, D+2, D+3 (D = fused_step_dim): every
// register is one 4-byte piece of a row or query, and a lane loads a row's
// dimensions for two steps with one 16-byte load. Per 64 dimensions (four
// steps) lane t reads dimensions [8t, 8t+8) and [32+8t, 32+8t+8): the four
// lanes of a row read its 128 bytes as two 64-byte runs. A stride that is not
// a multiple of 64 ends with steps of 16 dimensions, lane t at 4t.

#include <cstdint>

#if defined(__CUDACC__)
#define VESTA_FUSED_HD __host__ __device__ __forceinline__
#else
#define VESTA_FUSED_HD inline
#endif

namespace vesta::kernels::cuda {

// Queries per n-tile of the instruction, and the most queries one fused scan
// takes (two n-tiles); rows per instruction (one warp's group of rows).
inline constexpr uint32_t kFusedTileQueries = 8;
inline constexpr uint32_t kFusedMaxQueries = 16;
inline constexpr uint32_t kFusedGroupRows = 16;

// Steps of 64 dimensions, then tail steps of 16, for a row stride (a multiple
// of 16 halves).
VESTA_FUSED_HD uint32_t fused_chunks(uint32_t stride) { return stride / 64; }
VESTA_FUSED_HD uint32_t fused_steps(uint32_t stride) { return stride / 64 * 4 + stride % 64 / 16; }

// The first of the four consecutive dimensions lane position t (0..3) brings
// to instruction step `step` of a row of `stride` halves.
VESTA_FUSED_HD uint32_t fused_step_dim(uint32_t step, uint32_t t, uint32_t stride) {
  const uint32_t chunks = fused_chunks(stride);
  if (step < chunks * 4) {
    const uint32_t c = step >> 2;
    const uint32_t j = step & 3u;
    return 64 * c + (j >> 1) * 32 + 8 * t + (j & 1u) * 4;
  }
  return chunks * 64 + 16 * (step - chunks * 4) + 4 * t;
}

// Query fragments are packed per step, n-tile and lane (8 bytes each: the
// lane's B registers), in that order.
VESTA_FUSED_HD uint32_t fused_fragment_index(uint32_t step, uint32_t tile, uint32_t tiles,
                                             uint32_t lane) {
  return (step * tiles + tile) * 32 + lane;
}

// The products of one group of rows: lane l holds, per n-tile, four
// accumulators; accumulator i (0..3) of n-tile `tile` is row
// fused_product_row(l, i) of the group times query fused_product_query(tile,
// l, i). The scan keeps them as one array, entry tile * 4 + i.
VESTA_FUSED_HD uint32_t fused_product_row(uint32_t lane, uint32_t i) {
  return (lane >> 2) + (i >> 1) * 8;
}
VESTA_FUSED_HD uint32_t fused_product_query(uint32_t tile, uint32_t lane, uint32_t i) {
  return tile * kFusedTileQueries + 2 * (lane & 3u) + (i & 1u);
}
// The other way round: query q's products sit in the lanes whose position t
// is fused_query_position(q), at entry fused_product_entry(q, h) for row g
// (h = 0) and row g + 8 (h = 1) of the lane's group g.
VESTA_FUSED_HD uint32_t fused_query_position(uint32_t q) { return (q % kFusedTileQueries) >> 1; }
VESTA_FUSED_HD uint32_t fused_product_entry(uint32_t q, uint32_t h) {
  return q / kFusedTileQueries * 4 + 2 * h + (q & 1u);
}

// Two float16 values (bit patterns) as one register, the first in the low half.
VESTA_FUSED_HD uint32_t fused_pair(uint16_t low, uint16_t high) {
  return static_cast<uint32_t>(low) | (static_cast<uint32_t>(high) << 16);
}

}  // namespace vesta::kernels::cuda
