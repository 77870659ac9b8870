// The row layout of sharded GPU mirrors (index/shard_layout.h), on the host.

#include "index/shard_layout.h"

#include <gtest/gtest.h>

#include <random>

#include "test_seed.h"

namespace vesta::index {
namespace {

TEST(ShardLayout, EveryRowHasOnePlaceAndShardsFillInOrder) {
  for (size_t shards : {1, 2, 3, 8}) {
    for (size_t block : {64, 128, 640}) {
      const ShardLayout layout{shards, block};
      std::vector<uint64_t> next_local(shards, 0);
      const uint64_t total = block * shards * 3 + block / 2 + 7;
      for (uint64_t row = 0; row < total; ++row) {
        const size_t shard = layout.shard_of(row);
        ASSERT_LT(shard, shards);
        // Appends reach each shard at its end, in order.
        ASSERT_EQ(layout.local_row(row), next_local[shard]) << "row " << row;
        ++next_local[shard];
        ASSERT_EQ(layout.global_row(shard, layout.local_row(row)), row);
        for (size_t s = 0; s < shards; ++s) {
          ASSERT_EQ(layout.local_rows(s, row + 1), next_local[s])
              << "shard " << s << " row " << row;
        }
      }
    }
  }
}

TEST(ShardLayout, GatheredBitsAreTheShardsRowsBits) {
  std::mt19937_64 rng(testing::test_seed("ShardLayout.GatheredBits"));
  for (size_t shards : {1, 2, 3}) {
    const ShardLayout layout{shards, 128};
    for (uint64_t total : {0ull, 1ull, 63ull, 64ull, 129ull, 1000ull, 1537ull}) {
      std::vector<uint64_t> bits((total + 63) / 64 + 1);
      for (uint64_t& w : bits) w = rng();
      for (size_t s = 0; s < shards; ++s) {
        const std::vector<uint64_t> local = layout.gather_bits(s, bits.data(), total);
        const uint64_t rows = layout.local_rows(s, total);
        ASSERT_EQ(local.size(), (rows + 63) / 64);
        for (uint64_t l = 0; l < rows; ++l) {
          const uint64_t g = layout.global_row(s, l);
          ASSERT_EQ((local[l / 64] >> (l % 64)) & 1, (bits[g / 64] >> (g % 64)) & 1)
              << "shard " << s << " local " << l << " of " << total;
        }
      }
    }
  }
}

}  // namespace
}  // namespace vesta::index
