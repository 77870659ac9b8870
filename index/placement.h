#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "index/gpu_searcher.h"
#include "index/searcher.h"
#include "kernels/cuda/flat_search.h"

namespace vesta::index {

// Where searches run: `auto` uses a GPU when one is found, `gpu` requires one,
// `cpu` never opens a device.
enum class DeviceMode { kAuto, kGpu, kCpu };
std::optional<DeviceMode> parse_device_mode(std::string_view text);  // auto|gpu|cpu
std::string_view device_mode_name(DeviceMode mode);

struct PlacementOptions {
  DeviceMode mode = DeviceMode::kAuto;
  // Device memory the index mirrors may hold on each device; 0 = 90% of what
  // was free when the device was opened, less the search scratch
  // (scratch_bytes per concurrent search).
  size_t gpu_memory_budget = 0;
  // The devices to shard collections over; empty: every visible device.
  std::vector<int> gpu_devices;
  // Rows per shard block (a multiple of 64; index/shard_layout.h).
  size_t shard_block_rows = 65536;
  kernels::cuda::DeviceOptions device;  // .device is set per device
};

// "all" or a comma-separated list of device numbers ("0,2").
std::optional<std::vector<int>> parse_gpu_devices(std::string_view text);

// Searcher calls by batch size: bucket b counts calls of at most 2^b queries
// (and more than 2^(b-1)); the last bucket also takes anything larger.
inline constexpr size_t kBatchSizeBuckets = 13;  // 1, 2, 4, ..., 4096

struct PlacementStats {
  uint64_t gpu_searches = 0;  // batches answered on the GPU
  uint64_t cpu_searches = 0;  // batches answered on the CPU
  uint64_t fallbacks = 0;     // indexes moved to the CPU after a device failure
  uint64_t queries = 0;       // queries in all batches
  std::array<uint64_t, kBatchSizeBuckets> batch_sizes{};
};

// Sends each batch to the GPU searcher when a device is open and the index
// fits the device memory budget, else to the CPU searcher. A device failure
// (CUDA or cuBLAS error, memory exhausted) moves that index to the CPU for
// good, with one log line on stderr and a count in stats(); the batch that met
// the failure is answered on the CPU, so the caller never sees it. Errors in
// the request itself (InvalidArgument) are returned as they are.
// Thread-safe.
class PlacementSearcher final : public Searcher {
 public:
  // Fails only in mode gpu when no device can be opened.
  static core::Result<std::unique_ptr<PlacementSearcher>> create(Searcher& cpu,
                                                                 const PlacementOptions& options);

  std::string_view name() const override { return "placement"; }
  core::Result<SearchHits> search(const FlatIndex& index, const SearchRequest& request) override;
  void forget(const FlatIndex& index) override;
  // Passed to the GPU searcher while the index is served there; an index
  // grown past the budget leaves the device, as at a search.
  void index_changed(const FlatIndex& index) override;
  // On a GPU, the searches its runtime runs at once (each on its own stream);
  // on the CPU what the CPU searcher says.
  size_t searches_side_by_side(const FlatIndex& index) const override;

  bool gpu_available() const { return gpu_ != nullptr; }
  // One line for logs: "gpu 0: NVIDIA H200 (132 SMs, budget 120.0 GiB)" or
  // "cpu (no GPU: <reason>)".
  const std::string& description() const { return description_; }
  size_t gpu_memory_budget() const { return budget_; }
  // Device memory the GPU mirrors hold now (0 without a GPU).
  size_t gpu_resident_bytes() const { return gpu_ ? gpu_->resident_bytes() : 0; }
  PlacementStats stats() const;

 private:
  PlacementSearcher(Searcher& cpu, std::unique_ptr<GpuSearcher> gpu, size_t budget,
                    std::string description, size_t gpu_searches_at_once = 1);
  bool fits(const FlatIndex& index) const;
  // A GPU exists and has not failed this index.
  bool may_use_gpu(const FlatIndex& index) const;
  // may_use_gpu and the index fits the budget; one that no longer fits is
  // forgotten on the device (searches and writes both ask this).
  bool stays_on_gpu(const FlatIndex& index);

  Searcher& cpu_;
  std::unique_ptr<GpuSearcher> gpu_;  // null: CPU only
  size_t budget_;
  std::string description_;
  size_t gpu_searches_at_once_;
  mutable std::mutex mutex_;               // guards cpu_only_
  std::unordered_set<uint64_t> cpu_only_;  // FlatIndex::instance_id() after a failure
  std::atomic<uint64_t> gpu_searches_{0};
  std::atomic<uint64_t> cpu_searches_{0};
  std::atomic<uint64_t> fallbacks_{0};
  std::atomic<uint64_t> queries_{0};
  std::array<std::atomic<uint64_t>, kBatchSizeBuckets> batch_sizes_{};
};

}  // namespace vesta::index
