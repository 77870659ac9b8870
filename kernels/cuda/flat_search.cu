#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/flat_search.h"
#include "kernels/cuda/fused_layout.h"
#include "kernels/cuda/select.h"

namespace vesta::kernels::cuda {
namespace {

// Queries converted and searched at once; larger batches run in chunks.
constexpr size_t kMaxQueryChunk = 4096;
// Row tiles are multiples of this (keeps GEMM operands aligned).
constexpr size_t kTileAlign = 256;
// A selection block scans at least this many rows of a tile.
constexpr size_t kMinRowsPerSplit = 4096;
// Blocks per multiprocessor the split count aims for.
constexpr size_t kBlocksPerMultiprocessor = 2;
// Host rows reach the device through two pinned staging buffers of at most
// this size (one is filled while the other's copy runs), and at least this
// much is reserved at once.
constexpr size_t kStageBytes = size_t{16} << 20;
constexpr size_t kMinStageBytes = size_t{1} << 20;

core::Status cublas_status(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return core::Status::ok();
  const core::StatusCode code = status == CUBLAS_STATUS_ALLOC_FAILED
                                    ? core::StatusCode::kResourceExhausted
                                    : core::StatusCode::kUnavailable;
  return {code, std::string(call) + " failed: " + cublasGetStatusName(status) + " (" +
                    cublasGetStatusString(status) + ")"};
}

#define VESTA_CUBLAS_TRY(call) \
  VESTA_RETURN_IF_ERROR(::vesta::kernels::cuda::cublas_status((call), #call))
#define VESTA_CUDA_LAUNCHED(what) VESTA_CUDA_TRY(cudaGetLastError())

// ---- device memory holders ---------------------------------------------------

// A device allocation that grows (contents kept up to `keep` bytes on growth).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
  }

  core::Status reserve(size_t bytes, size_t keep = 0) {
    if (bytes <= capacity_) return core::Status::ok();
    void* fresh = nullptr;
    VESTA_CUDA_TRY(cudaMalloc(&fresh, bytes));
    if (keep > 0 && data_ != nullptr) {
      const cudaError_t copied = cudaMemcpy(fresh, data_, keep, cudaMemcpyDeviceToDevice);
      if (copied != cudaSuccess) {
        cudaFree(fresh);
        return cuda_status(copied, "cudaMemcpy (growing a device buffer)");
      }
    }
    if (data_ != nullptr) cudaFree(data_);
    data_ = fresh;
    capacity_ = bytes;
    return core::Status::ok();
  }
  void release() {
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    capacity_ = 0;
  }

  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t capacity() const { return capacity_; }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// A pinned host allocation that grows (contents not kept).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_ != nullptr) cudaFreeHost(data_);
  }
  core::Status reserve(size_t bytes) {
    if (bytes <= capacity_) return core::Status::ok();
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = nullptr;
    capacity_ = 0;
    VESTA_CUDA_TRY(cudaMallocHost(&data_, bytes));
    capacity_ = bytes;
    return core::Status::ok();
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// ---- kernels -------------------------------------------------------------------

// One block per query: float32 -> float16 (round to nearest even), zero padding
// up to `stride`, the squared norm of the rounded query, and a flag when a
// value does not fit float16.
__global__ void convert_queries_kernel(const float* in, size_t dim, size_t stride, __half* out,
                                       float* norms, int* out_of_range) {
  const size_t q = blockIdx.x;
  float sum = 0.0f;
  for (size_t i = threadIdx.x; i < stride; i += blockDim.x) {
    __half h = __float2half_rn(0.0f);
    if (i < dim) {
      const float v = in[q * dim + i];
      h = __float2half_rn(v);
      if (!isfinite(v) || __hisinf(h) != 0) atomicExch(out_of_range, 1);
      const float back = __half2float(h);
      sum += back * back;
    }
    out[q * stride + i] = h;
  }
  __shared__ float partial[32];
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (unsigned w = 0; w < (blockDim.x + 31) / 32; ++w) total += partial[w];
    if (norms != nullptr) norms[q] = total;
  }
}

// One warp per row: squared norms of rows [first, first + count).
__global__ void row_norms_kernel(const __half* rows, size_t first, size_t count, size_t stride,
                                 size_t dim, float* norms) {
  const size_t warp = (static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const unsigned lane = threadIdx.x & 31;
  if (warp >= count) return;
  const __half* row = rows + (first + warp) * stride;
  float sum = 0.0f;
  for (size_t i = lane; i < dim; i += 32) {
    const float v = __half2float(row[i]);
    sum += v * v;
  }
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (lane == 0) norms[first + warp] = sum;
}

// The shared-memory side of one selection block.
struct BlockSelect {
  Candidate* buffer;  // capacity entries
  SelectState* state;
  uint32_t* sorted_count;  // count when the buffer was last sorted
  uint32_t k;
  uint32_t capacity;

  __device__ void sort() {
    // Every thread reads the state before the barriers below; only thread 0
    // writes it, after them (a read of it there, even one the compiler hoists
    // out of thread 0's branch, would race with that write).
    SelectState kept = *state;
    const uint32_t n = sort_size(kept.count);  // <= capacity
    for (uint32_t i = kept.count + threadIdx.x; i < n; i += blockDim.x) {
      buffer[i] = worst_candidate();
    }
    __syncthreads();
    for (uint32_t size = 2; size <= n; size <<= 1) {
      for (uint32_t stride = size / 2; stride > 0; stride >>= 1) {
        for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) {
          bitonic_step(buffer, i, size, stride);
        }
        __syncthreads();
      }
    }
    if (threadIdx.x == 0) {
      after_sort(kept, buffer, k);
      *state = kept;
      *sorted_count = kept.count;
    }
    __syncthreads();
  }

  // Continues a selection an earlier tile left in `carried` (candidates, sorted
  // or not) with `carried_state`.
  __device__ void load(const Candidate* carried, const SelectState& carried_state) {
    const uint32_t count = carried_state.count;
    for (uint32_t i = threadIdx.x; i < count; i += blockDim.x) buffer[i] = carried[i];
    if (threadIdx.x == 0) {
      *state = carried_state;
      *sorted_count = kNoRow;  // unknown: finish() sorts
    }
    __syncthreads();
  }

  __device__ void start_empty() {
    if (threadIdx.x == 0) {
      *state = SelectState{};
      *sorted_count = 0;
    }
    __syncthreads();
  }

  // Offers elements [0, n) of `source`, kSelectChunk per step; every thread of
  // the block calls this. Software-pipelined: the loads of the next chunk are
  // issued before the current one is examined, so memory latency overlaps the
  // threshold tests, votes and barriers.
  template <typename Source>
  __device__ void offer(const Source& source, uint32_t n) {
    const unsigned lane = threadIdx.x & 31;
    if (n == 0) return;
    typename Source::Loaded next = source.load(0, n);
    for (uint32_t base = 0; base < n; base += kSelectChunk) {
      const typename Source::Loaded current = next;
      if (n - base > kSelectChunk) next = source.load(base + kSelectChunk, n);
      // Every thread reads the count before any warp appends to it: a warp
      // that read it after another's append could decide differently and
      // skip the barriers in sort().
      const bool compact = needs_compaction(*state, k, kSelectChunk, capacity);
      __syncthreads();
      if (compact) sort();
      const SelectState snapshot = *state;  // the threshold holds for this chunk
      Candidate candidates[kSelectPerThread];
      uint32_t takes = 0;
#pragma unroll
      for (uint32_t j = 0; j < kSelectPerThread; ++j) {
        if (source.get(current, base, j, n, &candidates[j]) && admits(snapshot, candidates[j])) {
          takes |= 1u << j;
        }
      }
      // Once a threshold is set most chunks add nothing: one vote skips them.
      if (__any_sync(0xffffffffu, takes != 0)) {
#pragma unroll
        for (uint32_t j = 0; j < kSelectPerThread; ++j) {
          const bool take = ((takes >> j) & 1u) != 0;
          const unsigned mask = __ballot_sync(0xffffffffu, take);
          if (mask != 0) {
            const int leader = __ffs(mask) - 1;
            uint32_t start = 0;
            if (static_cast<int>(lane) == leader) start = atomicAdd(&state->count, __popc(mask));
            start = __shfl_sync(0xffffffffu, start, leader);
            if (take) buffer[start + __popc(mask & ((1u << lane) - 1u))] = candidates[j];
          }
        }
      }
      __syncthreads();
    }
  }

  // Sorts (unless nothing changed since the last sort) and keeps the best k.
  __device__ void finish() {
    if (state->count != *sorted_count) sort();
  }

  __device__ void store(Candidate* out, SelectState* out_state) const {
    for (uint32_t i = threadIdx.x; i < state->count; i += blockDim.x) out[i] = buffer[i];
    if (threadIdx.x == 0) *out_state = *state;
  }
};

#define VESTA_BLOCK_SELECT_SHARED(name, k_, capacity_)    \
  __shared__ Candidate name##_buffer[kMaxSelectCapacity]; \
  __shared__ SelectState name##_state;                    \
  __shared__ uint32_t name##_sorted;                      \
  BlockSelect name { name##_buffer, &name##_state, &name##_sorted, (k_), (capacity_) }

// One slice of a distance tile: element i is row `first_row + i`. Thread t
// reads elements 4t .. 4t+3 of each chunk with one 16-byte load (the slice
// starts 16-byte aligned and the tile's leading dimension is padded to a
// multiple of 4, so a load past the slice end stays inside the buffer).
struct TileSource {
  const float* ip;  // ip[i]: the query's inner product with that row
  uint32_t first_row;
  const float* row_norms;  // squared L2 only (padded to a multiple of 4)
  float query_norm;
  const uint64_t* tombstones;  // optional
  const uint64_t* allowed;     // optional

  struct Loaded {
    float4 dot;
    float4 norm;
    uint32_t live;  // bit j: element j not masked out
  };

  __device__ Loaded load(uint32_t base, uint32_t n) const {
    Loaded loaded{};
    const uint32_t i = base + 4 * threadIdx.x;
    if (i >= n) return loaded;
    loaded.dot = *reinterpret_cast<const float4*>(ip + i);
    const uint32_t row = first_row + i;  // a multiple of 4: one bitmap word
    if (row_norms != nullptr) loaded.norm = *reinterpret_cast<const float4*>(row_norms + row);
    uint32_t live = 0xFu;
    if (tombstones != nullptr) live &= ~static_cast<uint32_t>(tombstones[row >> 6] >> (row & 63));
    if (allowed != nullptr) live &= static_cast<uint32_t>(allowed[row >> 6] >> (row & 63));
    const uint32_t left = n - i;
    if (left < 4) live &= (1u << left) - 1u;
    loaded.live = live & 0xFu;
    return loaded;
  }

  __device__ bool get(const Loaded& loaded, uint32_t base, uint32_t j, uint32_t /*n*/,
                      Candidate* out) const {
    if (((loaded.live >> j) & 1u) == 0) return false;
    const float dot = j == 0   ? loaded.dot.x
                      : j == 1 ? loaded.dot.y
                      : j == 2 ? loaded.dot.z
                               : loaded.dot.w;
    float key = dot;
    if (row_norms != nullptr) {
      const float norm = j == 0   ? loaded.norm.x
                         : j == 1 ? loaded.norm.y
                         : j == 2 ? loaded.norm.z
                                  : loaded.norm.w;
      key = -fmaxf(query_norm + norm - 2.0f * dot, 0.0f);
    }
    *out = Candidate{key, first_row + base + 4 * threadIdx.x + j};
    return true;
  }
};

// ---- warp queues (k <= kWarpQueueMaxK; see select.h) ---------------------------

// What one lane loaded of one chunk: its kSelectPerThread elements.
struct WarpLoaded {
  Candidate candidates[kSelectPerThread];
  uint32_t live;  // bit j: element j exists and is not masked out
};

__device__ __forceinline__ Candidate shfl_candidate(Candidate c, int lane) {
  return Candidate{__shfl_sync(0xffffffffu, c.key, lane), __shfl_sync(0xffffffffu, c.row, lane)};
}

// A warp's queue: lane j holds the j-th best candidate seen (worst_candidate()
// while fewer were seen); `threshold` (entry k - 1) is the same in every lane.
struct WarpQueue {
  Candidate mine;
  Candidate threshold;

  __device__ void start(Candidate carried, uint32_t k) {
    mine = carried;
    threshold = shfl_candidate(mine, static_cast<int>(k - 1));
  }

  // Inserts `x` (better than the threshold, the same in every lane) in order.
  __device__ void insert(Candidate x, unsigned lane, uint32_t k) {
    // The lanes holding better entries are a prefix: x goes after them.
    const unsigned pos = __popc(__ballot_sync(0xffffffffu, better(mine, x)));
    const Candidate up{__shfl_up_sync(0xffffffffu, mine.key, 1),
                       __shfl_up_sync(0xffffffffu, mine.row, 1)};
    if (lane > pos) mine = up;
    if (lane == pos) mine = x;
    threshold = shfl_candidate(mine, static_cast<int>(k - 1));
  }

  // Offers element j of every lane's `loaded`, in lane order.
  __device__ void offer_element(const WarpLoaded& loaded, uint32_t j, unsigned lane, uint32_t k) {
    const Candidate mine_j = loaded.candidates[j];
    unsigned pending =
        __ballot_sync(0xffffffffu, ((loaded.live >> j) & 1u) != 0 && better(mine_j, threshold));
    while (pending != 0) {
      const int from = __ffs(pending) - 1;
      pending &= pending - 1;
      const Candidate x = shfl_candidate(mine_j, from);
      if (better(x, threshold)) insert(x, lane, k);
    }
  }
};

// One warp's pass over its chunks of [0, n) (chunks warp, warp + kSelectWarps,
// ...). The loads of kWarpUnroll chunks are issued before any is examined.
constexpr uint32_t kWarpUnroll = 4;
template <typename Source>
__device__ void queue_offer(const Source& source, uint32_t n, uint32_t k, WarpQueue& queue) {
  const unsigned lane = threadIdx.x & 31;
  const uint32_t warp = threadIdx.x >> 5;
  constexpr uint32_t kStep = kSelectWarps * kWarpChunk;
  for (uint32_t base = warp * kWarpChunk; base < n; base += kStep * kWarpUnroll) {
    WarpLoaded loaded[kWarpUnroll];
#pragma unroll
    for (uint32_t u = 0; u < kWarpUnroll; ++u) loaded[u] = source.load(base + u * kStep, n, lane);
#pragma unroll
    for (uint32_t u = 0; u < kWarpUnroll; ++u) {
      bool pass = false;
#pragma unroll
      for (uint32_t j = 0; j < kSelectPerThread; ++j) {
        pass = pass || (((loaded[u].live >> j) & 1u) != 0 &&
                        may_admit(queue.threshold, loaded[u].candidates[j].key));
      }
      if (!__any_sync(0xffffffffu, pass)) continue;
#pragma unroll
      for (uint32_t j = 0; j < kSelectPerThread; ++j) queue.offer_element(loaded[u], j, lane, k);
    }
  }
}

// Offers the first k entries of warps 1, 2, ... of a block (warp w's at
// entries[w * stride], the same in every lane) to `queue` in that order;
// returns how many of its first k lanes then hold a candidate. The queue is
// warp 0's, or one started from warp 0's entries.
__device__ uint32_t take_other_warps(WarpQueue& queue, const Candidate* entries, uint32_t stride,
                                     uint32_t k) {
  const unsigned lane = threadIdx.x & 31;
  for (uint32_t w = 1; w < kSelectWarps; ++w) {
    for (uint32_t j = 0; j < k; ++j) {
      const Candidate x = entries[w * stride + j];
      if (better(x, queue.threshold)) queue.insert(x, lane, k);
    }
  }
  return __popc(__ballot_sync(0xffffffffu, lane < k && queue.mine.row != kNoRow));
}

// The block's end: warp 0 takes the first k entries of warps 1, 2, ... (in
// that order) into its queue; returns, in warp 0, how many of its first k
// lanes hold a candidate. `exchange` holds kSelectThreads candidates.
__device__ uint32_t merge_queues(WarpQueue& queue, uint32_t k, Candidate* exchange) {
  exchange[threadIdx.x] = queue.mine;
  __syncthreads();
  if (threadIdx.x >= 32) return 0;
  return take_other_warps(queue, exchange, 32, k);
}

// A row tile's slice for one warp: lane l reads elements 4l .. 4l + 3 of a
// chunk with one 16-byte load (as TileSource).
struct TileWarpSource {
  const float* ip;
  uint32_t first_row;
  const float* row_norms;  // squared L2 only
  float query_norm;
  const uint64_t* tombstones;  // optional
  const uint64_t* allowed;     // optional

  __device__ WarpLoaded load(uint32_t base, uint32_t n, unsigned lane) const {
    WarpLoaded loaded;
    loaded.live = 0;
    const uint32_t i = base + 4 * lane;
    if (i >= n) return loaded;
    const float4 dot = *reinterpret_cast<const float4*>(ip + i);
    const uint32_t row = first_row + i;  // a multiple of 4: one bitmap word
    float4 key = dot;
    if (row_norms != nullptr) {
      const float4 norm = *reinterpret_cast<const float4*>(row_norms + row);
      key.x = -fmaxf(query_norm + norm.x - 2.0f * dot.x, 0.0f);
      key.y = -fmaxf(query_norm + norm.y - 2.0f * dot.y, 0.0f);
      key.z = -fmaxf(query_norm + norm.z - 2.0f * dot.z, 0.0f);
      key.w = -fmaxf(query_norm + norm.w - 2.0f * dot.w, 0.0f);
    }
    uint32_t live = 0xFu;
    if (tombstones != nullptr) live &= ~static_cast<uint32_t>(tombstones[row >> 6] >> (row & 63));
    if (allowed != nullptr) live &= static_cast<uint32_t>(allowed[row >> 6] >> (row & 63));
    const uint32_t left = n - i;
    if (left < 4) live &= (1u << left) - 1u;
    loaded.live = live & 0xFu;
    loaded.candidates[0] = Candidate{key.x, row};
    loaded.candidates[1] = Candidate{key.y, row + 1};
    loaded.candidates[2] = Candidate{key.z, row + 2};
    loaded.candidates[3] = Candidate{key.w, row + 3};
    return loaded;
  }
};

// Block (split s, query q), k <= kWarpQueueMaxK: as select_tile_kernel, with
// warp queues. Slot (q, s) keeps kSelectWarps * 32 candidates in `lists`:
// between tiles warp w's queue (lane j at w * 32 + j), after the last tile the
// block's best k at the start; states[slot].count is 0 before the first tile
// (no queues carried yet), 1 between tiles, and the number kept at the end.
__global__ void __launch_bounds__(kSelectThreads)
    select_tile_queues_kernel(const float* ip, size_t ldc, uint64_t tile_first, uint64_t tile_rows,
                              uint64_t slice_rows, const float* row_norms, const float* query_norms,
                              const uint64_t* tombstones, const uint64_t* allowed, uint32_t k,
                              bool last_tile, Candidate* lists, SelectState* states) {
  const uint32_t splits = gridDim.x;
  const uint64_t slot = static_cast<uint64_t>(blockIdx.y) * splits + blockIdx.x;
  const uint64_t begin = static_cast<uint64_t>(blockIdx.x) * slice_rows;
  const uint32_t n = static_cast<uint32_t>(
      begin >= tile_rows ? 0 : (begin + slice_rows < tile_rows ? slice_rows : tile_rows - begin));
  if (n == 0 && !last_tile) return;  // uniform across the block

  Candidate* list = lists + slot * kSelectThreads;
  const bool carried = states[slot].count != 0;
  __syncthreads();  // every thread has read the state before it is written below
  WarpQueue queue;
  queue.start(carried ? list[threadIdx.x] : worst_candidate(), k);
  const TileWarpSource source{ip + blockIdx.y * ldc + begin,
                              static_cast<uint32_t>(tile_first + begin),
                              row_norms,
                              query_norms != nullptr ? query_norms[blockIdx.y] : 0.0f,
                              tombstones,
                              allowed};
  queue_offer(source, n, k, queue);
  if (!last_tile) {
    list[threadIdx.x] = queue.mine;
    if (threadIdx.x == 0) states[slot].count = 1;
    return;
  }
  __shared__ Candidate exchange[kSelectThreads];
  const uint32_t kept = merge_queues(queue, k, exchange);
  if (threadIdx.x >= 32) return;
  if (threadIdx.x < k) list[threadIdx.x] = queue.mine;
  if (threadIdx.x == 0) states[slot].count = kept;
}

// Block (split s, query q) scans its slice of a row tile and continues the
// selection of slot (q, s): `lists` holds `capacity` candidates per slot and
// `states` one SelectState per slot (zeroed before the first tile). Between
// tiles the buffer is carried as it is, unsorted; on the last tile every block
// (also one whose slice is empty) sorts and keeps its best k for the merge.
__global__ void __launch_bounds__(kSelectThreads, 6)
    select_tile_kernel(const float* ip, size_t ldc, uint64_t tile_first, uint64_t tile_rows,
                       uint64_t slice_rows, const float* row_norms, const float* query_norms,
                       const uint64_t* tombstones, const uint64_t* allowed, uint32_t k,
                       uint32_t capacity, bool last_tile, Candidate* lists, SelectState* states) {
  const uint32_t splits = gridDim.x;
  const uint64_t slot = static_cast<uint64_t>(blockIdx.y) * splits + blockIdx.x;
  const uint64_t begin = static_cast<uint64_t>(blockIdx.x) * slice_rows;
  const uint32_t n = static_cast<uint32_t>(
      begin >= tile_rows ? 0 : (begin + slice_rows < tile_rows ? slice_rows : tile_rows - begin));
  if (n == 0 && !last_tile) return;  // uniform across the block

  VESTA_BLOCK_SELECT_SHARED(select, k, capacity);
  Candidate* list = lists + slot * capacity;
  select.load(list, states[slot]);
  const TileSource source{ip + blockIdx.y * ldc + begin,
                          static_cast<uint32_t>(tile_first + begin),
                          row_norms,
                          query_norms != nullptr ? query_norms[blockIdx.y] : 0.0f,
                          tombstones,
                          allowed};
  select.offer(source, n);
  if (last_tile) select.finish();
  select.store(list, states + slot);
}

// Element i of the merge: entry i % k of split i / k's sorted, kept list.
// Thread t reads elements base + j * kSelectThreads + t.
struct ListSource {
  const Candidate* lists;     // splits lists, `capacity` apart
  const SelectState* states;  // splits
  uint32_t k;
  uint32_t capacity;

  struct Loaded {
    Candidate candidates[kSelectPerThread];
    uint32_t live;
  };

  __device__ Loaded load(uint32_t base, uint32_t n) const {
    Loaded loaded{};
#pragma unroll
    for (uint32_t j = 0; j < kSelectPerThread; ++j) {
      const uint32_t i = base + j * kSelectThreads + threadIdx.x;
      if (i >= n) continue;
      const uint32_t split = i / k;
      const uint32_t entry = i % k;
      if (entry >= states[split].count) continue;
      loaded.candidates[j] = lists[static_cast<uint64_t>(split) * capacity + entry];
      loaded.live |= 1u << j;
    }
    return loaded;
  }

  __device__ bool get(const Loaded& loaded, uint32_t /*base*/, uint32_t j, uint32_t /*n*/,
                      Candidate* out) const {
    if (((loaded.live >> j) & 1u) == 0) return false;
    *out = loaded.candidates[j];
    return true;
  }
};

// Block q merges the `splits` kept lists of query q into out[q] (k entries).
__global__ void merge_lists_kernel(const Candidate* lists, const SelectState* states,
                                   uint32_t splits, uint32_t k, uint32_t capacity, Candidate* out,
                                   uint32_t* out_counts) {
  const uint64_t q = blockIdx.x;
  VESTA_BLOCK_SELECT_SHARED(select, k, capacity);
  select.start_empty();
  const ListSource source{lists + q * splits * capacity, states + q * splits, k, capacity};
  select.offer(source, splits * k);
  select.finish();
  SelectState final_state;
  select.store(out + q * k, &final_state);
  if (threadIdx.x == 0) out_counts[q] = final_state.count;
}

// Element i of the warp-queue merge: entry i % k of split i / k's kept list
// (kSelectThreads entries apart; its count in states[split]).
struct ListWarpSource {
  const Candidate* lists;
  const SelectState* states;
  uint32_t k;

  __device__ WarpLoaded load(uint32_t base, uint32_t n, unsigned lane) const {
    WarpLoaded loaded;
    loaded.live = 0;
#pragma unroll
    for (uint32_t j = 0; j < kSelectPerThread; ++j) {
      loaded.candidates[j] = worst_candidate();
      const uint32_t i = base + 4 * lane + j;
      if (i >= n) continue;
      const uint32_t split = i / k;
      const uint32_t entry = i % k;
      if (entry >= states[split].count) continue;
      loaded.candidates[j] = lists[static_cast<uint64_t>(split) * kSelectThreads + entry];
      loaded.live |= 1u << j;
    }
    return loaded;
  }
};

// Block q merges the `splits` kept lists of query q (k <= kWarpQueueMaxK) with
// warp queues, as select_tile_queues_kernel left them.
__global__ void __launch_bounds__(kSelectThreads)
    merge_lists_queues_kernel(const Candidate* lists, const SelectState* states, uint32_t splits,
                              uint32_t k, Candidate* out, uint32_t* out_counts) {
  const uint64_t q = blockIdx.x;
  WarpQueue queue;
  queue.start(worst_candidate(), k);
  const ListWarpSource source{lists + q * splits * kSelectThreads, states + q * splits, k};
  queue_offer(source, splits * k, k, queue);
  __shared__ Candidate exchange[kSelectThreads];
  const uint32_t kept = merge_queues(queue, k, exchange);
  if (threadIdx.x >= 32) return;
  if (threadIdx.x < k) out[q * k + threadIdx.x] = queue.mine;
  if (threadIdx.x == 0) out_counts[q] = kept;
}

// ---- fused scan for small batches (see fused_layout.h) --------------------------
//
// For up to kFusedMaxQueries queries and k <= kWarpQueueMaxK, one kernel reads
// every row once, multiplies 16 rows at a time by the queries on the tensor
// cores and selects from the products as they leave them: no distance tile
// in memory, no separate selection pass. Block b scans rows
// [b * slice_rows, (b + 1) * slice_rows); its warps take groups of 16 rows in
// turn. Each warp keeps, per query, a queue of the best 32 candidates it has
// seen (sorted, in shared memory) and the key of its k-th entry (the
// threshold); a group whose products all fall below their queries' thresholds
// costs one vote. At the end warp w merges the warps' queues of queries w,
// w + 8 into the block's list for the merge kernel (as
// select_tile_queues_kernel leaves its lists).

// The most dynamic shared memory one fused block may use (query fragments,
// the warps' queues and thresholds); larger shapes take the GEMM path.
constexpr size_t kFusedMaxSharedBytes = size_t{96} << 10;
// A fused block scans at least this many rows.
constexpr size_t kMinFusedRowsPerSplit = 2048;

size_t fused_shared_bytes(size_t stride, uint32_t tiles) {
  const size_t queries = size_t{tiles} * kFusedTileQueries;
  return fused_steps(static_cast<uint32_t>(stride)) * tiles * 32 * sizeof(uint2) +
         kSelectWarps * queries * 32 * sizeof(Candidate) + kSelectWarps * queries * sizeof(float);
}

// Entry fused_fragment_index(step, tile, tiles, lane) = dimensions D .. D + 3
// (fused_step_dim) of query tile * 8 + lane / 4 of `queries` (float16 rows of
// `stride`), zeros past nq.
__global__ void pack_query_fragments_kernel(const __half* queries, uint32_t nq, uint32_t stride,
                                            uint32_t tiles, uint2* fragments) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= fused_steps(stride) * tiles * 32) return;
  const uint32_t lane = i % 32;
  const uint32_t tile = i / 32 % tiles;
  const uint32_t step = i / 32 / tiles;
  const uint32_t q = tile * kFusedTileQueries + (lane >> 2);
  uint2 value = make_uint2(0, 0);
  if (q < nq) {
    value = *reinterpret_cast<const uint2*>(queries + static_cast<size_t>(q) * stride +
                                            fused_step_dim(step, lane & 3u, stride));
  }
  fragments[i] = value;
}

// c += a * b on the tensor cores (mma.sync.m16n8k16.row.col, float16 in,
// float32 accumulated); registers as in fused_layout.h.
__device__ __forceinline__ void mma_16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                          uint32_t a3, uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
  __trap();  // the build targets sm_80 and later
#endif
}

