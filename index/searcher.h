#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/flat_index.h"
#include "kernels/cpu/top_k.h"

namespace vesta::index {

// One batch of nearest-neighbour queries against a FlatIndex.
struct SearchRequest {
  const float* queries = nullptr;  // n_queries x index.dim(), prepared (Cosine: normalised)
  size_t n_queries = 0;
  size_t k = 0;                       // <= kernels::kMaxTopK
  const uint64_t* allowed = nullptr;  // optional row bitmap; clear bit = filtered out
};

// Per query, the best k live rows, best first; scores are kernel distances
// (inner product, or squared L2 for Euclid).
using SearchHits = std::vector<std::vector<kernels::Neighbor>>;

// A way to run a SearchRequest: the CPU path now, the GPU path later. Both
// read the same FlatIndex under the caller's shared collection lock, so an
// implementation must not mutate the index. Implementations are thread-safe:
// several batches may run at once.
class Searcher {
 public:
  virtual ~Searcher() = default;
  virtual std::string_view name() const = 0;
  virtual core::Result<SearchHits> search(const FlatIndex& index, const SearchRequest& request) = 0;
  // The index is going away: drop anything kept for it (device copies).
  virtual void forget(const FlatIndex& /*index*/) {}
  // `index` changed (a write applied, a compaction, a restore). Called under
  // the caller's exclusive collection lock, so nothing searches it meanwhile.
  // A searcher that keeps a copy of the index elsewhere may start bringing it
  // up to date now rather than at the next search (the GPU searcher starts the
  // copy on a stream and returns). Never fails the write: a problem shows at
  // the next search.
  virtual void index_changed(const FlatIndex& /*index*/) {}
  // How many searches of `index` can run at once before they slow each
  // other down: dynamic batching (SearchBatcher) starts no more batches of a
  // collection than this at once; further requests wait for one to end,
  // gathering into the next batch meanwhile. 1 (the default): one search uses
  // the whole device or every thread, so concurrent requests gain most by
  // sharing it. Called under the caller's shared collection lock.
  virtual size_t searches_side_by_side(const FlatIndex& /*index*/) const { return 1; }
};

}  // namespace vesta::index
