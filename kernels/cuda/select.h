#pragma once

// The top-k selection algorithm of the GPU path, written once for the device
// kernels (kernels/cuda/flat_search.cu) and the host. The host driver at the
// end of this file runs the same steps, in the same order, as one thread block
// does, so the host tests check the algorithm against a full sort without a
// GPU. Plain C++ when not compiled by nvcc.
//
// One block owns a buffer of `capacity` candidates in shared memory and a
// threshold (the k-th best kept so far, once k are kept). It reads its input in
// chunks (kSelectPerThread elements per thread, so several loads are in flight);
// an element better than the threshold is appended to the buffer. Before a chunk that could
// overflow the buffer, the block sorts the buffer (bitonic sort, best first), keeps the best k and
// raises the threshold to the k-th. Most elements of a large input fail the
// threshold test, so the input is read once and sorted rarely; nothing is
// fully sorted but the small buffer.

#include <cstdint>

#if defined(__CUDACC__)
#define VESTA_HD __host__ __device__ __forceinline__
#else
#define VESTA_HD inline
#endif

namespace vesta::kernels::cuda {

// A selection candidate: `key` is larger-is-better (the distance, negated for
// metrics where lower is better); ties go to the smaller row, so the order is
// total and results never depend on the order candidates arrive in.
struct Candidate {
  float key;
  uint32_t row;
};

// Row number of padding; never a real row (the GPU path holds fewer rows).
inline constexpr uint32_t kNoRow = 0xFFFFFFFFu;
// The most rows one device index may hold.
inline constexpr uint64_t kMaxDeviceRows = kNoRow;
// Threads per selection block; elements each thread reads per step (loads in
// flight); elements per step (one chunk); the largest buffer (k <= 1024).
inline constexpr uint32_t kSelectThreads = 256;
inline constexpr uint32_t kSelectPerThread = 4;
inline constexpr uint32_t kSelectChunk = kSelectThreads * kSelectPerThread;
inline constexpr uint32_t kMaxSelectCapacity = 2048;

VESTA_HD Candidate worst_candidate() { return {-__builtin_huge_valf(), kNoRow}; }

VESTA_HD bool better(Candidate a, Candidate b) {
  return a.key > b.key || (a.key == b.key && a.row < b.row);
}

VESTA_HD float key_of_distance(float distance, bool higher_is_better) {
  return higher_is_better ? distance : -distance;
}
VESTA_HD float distance_of_key(float key, bool higher_is_better) {
  return higher_is_better ? key : -key;
}

// The buffer size for k: a power of two (for the bitonic sort) that holds k
// kept candidates plus one whole chunk.
VESTA_HD uint32_t select_capacity(uint32_t k, uint32_t threads) {
  uint32_t capacity = 1;
  while (capacity < k + threads) capacity <<= 1;
  return capacity;
}

// How many entries a sort of `count` candidates covers: the next power of two
// (at least 1), padded with worst_candidate(); a nearly empty buffer sorts fast.
VESTA_HD uint32_t sort_size(uint32_t count) {
  uint32_t size = 1;
  while (size < count) size <<= 1;
  return size;
}

// One compare-exchange of a bitonic sort over a power-of-two buffer: stage
// (`size`, `stride`), element `i`. Running every i of every stage in order
// (size = 2, 4, ..., n; stride = size/2, ..., 1) sorts the buffer best first.
VESTA_HD void bitonic_step(Candidate* buffer, uint32_t i, uint32_t size, uint32_t stride) {
  const uint32_t partner = i ^ stride;
  if (partner <= i) return;
  const Candidate a = buffer[i];
  const Candidate b = buffer[partner];
  const bool best_first = (i & size) == 0;
  if (best_first ? better(b, a) : better(a, b)) {
    buffer[i] = b;
    buffer[partner] = a;
  }
}

// What a block knows between chunks: how many candidates the buffer holds and,
// once k are kept, the k-th best (anything not better is rejected).
struct SelectState {
  uint32_t count = 0;
  bool has_threshold = false;
  Candidate threshold{};
};

VESTA_HD bool admits(const SelectState& state, Candidate candidate) {
  return !state.has_threshold || better(candidate, state.threshold);
}

// True when the buffer should be sorted before the next chunk of `chunk`
// elements: when that chunk could overflow it, or, while there is no threshold
// yet, as soon as it holds k candidates (a threshold that early rejects most
// of what follows, and the sort is of about one chunk rather than two).
VESTA_HD bool needs_compaction(const SelectState& state, uint32_t k, uint32_t chunk,
                               uint32_t capacity) {
  return state.count + chunk > capacity || (!state.has_threshold && state.count >= k);
}

// After the buffer was padded with worst_candidate() and sorted: keep k.
VESTA_HD void after_sort(SelectState& state, const Candidate* buffer, uint32_t k) {
  if (state.count >= k) {
    state.count = k;
    state.has_threshold = true;
    state.threshold = buffer[k - 1];
  }
}

// ---- warp queues ----------------------------------------------------------------
//
// For k <= kWarpQueueMaxK a block does not select as one: each of its
// kSelectWarps warps keeps a queue of the best 32 candidates it has seen,
// sorted best first, one per lane (lane j holds the j-th best), in registers:
// no shared memory, no sort and no block-wide barrier while it scans. A
// candidate is admitted when it is better than the queue's k-th entry (the
// threshold); admitting it is one ordered insertion (the lanes behind it shift
// down by one, the 32nd falls off). Warp w reads chunks w, w + kSelectWarps,
// w + 2 * kSelectWarps, ... of the block's input (chunk c = elements
// [c * kWarpChunk, (c + 1) * kWarpChunk), lane l reading elements 4l .. 4l + 3).
// A chunk whose keys all fall below the threshold's key costs one vote; in the
// others element j of every lane is offered in lane order, then element j + 1.
// Queues are carried from one row tile to the next; at the end warp 0 offers
// the first k entries of warps 1, 2, ... to its own queue in that order, and
// its first k entries are the block's best k.
inline constexpr uint32_t kSelectWarps = kSelectThreads / 32;
inline constexpr uint32_t kWarpChunk = 32 * kSelectPerThread;
inline constexpr uint32_t kWarpQueueMaxK = 32;

VESTA_HD bool uses_warp_queues(uint32_t k) { return k >= 1 && k <= kWarpQueueMaxK; }

// Whether a key could be admitted past `threshold` (the exact test, ties by
// row, comes after).
VESTA_HD bool may_admit(Candidate threshold, float key) { return key >= threshold.key; }

// One warp's queue as the host keeps it: entry j is lane j's.
struct HostWarpQueue {
  Candidate entry[32];
  HostWarpQueue() {
    for (Candidate& c : entry) c = worst_candidate();
  }
  // Offers one candidate, as the device does (admitted only if better than
  // entry k - 1).
  void offer(Candidate x, uint32_t k) {
    if (!better(x, entry[k - 1])) return;
    uint32_t pos = 0;
    while (pos < 32 && better(entry[pos], x)) ++pos;
    for (uint32_t j = 31; j > pos; --j) entry[j] = entry[j - 1];
    entry[pos] = x;
  }
  // How many of the first k entries hold a candidate.
  uint32_t kept(uint32_t k) const {
    uint32_t count = 0;
    while (count < k && entry[count].row != kNoRow) ++count;
    return count;
  }
};

// ---- host driver ------------------------------------------------------------

// Sorts buffer[0, count) best first as a block would: padding up to
// sort_size(count) (<= capacity), then every bitonic stage over every element.
inline void host_sort_buffer(Candidate* buffer, uint32_t count, uint32_t /*capacity*/) {
  const uint32_t n = sort_size(count);
  for (uint32_t i = count; i < n; ++i) buffer[i] = worst_candidate();
  for (uint32_t size = 2; size <= n; size <<= 1) {
    for (uint32_t stride = size / 2; stride > 0; stride >>= 1) {
      for (uint32_t i = 0; i < n; ++i) bitonic_step(buffer, i, size, stride);
    }
  }
}

// The block algorithm on the host, one chunk of `chunk` elements per step.
// `source(i, &candidate)` yields element i of n (false when it is masked out).
// `buffer` holds select_capacity(k, chunk) candidates and may start with
// `state.count` candidates carried from an earlier run, sorted or not, with the
// state that run left (how the GPU carries a selection across row tiles).
// With `finish`, the buffer is sorted at the end and buffer[0, state.count) is
// the best min(k, admitted) candidates, best first; without, it is left as a
// later run may continue it.
template <typename Source>
void host_select(Source&& source, uint64_t n, uint32_t k, uint32_t chunk, Candidate* buffer,
                 SelectState& state, bool finish = true) {
  const uint32_t capacity = select_capacity(k, chunk);
  for (uint64_t base = 0; base < n; base += chunk) {
    if (needs_compaction(state, k, chunk, capacity)) {
      host_sort_buffer(buffer, state.count, capacity);
      after_sort(state, buffer, k);
    }
    for (uint32_t t = 0; t < chunk && base + t < n; ++t) {
      Candidate candidate;
      if (source(base + t, &candidate) && admits(state, candidate)) {
        buffer[state.count++] = candidate;
      }
    }
  }
  if (finish) {
    host_sort_buffer(buffer, state.count, capacity);
    after_sort(state, buffer, k);
  }
}

// One warp of a block, on the host, by the device's steps: warp `warp` of
// `warps` over its chunks of [0, n) (see "warp queues" above), continuing
// `queue` (fresh, or carried from an earlier tile).
template <typename Source>
void host_queue_offer(Source&& source, uint64_t n, uint32_t k, uint32_t warp, uint32_t warps,
                      HostWarpQueue& queue) {
  for (uint64_t base = uint64_t{warp} * kWarpChunk; base < n;
       base += uint64_t{warps} * kWarpChunk) {
    Candidate loaded[kWarpChunk];
    bool live[kWarpChunk];
    bool any = false;
    const Candidate threshold = queue.entry[k - 1];
    for (uint32_t t = 0; t < kWarpChunk; ++t) {
      live[t] = base + t < n && source(base + t, &loaded[t]);
      any = any || (live[t] && may_admit(threshold, loaded[t].key));
    }
    if (!any) continue;
    for (uint32_t j = 0; j < kSelectPerThread; ++j) {
      for (uint32_t lane = 0; lane < 32; ++lane) {
        const uint32_t t = lane * kSelectPerThread + j;
        if (live[t]) queue.offer(loaded[t], k);
      }
    }
  }
}

// The block's end: warp 0's queue takes the first k entries of every other
// warp's, in warp order; its first kept(k) entries are the block's best.
inline void host_merge_queues(HostWarpQueue* queues, uint32_t warps, uint32_t k) {
  for (uint32_t w = 1; w < warps; ++w) {
    for (uint32_t j = 0; j < k; ++j) queues[0].offer(queues[w].entry[j], k);
  }
}

}  // namespace vesta::kernels::cuda
