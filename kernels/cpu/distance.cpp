#include "kernels/cpu/distance.h"

#include "core/check.h"

namespace vesta::kernels {

void compute_distance_tile(DistanceKind kind, const float* queries, size_t n_queries,
                           const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                           size_t ld_out, Isa isa) {
  VESTA_CHECK(stride % kDimAlignment == 0) << "stride " << stride << " is not padded";
  VESTA_CHECK(ld_out >= n_rows) << "ld_out " << ld_out << " < n_rows " << n_rows;
  if (n_queries == 0 || n_rows == 0) return;
  switch (isa) {
    case Isa::kAvx512:
      detail::distance_tile_avx512(kind, queries, n_queries, rows, n_rows, stride, out, ld_out);
      return;
    case Isa::kAvx2:
      detail::distance_tile_avx2(kind, queries, n_queries, rows, n_rows, stride, out, ld_out);
      return;
    case Isa::kScalar:
      detail::distance_tile_scalar(kind, queries, n_queries, rows, n_rows, stride, out, ld_out);
      return;
  }
}

}  // namespace vesta::kernels
