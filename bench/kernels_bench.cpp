// Micro-benchmarks of the CPU kernels (Google Benchmark).
//   build/bench/kernels_bench --benchmark_filter=scan
// Bytes/s counts the float16 rows read; items/s counts query-row distances.

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/float16.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/scan.h"
#include "kernels/cpu/top_k.h"

namespace {

using vesta::kernels::DistanceKind;
using vesta::kernels::Isa;

struct Data {
  std::vector<float> queries;
  std::vector<uint16_t> rows;
};

Data make_data(size_t n_queries, size_t n_rows, size_t dim) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  Data d;
  d.queries.resize(n_queries * dim);
  for (float& x : d.queries) x = normal(rng);
  std::vector<float> rows(n_rows * dim);
  for (float& x : rows) x = normal(rng) * 0.05f;
  d.rows.resize(rows.size());
  vesta::core::floats_to_halves(rows, d.rows);
  return d;
}

// args: isa, queries, dim, kind
void bm_distance_tile(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  if (isa > vesta::kernels::detected_isa()) {
    state.SkipWithError("instruction set not supported by this CPU");
    return;
  }
  const size_t nq = static_cast<size_t>(state.range(1));
  const size_t dim = static_cast<size_t>(state.range(2));
  const auto kind = static_cast<DistanceKind>(state.range(3));
  constexpr size_t kRows = 256;
  const Data d = make_data(nq, kRows, dim);
  std::vector<float> out(nq * kRows);
  for (auto _ : state) {
    vesta::kernels::compute_distance_tile(kind, d.queries.data(), nq, d.rows.data(), kRows, dim,
                                          out.data(), kRows, isa);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * nq * kRows));
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * nq * kRows * dim * 2) / 1e9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(bm_distance_tile)
    ->ArgNames({"isa", "queries", "dim", "kind"})
    ->ArgsProduct({{0, 1, 2}, {1, 6, 21, 64}, {768}, {0, 1}});

// Whole-range scan with selection, single thread: args queries, rows.
void bm_scan_rows(benchmark::State& state) {
  const size_t nq = static_cast<size_t>(state.range(0));
  const size_t n_rows = static_cast<size_t>(state.range(1));
  constexpr size_t kDim = 768;
  const Data d = make_data(nq, n_rows, kDim);
  for (auto _ : state) {
    std::vector<vesta::kernels::TopKCollector> collectors(nq, {10, true});
    vesta::kernels::scan_rows(DistanceKind::kInnerProduct, d.queries.data(), nq, d.rows.data(),
                              kDim, 0, n_rows, {}, collectors.data());
    benchmark::DoNotOptimize(collectors.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n_rows * kDim * 2));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * nq * n_rows));
}
BENCHMARK(bm_scan_rows)
    ->ArgNames({"queries", "rows"})
    ->ArgsProduct({{1, 2, 3, 4, 6, 16, 21, 64, 256}, {30000, 262144}});

void bm_top_k_push(benchmark::State& state) {
  const size_t k = static_cast<size_t>(state.range(0));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform;
  std::vector<float> scores(1 << 16);
  for (float& s : scores) s = uniform(rng);
  for (auto _ : state) {
    vesta::kernels::TopKCollector collector(k, true);
    for (size_t i = 0; i < scores.size(); ++i) collector.push(scores[i], i);
    benchmark::DoNotOptimize(collector.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * scores.size()));
}
BENCHMARK(bm_top_k_push)->Arg(10)->Arg(100)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