// Inserts `x` into a warp's queue of 32 candidates in shared memory (sorted,
// best first) if it beats entry k - 1; `threshold_key` follows entry k - 1.
// Every lane calls it with the same x.
__device__ void shared_queue_insert(Candidate* queue, float* threshold_key, Candidate x,
                                    unsigned lane, uint32_t k) {
  if (!better(x, queue[k - 1])) return;  // the same in every lane
  const Candidate mine = queue[lane];
  const unsigned pos = __popc(__ballot_sync(0xffffffffu, better(mine, x)));
  const Candidate up{__shfl_up_sync(0xffffffffu, mine.key, 1),
                     __shfl_up_sync(0xffffffffu, mine.row, 1)};
  const Candidate now = lane > pos ? up : (lane == pos ? x : mine);
  __syncwarp();  // every lane has read the queue before it changes
  queue[lane] = now;
  if (lane == k - 1) *threshold_key = now.key;
  __syncwarp();
}

// Picks value i of a small register array by a runtime index without
// indexing registers dynamically (which would move the array to local memory).
template <uint32_t kN>
__device__ __forceinline__ float pick(const float (&values)[kN], uint32_t i) {
  float v = values[0];
#pragma unroll
  for (uint32_t j = 1; j < kN; ++j) v = i == j ? values[j] : v;
  return v;
}

