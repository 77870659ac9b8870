#pragma once

// Exact k-nearest-neighbour search over float16 rows resident on one CUDA
// device. Plain C++: callers need no CUDA headers, and a build without CUDA
// links a stub whose create() answers Unavailable.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/top_k.h"

namespace vesta::kernels::cuda {

struct DeviceOptions {
  int device = 0;
  // Device scratch one search may use for its distance tile (queries x rows
  // float32); larger tiles mean fewer, larger matrix products.
  size_t scratch_bytes = size_t{256} << 20;
  // Searches that may run at once on the device, each on its own stream with
  // its own scratch; more wait for a free one.
  size_t max_concurrent_searches = 4;
  // Multiprocessors cuBLAS aims each distance GEMM at (cublasSetSmCountTarget;
  // 0 = all). Fewer leave the rest to the selection of the previous row tile,
  // which then runs beside the GEMM instead of after it (large batches).
  int gemm_multiprocessors = 0;
  // Selection by whole thread blocks even where k is small enough for each
  // warp to select on its own (the faster default); for comparisons.
  bool block_select = false;
  // Searches of one tile (the small batches) replay a CUDA graph per slot
  // and shape instead of enqueuing each copy, kernel and matrix product: a
  // shape is captured the second time in a row it comes, and each slot keeps
  // its last 8. Cuts the host's share of a small search. Off until measured
  // on a device (docs/benchmarks.md).
  bool graphs = false;
  // Batches of up to 16 queries with k <= 32 read the rows once in a fused
  // kernel (tensor-core dot products of 16 rows at a time, selection in the
  // same pass) instead of a matrix product and a selection over its float32
  // distance tile. Off until measured on a device (docs/benchmarks.md).
  bool fused_scan = false;
  // Diagnostics: every search prints its phase times (device events and host
  // clock) to stderr. Costs a little; for benchmarks.
  bool trace = false;
  // Fault injection for tests: every search fails as a CUDA error would
  // (Unavailable), so the fallback to the CPU can be tested on a real device.
  bool inject_search_failure = false;
};

// What one device offers, read once.
struct DeviceFacts {
  int device = 0;
  std::string name;
  int multiprocessors = 0;
  size_t total_bytes = 0;
  size_t free_bytes = 0;  // when the runtime was opened
};

// How the searches of one runtime ran (counted per chunk of up to 4096
// queries).
struct SearchCounts {
  uint64_t graphs_captured = 0;  // shapes captured as CUDA graphs (DeviceOptions::graphs)
  uint64_t graphs_replayed = 0;  // chunks run from a captured graph
  uint64_t graph_failures = 0;   // captures that failed (that slot stops capturing)
  uint64_t fused_chunks = 0;     // chunks searched by the fused scan (DeviceOptions::fused_scan)
};

class DeviceRuntime;

// Opens `options.device`: a cuBLAS handle and stream per search slot. Fails
// with Unavailable when there is no driver, no such device, or (in a build
// without CUDA) no CUDA at all.
core::Result<std::shared_ptr<DeviceRuntime>> open_device(const DeviceOptions& options);
DeviceFacts device_facts(const DeviceRuntime& runtime);
SearchCounts search_counts(const DeviceRuntime& runtime);

// The float16 rows of one index on one device: a mirror that the owner keeps in
// step with the host copy (append, overwrite, tombstones). Row r here is row r
// of the host index. Changes are asynchronous: a call returns once its host
// memory has been staged in pinned buffers (the caller may change or free it
// then), the copy runs on the device runtime's upload stream, and a later
// search waits for it on the device, not on the host. Mutations must not run
// while a search of this mirror runs (the owner serialises them); searches may
// run concurrently with each other.
class DeviceFlatIndex {
 public:
  // `stride` = halves per host row (>= dim); `kind` = how rows are compared.
  static core::Result<std::unique_ptr<DeviceFlatIndex>> create(
      std::shared_ptr<DeviceRuntime> runtime, size_t dim, size_t stride, DistanceKind kind);
  virtual ~DeviceFlatIndex() = default;

  virtual size_t dim() const = 0;
  virtual size_t rows() const = 0;
  // Device memory held (rows, norms, tombstones), for budgets and metrics.
  virtual size_t device_bytes() const = 0;

  // Appends `count` rows of `stride` halves from host memory.
  virtual core::Status append(const uint16_t* host_rows, size_t count) = 0;
  // Appends `count` rows already in device memory (stride halves each);
  // returns once they are copied (the caller may reuse that memory).
  virtual core::Status append_device(const void* device_rows, size_t count) = 0;
  // Rewrites rows [first, first + count) from host memory.
  virtual core::Status write_rows(size_t first, const uint16_t* host_rows, size_t count) = 0;
  // Replaces the tombstone bitmap (bit r set = row r deleted), rows() bits.
  virtual core::Status set_tombstones(const uint64_t* host_bits) = 0;
  // Drops every row.
  virtual void clear() = 0;

  // Per query, the best k live rows allowed by `allowed` (optional row bitmap,
  // rows() bits, clear bit = filtered out), best first, as kernel distances
  // (inner product, or squared L2). Queries are float32, `dim` values each,
  // and are rounded to float16 on the device (out-of-range values fail the
  // request with InvalidArgument).
  virtual core::Status search(const float* queries, size_t n_queries, size_t k,
                              const uint64_t* allowed,
                              std::vector<std::vector<Neighbor>>* hits) = 0;
};

}  // namespace vesta::kernels::cuda
