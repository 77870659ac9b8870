#include "index/cpu_searcher.h"

#include <algorithm>
#include <string>

#include "kernels/cpu/scan.h"

namespace vesta::index {
namespace {

// Rows per part: below this, splitting costs more than it saves.
constexpr size_t kMinRowsPerPart = 8192;
// Parts per thread, so a thread delayed by other work does not hold up the batch.
constexpr size_t kPartsPerThread = 4;

}  // namespace

CpuSearcher::CpuSearcher(core::ThreadPool& pool, size_t parallelism, kernels::Isa isa)
    : pool_(pool), parallelism_(parallelism == 0 ? pool.size() : parallelism), isa_(isa) {}

size_t CpuSearcher::parts_for(size_t rows) const {
  const size_t parts =
      std::clamp<size_t>(rows / kMinRowsPerPart, 1, parallelism_ * kPartsPerThread);
  // More parts than threads: a whole number of parts per thread, so that no
  // thread idles while another does one more (3 parts on 2 threads took the
  // time of 4).
  if (parts <= parallelism_) return parts;
  return (parts + parallelism_ - 1) / parallelism_ * parallelism_;
}

size_t CpuSearcher::searches_side_by_side(const FlatIndex& index) const {
  // A search split into fewer parts than there are threads leaves the rest
  // idle: that many more searches can run beside it (a small collection:
  // one part, one thread per search).
  return std::max<size_t>(1, parallelism_ / parts_for(index.row_count()));
}

core::Result<SearchHits> CpuSearcher::search(const FlatIndex& index, const SearchRequest& request) {
  if (request.k > kernels::kMaxTopK) {
    return core::invalid_argument("limit " + std::to_string(request.k) +
                                  " exceeds the maximum of " + std::to_string(kernels::kMaxTopK));
  }
  const size_t nq = request.n_queries;
  SearchHits hits(nq);
  const size_t rows = index.row_count();
  if (nq == 0 || request.k == 0 || rows == 0) return hits;

  // Pad the queries to the kernel stride (zeros after dim).
  const size_t dim = index.dim();
  const size_t stride = index.stride();
  std::vector<float> queries(nq * stride, 0.0f);
  for (size_t q = 0; q < nq; ++q) {
    std::copy_n(request.queries + q * dim, dim,
                queries.begin() + static_cast<ptrdiff_t>(q * stride));
  }

  const kernels::DistanceKind kind = distance_kind(index.metric());
  const bool higher = higher_is_better(index.metric());
  const size_t parts = parts_for(rows);
  const size_t rows_per_part = (rows + parts - 1) / parts;

  std::vector<std::vector<kernels::TopKCollector>> partial(
      parts, std::vector<kernels::TopKCollector>(nq, kernels::TopKCollector(request.k, higher)));
  const kernels::RowFilter filter{index.tombstone_count() > 0 ? index.tombstones() : nullptr,
                                  request.allowed};
  pool_.parallel_for(
      parts,
      [&](size_t p) {
        const size_t begin = p * rows_per_part;
        const size_t end = std::min(rows, begin + rows_per_part);
        kernels::scan_rows(kind, queries.data(), nq, index.rows(), stride, begin, end, filter,
                           partial[p].data(), isa_);
      },
      parallelism_);

  for (size_t q = 0; q < nq; ++q) {
    for (size_t p = 1; p < parts; ++p) partial[0][q].merge(partial[p][q]);
    hits[q] = partial[0][q].take_sorted();
  }
  return hits;
}

}  // namespace vesta::index