// Block b: rows [b * slice_rows, min((b + 1) * slice_rows, n_rows)) against
// nq <= kTiles * 8 queries (fragments packed by pack_query_fragments_kernel);
// writes the block's best k per query to lists / states at slot
// q * gridDim.x + b (kSelectThreads candidates apart), as the merge kernel
// reads them.
template <uint32_t kTiles>
__global__ void __launch_bounds__(kSelectThreads, 2)
    fused_scan_kernel(const __half* __restrict__ rows, uint32_t stride, uint64_t n_rows,
                      uint64_t slice_rows, const uint2* __restrict__ query_fragments, uint32_t nq,
                      const float* row_norms, const float* query_norms, const uint64_t* tombstones,
                      const uint64_t* allowed, uint32_t k, Candidate* lists, SelectState* states) {
  constexpr uint32_t kQueries = kTiles * kFusedTileQueries;
  extern __shared__ uint2 fused_shared[];
  const uint32_t steps = fused_steps(stride);
  uint2* fragments = fused_shared;
  Candidate* queues = reinterpret_cast<Candidate*>(fragments + steps * kTiles * 32);
  float* thresholds = reinterpret_cast<float*>(queues + kSelectWarps * kQueries * 32);
  __shared__ float query_norm[kQueries];

  const unsigned lane = threadIdx.x & 31;
  const uint32_t warp = threadIdx.x >> 5;
  const uint32_t g = lane >> 2;
  const uint32_t t = lane & 3u;
  for (uint32_t i = threadIdx.x; i < steps * kTiles * 32; i += blockDim.x) {
    fragments[i] = query_fragments[i];
  }
  for (uint32_t i = threadIdx.x; i < kSelectWarps * kQueries * 32; i += blockDim.x) {
    queues[i] = worst_candidate();
  }
  for (uint32_t i = threadIdx.x; i < kSelectWarps * kQueries; i += blockDim.x) {
    thresholds[i] = -__builtin_huge_valf();
  }
  if (threadIdx.x < kQueries) {
    query_norm[threadIdx.x] =
        query_norms != nullptr && threadIdx.x < nq ? query_norms[threadIdx.x] : 0.0f;
  }
  __syncthreads();

  Candidate* my_queues = queues + warp * kQueries * 32;
  float* my_thresholds = thresholds + warp * kQueries;
  const uint64_t begin = static_cast<uint64_t>(blockIdx.x) * slice_rows;
  const uint64_t end = begin + slice_rows < n_rows ? begin + slice_rows : n_rows;
  const uint32_t chunks = fused_chunks(stride);
  for (uint64_t group = begin + warp * kFusedGroupRows; group < end;
       group += kSelectWarps * kFusedGroupRows) {
    const uint64_t r0 = group + g;  // this lane's rows: g and g + 8 of the group
    const uint64_t r1 = r0 + 8;
    // Rows past the slice are read (a real row stands in) but never offered.
    const __half* p0 = rows + (r0 < n_rows ? r0 : n_rows - 1) * stride;
    const __half* p1 = rows + (r1 < n_rows ? r1 : n_rows - 1) * stride;
    float acc[kTiles][4] = {};
    // 64 dimensions per chunk: two 16-byte loads per row (steps 4c .. 4c+3),
    // the next chunk's issued before this chunk's products.
    uint4 current[4];
    uint4 next[4];
    auto load_chunk = [&](uint32_t c, uint4(&into)[4]) {
      const uint32_t d0 = fused_step_dim(4 * c, t, stride);
      const uint32_t d1 = fused_step_dim(4 * c + 2, t, stride);
      into[0] = *reinterpret_cast<const uint4*>(p0 + d0);
      into[1] = *reinterpret_cast<const uint4*>(p0 + d1);
      into[2] = *reinterpret_cast<const uint4*>(p1 + d0);
      into[3] = *reinterpret_cast<const uint4*>(p1 + d1);
    };
    if (chunks > 0) load_chunk(0, current);
    for (uint32_t c = 0; c < chunks; ++c) {
      if (c + 1 < chunks) load_chunk(c + 1, next);
#pragma unroll
      for (uint32_t j = 0; j < 4; ++j) {
        const uint4 low = current[j >> 1];         // row g
        const uint4 high = current[2 + (j >> 1)];  // row g + 8
        const bool second = (j & 1u) != 0;
        const uint32_t a0 = second ? low.z : low.x;
        const uint32_t a1 = second ? high.z : high.x;
        const uint32_t a2 = second ? low.w : low.y;
        const uint32_t a3 = second ? high.w : high.y;
#pragma unroll
        for (uint32_t tile = 0; tile < kTiles; ++tile) {
          const uint2 b = fragments[fused_fragment_index(4 * c + j, tile, kTiles, lane)];
          mma_16816(acc[tile], a0, a1, a2, a3, b.x, b.y);
        }
      }
#pragma unroll
      for (uint32_t i = 0; i < 4; ++i) current[i] = next[i];
    }
    for (uint32_t step = 4 * chunks; step < steps; ++step) {  // strides not a multiple of 64
      const uint32_t d = fused_step_dim(step, t, stride);
      const uint2 low = *reinterpret_cast<const uint2*>(p0 + d);
      const uint2 high = *reinterpret_cast<const uint2*>(p1 + d);
#pragma unroll
      for (uint32_t tile = 0; tile < kTiles; ++tile) {
        const uint2 b = fragments[fused_fragment_index(step, tile, kTiles, lane)];
        mma_16816(acc[tile], low.x, high.x, low.y, high.y, b.x, b.y);
      }
    }

    // acc[tile][i]: row fused_product_row(lane, i) of the group (r0 or r1),
    // query fused_product_query(tile, lane, i).
    bool live[2];
    float norm[2];
#pragma unroll
    for (uint32_t h = 0; h < 2; ++h) {
      const uint64_t r = h == 0 ? r0 : r1;
      bool ok = r < end;
      if (ok && tombstones != nullptr) ok = ((tombstones[r >> 6] >> (r & 63)) & 1u) == 0;
      if (ok && allowed != nullptr) ok = ((allowed[r >> 6] >> (r & 63)) & 1u) != 0;
      live[h] = ok;
      norm[h] = row_norms != nullptr && r < n_rows ? row_norms[r] : 0.0f;
    }
    float keys[kTiles * 4];  // entry tile * 4 + i (fused_layout.h)
    uint32_t pass = 0;       // the same bits: candidates that may beat their threshold
#pragma unroll
    for (uint32_t tile = 0; tile < kTiles; ++tile) {
#pragma unroll
      for (uint32_t i = 0; i < 4; ++i) {
        const uint32_t h = fused_product_row(lane, i) >> 3;  // row g or g + 8
        const uint32_t q = fused_product_query(tile, lane, i);
        const float dot = acc[tile][i];
        float key = dot;
        if (row_norms != nullptr) key = -fmaxf(query_norm[q] + norm[h] - 2.0f * dot, 0.0f);
        keys[tile * 4 + i] = key;
        if (q < nq && live[h] && key >= my_thresholds[q]) pass |= 1u << (tile * 4 + i);
      }
    }
    if (!__any_sync(0xffffffffu, pass != 0)) continue;
    for (uint32_t q = 0; q < nq; ++q) {
      const bool owner = t == fused_query_position(q);  // lanes holding query q
#pragma unroll
      for (uint32_t h = 0; h < 2; ++h) {
        const uint32_t bit = fused_product_entry(q, h);
        const Candidate mine{pick(keys, bit), static_cast<uint32_t>(h == 0 ? r0 : r1)};
        unsigned pending = __ballot_sync(0xffffffffu, owner && ((pass >> bit) & 1u) != 0);
        while (pending != 0) {
          const int from = __ffs(pending) - 1;
          pending &= pending - 1;
          shared_queue_insert(my_queues + q * 32, my_thresholds + q, shfl_candidate(mine, from),
                              lane, k);
        }
      }
    }
  }

  __syncthreads();  // every warp's queues are final
  for (uint32_t q = warp; q < nq; q += kSelectWarps) {
    WarpQueue merged;
    merged.start(queues[q * 32 + lane], k);  // warp 0's
    const uint32_t kept = take_other_warps(merged, queues + q * 32, kQueries * 32, k);
    const uint64_t slot = static_cast<uint64_t>(q) * gridDim.x + blockIdx.x;
    if (lane < k) lists[slot * kSelectThreads + lane] = merged.mine;
    if (lane == 0) states[slot].count = kept;
  }
}

