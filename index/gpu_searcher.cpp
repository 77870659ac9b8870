#include "index/gpu_searcher.h"

#include <string>

namespace vesta::index {
namespace {

// Past this share of rewritten rows, copying the whole index is cheaper than
// copying rows one by one.
constexpr size_t kRewriteReuploadDivisor = 8;

}  // namespace

GpuSearcher::GpuSearcher(std::shared_ptr<kernels::cuda::DeviceRuntime> runtime)
    : runtime_(std::move(runtime)) {}

size_t GpuSearcher::bytes_needed(const FlatIndex& index) {
  size_t bytes = index.row_count() * index.stride() * sizeof(uint16_t);
  if (index.metric() == Metric::kEuclid) bytes += index.row_count() * sizeof(float);
  return bytes + (index.row_count() + 63) / 64 * sizeof(uint64_t);
}

size_t GpuSearcher::resident_bytes() const {
  std::lock_guard lock(mutex_);
  size_t total = 0;
  for (const auto& [id, mirror] : mirrors_) {
    std::shared_lock mirror_lock(mirror->mutex);
    if (mirror->device) total += mirror->device->device_bytes();
  }
  return total;
}

std::shared_ptr<GpuSearcher::Mirror> GpuSearcher::mirror_for(const FlatIndex& index) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Mirror>& slot = mirrors_[index.instance_id()];
  if (!slot) slot = std::make_shared<Mirror>();
  return slot;
}

void GpuSearcher::forget(const FlatIndex& index) {
  std::shared_ptr<Mirror> mirror;
  {
    std::lock_guard lock(mutex_);
    auto it = mirrors_.find(index.instance_id());
    if (it == mirrors_.end()) return;
    mirror = std::move(it->second);
    mirrors_.erase(it);
  }
  std::unique_lock mirror_lock(mirror->mutex);  // waits for searches in flight
  mirror->device.reset();
}

bool GpuSearcher::in_step(const Mirror& mirror, const FlatIndex& index) {
  return mirror.device && mirror.generation == index.generation() &&
         mirror.rows == index.row_count() &&
         mirror.rewritten_seen == index.rewritten_rows().size() &&
         mirror.tombstone_version == index.tombstone_version();
}

core::Status GpuSearcher::bring_up_to_date(Mirror& mirror, const FlatIndex& index) {
  if (!mirror.device) {
    core::Result<std::unique_ptr<kernels::cuda::DeviceFlatIndex>> created =
        kernels::cuda::DeviceFlatIndex::create(runtime_, index.dim(), index.stride(),
                                               distance_kind(index.metric()));
    if (!created.is_ok()) return created.status();
    mirror.device = std::move(created).value();
    mirror.rows = 0;
    mirror.rewritten_seen = 0;
    mirror.generation = index.generation();
  }
  const std::span<const uint64_t> rewritten = index.rewritten_rows();
  const size_t fresh_rewrites =
      rewritten.size() - std::min(mirror.rewritten_seen, rewritten.size());
  if (mirror.generation != index.generation() ||
      fresh_rewrites > mirror.rows / kRewriteReuploadDivisor + 1) {
    // Row numbers changed, or so much was rewritten: copy everything again.
    mirror.device->clear();
    mirror.rows = 0;
    mirror.generation = index.generation();
    mirror.rewritten_seen = rewritten.size();
  }
  for (size_t i = mirror.rewritten_seen; i < rewritten.size(); ++i) {
    const uint64_t row = rewritten[i];
    if (row >= mirror.rows) continue;  // not copied yet: the append below copies it
    VESTA_RETURN_IF_ERROR(mirror.device->write_rows(row, index.rows() + row * index.stride(), 1));
  }
  mirror.rewritten_seen = rewritten.size();
  if (index.row_count() > mirror.rows) {
    VESTA_RETURN_IF_ERROR(mirror.device->append(index.rows() + mirror.rows * index.stride(),
                                                index.row_count() - mirror.rows));
    mirror.rows = index.row_count();
  }
  // The device bitmap covers the rows it holds; set it after appends.
  VESTA_RETURN_IF_ERROR(mirror.device->set_tombstones(index.tombstones()));
  mirror.tombstone_version = index.tombstone_version();
  return core::Status::ok();
}

core::Result<SearchHits> GpuSearcher::search(const FlatIndex& index, const SearchRequest& request) {
  if (request.k > kernels::kMaxTopK) {
    return core::invalid_argument("limit " + std::to_string(request.k) +
                                  " exceeds the maximum of " + std::to_string(kernels::kMaxTopK));
  }
  SearchHits hits(request.n_queries);
  if (request.n_queries == 0 || request.k == 0 || index.row_count() == 0) return hits;
  std::shared_ptr<Mirror> mirror = mirror_for(index);
  // The caller holds the collection lock shared, so the index cannot change
  // here; concurrent searches of it may each find the mirror behind, and the
  // first to take the exclusive lock brings it up to date.
  std::shared_lock search_lock(mirror->mutex);
  while (!in_step(*mirror, index)) {
    search_lock.unlock();
    {
      std::unique_lock update_lock(mirror->mutex);
      if (!in_step(*mirror, index)) {
        core::Status status = bring_up_to_date(*mirror, index);
        if (!status.is_ok()) {
          mirror->device.reset();  // start from nothing next time
          return status;
        }
      }
    }
    search_lock.lock();
  }
  VESTA_RETURN_IF_ERROR(mirror->device->search(request.queries, request.n_queries, request.k,
                                               request.allowed, &hits));
  return hits;
}

}  // namespace vesta::index
