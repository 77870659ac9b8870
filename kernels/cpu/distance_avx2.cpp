// AVX2 distance tile. Every function here carries the target attribute
// (instead of file-wide -mavx2) so that no AVX code can leak into
// shared inline functions that the scalar path also links against.

#include <immintrin.h>

#include <array>

#include "kernels/cpu/distance.h"

#define VESTA_TARGET_AVX2 __attribute__((target("avx2,f16c,fma")))

namespace vesta::kernels::detail {
namespace {

// Register block: kQueries x kRows accumulators of 8 floats. 3 x 3 = 9
// accumulators + 3 converted rows + 1 query + 1 temporary fit the 16 ymm
// registers.
constexpr int kQueries = 3;
constexpr int kRows = 3;

VESTA_TARGET_AVX2 inline float reduce_add(__m256 v) {
  const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  return _mm_cvtss_f32(_mm_add_ss(sum2, _mm_movehdup_ps(sum2)));
}

template <int kBlockQueries, int kBlockRows, bool kInnerProduct>
VESTA_TARGET_AVX2 void micro_tile(const float* queries, const uint16_t* rows, size_t stride,
                                  float* out, size_t ld_out) {
  __m256 acc[kBlockQueries][kBlockRows];
#pragma GCC unroll 8
  for (int i = 0; i < kBlockQueries; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kBlockRows; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  for (size_t k = 0; k < stride; k += 8) {
    __m256 row[kBlockRows];
#pragma GCC unroll 8
    for (int j = 0; j < kBlockRows; ++j) {
      row[j] =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + j * stride + k)));
    }
#pragma GCC unroll 8
    for (int i = 0; i < kBlockQueries; ++i) {
      const __m256 q = _mm256_loadu_ps(queries + i * stride + k);
#pragma GCC unroll 8
      for (int j = 0; j < kBlockRows; ++j) {
        if constexpr (kInnerProduct) {
          acc[i][j] = _mm256_fmadd_ps(q, row[j], acc[i][j]);
        } else {
          const __m256 d = _mm256_sub_ps(q, row[j]);
          acc[i][j] = _mm256_fmadd_ps(d, d, acc[i][j]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kBlockQueries; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kBlockRows; ++j) out[i * ld_out + j] = reduce_add(acc[i][j]);
  }
}

using MicroTileFn = void (*)(const float*, const uint16_t*, size_t, float*, size_t);

template <bool kInnerProduct, int kBlockQueries, int... kRowCounts>
constexpr std::array<MicroTileFn, sizeof...(kRowCounts)> row_variants(
    std::integer_sequence<int, kRowCounts...>) {
  return {&micro_tile<kBlockQueries, kRowCounts + 1, kInnerProduct>...};
}

template <bool kInnerProduct, int... kQueryCounts>
constexpr std::array<std::array<MicroTileFn, kRows>, sizeof...(kQueryCounts)> all_variants(
    std::integer_sequence<int, kQueryCounts...>) {
  return {
      row_variants<kInnerProduct, kQueryCounts + 1>(std::make_integer_sequence<int, kRows>())...};
}

// kTiles[kind][qb - 1][rb - 1] handles a qb x rb block (edges included).
constexpr std::array<std::array<std::array<MicroTileFn, kRows>, kQueries>, 2> kTiles = {
    all_variants<true>(std::make_integer_sequence<int, kQueries>()),
    all_variants<false>(std::make_integer_sequence<int, kQueries>()),
};

}  // namespace

void distance_tile_avx2(DistanceKind kind, const float* queries, size_t n_queries,
                        const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                        size_t ld_out) {
  const auto& tiles = kTiles[kind == DistanceKind::kInnerProduct ? 0 : 1];
  for (size_t q = 0; q < n_queries; q += kQueries) {
    const size_t qb = std::min<size_t>(kQueries, n_queries - q);
    for (size_t r = 0; r < n_rows; r += kRows) {
      const size_t rb = std::min<size_t>(kRows, n_rows - r);
      tiles[qb - 1][rb - 1](queries + q * stride, rows + r * stride, stride, out + q * ld_out + r,
                            ld_out);
    }
  }
}

}  // namespace vesta::kernels::detail