// ---- runtime -------------------------------------------------------------------

// Everything the device work of one query chunk reads: its operations and
// their arguments are a function of the plan alone (and of the slot that runs
// it), so a chunk whose plan equals one captured in a CUDA graph on the same
// slot replays that graph instead of enqueuing each operation again.
struct ChunkPlan {
  size_t nq = 0;
  uint32_t k = 0;
  size_t dim = 0;
  size_t stride = 0;
  size_t rows = 0;
  size_t tile_rows = 0;
  size_t splits = 0;
  size_t slice_rows = 0;
  bool warps = true;      // warp queues, else the block selection
  uint32_t capacity = 0;  // of each split's kept list
  // DeviceOptions::fused_scan: the n-tiles of 8 queries of the fused scan
  // (splits = its blocks, slice_rows = each one's rows); 0 = GEMM + selection.
  uint32_t fused_tiles = 0;
  // Device memory: the index's, then the slot's scratch.
  const __half* row_data = nullptr;
  const float* row_norms = nullptr;  // L2 only
  const uint64_t* tombstones = nullptr;
  const uint64_t* allowed = nullptr;
  const float* host_queries = nullptr;  // pinned
  float* queries_f32 = nullptr;
  __half* queries_f16 = nullptr;
  float* query_norms = nullptr;  // L2 only
  uint2* fragments = nullptr;    // the fused scan's packed queries
  float* ip[2] = {nullptr, nullptr};
  Candidate* lists = nullptr;
  SelectState* states = nullptr;
  void* result = nullptr;  // candidates, counts, the out-of-range flag
  void* host_result = nullptr;
  size_t result_bytes = 0;

