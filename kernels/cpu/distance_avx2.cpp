// AVX2 distance tile: the shared body in distance_tile_impl.inc with 8-lane
// operations. Every function carries the target attribute (instead of
// file-wide -mavx2) so that no AVX2 code can leak into inline functions the
// scalar path also links against.

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/cpu/distance.h"

#define VESTA_TILE_TARGET __attribute__((target("avx2,f16c,fma")))

namespace vesta::kernels::detail {
namespace {

struct Ops {
  using Vec = __m256;
  static constexpr size_t kWidth = 8;
  VESTA_TILE_TARGET static Vec zero() { return _mm256_setzero_ps(); }
  VESTA_TILE_TARGET static Vec load_query(const float* p) { return _mm256_loadu_ps(p); }
  VESTA_TILE_TARGET static Vec load_row(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  VESTA_TILE_TARGET static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  VESTA_TILE_TARGET static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  VESTA_TILE_TARGET static float reduce_add(Vec v) {
    const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    return _mm_cvtss_f32(_mm_add_ss(sum2, _mm_movehdup_ps(sum2)));
  }
};

// 3 x 3 = 9 accumulators + 3 converted rows + 1 query + 1 temporary fit the
// 16 ymm registers.
constexpr int kQueries = 3;
constexpr int kRows = 3;

#include "kernels/cpu/distance_tile_impl.inc"

}  // namespace

void distance_tile_avx2(DistanceKind kind, const float* queries, size_t n_queries,
                        const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                        size_t ld_out) {
  distance_tile(kind, queries, n_queries, rows, n_rows, stride, out, ld_out);
}

}  // namespace vesta::kernels::detail
