#include "kernels/cpu/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/float16.h"
#include "test_seed.h"

namespace vesta::kernels {
namespace {

// First-order worst-case bound of float32 accumulation in any order: each
// result is within kErrorUlps(stride) * 2^-24 * sum |term| of the exact sum.
constexpr double kUnitRoundoff = 1.0 / (1 << 24);
double error_bound(size_t stride, double abs_sum) {
  return static_cast<double>(stride + 4) * kUnitRoundoff * abs_sum + 1e-30;
}

struct Case {
  std::vector<float> queries;  // padded
  std::vector<uint16_t> rows;  // padded
  size_t stride;
};

Case make_case(std::mt19937_64& rng, size_t nq, size_t nr, size_t dim) {
  std::normal_distribution<float> normal;
  Case c;
  c.stride = padded_dim(dim);
  c.queries.assign(nq * c.stride, 0.0f);
  c.rows.assign(nr * c.stride, 0);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t i = 0; i < dim; ++i) c.queries[q * c.stride + i] = normal(rng);
  }
  for (size_t r = 0; r < nr; ++r) {
    for (size_t i = 0; i < dim; ++i) c.rows[r * c.stride + i] = core::float_to_half(normal(rng));
  }
  return c;
}

// The exact distance (float64) and the sum of |terms| for the error bound.
std::pair<double, double> reference(DistanceKind kind, const float* q, const uint16_t* r,
                                    size_t stride) {
  double sum = 0.0;
  double abs_sum = 0.0;
  for (size_t i = 0; i < stride; ++i) {
    const double x = q[i];
    const double y = core::half_to_float(r[i]);
    const double term = kind == DistanceKind::kInnerProduct ? x * y : (x - y) * (x - y);
    sum += term;
    abs_sum += std::fabs(term);
  }
  return {sum, abs_sum};
}

class DistanceTileTest : public ::testing::TestWithParam<Isa> {};

TEST_P(DistanceTileTest, MatchesFloat64ReferenceWithinBoundForManyShapes) {
  const Isa isa = GetParam();
  std::mt19937_64 rng(testing::test_seed("DistanceTile"));
  for (size_t dim : {1, 7, 16, 33, 384, 768, 1536, 3072}) {
    for (size_t nq : {1, 5, 7, 13}) {
      for (size_t nr : {1, 3, 4, 9, 33}) {
        const Case c = make_case(rng, nq, nr, dim);
        for (DistanceKind kind : {DistanceKind::kInnerProduct, DistanceKind::kL2Squared}) {
          const size_t ld = nr + 3;  // a leading dimension wider than the tile
          std::vector<float> out(nq * ld, -12345.0f);
          compute_distance_tile(kind, c.queries.data(), nq, c.rows.data(), nr, c.stride, out.data(),
                                ld, isa);
          for (size_t q = 0; q < nq; ++q) {
            for (size_t r = 0; r < nr; ++r) {
              const auto [exact, abs_sum] = reference(kind, c.queries.data() + q * c.stride,
                                                      c.rows.data() + r * c.stride, c.stride);
              ASSERT_NEAR(out[q * ld + r], exact, error_bound(c.stride, abs_sum))
                  << "isa " << isa_name(isa) << " kind " << static_cast<int>(kind) << " dim " << dim
                  << " nq " << nq << " nr " << nr << " q " << q << " r " << r;
            }
            for (size_t r = nr; r < ld; ++r) {
              ASSERT_EQ(out[q * ld + r], -12345.0f) << "wrote outside the tile";
            }
          }
        }
      }
    }
  }
}

TEST_P(DistanceTileTest, ScoresDoNotDependOnBatchSize) {
  // Small batches take the sequential kernel, larger ones the blocked one;
  // a query must get bit-identical scores either way (dynamic batching mixes
  // requests into batches of any size).
  std::mt19937_64 rng(testing::test_seed("DistanceTile.BatchSize"));
  const size_t nq = 20;
  const size_t nr = 37;
  const Case c = make_case(rng, nq, nr, 768);
  for (DistanceKind kind : {DistanceKind::kInnerProduct, DistanceKind::kL2Squared}) {
    std::vector<float> all(nq * nr);
    compute_distance_tile(kind, c.queries.data(), nq, c.rows.data(), nr, c.stride, all.data(), nr,
                          GetParam());
    for (size_t batch : {1, 2, 3, 5, 6, 7, 13}) {
      for (size_t q0 = 0; q0 + batch <= nq; q0 += batch) {
        std::vector<float> part(batch * nr);
        compute_distance_tile(kind, c.queries.data() + q0 * c.stride, batch, c.rows.data(), nr,
                              c.stride, part.data(), nr, GetParam());
        for (size_t i = 0; i < part.size(); ++i) {
          ASSERT_EQ(part[i], all[q0 * nr + i]) << "batch " << batch << " q0 " << q0 << " i " << i;
        }
      }
    }
  }
}

TEST_P(DistanceTileTest, ZeroRowsOrQueriesWriteNothing) {
  std::vector<float> out(4, 1.0f);
  std::vector<float> q(16, 1.0f);
  std::vector<uint16_t> r(16, 0);
  compute_distance_tile(DistanceKind::kInnerProduct, q.data(), 0, r.data(), 1, 16, out.data(), 4,
                        GetParam());
  compute_distance_tile(DistanceKind::kInnerProduct, q.data(), 1, r.data(), 0, 16, out.data(), 4,
                        GetParam());
  EXPECT_EQ(out, std::vector<float>(4, 1.0f));
}

TEST_P(DistanceTileTest, ExtremeFloat16ValuesStayFinite) {
  // 3072 products of 65504 x 65504 sum to 1.3e13: far inside float32 range.
  const size_t stride = 3072;
  std::vector<float> q(stride, 65504.0f);
  std::vector<uint16_t> r(stride, core::float_to_half(65504.0f));
  float out = 0.0f;
  compute_distance_tile(DistanceKind::kInnerProduct, q.data(), 1, r.data(), 1, stride, &out, 1,
                        GetParam());
  EXPECT_TRUE(std::isfinite(out));
  EXPECT_NEAR(out, 65504.0 * 65504.0 * stride, error_bound(stride, 65504.0 * 65504.0 * stride));
}

INSTANTIATE_TEST_SUITE_P(AllSupportedIsas, DistanceTileTest,
                         ::testing::ValuesIn(supported_isas().begin(), supported_isas().end()),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(isa_name(info.param));
                         });

TEST(Isa, ParseAndNamesRoundTrip) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    EXPECT_EQ(parse_isa(isa_name(isa)), isa);
  }
  EXPECT_EQ(parse_isa("sse2"), std::nullopt);
  EXPECT_LE(active_isa(), detected_isa());
  EXPECT_EQ(supported_isas().front(), Isa::kScalar);
}

}  // namespace
}  // namespace vesta::kernels
