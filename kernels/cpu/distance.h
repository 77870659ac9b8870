#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/isa.h"

namespace vesta::kernels {

// Distances between float32 queries and float16 rows.
//
// Layout contract shared by every kernel: a vector of `dim` values is stored
// with a stride of padded_dim(dim) values (a multiple of kDimAlignment), the
// padding filled with zeros. Zeros add nothing to an inner product or to a
// squared distance, so the kernels never handle a ragged tail. Rows are IEEE
// binary16 bit patterns.

enum class DistanceKind {
  kInnerProduct,  // sum q_i * r_i          (higher = closer)
  kL2Squared,     // sum (q_i - r_i)^2      (lower = closer)
};

// Values per padded vector: a multiple of 16 (one AVX-512 register of floats).
inline constexpr size_t kDimAlignment = 16;
constexpr size_t padded_dim(size_t dim) {
  return (dim + kDimAlignment - 1) / kDimAlignment * kDimAlignment;
}

// out[q * ld_out + r] = distance(queries[q], rows[r]) for q < n_queries and
// r < n_rows. `stride` = padded_dim(dim) of both inputs. Accumulates in
// float32; for any summation order the error is within
// (stride + 2) * 2^-24 * sum_i |term_i| of the exact value.
void compute_distance_tile(DistanceKind kind, const float* queries, size_t n_queries,
                           const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                           size_t ld_out, Isa isa = active_isa());

namespace detail {
// One entry point per instruction set, each compiled for its own target.
void distance_tile_scalar(DistanceKind kind, const float* queries, size_t n_queries,
                          const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                          size_t ld_out);
void distance_tile_avx2(DistanceKind kind, const float* queries, size_t n_queries,
                        const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                        size_t ld_out);
void distance_tile_avx512(DistanceKind kind, const float* queries, size_t n_queries,
                          const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                          size_t ld_out);
}  // namespace detail

}  // namespace vesta::kernels
