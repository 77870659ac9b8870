// AVX-512 distance tile. Every function here carries the target attribute
// (instead of file-wide -mavx512f) so that no AVX-512 code can leak into
// shared inline functions that the scalar path also links against.

// GCC 12's AVX-512 intrinsics (_mm512_cvtph_ps, _mm512_reduce_add_ps) start
// from _mm512_undefined_ps(), which -Wuninitialized reports inside the
// intrinsic headers themselves. The values are fully defined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <array>

#include "kernels/cpu/distance.h"

#define VESTA_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

namespace vesta::kernels::detail {
namespace {

// Register block: kQueries x kRows accumulators of 16 floats. 6 x 4 = 24
// accumulators + 4 converted rows + 1 query + 1 temporary fit the 32 zmm
// registers; each step of 16 values does 24 FMAs for 4 conversions and 6
// query loads, so the loop is bound by FMA throughput, not by loads.
constexpr int kQueries = 6;
constexpr int kRows = 4;

template <int kBlockQueries, int kBlockRows, bool kInnerProduct>
VESTA_TARGET_AVX512 void micro_tile(const float* queries, const uint16_t* rows, size_t stride,
                                    float* out, size_t ld_out) {
  __m512 acc[kBlockQueries][kBlockRows];
#pragma GCC unroll 8
  for (int i = 0; i < kBlockQueries; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kBlockRows; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  for (size_t k = 0; k < stride; k += 16) {
    __m512 row[kBlockRows];
#pragma GCC unroll 8
    for (int j = 0; j < kBlockRows; ++j) {
      row[j] = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + j * stride + k)));
    }
#pragma GCC unroll 8
    for (int i = 0; i < kBlockQueries; ++i) {
      const __m512 q = _mm512_loadu_ps(queries + i * stride + k);
#pragma GCC unroll 8
      for (int j = 0; j < kBlockRows; ++j) {
        if constexpr (kInnerProduct) {
          acc[i][j] = _mm512_fmadd_ps(q, row[j], acc[i][j]);
        } else {
          const __m512 d = _mm512_sub_ps(q, row[j]);
          acc[i][j] = _mm512_fmadd_ps(d, d, acc[i][j]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kBlockQueries; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kBlockRows; ++j) out[i * ld_out + j] = _mm512_reduce_add_ps(acc[i][j]);
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

void distance_tile_avx512(DistanceKind kind, const float* queries, size_t n_queries,
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
