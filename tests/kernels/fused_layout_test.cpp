// The fused small-batch scan's register layout (kernels/cuda/fused_layout.h),
// run on the host through an emulation of the tensor-core instruction as PTX
// documents its fragments: rows and queries placed as the kernel places them
// must give every row's dot product with every query, over whole rows.

#include "kernels/cuda/fused_layout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "core/float16.h"
#include "test_seed.h"

namespace vesta::kernels::cuda {
namespace {

float half_of(uint32_t reg, uint32_t which) {
  return core::half_to_float(static_cast<uint16_t>(reg >> (16 * which)));
}

// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32, c += a * b, by the
// fragment layout of the PTX ISA ("Matrix Fragments for mma.m16n8k16 with
// floating point type"), accumulated in double for the comparison.
void emulated_mma(const uint32_t a[32][4], const uint32_t b[32][2], double c[32][4]) {
  double a_matrix[16][16] = {};  // rows x k positions
  double b_matrix[16][8] = {};   // k positions x queries
  for (uint32_t lane = 0; lane < 32; ++lane) {
    const uint32_t g = lane >> 2;
    const uint32_t t = lane & 3u;
    for (uint32_t i = 0; i < 8; ++i) {
      const uint32_t row = (i < 2 || (i >= 4 && i < 6)) ? g : g + 8;
      const uint32_t col = 2 * t + (i & 1u) + (i >= 4 ? 8 : 0);
      a_matrix[row][col] = half_of(a[lane][i / 2], i & 1u);
    }
    for (uint32_t i = 0; i < 4; ++i) {
      const uint32_t k = 2 * t + (i & 1u) + (i >= 2 ? 8 : 0);
      b_matrix[k][g] = half_of(b[lane][i / 2], i & 1u);
    }
  }
  for (uint32_t lane = 0; lane < 32; ++lane) {
    const uint32_t g = lane >> 2;
    const uint32_t t = lane & 3u;
    for (uint32_t i = 0; i < 4; ++i) {
      const uint32_t row = i < 2 ? g : g + 8;
      const uint32_t col = 2 * t + (i & 1u);
      for (uint32_t k = 0; k < 16; ++k) c[lane][i] += a_matrix[row][k] * b_matrix[k][col];
    }
  }
}

TEST(FusedLayout, StepsCoverEveryDimensionOnceAndEachLoadCoversTwoSteps) {
  for (uint32_t stride = 16; stride <= 3072; stride += 16) {
    const uint32_t steps = fused_steps(stride);
    ASSERT_EQ(steps * 16, stride);
    std::vector<int> seen(stride, 0);
    for (uint32_t step = 0; step < steps; ++step) {
      for (uint32_t t = 0; t < 4; ++t) {
        const uint32_t d = fused_step_dim(step, t, stride);
        ASSERT_EQ(d % 4, 0u) << "an 8-byte load";
        ASSERT_LE(d + 4, stride);
        for (uint32_t m = 0; m < 4; ++m) ++seen[d + m];
      }
    }
    for (uint32_t d = 0; d < stride; ++d)
      ASSERT_EQ(seen[d], 1) << "stride " << stride << " dim " << d;
    // The kernel loads 16 bytes at the first of each pair of steps of a
    // 64-dimension chunk: its second 8 bytes are the next step's.
    for (uint32_t c = 0; c < fused_chunks(stride); ++c) {
      for (uint32_t h = 0; h < 2; ++h) {
        for (uint32_t t = 0; t < 4; ++t) {
          const uint32_t d = fused_step_dim(4 * c + 2 * h, t, stride);
          EXPECT_EQ(d % 8, 0u) << "a 16-byte load";
          EXPECT_EQ(fused_step_dim(4 * c + 2 * h + 1, t, stride), d + 4);
        }
      }
    }
  }
}

TEST(FusedLayout, EachQuerysProductsAreFoundWhereTheScanLooksForThem) {
  // The scan offers query q's products from the lanes at position
  // fused_query_position(q), entries fused_product_entry(q, 0 / 1): exactly
  // the accumulators that hold q's products, rows g and g + 8, once each.
  for (uint32_t tiles : {1u, 2u}) {
    std::set<std::pair<uint32_t, uint32_t>> seen;  // (row of the group, query)
    for (uint32_t q = 0; q < tiles * kFusedTileQueries; ++q) {
      for (uint32_t lane = 0; lane < 32; ++lane) {
        if ((lane & 3u) != fused_query_position(q)) continue;
        for (uint32_t h = 0; h < 2; ++h) {
          const uint32_t entry = fused_product_entry(q, h);
          ASSERT_LT(entry, tiles * 4);
          const uint32_t tile = entry / 4;
          const uint32_t i = entry % 4;
          EXPECT_EQ(fused_product_query(tile, lane, i), q);
          EXPECT_EQ(fused_product_row(lane, i), (lane >> 2) + 8 * h);
          EXPECT_TRUE(seen.insert({fused_product_row(lane, i), q}).second);
        }
      }
    }
    EXPECT_EQ(seen.size(), kFusedGroupRows * tiles * kFusedTileQueries);
  }
}

TEST(FusedLayout, FragmentIndexesAreDistinctAndDense) {
  for (uint32_t tiles : {1u, 2u}) {
    const uint32_t steps = fused_steps(768);
    std::set<uint32_t> seen;
    for (uint32_t step = 0; step < steps; ++step) {
      for (uint32_t tile = 0; tile < tiles; ++tile) {
        for (uint32_t lane = 0; lane < 32; ++lane) {
          seen.insert(fused_fragment_index(step, tile, tiles, lane));
        }
      }
    }
    EXPECT_EQ(seen.size(), steps * tiles * 32);
    EXPECT_EQ(*seen.rbegin(), steps * tiles * 32 - 1);
  }
}

TEST(FusedLayout, RowsAndQueriesPlacedAsTheKernelPlacesThemGiveEveryDotProduct) {
  std::mt19937_64 rng(testing::test_seed("FusedLayout.EveryDotProduct"));
  std::normal_distribution<float> normal;
  for (uint32_t stride : {16u, 48u, 64u, 96u, 768u, 784u}) {
    for (uint32_t tiles : {1u, 2u}) {
      const uint32_t nq = tiles * kFusedTileQueries;
      std::vector<uint16_t> rows(kFusedGroupRows * stride);
      std::vector<uint16_t> queries(nq * stride);
      for (uint16_t& h : rows) h = core::float_to_half(normal(rng));
      for (uint16_t& h : queries) h = core::float_to_half(normal(rng));
      auto row = [&](uint32_t r, uint32_t d) { return rows[r * stride + d]; };
      auto query = [&](uint32_t q, uint32_t d) { return queries[q * stride + d]; };

      // The packed query fragments, as the packing kernel writes them.
      std::vector<uint32_t> packed(2 * fused_steps(stride) * tiles * 32);
      for (uint32_t step = 0; step < fused_steps(stride); ++step) {
        for (uint32_t tile = 0; tile < tiles; ++tile) {
          for (uint32_t lane = 0; lane < 32; ++lane) {
            const uint32_t q = tile * kFusedTileQueries + (lane >> 2);
            const uint32_t d = fused_step_dim(step, lane & 3u, stride);
            const uint32_t at = 2 * fused_fragment_index(step, tile, tiles, lane);
            packed[at] = fused_pair(query(q, d), query(q, d + 1));
            packed[at + 1] = fused_pair(query(q, d + 2), query(q, d + 3));
          }
        }
      }

      double c[2][32][4] = {};
      for (uint32_t step = 0; step < fused_steps(stride); ++step) {
        uint32_t a[32][4];
        for (uint32_t lane = 0; lane < 32; ++lane) {
          const uint32_t g = lane >> 2;
          const uint32_t d = fused_step_dim(step, lane & 3u, stride);
          a[lane][0] = fused_pair(row(g, d), row(g, d + 1));
          a[lane][1] = fused_pair(row(g + 8, d), row(g + 8, d + 1));
          a[lane][2] = fused_pair(row(g, d + 2), row(g, d + 3));
          a[lane][3] = fused_pair(row(g + 8, d + 2), row(g + 8, d + 3));
        }
        for (uint32_t tile = 0; tile < tiles; ++tile) {
          uint32_t b[32][2];
          for (uint32_t lane = 0; lane < 32; ++lane) {
            const uint32_t at = 2 * fused_fragment_index(step, tile, tiles, lane);
            b[lane][0] = packed[at];
            b[lane][1] = packed[at + 1];
          }
          emulated_mma(a, b, c[tile]);
        }
      }

      // c[tile][lane][i] is the product the scan takes it for.
      for (uint32_t tile = 0; tile < tiles; ++tile) {
        for (uint32_t lane = 0; lane < 32; ++lane) {
          for (uint32_t i = 0; i < 4; ++i) {
            const uint32_t r = fused_product_row(lane, i);
            const uint32_t q = fused_product_query(tile, lane, i);
            double exact = 0;
            for (uint32_t d = 0; d < stride; ++d) {
              exact += static_cast<double>(core::half_to_float(row(r, d))) *
                       core::half_to_float(query(q, d));
            }
            ASSERT_NEAR(c[tile][lane][i], exact, 1e-9 * (1 + std::fabs(exact)))
                << "stride " << stride << " tiles " << tiles << " row " << r << " query " << q;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace vesta::kernels::cuda
