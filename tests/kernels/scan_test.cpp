#include "kernels/cpu/scan.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/float16.h"
#include "test_seed.h"

namespace vesta::kernels {
namespace {

TEST(ScanRows, EqualsTileDistancesPlusSelectionWithFiltersAndRanges) {
  std::mt19937_64 rng(testing::test_seed("ScanRows"));
  std::normal_distribution<float> normal;
  for (size_t dim : {3, 64, 768}) {
    const size_t stride = padded_dim(dim);
    const size_t n_rows = 2000;
    const size_t nq = 70;  // more than one query block
    std::vector<float> queries(nq * stride, 0.0f);
    std::vector<uint16_t> rows(n_rows * stride, 0);
    for (size_t q = 0; q < nq; ++q) {
      for (size_t i = 0; i < dim; ++i) queries[q * stride + i] = normal(rng);
    }
    for (size_t r = 0; r < n_rows; ++r) {
      for (size_t i = 0; i < dim; ++i) rows[r * stride + i] = core::float_to_half(normal(rng));
    }
    std::vector<uint64_t> deleted((n_rows + 63) / 64, 0);
    std::vector<uint64_t> allowed((n_rows + 63) / 64, 0);
    for (size_t r = 0; r < n_rows; ++r) {
      if (rng() % 5 == 0) deleted[r / 64] |= uint64_t{1} << (r % 64);
      if (rng() % 3 != 0) allowed[r / 64] |= uint64_t{1} << (r % 64);
    }
    const RowFilter filters[] = {{}, {deleted.data(), nullptr}, {deleted.data(), allowed.data()}};
    for (const RowFilter& filter : filters) {
      for (DistanceKind kind : {DistanceKind::kInnerProduct, DistanceKind::kL2Squared}) {
        const bool higher = kind == DistanceKind::kInnerProduct;
        const size_t begin = 17;
        const size_t end = 1900;
        std::vector<TopKCollector> got(nq, TopKCollector(25, higher));
        scan_rows(kind, queries.data(), nq, rows.data(), stride, begin, end, filter, got.data());

        std::vector<float> all(nq * n_rows);
        compute_distance_tile(kind, queries.data(), nq, rows.data(), n_rows, stride, all.data(),
                              n_rows);
        for (size_t q = 0; q < nq; ++q) {
          TopKCollector want(25, higher);
          for (size_t r = begin; r < end; ++r) {
            if (filter.eligible(r)) want.push(all[q * n_rows + r], r);
          }
          ASSERT_EQ(got[q].take_sorted(), want.take_sorted())
              << "dim " << dim << " q " << q << " kind " << static_cast<int>(kind);
        }
      }
    }
  }
}

TEST(ScanRows, EmptyRangeOffersNothing) {
  std::vector<float> q(16, 1.0f);
  std::vector<uint16_t> r(16, 0);
  TopKCollector c(5, true);
  scan_rows(DistanceKind::kInnerProduct, q.data(), 1, r.data(), 16, 1, 1, {}, &c);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace vesta::kernels
