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
  const size_t parts =
      std::clamp<size_t>(rows / kMinRowsPerPart, 1, parallelism_ * kPartsPerThread);
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