  bool pipelined() const { return tile_rows < rows; }
  bool operator==(const ChunkPlan&) const = default;
};

// A chunk's device work captured once and replayed.
struct CapturedChunk {
  ChunkPlan plan;
  cudaGraphExec_t exec = nullptr;
};

// Graphs kept per slot (the least recently captured goes first), and the
// cuBLAS workspace each slot's handle is given (what cuBLAS recommends for
// Hopper; without one, every capture would allocate its own).
constexpr size_t kGraphsPerSlot = 8;
constexpr size_t kBlasWorkspaceBytes = size_t{32} << 20;

// One search's stream, cuBLAS handle and scratch.
// Row tiles alternate between two distance buffers, so that the matrix
// product of tile t + 1 (on `stream`, compute-bound) runs while the selection
// of tile t (on `select_stream`, memory-bound) reads the other buffer; events
// order the two.
struct SearchSlot {
  cudaStream_t stream = nullptr;         // uploads, query conversion, GEMMs
  cudaStream_t select_stream = nullptr;  // selection, merge, downloads
  cudaEvent_t gemm_done[2] = {nullptr, nullptr};
  cudaEvent_t select_done[2] = {nullptr, nullptr};
  cublasHandle_t blas = nullptr;
  // `result` = nq * k candidates, then nq counts, then the out-of-range flag:
  // one download brings all three back.
  DeviceBuffer queries_f32, queries_f16, query_norms, fragments, allowed, lists, states, result;
  DeviceBuffer ip[2];
  PinnedBuffer host_queries, host_result;
  // DeviceOptions::trace: timing events at the phase boundaries.
  cudaEvent_t trace[6] = {};
  DeviceBuffer blas_workspace;
  // DeviceOptions::graphs: chunks captured on this slot, the plan of the last
  // chunk run (a plan is captured when it comes twice in a row), and whether
  // capture failed here once (the slot then enqueues as without graphs).
  std::vector<CapturedChunk> graphs;
  ChunkPlan last_plan;
  bool graphs_failed = false;
  bool busy = false;
};

}  // namespace

class DeviceRuntime {
 public:
  explicit DeviceRuntime(DeviceOptions options) : options_(std::move(options)) {}
  ~DeviceRuntime() {
    if (cudaSetDevice(options_.device) != cudaSuccess) return;
    if (upload_stream_ != nullptr) {
      cudaStreamSynchronize(upload_stream_);
      cudaStreamDestroy(upload_stream_);
    }
    for (Stage& stage : stages_) {
      if (stage.copied != nullptr) cudaEventDestroy(stage.copied);
    }
    for (SearchSlot& slot : slots_) {
      for (CapturedChunk& captured : slot.graphs) cudaGraphExecDestroy(captured.exec);
      if (slot.blas != nullptr) cublasDestroy(slot.blas);
      for (cudaEvent_t event :
           {slot.gemm_done[0], slot.gemm_done[1], slot.select_done[0], slot.select_done[1]}) {
        if (event != nullptr) cudaEventDestroy(event);
      }
      for (cudaEvent_t event : slot.trace) {
        if (event != nullptr) cudaEventDestroy(event);
      }
      if (slot.stream != nullptr) cudaStreamDestroy(slot.stream);
      if (slot.select_stream != nullptr) cudaStreamDestroy(slot.select_stream);
    }
  }

  core::Status open() {
    int count = 0;
    VESTA_CUDA_TRY(cudaGetDeviceCount(&count));
    if (options_.device < 0 || options_.device >= count) {
      return {core::StatusCode::kUnavailable, "CUDA device " + std::to_string(options_.device) +
                                                  " does not exist (" + std::to_string(count) +
                                                  " found)"};
    }
    VESTA_CUDA_TRY(cudaSetDevice(options_.device));
    cudaDeviceProp prop{};
    VESTA_CUDA_TRY(cudaGetDeviceProperties(&prop, options_.device));
    facts_.device = options_.device;
    facts_.name = prop.name;
    facts_.multiprocessors = prop.multiProcessorCount;
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    VESTA_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
    facts_.free_bytes = free_bytes;
    facts_.total_bytes = total_bytes;
    slots_ = std::vector<SearchSlot>(std::max<size_t>(1, options_.max_concurrent_searches));
    for (SearchSlot& slot : slots_) {
      VESTA_CUDA_TRY(cudaStreamCreateWithFlags(&slot.stream, cudaStreamNonBlocking));
      VESTA_CUDA_TRY(cudaStreamCreateWithFlags(&slot.select_stream, cudaStreamNonBlocking));
      for (cudaEvent_t* event :
           {&slot.gemm_done[0], &slot.gemm_done[1], &slot.select_done[0], &slot.select_done[1]}) {
        VESTA_CUDA_TRY(cudaEventCreateWithFlags(event, cudaEventDisableTiming));
      }
      if (options_.trace) {
        for (cudaEvent_t& event : slot.trace) VESTA_CUDA_TRY(cudaEventCreate(&event));
      }
      VESTA_CUBLAS_TRY(cublasCreate(&slot.blas));
      VESTA_CUBLAS_TRY(cublasSetStream(slot.blas, slot.stream));
      VESTA_RETURN_IF_ERROR(slot.blas_workspace.reserve(kBlasWorkspaceBytes));
      VESTA_CUBLAS_TRY(
          cublasSetWorkspace(slot.blas, slot.blas_workspace.as<void>(), kBlasWorkspaceBytes));
      if (options_.gemm_multiprocessors > 0) {
        VESTA_CUBLAS_TRY(cublasSetSmCountTarget(
            slot.blas, std::min(options_.gemm_multiprocessors, facts_.multiprocessors)));
      }
    }
    if (options_.fused_scan) {
      for (const void* kernel : {reinterpret_cast<const void*>(&fused_scan_kernel<1>),
                                 reinterpret_cast<const void*>(&fused_scan_kernel<2>)}) {
        VESTA_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(kFusedMaxSharedBytes)));
      }
    }
    VESTA_CUDA_TRY(cudaStreamCreateWithFlags(&upload_stream_, cudaStreamNonBlocking));
    for (Stage& stage : stages_) {
      VESTA_CUDA_TRY(cudaEventCreateWithFlags(&stage.copied, cudaEventDisableTiming));
    }
    return core::Status::ok();
  }

  // Where every change of a device index is copied and computed (rows,
  // norms, tombstones), in order; searches wait on an event recorded here.
  cudaStream_t upload_stream() const { return upload_stream_; }

  // Copies `bytes` of host memory to `device` on the upload stream and returns
  // once the last piece is staged, not copied: pieces go through two pinned
  // buffers in turn, so the next piece is staged while one is copied, and the
  // host memory may change as soon as this returns. Uploads of several
  // indexes take turns.
  core::Status upload(void* device, const void* host, size_t bytes) {
    std::lock_guard lock(upload_mutex_);
    auto* to = static_cast<char*>(device);
    const auto* from = static_cast<const char*>(host);
    while (bytes > 0) {
      const size_t piece = std::min(bytes, kStageBytes);
      Stage& stage = stages_[next_stage_];
      next_stage_ ^= 1u;
      VESTA_CUDA_TRY(cudaEventSynchronize(stage.copied));  // its last piece has left
      VESTA_RETURN_IF_ERROR(stage.buffer.reserve(std::max(piece, kMinStageBytes)));
      std::memcpy(stage.buffer.as<char>(), from, piece);
      VESTA_CUDA_TRY(cudaMemcpyAsync(to, stage.buffer.as<char>(), piece, cudaMemcpyHostToDevice,
                                     upload_stream_));
      VESTA_CUDA_TRY(cudaEventRecord(stage.copied, upload_stream_));
      to += piece;
      from += piece;
      bytes -= piece;
    }
    return core::Status::ok();
  }

  const DeviceOptions& options() const { return options_; }
  const DeviceFacts& facts() const { return facts_; }

  void count(const SearchCounts& more) {
    std::lock_guard lock(mutex_);
    counts_.graphs_captured += more.graphs_captured;
    counts_.graphs_replayed += more.graphs_replayed;
    counts_.graph_failures += more.graph_failures;
    counts_.fused_chunks += more.fused_chunks;
  }
  SearchCounts counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

  SearchSlot& acquire() {
    std::unique_lock lock(mutex_);
    for (;;) {
      for (SearchSlot& slot : slots_) {
        if (!slot.busy) {
          slot.busy = true;
          return slot;
        }
      }
      freed_.wait(lock);
    }
  }
  void release(SearchSlot& slot) {
    {
      std::lock_guard lock(mutex_);
      slot.busy = false;
    }
    freed_.notify_one();
  }

 private:
  struct Stage {
    PinnedBuffer buffer;
    cudaEvent_t copied = nullptr;  // recorded after the copy out of `buffer`
  };

  DeviceOptions options_;
  DeviceFacts facts_;
  std::vector<SearchSlot> slots_;
  mutable std::mutex mutex_;  // guards the slots' busy flags and counts_
  SearchCounts counts_;
  std::condition_variable freed_;
  std::mutex upload_mutex_;  // guards stages_, next_stage_
  cudaStream_t upload_stream_ = nullptr;
  Stage stages_[2];
  unsigned next_stage_ = 0;
};

namespace {

class SlotLease {
 public:
  explicit SlotLease(DeviceRuntime& runtime) : runtime_(runtime), slot_(runtime.acquire()) {}
  ~SlotLease() { runtime_.release(slot_); }
  SlotLease(const SlotLease&) = delete;
  SlotLease& operator=(const SlotLease&) = delete;
  SearchSlot& slot() { return slot_; }

