// The GPU path's top-k selection and merge (kernels/cuda/select.h), run on the
// host by the same steps a thread block takes, checked against a full sort.

#include "kernels/cuda/select.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "test_seed.h"

namespace vesta::kernels::cuda {
namespace {

bool operator==(const Candidate& a, const Candidate& b) { return a.key == b.key && a.row == b.row; }

// The reference: every admitted candidate, fully sorted, cut to k.
std::vector<Candidate> full_sort(std::vector<Candidate> all, size_t k) {
  std::sort(all.begin(), all.end(), better);
  all.resize(std::min(k, all.size()));
  return all;
}

// A selection's result against the reference, entry by entry.
::testing::AssertionResult same_candidates(const std::vector<Candidate>& got,
                                           const std::vector<Candidate>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << got.size() << " kept, " << want.size() << " expected";
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (!(got[i] == want[i])) {
      return ::testing::AssertionFailure()
             << "rank " << i << ": row " << got[i].row << " key " << got[i].key << " vs row "
             << want[i].row << " key " << want[i].key;
    }
  }
  return ::testing::AssertionSuccess();
}

// Keys drawn from `distinct` values (ties everywhere when small).
std::vector<float> random_keys(std::mt19937_64& rng, size_t n, int distinct) {
  std::uniform_int_distribution<int> pick(0, distinct - 1);
  std::vector<float> keys(n);
  for (float& x : keys) x = static_cast<float>(pick(rng)) * 0.5f - 7.0f;
  return keys;
}

// Runs host_select over rows [first, first + n) of `keys`, skipping masked rows.
struct Selection {
  uint32_t k;
  uint32_t threads;
  std::vector<Candidate> buffer;
  SelectState state;

  Selection(uint32_t k_in, uint32_t threads_in)
      : k(k_in), threads(threads_in), buffer(select_capacity(k_in, threads_in)) {}

