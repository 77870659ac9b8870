#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "index/searcher.h"
#include "index/shard_layout.h"
#include "kernels/cuda/flat_search.h"

namespace vesta::index {

// Exhaustive search on CUDA devices. Keeps a device mirror of each index it
// has searched (float16 rows, tombstone mask, norms for Euclid), brought up to
// date from what changed on the host (appended rows, rows rewritten in place,
// tombstones, compaction) as soon as the write tells it (index_changed: the
// copy starts on the device's upload stream and the write goes on), or at the
// start of the next search otherwise. With several
// device runtimes, each mirror is sharded over them (index/shard_layout.h:
// blocks of rows in turn), every shard is searched on its device at the same
// time, and the shards' top-k lists are merged on the host. Distances come from
// cuBLAS (float16 inputs, float32 accumulation) and top-k from the selection
// kernels of kernels/cuda. Queries are rounded to float16 on the device, so
// scores differ from the CPU path's by that rounding (see docs/architecture.md).
//
// Thread-safe: searches of one index run concurrently on separate streams;
// bringing a mirror up to date waits for them. Any CUDA or cuBLAS failure is
// returned as a Status (the PlacementSearcher then moves the index to the CPU).
class GpuSearcher final : public Searcher {
 public:
  explicit GpuSearcher(std::shared_ptr<kernels::cuda::DeviceRuntime> runtime);
  // One shard per runtime (several runtimes of one device work too: tests
  // shard on one GPU), in blocks of `shard_block_rows` rows (a multiple of
  // 64).
  GpuSearcher(std::vector<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtimes,
              size_t shard_block_rows);

  std::string_view name() const override { return "gpu"; }
  core::Result<SearchHits> search(const FlatIndex& index, const SearchRequest& request) override;
  void forget(const FlatIndex& index) override;
  // Starts copying the change to the devices when `index` has a mirror (it
  // was searched here before); an index never searched here is left alone.
  void index_changed(const FlatIndex& index) override;

  // Whether the mirror of `index` holds every change the host index has
  // (false when there is none). For tests and diagnostics.
  bool mirror_in_step(const FlatIndex& index) const;

  // Device memory held by the mirrors.
  size_t resident_bytes() const;
  // Device memory a mirror of `index` needs (rows and norms, without growth slack).
  static size_t bytes_needed(const FlatIndex& index);

 private:
  struct Mirror {
    std::shared_mutex mutex;  // shared: searching; exclusive: bringing up to date
    // One per shard (runtimes_[s]); empty: not on the devices yet.
    std::vector<std::unique_ptr<kernels::cuda::DeviceFlatIndex>> device;
    uint64_t generation = 0;
    size_t rows = 0;
    size_t rewritten_seen = 0;
    uint64_t tombstone_version = 0;
  };

  std::shared_ptr<Mirror> mirror_for(const FlatIndex& index);             // made when absent
  std::shared_ptr<Mirror> existing_mirror(const FlatIndex& index) const;  // null when absent
  static bool in_step(const Mirror& mirror, const FlatIndex& index);
  core::Status bring_up_to_date(Mirror& mirror, const FlatIndex& index);

  // Searches every shard and merges; one shard: its search alone.
  core::Status search_shards(Mirror& mirror, const FlatIndex& index, const SearchRequest& request,
                             SearchHits* hits);

  std::vector<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtimes_;
  ShardLayout layout_;
  mutable std::mutex mutex_;                                       // guards mirrors_
  std::unordered_map<uint64_t, std::shared_ptr<Mirror>> mirrors_;  // by FlatIndex::instance_id()
};

}  // namespace vesta::index