 private:
  DeviceRuntime& runtime_;
  SearchSlot& slot_;
};

size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Every change (rows, norms, tombstones) is made on the runtime's upload
// stream and ends with `changed_` recorded there; a search's streams wait on
// that event, so a change returns as soon as its host memory is staged.
class CudaFlatIndex final : public DeviceFlatIndex {
 public:
  CudaFlatIndex(std::shared_ptr<DeviceRuntime> runtime, size_t dim, size_t stride,
                DistanceKind kind)
      : runtime_(std::move(runtime)), dim_(dim), stride_(stride), kind_(kind) {}
  ~CudaFlatIndex() override {
    if (cudaSetDevice(runtime_->options().device) != cudaSuccess) return;
    // The buffers are freed next: no copy into them may still be running.
    cudaStreamSynchronize(runtime_->upload_stream());
    if (changed_ != nullptr) cudaEventDestroy(changed_);
  }
  CudaFlatIndex(const CudaFlatIndex&) = delete;
  CudaFlatIndex& operator=(const CudaFlatIndex&) = delete;

  core::Status init() {
    VESTA_CUDA_TRY(cudaSetDevice(runtime_->options().device));
    VESTA_CUDA_TRY(cudaEventCreateWithFlags(&changed_, cudaEventDisableTiming));
    return core::Status::ok();
  }

  size_t dim() const override { return dim_; }
  size_t rows() const override { return rows_; }
  size_t device_bytes() const override {
    return rows_buffer_.capacity() + norms_buffer_.capacity() + tombstones_buffer_.capacity();
  }

  core::Status append(const uint16_t* host_rows, size_t count) override {
    return append_from(host_rows, count, cudaMemcpyHostToDevice);
  }
  core::Status append_device(const void* device_rows, size_t count) override {
    return append_from(device_rows, count, cudaMemcpyDeviceToDevice);
  }

  core::Status write_rows(size_t first, const uint16_t* host_rows, size_t count) override {
    if (first + count > rows_) {
      return core::invalid_argument("write_rows past the end of the device rows");
    }
    VESTA_CUDA_TRY(cudaSetDevice(runtime_->options().device));
    VESTA_RETURN_IF_ERROR(runtime_->upload(rows_buffer_.as<__half>() + first * stride_, host_rows,
                                           count * stride_ * sizeof(__half)));
    VESTA_RETURN_IF_ERROR(update_norms(first, count));
    return mark_changed();
  }

  core::Status set_tombstones(const uint64_t* host_bits) override {
    VESTA_CUDA_TRY(cudaSetDevice(runtime_->options().device));
    const size_t words = div_up(rows_, 64);
    has_tombstones_ = false;
    for (size_t w = 0; w < words && !has_tombstones_; ++w) has_tombstones_ = host_bits[w] != 0;
    if (words == 0) return core::Status::ok();
    VESTA_RETURN_IF_ERROR(grow(tombstones_buffer_, words * sizeof(uint64_t), 0));
    VESTA_RETURN_IF_ERROR(
        runtime_->upload(tombstones_buffer_.as<uint64_t>(), host_bits, words * sizeof(uint64_t)));
    return mark_changed();
  }

  void clear() override {
    if (cudaSetDevice(runtime_->options().device) == cudaSuccess) {
      cudaStreamSynchronize(runtime_->upload_stream());
    }
    rows_ = 0;
    capacity_rows_ = 0;
    has_tombstones_ = false;
    rows_buffer_.release();
    norms_buffer_.release();
    tombstones_buffer_.release();
  }

  core::Status search(const float* queries, size_t n_queries, size_t k, const uint64_t* allowed,
                      std::vector<std::vector<Neighbor>>* hits) override;

 private:
  bool l2() const { return kind_ == DistanceKind::kL2Squared; }

  // Grows `buffer` (keeping its first `keep` bytes) once every copy into it
  // has finished: growing moves it.
  core::Status grow(DeviceBuffer& buffer, size_t bytes, size_t keep) {
    if (bytes <= buffer.capacity()) return core::Status::ok();
    VESTA_CUDA_TRY(cudaStreamSynchronize(runtime_->upload_stream()));
    return buffer.reserve(bytes, keep);
  }

  core::Status mark_changed() {
    VESTA_CUDA_TRY(cudaEventRecord(changed_, runtime_->upload_stream()));
    changed_recorded_ = true;
    return core::Status::ok();
  }

  core::Status append_from(const void* source, size_t count, cudaMemcpyKind direction) {
    if (count == 0) return core::Status::ok();
    if (rows_ + count > kMaxDeviceRows) {
      return {core::StatusCode::kResourceExhausted,
              "a device index holds at most " + std::to_string(kMaxDeviceRows) + " rows"};
    }
    VESTA_CUDA_TRY(cudaSetDevice(runtime_->options().device));
    const size_t needed = rows_ + count;
    if (needed > capacity_rows_) {
      // Geometric growth: appends cost amortised O(1) copies.
      const size_t grown = std::max<size_t>({needed, capacity_rows_ + capacity_rows_ / 2, 1024});
      VESTA_RETURN_IF_ERROR(
          grow(rows_buffer_, grown * stride_ * sizeof(__half), rows_ * stride_ * sizeof(__half)));
      if (l2()) {
        // Padded by 4: the selection reads norms four at a time.
        VESTA_RETURN_IF_ERROR(
            grow(norms_buffer_, (grown + 4) * sizeof(float), rows_ * sizeof(float)));
      }
      capacity_rows_ = grown;
    }
    __half* to = rows_buffer_.as<__half>() + rows_ * stride_;
    const size_t bytes = count * stride_ * sizeof(__half);
    if (direction == cudaMemcpyHostToDevice) {
      VESTA_RETURN_IF_ERROR(runtime_->upload(to, source, bytes));
    } else {
      // The source is the caller's device memory, free to reuse on return.
      VESTA_CUDA_TRY(cudaMemcpyAsync(to, source, bytes, direction, runtime_->upload_stream()));
      VESTA_CUDA_TRY(cudaStreamSynchronize(runtime_->upload_stream()));
    }
    const size_t first = rows_;
    rows_ = needed;
    VESTA_RETURN_IF_ERROR(update_norms(first, count));
    return mark_changed();
  }

  // Squared norms of rows [first, first + count), on the upload stream.
  core::Status update_norms(size_t first, size_t count) {
    if (!l2() || count == 0) return core::Status::ok();
    constexpr unsigned kThreads = 256;
    const size_t blocks = div_up(count * 32, kThreads);
    row_norms_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, runtime_->upload_stream()>>>(
        rows_buffer_.as<__half>(), first, count, stride_, dim_, norms_buffer_.as<float>());
    VESTA_CUDA_LAUNCHED("row_norms_kernel");
    return core::Status::ok();
  }

  core::Status search_chunk(SearchSlot& slot, const float* queries, size_t nq, size_t k,
                            const uint64_t* allowed_device, Neighbor* out, uint32_t* out_counts);
  // The device work of `plan` on the slot's streams, each operation enqueued
  // (with the phase events where `trace`).
  core::Status enqueue_chunk(SearchSlot& slot, const ChunkPlan& plan, bool trace);
  // Its fused form (plan.fused_tiles != 0), after the queries are converted.
  core::Status enqueue_fused(SearchSlot& slot, const ChunkPlan& plan, bool trace);
  // The merge of the splits' lists and the download of the results.
  core::Status enqueue_merge(SearchSlot& slot, const ChunkPlan& plan, cudaStream_t stream,
                             bool trace);
  // The same work from a CUDA graph: replayed where one of the slot's
  // matches, captured where the plan came twice in a row, else enqueued.
  core::Status run_captured(SearchSlot& slot, const ChunkPlan& plan);