  void offer(const std::vector<float>& keys, const std::vector<bool>& masked, size_t first,
             size_t n, bool finish = true) {
    host_select(
        [&](uint64_t i, Candidate* out) {
          const size_t row = first + i;
          if (masked[row]) return false;
          *out = Candidate{keys[row], static_cast<uint32_t>(row)};
          return true;
        },
        n, k, threads, buffer.data(), state, finish);
  }
  std::vector<Candidate> kept() const { return {buffer.begin(), buffer.begin() + state.count}; }
};

TEST(GpuSelect, CapacityIsAPowerOfTwoHoldingKPlusAChunk) {
  for (uint32_t k : {1u, 10u, 100u, 768u, 1024u}) {
    const uint32_t capacity = select_capacity(k, kSelectChunk);
    EXPECT_EQ(capacity & (capacity - 1), 0u) << k;
    EXPECT_GE(capacity, k + kSelectChunk) << k;
    EXPECT_LT(capacity / 2, k + kSelectChunk) << k;
    EXPECT_LE(capacity, kMaxSelectCapacity) << k;
  }
}

TEST(GpuSelect, BitonicStepsSortAnyBufferBestFirst) {
  std::mt19937_64 rng(testing::test_seed("GpuSelect.BitonicSort"));
  for (uint32_t capacity : {1u, 2u, 4u, 64u, 512u, 2048u}) {
    for (int distinct : {1, 4, 1 << 20}) {
      const std::vector<float> keys = random_keys(rng, capacity, distinct);
      std::vector<Candidate> buffer(capacity);
      for (uint32_t i = 0; i < capacity; ++i) buffer[i] = {keys[i], capacity - i};
      const uint32_t live = capacity / 2 + 1 > capacity ? capacity : capacity / 2 + 1;
      std::vector<Candidate> expected(buffer.begin(), buffer.begin() + live);
      host_sort_buffer(buffer.data(), live, capacity);
      expected = full_sort(expected, live);
      for (uint32_t i = 0; i < live; ++i) ASSERT_TRUE(buffer[i] == expected[i]) << i;
      for (uint32_t i = live; i < capacity; ++i) EXPECT_EQ(buffer[i].row, kNoRow);
    }
  }
}

TEST(GpuSelect, MatchesFullSortWithTiesAndMasks) {
  std::mt19937_64 rng(testing::test_seed("GpuSelect.MatchesFullSort"));
  for (size_t n : {1, 31, 256, 257, 1000, 20000}) {
    for (uint32_t k : {1u, 2u, 10u, 100u, 255u, 256u, 1000u, 1024u}) {
      for (uint32_t threads : {32u, kSelectThreads, kSelectChunk}) {
        for (int distinct : {1, 3, 100, 1 << 24}) {
          for (double mask_rate : {0.0, 0.5, 0.99}) {
            const std::vector<float> keys = random_keys(rng, n, distinct);
            std::bernoulli_distribution masked_dist(mask_rate);
            std::vector<bool> masked(n);
            std::vector<Candidate> admitted;
            for (size_t r = 0; r < n; ++r) {
              masked[r] = masked_dist(rng);
              if (!masked[r]) admitted.push_back({keys[r], static_cast<uint32_t>(r)});
            }
            Selection selection(k, threads);
            selection.offer(keys, masked, 0, n);
            const std::vector<Candidate> got = selection.kept();
            const std::vector<Candidate> want = full_sort(admitted, k);
            ASSERT_TRUE(same_candidates(got, want))
                << "n " << n << " k " << k << " threads " << threads << " distinct " << distinct;
          }
        }
      }
    }
  }
}

// The device carries each block's selection from one row tile to the next
// (load the buffer as it was left, unsorted, and go on offering), sorts on the
// last tile, then merges the splits' lists.
TEST(GpuSelect, TilesCarriedAcrossAndSplitsMergedMatchOnePass) {
  std::mt19937_64 rng(testing::test_seed("GpuSelect.TilesAndSplits"));
  for (uint32_t k : {1u, 7u, 64u, 1024u}) {
    for (int distinct : {2, 1 << 24}) {
      const size_t n = 30011;
      const std::vector<float> keys = random_keys(rng, n, distinct);
      std::vector<bool> masked(n);
      std::bernoulli_distribution masked_dist(0.2);
      std::vector<Candidate> admitted;
      for (size_t r = 0; r < n; ++r) {
        masked[r] = masked_dist(rng);
        if (!masked[r]) admitted.push_back({keys[r], static_cast<uint32_t>(r)});
      }
      const size_t tile_rows = 4096;
      const size_t splits = 3;
      const size_t slice = (tile_rows + splits - 1) / splits;
      std::vector<Selection> per_split(splits, Selection(k, kSelectChunk));
      for (size_t tile = 0; tile < n; tile += tile_rows) {
        const size_t rows = std::min(tile_rows, n - tile);
        const bool last = tile + rows >= n;
        for (size_t s = 0; s < splits; ++s) {
          const size_t begin = s * slice;
          if (begin >= rows && !last) continue;
          // A new block per tile: it starts from the buffer as it was left.
          Selection& carried = per_split[s];
          Selection block(k, kSelectChunk);
          std::copy(carried.buffer.begin(), carried.buffer.begin() + carried.state.count,
                    block.buffer.begin());
          block.state = carried.state;
          block.offer(keys, masked, tile + begin, begin >= rows ? 0 : std::min(slice, rows - begin),
                      last);
          carried = block;
        }
      }
      // Merge: the splits' lists one after another, as merge_lists_kernel reads them.
      std::vector<Candidate> lists;
      for (const Selection& s : per_split) {
        std::vector<Candidate> kept = s.kept();
        kept.resize(k, worst_candidate());  // unused slots; masked by count below
        lists.insert(lists.end(), kept.begin(), kept.end());
      }
      Selection merged(k, kSelectChunk);
      host_select(
          [&](uint64_t i, Candidate* out) {
            const size_t split = i / k;
            if (i % k >= per_split[split].state.count) return false;
            *out = lists[i];
            return true;
          },
          lists.size(), k, kSelectChunk, merged.buffer.data(), merged.state);
      const std::vector<Candidate> want = full_sort(admitted, k);
      const std::vector<Candidate> got = merged.kept();
      ASSERT_TRUE(same_candidates(got, want)) << "k " << k << " distinct " << distinct;
    }
  }
}

// The warp queues (k <= kWarpQueueMaxK): in every block each warp keeps its
// queue over its own chunks and carries it from tile to tile; on the last tile
// warp 0 takes in the other warps' entries; then the splits' lists are merged
// by the same warp queues, as merge_lists_queues_kernel does.
// One block: every warp over `n` elements of `source`, then (with `last`) the
// block's merge into `out`.
template <typename Source>
void run_block_of_queues(Source&& source, uint64_t n, uint32_t k,
                         std::vector<HostWarpQueue>& queues, bool last,
                         std::vector<Candidate>* out) {
  for (uint32_t w = 0; w < kSelectWarps; ++w) {
    host_queue_offer(source, n, k, w, kSelectWarps, queues[w]);
  }
  if (!last) return;
  host_merge_queues(queues.data(), kSelectWarps, k);
  const uint32_t kept = queues[0].kept(k);
  out->assign(queues[0].entry, queues[0].entry + kept);
}

TEST(GpuSelect, WarpQueuesCarriedAcrossTilesThenBlocksAndSplitsMergedMatchOnePass) {
  std::mt19937_64 rng(testing::test_seed("GpuSelect.WarpQueues"));
  EXPECT_TRUE(uses_warp_queues(1));
  EXPECT_TRUE(uses_warp_queues(kWarpQueueMaxK));
  EXPECT_FALSE(uses_warp_queues(kWarpQueueMaxK + 1));
  EXPECT_FALSE(uses_warp_queues(0));
  for (size_t n : {size_t{3}, size_t{300}, size_t{5000}, size_t{30011}}) {
    for (uint32_t k : {1u, 7u, 10u, 31u, 32u}) {
      for (int distinct : {1, 2, 1 << 24}) {
        for (double mask_rate : {0.0, 0.2, 0.99}) {
          const std::vector<float> keys = random_keys(rng, n, distinct);
          std::vector<bool> masked(n);
          std::bernoulli_distribution masked_dist(mask_rate);
          // Rows numbered backwards half the time: ties at the threshold then
          // arrive with smaller rows than the threshold's, which must win.
          const bool backwards = rng() % 2 == 0;
          auto row_of = [&](size_t position) {
            return static_cast<uint32_t>(backwards ? n - 1 - position : position);
          };
          std::vector<Candidate> admitted;
          for (size_t r = 0; r < n; ++r) {
            masked[r] = masked_dist(rng);
            if (!masked[r]) admitted.push_back({keys[r], row_of(r)});
          }
          const size_t tile_rows = 4096;
          const size_t splits = 3;
          const size_t slice = (tile_rows + splits - 1) / splits;
          std::vector<std::vector<HostWarpQueue>> per_split(
              splits, std::vector<HostWarpQueue>(kSelectWarps));
          std::vector<std::vector<Candidate>> kept(splits);
          for (size_t tile = 0; tile < n; tile += tile_rows) {
            const size_t rows = std::min(tile_rows, n - tile);
            const bool last = tile + rows >= n;
            for (size_t s = 0; s < splits; ++s) {
              const size_t begin = s * slice;
              const size_t count = begin >= rows ? 0 : std::min(slice, rows - begin);
              if (count == 0 && !last) continue;
              const size_t first = tile + begin;
              run_block_of_queues(
                  [&](uint64_t i, Candidate* out) {
                    const size_t position = first + i;
                    if (masked[position]) return false;
                    *out = Candidate{keys[position], row_of(position)};
                    return true;
                  },
                  count, k, per_split[s], last, &kept[s]);
            }
          }
          std::vector<HostWarpQueue> merging(kSelectWarps);
          std::vector<Candidate> got;
          run_block_of_queues(
              [&](uint64_t i, Candidate* out) {
                const std::vector<Candidate>& list = kept[i / k];
                if (i % k >= list.size()) return false;
                *out = list[i % k];
                return true;
              },
              splits * k, k, merging, true, &got);
          const std::vector<Candidate> want = full_sort(admitted, k);
          ASSERT_TRUE(same_candidates(got, want))
              << "n " << n << " k " << k << " distinct " << distinct << " mask " << mask_rate;
        }
      }
    }
  }
}

TEST(GpuSelect, KeysOfLowerIsBetterDistancesRoundTrip) {
  for (float d : {0.0f, 1.5f, -2.25f, 1e30f}) {
    EXPECT_EQ(distance_of_key(key_of_distance(d, true), true), d);
    EXPECT_EQ(distance_of_key(key_of_distance(d, false), false), d);
  }
  // Lower distances become larger keys.
  EXPECT_TRUE(better({key_of_distance(1.0f, false), 5}, {key_of_distance(2.0f, false), 1}));
  // Equal keys: the smaller row wins.
  EXPECT_TRUE(better({1.0f, 1}, {1.0f, 2}));
  EXPECT_FALSE(better({1.0f, 2}, {1.0f, 2}));
}

}  // namespace
}  // namespace vesta::kernels::cuda
