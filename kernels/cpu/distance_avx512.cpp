// AVX-512 distance tile: the shared body in distance_tile_impl.inc with
// 16-lane operations. Every function carries the target attribute (instead of
// file-wide -mavx512f) so that no AVX-512 code can leak into inline functions
// the scalar path also links against.

// GCC 12's AVX-512 intrinsics (_mm512_cvtph_ps, _mm512_reduce_add_ps) start
// from _mm512_undefined_ps(), which -Wuninitialized reports inside the
// intrinsic headers themselves. The values are fully defined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/cpu/distance.h"

#define VESTA_TILE_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

namespace vesta::kernels::detail {
namespace {

struct Ops {
  using Vec = __m512;
  static constexpr size_t kWidth = 16;
  VESTA_TILE_TARGET static Vec zero() { return _mm512_setzero_ps(); }
  VESTA_TILE_TARGET static Vec load_query(const float* p) { return _mm512_loadu_ps(p); }
  VESTA_TILE_TARGET static Vec load_row(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  VESTA_TILE_TARGET static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  VESTA_TILE_TARGET static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  VESTA_TILE_TARGET static float reduce_add(Vec v) { return _mm512_reduce_add_ps(v); }
};

// 6 x 4 = 24 accumulators + 4 converted rows + 1 query + 1 temporary fit the
// 32 zmm registers; each step does 24 FMAs for 4 conversions and 6 query
// loads, so the loop is bound by FMA throughput, not by loads.
constexpr int kQueries = 6;
constexpr int kRows = 4;

#include "kernels/cpu/distance_tile_impl.inc"

}  // namespace

void distance_tile_avx512(DistanceKind kind, const float* queries, size_t n_queries,
                          const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                          size_t ld_out) {
  distance_tile(kind, queries, n_queries, rows, n_rows, stride, out, ld_out);
}

}  // namespace vesta::kernels::detail
