// Portable distance tile: no SIMD intrinsics, float16 through a lookup table.

#include <array>
#include <memory>

#include "core/float16.h"
#include "kernels/cpu/distance.h"

namespace vesta::kernels::detail {
namespace {

const float* half_table() {
  static const std::unique_ptr<std::array<float, 65536>> kTable = [] {
    auto t = std::make_unique<std::array<float, 65536>>();
    for (uint32_t h = 0; h < 65536; ++h) (*t)[h] = core::half_to_float(static_cast<uint16_t>(h));
    return t;
  }();
  return kTable->data();
}

}  // namespace

void distance_tile_scalar(DistanceKind kind, const float* queries, size_t n_queries,
                          const uint16_t* rows, size_t n_rows, size_t stride, float* out,
                          size_t ld_out) {
  const float* to_float = half_table();
  for (size_t r = 0; r < n_rows; ++r) {
    const uint16_t* row = rows + r * stride;
    for (size_t q = 0; q < n_queries; ++q) {
      const float* query = queries + q * stride;
      // Eight partial sums, like the SIMD paths, so the error bound is the same.
      std::array<float, 8> acc{};
      for (size_t i = 0; i < stride; i += 8) {
        for (size_t j = 0; j < 8; ++j) {
          const float x = to_float[row[i + j]];
          if (kind == DistanceKind::kInnerProduct) {
            acc[j] += query[i + j] * x;
          } else {
            const float d = query[i + j] - x;
            acc[j] += d * d;
          }
        }
      }
      out[q * ld_out + r] =
          ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  }
}

}  // namespace vesta::kernels::detail
