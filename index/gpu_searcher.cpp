#include "index/gpu_searcher.h"

#include <algorithm>
#include <string>
#include <thread>

namespace vesta::index {
namespace {

// Past this share of rewritten rows, copying the whole index is cheaper than
// copying rows one by one.
constexpr size_t kRewriteReuploadDivisor = 8;

}  // namespace

GpuSearcher::GpuSearcher(std::shared_ptr<kernels::cuda::DeviceRuntime> runtime)
    : GpuSearcher(std::vector{std::move(runtime)}, ShardLayout{}.block_rows) {}

GpuSearcher::GpuSearcher(std::vector<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtimes,
                         size_t shard_block_rows)
    : runtimes_(std::move(runtimes)), layout_{runtimes_.size(), shard_block_rows} {
  VESTA_CHECK(!runtimes_.empty()) << "a GpuSearcher needs a device runtime";
  VESTA_CHECK(shard_block_rows > 0 && shard_block_rows % 64 == 0)
      << "shard blocks must be a multiple of 64 rows, got " << shard_block_rows;
}

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
    for (const auto& shard : mirror->device) total += shard->device_bytes();
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
  mirror->device.clear();
}

std::shared_ptr<GpuSearcher::Mirror> GpuSearcher::existing_mirror(const FlatIndex& index) const {
  std::lock_guard lock(mutex_);
  auto it = mirrors_.find(index.instance_id());
  return it == mirrors_.end() ? nullptr : it->second;
}

void GpuSearcher::index_changed(const FlatIndex& index) {
  std::shared_ptr<Mirror> mirror = existing_mirror(index);
  if (mirror == nullptr) return;
  std::unique_lock mirror_lock(mirror->mutex);
  if (mirror->device.empty() || in_step(*mirror, index)) return;
  // A failure leaves no mirror: the next search builds it again, and meets
  // the failure itself if it persists (and the placement falls back).
  if (!bring_up_to_date(*mirror, index).is_ok()) mirror->device.clear();
}

bool GpuSearcher::mirror_in_step(const FlatIndex& index) const {
  std::shared_ptr<Mirror> mirror = existing_mirror(index);
  if (mirror == nullptr) return false;
  std::shared_lock mirror_lock(mirror->mutex);
  return in_step(*mirror, index);
}

bool GpuSearcher::in_step(const Mirror& mirror, const FlatIndex& index) {
  return !mirror.device.empty() && mirror.generation == index.generation() &&
         mirror.rows == index.row_count() &&
         mirror.rewritten_seen == index.rewritten_rows().size() &&
         mirror.tombstone_version == index.tombstone_version();
}

core::Status GpuSearcher::bring_up_to_date(Mirror& mirror, const FlatIndex& index) {
  if (mirror.device.empty()) {
    for (const auto& runtime : runtimes_) {
      core::Result<std::unique_ptr<kernels::cuda::DeviceFlatIndex>> created =
          kernels::cuda::DeviceFlatIndex::create(runtime, index.dim(), index.stride(),
                                                 distance_kind(index.metric()));
      if (!created.is_ok()) {
        mirror.device.clear();
        return created.status();
      }
      mirror.device.push_back(std::move(created).value());
    }
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
    for (const auto& shard : mirror.device) shard->clear();
    mirror.rows = 0;
    mirror.generation = index.generation();
    mirror.rewritten_seen = rewritten.size();
  }
  for (size_t i = mirror.rewritten_seen; i < rewritten.size(); ++i) {
    const uint64_t row = rewritten[i];
    if (row >= mirror.rows) continue;  // not copied yet: the append below copies it
    VESTA_RETURN_IF_ERROR(mirror.device[layout_.shard_of(row)]->write_rows(
        layout_.local_row(row), index.rows() + row * index.stride(), 1));
  }
  mirror.rewritten_seen = rewritten.size();
  // New rows, a block's piece at a time to the shard that holds the block
  // (always at that shard's end).
  for (uint64_t row = mirror.rows; row < index.row_count();) {
    const uint64_t end =
        std::min<uint64_t>(index.row_count(), (row / layout_.block_rows + 1) * layout_.block_rows);
    kernels::cuda::DeviceFlatIndex& shard = *mirror.device[layout_.shard_of(row)];
    VESTA_CHECK(shard.rows() == layout_.local_row(row))
        << "shard of row " << row << " holds " << shard.rows() << " rows";
    VESTA_RETURN_IF_ERROR(shard.append(index.rows() + row * index.stride(), end - row));
    row = end;
  }
  mirror.rows = index.row_count();
  // The device bitmaps cover the rows each holds; set them after appends.
  if (mirror.device.size() == 1) {
    VESTA_RETURN_IF_ERROR(mirror.device[0]->set_tombstones(index.tombstones()));
  } else {
    for (size_t s = 0; s < mirror.device.size(); ++s) {
      const std::vector<uint64_t> bits =
          layout_.gather_bits(s, index.tombstones(), index.row_count());
      VESTA_RETURN_IF_ERROR(mirror.device[s]->set_tombstones(bits.data()));
    }
  }
  mirror.tombstone_version = index.tombstone_version();
  return core::Status::ok();
}

core::Status GpuSearcher::search_shards(Mirror& mirror, const FlatIndex& index,
                                        const SearchRequest& request, SearchHits* hits) {
  const size_t shards = mirror.device.size();
  if (shards == 1) {
    return mirror.device[0]->search(request.queries, request.n_queries, request.k, request.allowed,
                                    hits);
  }
  // Every shard at once (each on its own device), its rows mapped back to
  // the index's, then one top-k per query over all of them.
  std::vector<SearchHits> partial(shards);
  std::vector<core::Status> status(shards, core::Status::ok());
  auto search_one = [&](size_t s) {
    std::vector<uint64_t> allowed;
    if (request.allowed != nullptr) {
      allowed = layout_.gather_bits(s, request.allowed, index.row_count());
    }
    status[s] = mirror.device[s]->search(request.queries, request.n_queries, request.k,
                                         request.allowed != nullptr ? allowed.data() : nullptr,
                                         &partial[s]);
  };
  std::vector<std::thread> others;
  others.reserve(shards - 1);
  for (size_t s = 1; s < shards; ++s) others.emplace_back(search_one, s);
  search_one(0);
  for (std::thread& t : others) t.join();
  for (const core::Status& st : status) VESTA_RETURN_IF_ERROR(st);
  const bool higher = higher_is_better(index.metric());
  hits->assign(request.n_queries, {});
  for (size_t q = 0; q < request.n_queries; ++q) {
    kernels::TopKCollector best(request.k, higher);
    for (size_t s = 0; s < shards; ++s) {
      if (q >= partial[s].size()) continue;
      for (const kernels::Neighbor& n : partial[s][q]) {
        best.push(n.score, layout_.global_row(s, n.row));
      }
    }
    (*hits)[q] = best.take_sorted();
  }
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
          mirror->device.clear();  // start from nothing next time
          return status;
        }
      }
    }
    search_lock.lock();
  }
  VESTA_RETURN_IF_ERROR(search_shards(*mirror, index, request, &hits));
  return hits;
}

}  // namespace vesta::index
