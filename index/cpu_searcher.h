#pragma once

#include "core/thread_pool.h"
#include "index/searcher.h"
#include "kernels/cpu/isa.h"

namespace vesta::index {

// Exhaustive search on the CPU: splits the rows into ranges, scans each range
// on the thread pool (kernels::scan_rows) with its own top-k per query, and
// merges the partial lists. Results are deterministic whatever the split, as
// top-k breaks ties by row. Thread-safe; borrows the pool, which must outlive it.
class CpuSearcher final : public Searcher {
 public:
  // `parallelism` = threads one batch may use (0 = the pool's size).
  explicit CpuSearcher(core::ThreadPool& pool, size_t parallelism = 0,
                       kernels::Isa isa = kernels::active_isa());

  std::string_view name() const override { return "cpu"; }
  core::Result<SearchHits> search(const FlatIndex& index, const SearchRequest& request) override;
  // The pool's parallelism over the parts a search of `index` is split into
  // (at least 1): a small collection's search runs on one thread, leaving the
  // others to searches beside it.
  size_t searches_side_by_side(const FlatIndex& index) const override;

 private:
  // The row ranges a search of `rows` rows is split into.
  size_t parts_for(size_t rows) const;
  core::ThreadPool& pool_;
  size_t parallelism_;
  kernels::Isa isa_;
};

}  // namespace vesta::index
