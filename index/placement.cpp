#include "index/placement.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "kernels/cuda/device_info.h"

namespace vesta::index {
namespace {

// Share of the free device memory the default budget takes (percent).
constexpr size_t kDefaultBudgetPercent = 90;

std::string gib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1u << 30));
  return text;
}

}  // namespace

std::optional<DeviceMode> parse_device_mode(std::string_view text) {
  if (text == "auto") return DeviceMode::kAuto;
  if (text == "gpu") return DeviceMode::kGpu;
  if (text == "cpu") return DeviceMode::kCpu;
  return std::nullopt;
}

std::string_view device_mode_name(DeviceMode mode) {
  switch (mode) {
    case DeviceMode::kAuto: return "auto";
    case DeviceMode::kGpu: return "gpu";
    case DeviceMode::kCpu: return "cpu";
  }
  return "?";
}

std::optional<std::vector<int>> parse_gpu_devices(std::string_view text) {
  std::vector<int> devices;
  if (text == "all") return devices;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view part = text.substr(start, comma - start);
    int device = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), device);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || device < 0 ||
        std::find(devices.begin(), devices.end(), device) != devices.end()) {
      return std::nullopt;
    }
    devices.push_back(device);
    start = comma + 1;
  }
  return devices;
}

core::Result<std::unique_ptr<PlacementSearcher>> PlacementSearcher::create(
    Searcher& cpu, const PlacementOptions& options) {
  if (options.mode == DeviceMode::kCpu) {
    return std::unique_ptr<PlacementSearcher>(
        new PlacementSearcher(cpu, nullptr, 0, "cpu (--device cpu)"));
  }
  std::vector<int> devices = options.gpu_devices;
  if (devices.empty()) {
    const kernels::cuda::DeviceProbe probe = kernels::cuda::probe_devices();
    for (int d = 0; d < probe.device_count; ++d) devices.push_back(d);
    if (devices.empty()) devices.push_back(0);  // its failure below says why
  }
  std::vector<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtimes;
  size_t budget = 0;
  std::string description;
  for (int device : devices) {
    kernels::cuda::DeviceOptions device_options = options.device;
    device_options.device = device;
    core::Result<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtime =
        kernels::cuda::open_device(device_options);
    if (!runtime.is_ok()) {
      const std::string why =
          (devices.size() > 1 ? "device " + std::to_string(device) + ": " : std::string()) +
          runtime.status().message();
      if (options.mode == DeviceMode::kGpu) {
        return core::Status(core::StatusCode::kUnavailable,
                            "--device gpu, but no GPU can be used: " + why);
      }
      return std::unique_ptr<PlacementSearcher>(
          new PlacementSearcher(cpu, nullptr, 0, "cpu (no GPU: " + why + ")"));
    }
    const kernels::cuda::DeviceFacts facts = kernels::cuda::device_facts(*runtime.value());
    // The default leaves room for the searches' own scratch (two distance
    // buffers per concurrent search, grown on first use).
    const size_t scratch =
        options.device.scratch_bytes * std::max<size_t>(1, options.device.max_concurrent_searches);
    const size_t usable = facts.free_bytes / 100 * kDefaultBudgetPercent;
    const size_t device_budget = options.gpu_memory_budget != 0 ? options.gpu_memory_budget
                                 : usable > scratch             ? usable - scratch
                                                                : 0;
    budget += device_budget;
    description += (description.empty() ? "gpu " : "; gpu ") + std::to_string(facts.device) + ": " +
                   facts.name + " (" + std::to_string(facts.multiprocessors) + " SMs, " +
                   gib(facts.total_bytes) + ", budget " + gib(device_budget) + ")";
    runtimes.push_back(std::move(runtime).value());
  }
  if (runtimes.size() > 1) {
    description += "; collections sharded over " + std::to_string(runtimes.size()) +
                   " devices in blocks of " + std::to_string(options.shard_block_rows) + " rows";
  }
  return std::unique_ptr<PlacementSearcher>(new PlacementSearcher(
      cpu, std::make_unique<GpuSearcher>(std::move(runtimes), options.shard_block_rows), budget,
      std::move(description), std::max<size_t>(1, options.device.max_concurrent_searches)));
}

PlacementSearcher::PlacementSearcher(Searcher& cpu, std::unique_ptr<GpuSearcher> gpu, size_t budget,
                                     std::string description, size_t gpu_searches_at_once)
    : cpu_(cpu),
      gpu_(std::move(gpu)),
      budget_(budget),
      description_(std::move(description)),
      gpu_searches_at_once_(gpu_searches_at_once) {}

bool PlacementSearcher::may_use_gpu(const FlatIndex& index) const {
  if (gpu_ == nullptr) return false;
  std::lock_guard lock(mutex_);
  return !cpu_only_.contains(index.instance_id());
}

bool PlacementSearcher::stays_on_gpu(const FlatIndex& index) {
  if (!may_use_gpu(index)) return false;
  if (fits(index)) return true;
  gpu_->forget(index);  // an index grown past the budget gives its device memory back
  return false;
}

size_t PlacementSearcher::searches_side_by_side(const FlatIndex& index) const {
  return may_use_gpu(index) && fits(index) ? gpu_searches_at_once_
                                           : cpu_.searches_side_by_side(index);
}

bool PlacementSearcher::fits(const FlatIndex& index) const {
  // Counts the index's own mirror too: a rough, safe bound.
  return gpu_->resident_bytes() + GpuSearcher::bytes_needed(index) <= budget_;
}

core::Result<SearchHits> PlacementSearcher::search(const FlatIndex& index,
                                                   const SearchRequest& request) {
  size_t bucket = 0;
  while (bucket + 1 < kBatchSizeBuckets && (size_t{1} << bucket) < request.n_queries) ++bucket;
  ++batch_sizes_[bucket];
  queries_ += request.n_queries;
  if (stays_on_gpu(index)) {
    core::Result<SearchHits> hits = gpu_->search(index, request);
    if (hits.is_ok() || hits.status().code() == core::StatusCode::kInvalidArgument) {
      ++gpu_searches_;
      return hits;
    }
    {
      std::lock_guard lock(mutex_);
      cpu_only_.insert(index.instance_id());
    }
    gpu_->forget(index);
    ++fallbacks_;
    std::fprintf(stderr,
                 "vesta: GPU search failed (%s); this collection (%zu rows) is served by the CPU "
                 "from now on\n",
                 hits.status().message().c_str(), index.row_count());
  }
  ++cpu_searches_;
  return cpu_.search(index, request);
}

void PlacementSearcher::index_changed(const FlatIndex& index) {
  if (stays_on_gpu(index)) gpu_->index_changed(index);
  cpu_.index_changed(index);
}

void PlacementSearcher::forget(const FlatIndex& index) {
  if (gpu_ != nullptr) gpu_->forget(index);
  cpu_.forget(index);
  std::lock_guard lock(mutex_);
  cpu_only_.erase(index.instance_id());
}

PlacementStats PlacementSearcher::stats() const {
  PlacementStats stats{
      gpu_searches_.load(), cpu_searches_.load(), fallbacks_.load(), queries_.load(), {}};
  for (size_t b = 0; b < kBatchSizeBuckets; ++b) stats.batch_sizes[b] = batch_sizes_[b].load();
  return stats;
}

}  // namespace vesta::index