  std::shared_ptr<DeviceRuntime> runtime_;
  size_t dim_;
  size_t stride_;
  DistanceKind kind_;
  size_t rows_ = 0;
  size_t capacity_rows_ = 0;
  bool has_tombstones_ = false;
  cudaEvent_t changed_ = nullptr;  // recorded after the last change
  bool changed_recorded_ = false;
  DeviceBuffer rows_buffer_, norms_buffer_, tombstones_buffer_;
};

core::Status CudaFlatIndex::search(const float* queries, size_t n_queries, size_t k,
                                   const uint64_t* allowed,
                                   std::vector<std::vector<Neighbor>>* hits) {
  hits->assign(n_queries, {});
  if (k > kMaxTopK) {
    return core::invalid_argument("limit " + std::to_string(k) + " exceeds the maximum of " +
                                  std::to_string(kMaxTopK));
  }
  if (n_queries == 0 || k == 0 || rows_ == 0) return core::Status::ok();
  if (runtime_->options().inject_search_failure) {
    return {core::StatusCode::kUnavailable, "injected device failure (DeviceOptions)"};
  }
  VESTA_CUDA_TRY(cudaSetDevice(runtime_->options().device));
  SlotLease lease(*runtime_);
  SearchSlot& slot = lease.slot();
  // Every change copied and computed before this search reads the rows. The
  // selection stream is ordered after `slot.stream` by events (or is it).
  if (changed_recorded_) VESTA_CUDA_TRY(cudaStreamWaitEvent(slot.stream, changed_, 0));

  const uint64_t* allowed_device = nullptr;
  if (allowed != nullptr) {
    const size_t bytes = div_up(rows_, 64) * sizeof(uint64_t);
    VESTA_RETURN_IF_ERROR(slot.allowed.reserve(bytes));
    VESTA_CUDA_TRY(cudaMemcpyAsync(slot.allowed.as<uint64_t>(), allowed, bytes,
                                   cudaMemcpyHostToDevice, slot.stream));
    allowed_device = slot.allowed.as<uint64_t>();
  }
  std::vector<Neighbor> out(std::min(n_queries, kMaxQueryChunk) * k);
  std::vector<uint32_t> counts(std::min(n_queries, kMaxQueryChunk));
  for (size_t first = 0; first < n_queries; first += kMaxQueryChunk) {
    const size_t nq = std::min(kMaxQueryChunk, n_queries - first);
    VESTA_RETURN_IF_ERROR(search_chunk(slot, queries + first * dim_, nq, k, allowed_device,
                                       out.data(), counts.data()));
    for (size_t q = 0; q < nq; ++q) {
      (*hits)[first + q].assign(out.begin() + static_cast<ptrdiff_t>(q * k),
                                out.begin() + static_cast<ptrdiff_t>(q * k + counts[q]));
    }
  }
  return core::Status::ok();
}

core::Status CudaFlatIndex::search_chunk(SearchSlot& slot, const float* queries, size_t nq,
                                         size_t k, const uint64_t* allowed_device, Neighbor* out,
                                         uint32_t* out_counts) {
  const DeviceOptions& options = runtime_->options();
  const auto host_start = std::chrono::steady_clock::now();
  ChunkPlan plan;
  plan.nq = nq;
  plan.k = static_cast<uint32_t>(k);
  plan.dim = dim_;
  plan.stride = stride_;
  plan.rows = rows_;
  // Small k: a queue per warp (select.h); else the block selects as one.
  plan.warps = uses_warp_queues(plan.k) && !options.block_select;
  plan.capacity = plan.warps ? kSelectThreads : select_capacity(plan.k, kSelectChunk);

  const size_t wanted_blocks =
      kBlocksPerMultiprocessor * static_cast<size_t>(runtime_->facts().multiprocessors);
  const uint32_t fused_tiles = nq <= kFusedTileQueries ? 1 : 2;
  if (options.fused_scan && plan.warps && nq <= kFusedMaxQueries &&
      fused_shared_bytes(stride_, fused_tiles) <= kFusedMaxSharedBytes) {
    // One pass over every row: blocks of at least kMinFusedRowsPerSplit rows,
    // about kBlocksPerMultiprocessor per SM.
    plan.fused_tiles = fused_tiles;
    plan.tile_rows = rows_;
    const size_t splits =
        std::clamp<size_t>(div_up(rows_, kMinFusedRowsPerSplit), 1, wanted_blocks);
    plan.slice_rows = div_up(div_up(rows_, splits), kFusedGroupRows) * kFusedGroupRows;
    plan.splits = div_up(rows_, plan.slice_rows);
  } else {
    // Row tiles sized by the scratch budget (two distance buffers); splits so
    // that small batches still fill the device.
    const size_t budget_rows =
        std::max<size_t>(options.scratch_bytes / 2 / (nq * sizeof(float)), 1);
    plan.tile_rows = std::min(std::max(kTileAlign, budget_rows / kTileAlign * kTileAlign), rows_);
    const size_t splits = std::clamp<size_t>(
        div_up(wanted_blocks, nq), 1, std::max<size_t>(1, plan.tile_rows / kMinRowsPerSplit));
    // Slices start 16-byte aligned (TileSource reads four floats at once).
    plan.slice_rows = div_up(div_up(plan.tile_rows, splits), 4) * 4;
    plan.splits = div_up(plan.tile_rows, plan.slice_rows);
  }

  // Queries: pinned copy (uploaded and converted to float16 on the device,
  // with norms for L2).
  VESTA_RETURN_IF_ERROR(slot.host_queries.reserve(nq * dim_ * sizeof(float)));
  std::memcpy(slot.host_queries.as<float>(), queries, nq * dim_ * sizeof(float));
  VESTA_RETURN_IF_ERROR(slot.queries_f32.reserve(nq * dim_ * sizeof(float)));
  VESTA_RETURN_IF_ERROR(slot.queries_f16.reserve(nq * stride_ * sizeof(__half)));
  VESTA_RETURN_IF_ERROR(slot.query_norms.reserve(nq * sizeof(float)));
  plan.result_bytes = nq * k * sizeof(Candidate) + (nq + 1) * sizeof(uint32_t);
  VESTA_RETURN_IF_ERROR(slot.result.reserve(plan.result_bytes));
  VESTA_RETURN_IF_ERROR(slot.host_result.reserve(plan.result_bytes));
  if (plan.fused_tiles != 0) {
    VESTA_RETURN_IF_ERROR(
        slot.fragments.reserve(size_t{fused_steps(static_cast<uint32_t>(stride_))} *
                               plan.fused_tiles * 32 * sizeof(uint2)));
    plan.fragments = slot.fragments.as<uint2>();
  } else {
    // One tile uses ip[0] only; the second buffer is for overlapping tiles.
    for (size_t b = 0; b < (plan.pipelined() ? 2u : 1u); ++b) {
      VESTA_RETURN_IF_ERROR(slot.ip[b].reserve(div_up(plan.tile_rows, 4) * 4 * nq * sizeof(float)));
      plan.ip[b] = slot.ip[b].as<float>();
    }
  }
  VESTA_RETURN_IF_ERROR(slot.lists.reserve(nq * plan.splits * plan.capacity * sizeof(Candidate)));
  VESTA_RETURN_IF_ERROR(slot.states.reserve(nq * plan.splits * sizeof(SelectState)));

  plan.row_data = rows_buffer_.as<__half>();
  plan.row_norms = l2() ? norms_buffer_.as<float>() : nullptr;
  plan.tombstones = has_tombstones_ ? tombstones_buffer_.as<uint64_t>() : nullptr;
  plan.allowed = allowed_device;
  plan.host_queries = slot.host_queries.as<float>();
  plan.queries_f32 = slot.queries_f32.as<float>();
  plan.queries_f16 = slot.queries_f16.as<__half>();
  plan.query_norms = l2() ? slot.query_norms.as<float>() : nullptr;
  plan.lists = slot.lists.as<Candidate>();
  plan.states = slot.states.as<SelectState>();
  plan.result = slot.result.as<void>();
  plan.host_result = slot.host_result.as<void>();

  // With one tile there is nothing to overlap: one stream, no events.
  cudaStream_t select_stream = plan.pipelined() ? slot.select_stream : slot.stream;
  if (options.graphs && !options.trace && !plan.pipelined() && !slot.graphs_failed) {
    VESTA_RETURN_IF_ERROR(run_captured(slot, plan));
  } else {
    VESTA_RETURN_IF_ERROR(enqueue_chunk(slot, plan, options.trace));
  }
  const auto host_enqueued = std::chrono::steady_clock::now();
  if (plan.fused_tiles != 0) runtime_->count({.fused_chunks = 1});
  VESTA_CUDA_TRY(cudaStreamSynchronize(select_stream));
  if (plan.pipelined()) VESTA_CUDA_TRY(cudaStreamSynchronize(slot.stream));
  if (options.trace) {
    const auto host_done = std::chrono::steady_clock::now();
    float ms[5] = {};
    // trace[2] (last GEMM) is on the other stream: the selection's tail is
    // measured from it.
    VESTA_CUDA_TRY(cudaEventElapsedTime(&ms[0], slot.trace[0], slot.trace[1]));
    VESTA_CUDA_TRY(cudaEventElapsedTime(&ms[1], slot.trace[1], slot.trace[2]));
    VESTA_CUDA_TRY(cudaEventElapsedTime(&ms[2], slot.trace[2], slot.trace[3]));
    VESTA_CUDA_TRY(cudaEventElapsedTime(&ms[3], slot.trace[3], slot.trace[4]));
    VESTA_CUDA_TRY(cudaEventElapsedTime(&ms[4], slot.trace[4], slot.trace[5]));
    auto us = [&](auto a, auto b) {
      return std::chrono::duration<double, std::micro>(b - a).count();
    };
    std::fprintf(stderr,
                 "vesta trace: nq %zu k %zu rows %zu tiles %zu splits %zu %s | host: enqueue %.1f "
                 "us, wall %.1f us | device: queries %.1f, GEMMs %.1f, selection after the "
                 "last GEMM %.1f, merge %.1f, download %.1f us\n",
                 nq, k, rows_, div_up(rows_, plan.tile_rows), plan.splits,
                 plan.warps ? "warps" : "blocks", us(host_start, host_enqueued),
                 us(host_start, host_done), ms[0] * 1e3, ms[1] * 1e3, ms[2] * 1e3, ms[3] * 1e3,
                 ms[4] * 1e3);
  }
  const Candidate* host_out = slot.host_result.as<Candidate>();
  const uint32_t* host_counts = reinterpret_cast<const uint32_t*>(host_out + nq * k);
  if (*reinterpret_cast<const int*>(host_counts + nq) != 0) {
    return core::invalid_argument(
        "a query holds a value that is not finite or does not fit float16");
  }
  const bool higher = !l2();
  for (size_t q = 0; q < nq; ++q) {
    out_counts[q] = host_counts[q];
    for (uint32_t j = 0; j < out_counts[q]; ++j) {
      const Candidate& c = host_out[q * k + j];
      out[q * k + j] = Neighbor{distance_of_key(c.key, higher), c.row};
    }
  }
  return core::Status::ok();
}

core::Status CudaFlatIndex::run_captured(SearchSlot& slot, const ChunkPlan& plan) {
  for (const CapturedChunk& captured : slot.graphs) {
    if (captured.plan == plan) {
      VESTA_CUDA_TRY(cudaGraphLaunch(captured.exec, slot.stream));
      runtime_->count({.graphs_replayed = 1});
      return core::Status::ok();
    }
  }
  // A plan seen once is enqueued as it is: a shape that changes with every
  // search (rows appended between searches) never pays for a capture.
  const bool again = slot.last_plan == plan;
  slot.last_plan = plan;
  if (!again) return enqueue_chunk(slot, plan, false);

  VESTA_CUDA_TRY(cudaStreamBeginCapture(slot.stream, cudaStreamCaptureModeThreadLocal));
  const core::Status enqueued = enqueue_chunk(slot, plan, false);
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(slot.stream, &graph);
  cudaGraphExec_t exec = nullptr;
  cudaError_t made = ended;
  if (enqueued.is_ok() && ended == cudaSuccess) made = cudaGraphInstantiate(&exec, graph, 0);
  if (graph != nullptr) cudaGraphDestroy(graph);
  if (!enqueued.is_ok() || made != cudaSuccess) {
    // Nothing ran: the slot searches without graphs from now on.
    (void)cudaGetLastError();
    slot.graphs_failed = true;
    runtime_->count({.graph_failures = 1});
    std::fprintf(stderr,
                 "vesta: CUDA device %d: capturing a search as a CUDA graph failed (%s); this "
                 "search slot enqueues each operation instead\n",
                 runtime_->options().device,
                 !enqueued.is_ok() ? enqueued.message().c_str() : cudaGetErrorString(made));
    return enqueue_chunk(slot, plan, false);
  }
  if (slot.graphs.size() == kGraphsPerSlot) {
    cudaGraphExecDestroy(slot.graphs.front().exec);
    slot.graphs.erase(slot.graphs.begin());
  }
  slot.graphs.push_back({plan, exec});
  VESTA_CUDA_TRY(cudaGraphLaunch(exec, slot.stream));
  runtime_->count({.graphs_captured = 1, .graphs_replayed = 1});
  return core::Status::ok();
}

core::Status CudaFlatIndex::enqueue_chunk(SearchSlot& slot, const ChunkPlan& plan, bool trace) {
  cudaStream_t stream = slot.stream;
  cudaStream_t select_stream = plan.pipelined() ? slot.select_stream : stream;
  const size_t nq = plan.nq;
  if (trace) VESTA_CUDA_TRY(cudaEventRecord(slot.trace[0], stream));
  Candidate* result_out = static_cast<Candidate*>(plan.result);
  uint32_t* result_counts = reinterpret_cast<uint32_t*>(result_out + nq * plan.k);
  int* result_flag = reinterpret_cast<int*>(result_counts + nq);
  VESTA_CUDA_TRY(cudaMemcpyAsync(plan.queries_f32, plan.host_queries, nq * plan.dim * sizeof(float),
                                 cudaMemcpyHostToDevice, stream));
  VESTA_CUDA_TRY(cudaMemsetAsync(result_flag, 0, sizeof(int), stream));
  convert_queries_kernel<<<static_cast<unsigned>(nq), 128, 0, stream>>>(
      plan.queries_f32, plan.dim, plan.stride, plan.queries_f16, plan.query_norms, result_flag);
  VESTA_CUDA_LAUNCHED("convert_queries_kernel");
  if (trace) VESTA_CUDA_TRY(cudaEventRecord(slot.trace[1], stream));
  if (plan.fused_tiles != 0) return enqueue_fused(slot, plan, trace);
  VESTA_CUDA_TRY(cudaMemsetAsync(plan.states, 0, nq * plan.splits * sizeof(SelectState), stream));

  const float alpha = 1.0f;
  const float beta = 0.0f;
  size_t tile = 0;
  for (size_t tile_first = 0; tile_first < plan.rows; tile_first += plan.tile_rows, ++tile) {
    const size_t this_rows = std::min(plan.tile_rows, plan.rows - tile_first);
    const size_t ldc = div_up(this_rows, 4) * 4;  // keeps every query's column aligned
    const size_t b = tile % 2;
    float* ip = plan.ip[b];
    // The selection of tile - 2 must be done with this buffer.
    if (tile >= 2) VESTA_CUDA_TRY(cudaStreamWaitEvent(stream, slot.select_done[b], 0));
    // ip (this_rows x nq, column-major) = rows_tile^T * queries.
    VESTA_CUBLAS_TRY(cublasGemmEx(
        slot.blas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(this_rows), static_cast<int>(nq),
        static_cast<int>(plan.dim), &alpha, plan.row_data + tile_first * plan.stride, CUDA_R_16F,
        static_cast<int>(plan.stride), plan.queries_f16, CUDA_R_16F, static_cast<int>(plan.stride),
        &beta, ip, CUDA_R_32F, static_cast<int>(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    if (plan.pipelined()) {
      VESTA_CUDA_TRY(cudaEventRecord(slot.gemm_done[b], stream));
      VESTA_CUDA_TRY(cudaStreamWaitEvent(select_stream, slot.gemm_done[b], 0));
    }
    const bool last = tile_first + this_rows >= plan.rows;
    const dim3 grid(static_cast<unsigned>(plan.splits), static_cast<unsigned>(nq));
    if (plan.warps) {
      select_tile_queues_kernel<<<grid, kSelectThreads, 0, select_stream>>>(
          ip, ldc, tile_first, this_rows, plan.slice_rows, plan.row_norms, plan.query_norms,
          plan.tombstones, plan.allowed, plan.k, last, plan.lists, plan.states);
      VESTA_CUDA_LAUNCHED("select_tile_queues_kernel");
    } else {
      select_tile_kernel<<<grid, kSelectThreads, 0, select_stream>>>(
          ip, ldc, tile_first, this_rows, plan.slice_rows, plan.row_norms, plan.query_norms,
          plan.tombstones, plan.allowed, plan.k, plan.capacity, last, plan.lists, plan.states);
      VESTA_CUDA_LAUNCHED("select_tile_kernel");
    }
    if (plan.pipelined()) VESTA_CUDA_TRY(cudaEventRecord(slot.select_done[b], select_stream));
    if (trace && last) {
      VESTA_CUDA_TRY(cudaEventRecord(slot.trace[2], stream));
      VESTA_CUDA_TRY(cudaEventRecord(slot.trace[3], select_stream));
    }
  }
  return enqueue_merge(slot, plan, select_stream, trace);
}

core::Status CudaFlatIndex::enqueue_fused(SearchSlot& slot, const ChunkPlan& plan, bool trace) {
  cudaStream_t stream = slot.stream;
  const uint32_t stride = static_cast<uint32_t>(plan.stride);
  const uint32_t entries = fused_steps(stride) * plan.fused_tiles * 32;
  pack_query_fragments_kernel<<<div_up(entries, 256), 256, 0, stream>>>(
      plan.queries_f16, static_cast<uint32_t>(plan.nq), stride, plan.fused_tiles, plan.fragments);
  VESTA_CUDA_LAUNCHED("pack_query_fragments_kernel");
  const size_t shared = fused_shared_bytes(plan.stride, plan.fused_tiles);
  const unsigned blocks = static_cast<unsigned>(plan.splits);
  if (plan.fused_tiles == 1) {
    fused_scan_kernel<1><<<blocks, kSelectThreads, shared, stream>>>(
        plan.row_data, stride, plan.rows, plan.slice_rows, plan.fragments,
        static_cast<uint32_t>(plan.nq), plan.row_norms, plan.query_norms, plan.tombstones,
        plan.allowed, plan.k, plan.lists, plan.states);
  } else {
    fused_scan_kernel<2><<<blocks, kSelectThreads, shared, stream>>>(
        plan.row_data, stride, plan.rows, plan.slice_rows, plan.fragments,
        static_cast<uint32_t>(plan.nq), plan.row_norms, plan.query_norms, plan.tombstones,
        plan.allowed, plan.k, plan.lists, plan.states);
  }
  VESTA_CUDA_LAUNCHED("fused_scan_kernel");
  if (trace) {
    VESTA_CUDA_TRY(cudaEventRecord(slot.trace[2], stream));
    VESTA_CUDA_TRY(cudaEventRecord(slot.trace[3], stream));
  }
  return enqueue_merge(slot, plan, stream, trace);
}

core::Status CudaFlatIndex::enqueue_merge(SearchSlot& slot, const ChunkPlan& plan,
                                          cudaStream_t stream, bool trace) {
  const size_t nq = plan.nq;
  Candidate* result_out = static_cast<Candidate*>(plan.result);
  uint32_t* result_counts = reinterpret_cast<uint32_t*>(result_out + nq * plan.k);
  const uint32_t splits = static_cast<uint32_t>(plan.splits);
  if (plan.warps) {
    merge_lists_queues_kernel<<<static_cast<unsigned>(nq), kSelectThreads, 0, stream>>>(
        plan.lists, plan.states, splits, plan.k, result_out, result_counts);
    VESTA_CUDA_LAUNCHED("merge_lists_queues_kernel");
  } else {
    merge_lists_kernel<<<static_cast<unsigned>(nq), kSelectThreads, 0, stream>>>(
        plan.lists, plan.states, splits, plan.k, plan.capacity, result_out, result_counts);
    VESTA_CUDA_LAUNCHED("merge_lists_kernel");
  }
  if (trace) VESTA_CUDA_TRY(cudaEventRecord(slot.trace[4], stream));
  VESTA_CUDA_TRY(cudaMemcpyAsync(plan.host_result, plan.result, plan.result_bytes,
                                 cudaMemcpyDeviceToHost, stream));
  if (trace) VESTA_CUDA_TRY(cudaEventRecord(slot.trace[5], stream));
  return core::Status::ok();
}

}  // namespace

core::Result<std::shared_ptr<DeviceRuntime>> open_device(const DeviceOptions& options) {
  auto runtime = std::make_shared<DeviceRuntime>(options);
  VESTA_RETURN_IF_ERROR(runtime->open());
  return runtime;
}

DeviceFacts device_facts(const DeviceRuntime& runtime) { return runtime.facts(); }

SearchCounts search_counts(const DeviceRuntime& runtime) { return runtime.counts(); }

core::Result<std::unique_ptr<DeviceFlatIndex>> DeviceFlatIndex::create(
    std::shared_ptr<DeviceRuntime> runtime, size_t dim, size_t stride, DistanceKind kind) {
  if (runtime == nullptr) return core::invalid_argument("no device runtime");
  if (dim == 0 || stride < dim || stride % 8 != 0) {
    return core::invalid_argument("device rows need 0 < dim <= stride, stride a multiple of 8");
  }
  auto index = std::make_unique<CudaFlatIndex>(std::move(runtime), dim, stride, kind);
  VESTA_RETURN_IF_ERROR(index->init());
  return std::unique_ptr<DeviceFlatIndex>(std::move(index));
}

}  // namespace vesta::kernels::cuda
