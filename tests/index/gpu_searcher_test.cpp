// The GPU searcher against the CPU searcher on fresh random data, and the
// placement between them. GPU cases skip with the reason where no device can
// be used (always in CI); the placement cases without a device run there.

#include "index/gpu_searcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "core/float16.h"
#include "core/thread_pool.h"
#include "index/cpu_searcher.h"
#include "index/placement.h"
#include "kernels/cuda/device_info.h"
#include "test_seed.h"

namespace vesta::index {
namespace {

using core::PointId;

// A device runtime for the test, or the reason there is none.
std::shared_ptr<kernels::cuda::DeviceRuntime> open_or_skip_reason(
    const kernels::cuda::DeviceOptions& options, std::string* reason) {
  core::Result<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtime =
      kernels::cuda::open_device(options);
  if (!runtime.is_ok()) {
    *reason = "no CUDA device can be used here: " + runtime.status().message();
    return nullptr;
  }
  return std::move(runtime).value();
}
std::shared_ptr<kernels::cuda::DeviceRuntime> open_or_skip_reason(size_t scratch_bytes,
                                                                  std::string* reason) {
  kernels::cuda::DeviceOptions options;
  options.scratch_bytes = scratch_bytes;
  return open_or_skip_reason(options, reason);
}

#define VESTA_OPEN_DEVICE_OR_SKIP(var, scratch)             \
  std::string var##_reason;                                 \
  auto var = open_or_skip_reason((scratch), &var##_reason); \
  if (var == nullptr) GTEST_SKIP() << var##_reason

bool allowed_row(const uint64_t* allowed, uint64_t r) {
  return allowed == nullptr || ((allowed[r / 64] >> (r % 64)) & 1) != 0;
}

// The exact kernel distance (float64) of a float32 query and a stored row, and
// a bound on how far the GPU's may be from it: the query is rounded to float16
// (by at most 2^-11 of a value, or 2^-25 below float16's smallest normal,
// 2^-14, where its spacing is 2^-24), products accumulate in float32, and
// Euclid is computed as |q|^2 + |r|^2 - 2 q.r.
struct Exact {
  double distance;
  double bound;
};
Exact exact(const FlatIndex& index, const float* query, uint64_t row) {
  const std::vector<float> r = index.row_vector(row);
  double ip = 0, abs_ip = 0, l2 = 0, ip_rounding = 0, l2_rounding = 0, qn = 0, rn = 0;
  for (size_t i = 0; i < index.dim(); ++i) {
    const double q = query[i];
    const double rounding = std::max(std::ldexp(std::fabs(q), -11), std::ldexp(1.0, -25));
    ip += q * r[i];
    abs_ip += std::fabs(q * r[i]);
    l2 += (q - r[i]) * (q - r[i]);
    ip_rounding += rounding * std::fabs(r[i]);
    l2_rounding += rounding * std::fabs(q - r[i]);
    qn += q * q;
    rn += static_cast<double>(r[i]) * r[i];
  }
  const double d = static_cast<double>(index.dim());
  if (index.metric() == Metric::kEuclid) {
    return {l2, 2 * l2_rounding + std::ldexp(qn + rn + 2 * abs_ip, -20) * (1 + d / 64)};
  }
  return {ip, 2 * ip_rounding + std::ldexp(abs_ip, -23) * d};
}

// GPU hits against CPU hits for one batch: same counts; every GPU hit live,
// allowed, unique, with a score within the bound of exact; ids equal except
// where the scores at the cut tie within the bounds. Returns how many ids
// differed (for the log).
size_t expect_same_neighbours(const FlatIndex& index, const std::vector<float>& queries, size_t nq,
                              const uint64_t* allowed, const SearchHits& gpu, const SearchHits& cpu,
                              const std::string& what) {
  const bool higher = higher_is_better(index.metric());
  auto key = [&](double distance) { return higher ? distance : -distance; };
  size_t differing = 0;
  EXPECT_EQ(gpu.size(), nq) << what;
  for (size_t q = 0; q < nq && q < gpu.size(); ++q) {
    const float* query = queries.data() + q * index.dim();
    EXPECT_EQ(gpu[q].size(), cpu[q].size()) << what << " query " << q;
    std::set<uint64_t> gpu_rows, cpu_rows;
    for (const kernels::Neighbor& n : cpu[q]) cpu_rows.insert(n.row);
    double previous = 0;
    for (size_t j = 0; j < gpu[q].size(); ++j) {
      const kernels::Neighbor& n = gpu[q][j];
      EXPECT_LT(n.row, index.row_count()) << what;
      if (n.row >= index.row_count()) return differing + 1;
      EXPECT_TRUE(index.is_live(n.row)) << what << " deleted row " << n.row;
      EXPECT_TRUE(allowed_row(allowed, n.row)) << what << " filtered row " << n.row;
      EXPECT_TRUE(gpu_rows.insert(n.row).second) << what << " duplicate row " << n.row;
      const Exact e = exact(index, query, n.row);
      EXPECT_NEAR(n.score, e.distance, e.bound) << what << " query " << q << " rank " << j;
      if (j > 0) {
        EXPECT_LE(key(n.score), previous) << what << " not sorted at rank " << j;
      }
      previous = key(n.score);
    }
    if (cpu[q].empty() || gpu[q].empty()) continue;
    const Exact cpu_last = exact(index, query, cpu[q].back().row);
    const Exact gpu_last = exact(index, query, gpu[q].back().row);
    for (uint64_t row : gpu_rows) {
      if (cpu_rows.count(row) != 0) continue;
      ++differing;
      const Exact e = exact(index, query, row);
      EXPECT_GE(key(e.distance), key(cpu_last.distance) - e.bound - cpu_last.bound)
          << what << " query " << q << ": GPU kept row " << row << " far below the CPU's cut";
    }
    for (uint64_t row : cpu_rows) {
      if (gpu_rows.count(row) != 0) continue;
      const Exact e = exact(index, query, row);
      EXPECT_LE(key(e.distance), key(gpu_last.distance) + e.bound + gpu_last.bound)
          << what << " query " << q << ": GPU missed row " << row << " well above its cut";
    }
  }
  return differing;
}

std::vector<float> random_vectors(std::mt19937_64& rng, size_t n, size_t dim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n * dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Upserts n random points with ids first_id, first_id + 1, ...; returns their
// vectors.
std::vector<float> upsert_random(FlatIndex& index, std::mt19937_64& rng, uint64_t first_id,
                                 size_t n) {
  const size_t dim = index.dim();
  std::vector<float> rows = random_vectors(rng, n, dim);
  for (size_t i = 0; i < n; ++i) {
    index.upsert(PointId::number(first_id + i), {rows.data() + i * dim, dim}, nullptr);
  }
  return rows;
}

struct Case {
  size_t k;
  size_t nq;
  bool mask;
};

// Each case `rounds` times with fresh queries (with CUDA graphs: enqueued,
// captured, replayed).
void compare_batches(GpuSearcher& gpu, CpuSearcher& cpu, const FlatIndex& index,
                     std::mt19937_64& rng, const std::string& label, int rounds = 1) {
  const Case cases[] = {{1, 1, false},    {10, 3, true},  {100, 64, false},
                        {32, 5, true},    {33, 4, false}, {1024, 37, true},
                        {16, 700, false}, {10, 12, true}, {32, 16, false}};
  for (int round = 0; round < rounds; ++round) {
    for (const Case& c : cases) {
      const std::vector<float> queries = random_vectors(rng, c.nq, index.dim());
      std::vector<uint64_t> allowed((index.row_count() + 63) / 64, 0);
      for (uint64_t r = 0; r < index.row_count(); ++r) {
        if (rng() % 3 != 0) allowed[r / 64] |= uint64_t{1} << (r % 64);
      }
      const SearchRequest request{queries.data(), c.nq, c.k, c.mask ? allowed.data() : nullptr};
      core::Result<SearchHits> g = gpu.search(index, request);
      ASSERT_TRUE(g.is_ok()) << g.status().to_string();
      core::Result<SearchHits> h = cpu.search(index, request);
      ASSERT_TRUE(h.is_ok()) << h.status().to_string();
      const std::string what = label + " k=" + std::to_string(c.k) + " nq=" + std::to_string(c.nq) +
                               (c.mask ? " masked" : "");
      const size_t differing =
          expect_same_neighbours(index, queries, c.nq, request.allowed, g.value(), h.value(), what);
      std::printf("[ gpu      ] %s: %zu ids differ within the tie bound\n", what.c_str(),
                  differing);
    }
  }
}

TEST(GpuSearcher, MatchesCpuAcrossDimsMetricsKBatchesMasksDeletesAppendsAndCompaction) {
  // Small and large scratch (many row tiles or one); warp queues (k <= 32)
  // and, forced for every k, the block selection; one-tile searches replayed
  // from CUDA graphs (each case three times: enqueued, captured, replayed);
  // the fused scan for batches of up to 16 with k <= 32, alone and replayed;
  // many tiles with the GEMMs aimed at a few multiprocessors.
  struct Setup {
    size_t scratch;
    bool block_select;
    bool graphs;
    bool fused;
    int gemm_multiprocessors = 0;
  };
  const Setup setups[] = {
      {size_t{1} << 20, false, false, false},   {size_t{256} << 20, false, false, false},
      {size_t{1} << 20, true, false, false},    {size_t{256} << 20, false, true, false},
      {size_t{256} << 20, false, false, true},  {size_t{256} << 20, false, true, true},
      {size_t{1} << 20, false, false, false, 8}};
  for (const Setup& setup : setups) {
    const size_t scratch = setup.scratch;
    const int rounds = setup.graphs ? 3 : 1;
    kernels::cuda::DeviceOptions options;
    options.scratch_bytes = scratch;
    options.block_select = setup.block_select;
    options.graphs = setup.graphs;
    options.fused_scan = setup.fused;
    options.gemm_multiprocessors = setup.gemm_multiprocessors;
    std::string runtime_reason;
    auto runtime = open_or_skip_reason(options, &runtime_reason);
    if (runtime == nullptr) GTEST_SKIP() << runtime_reason;
    std::mt19937_64 rng(testing::test_seed("GpuSearcher.MatchesCpu"));
    core::ThreadPool pool(0);
    CpuSearcher cpu(pool);
    GpuSearcher gpu(runtime);
    for (Metric metric : {Metric::kDot, Metric::kEuclid, Metric::kCosine}) {
      for (size_t dim : {1, 7, 130, 768}) {
        const std::string label = std::string(metric_name(metric)) + " dim=" + std::to_string(dim) +
                                  " scratch=" + std::to_string(scratch) +
                                  (setup.block_select ? " block-select" : "") +
                                  (setup.graphs ? " graphs" : "") + (setup.fused ? " fused" : "") +
                                  (setup.gemm_multiprocessors > 0 ? " gemm-sms=8" : "");
        FlatIndex index(dim, metric);
        const size_t n = 20011;
        upsert_random(index, rng, 0, n);
        for (size_t i = 0; i < n; i += 5) index.remove(PointId::number(i));
        compare_batches(gpu, cpu, index, rng, label, rounds);

        // Appends, overwrites in place and more deletes: the mirror follows.
        const std::vector<float> more = upsert_random(index, rng, n, 3001);
        for (size_t i = 1; i < n; i += 97) {
          index.upsert(PointId::number(i), {more.data() + (i % 3001) * dim, dim}, nullptr);
        }
        for (size_t i = 3; i < n; i += 11) index.remove(PointId::number(i));
        compare_batches(gpu, cpu, index, rng, label + " after appends", rounds);

        ASSERT_GT(index.compact(), 0u);
        compare_batches(gpu, cpu, index, rng, label + " after compaction", rounds);
        gpu.forget(index);
      }
    }
    const kernels::cuda::SearchCounts counts = kernels::cuda::search_counts(*runtime);
    if (setup.graphs) {
      EXPECT_GT(counts.graphs_replayed, counts.graphs_captured) << "the graphs were never replayed";
      EXPECT_EQ(counts.graph_failures, 0u);
    }
    // Five of the cases qualify for the fused scan (batch <= 16, k <= 32).
    EXPECT_EQ(counts.fused_chunks > 0, setup.fused);
  }
}

TEST(GpuSearcher, ShardedOverSeveralDevicesMatchesCpu) {
  // Several runtimes of one device stand in for several devices: the same
  // layout, searches and merge, on whatever GPU the machine has. Small shard
  // blocks, so every index spans many blocks of every shard.
  for (size_t shards : {2, 3}) {
    std::vector<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtimes;
    for (size_t s = 0; s < shards; ++s) {
      VESTA_OPEN_DEVICE_OR_SKIP(runtime, size_t{4} << 20);
      runtimes.push_back(runtime);
    }
    std::mt19937_64 rng(testing::test_seed("GpuSearcher.Sharded"));
    core::ThreadPool pool(0);
    CpuSearcher cpu(pool);
    GpuSearcher gpu(runtimes, 128);
    for (Metric metric : {Metric::kDot, Metric::kEuclid, Metric::kCosine}) {
      for (size_t dim : {7, 130}) {
        const std::string label = std::string(metric_name(metric)) + " dim=" + std::to_string(dim) +
                                  " shards=" + std::to_string(shards);
        FlatIndex index(dim, metric);
        const size_t n = 5011;
        upsert_random(index, rng, 0, n);
        for (size_t i = 0; i < n; i += 5) index.remove(PointId::number(i));
        compare_batches(gpu, cpu, index, rng, label);
        const std::vector<float> more = upsert_random(index, rng, n, 777);
        for (size_t i = 1; i < n; i += 97) {
          index.upsert(PointId::number(i), {more.data() + (i % 777) * dim, dim}, nullptr);
        }
        for (size_t i = 3; i < n; i += 11) index.remove(PointId::number(i));
        compare_batches(gpu, cpu, index, rng, label + " after appends");
        ASSERT_GT(index.compact(), 0u);
        compare_batches(gpu, cpu, index, rng, label + " after compaction");
        EXPECT_GT(gpu.resident_bytes(), 0u);
        gpu.forget(index);
      }
    }
  }
}

TEST(GpuSearcher, RejectsQueriesOutsideFloat16AndLimitsOverTheMaximum) {
  VESTA_OPEN_DEVICE_OR_SKIP(runtime, size_t{16} << 20);
  GpuSearcher gpu(runtime);
  FlatIndex index(4, Metric::kDot);
  index.upsert(PointId::number(1), std::vector<float>{1, 2, 3, 4}, nullptr);
  const std::vector<float> query{1e6f, 0, 0, 0};
  core::Result<SearchHits> hits = gpu.search(index, {query.data(), 1, 1, nullptr});
  ASSERT_FALSE(hits.is_ok());
  EXPECT_EQ(hits.status().code(), core::StatusCode::kInvalidArgument);
  const std::vector<float> fine{1, 0, 0, 0};
  hits = gpu.search(index, {fine.data(), 1, kernels::kMaxTopK + 1, nullptr});
  ASSERT_FALSE(hits.is_ok());
  EXPECT_EQ(hits.status().code(), core::StatusCode::kInvalidArgument);
  hits = gpu.search(index, {fine.data(), 1, 5, nullptr});
  ASSERT_TRUE(hits.is_ok()) << hits.status().to_string();
  ASSERT_EQ(hits.value()[0].size(), 1u);
  EXPECT_EQ(hits.value()[0][0].score, 1.0f);
}

TEST(GpuSearcher, ConcurrentBatchesOfOneIndexAgreeWithOneAtATime) {
  VESTA_OPEN_DEVICE_OR_SKIP(runtime, size_t{4} << 20);
  std::mt19937_64 rng(testing::test_seed("GpuSearcher.Concurrent"));
  GpuSearcher gpu(runtime);
  const size_t dim = 96;
  FlatIndex index(dim, Metric::kEuclid);
  upsert_random(index, rng, 0, 50000);
  const size_t nq = 50;
  const std::vector<float> queries = random_vectors(rng, nq, dim);
  core::Result<SearchHits> alone = gpu.search(index, {queries.data(), nq, 20, nullptr});
  ASSERT_TRUE(alone.is_ok());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        core::Result<SearchHits> hits = gpu.search(index, {queries.data(), nq, 20, nullptr});
        if (!hits.is_ok() || hits.value() != alone.value()) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(GpuSearcher, AWriteStartsTheDeviceCopyAndTheNextSearchSeesIt) {
  VESTA_OPEN_DEVICE_OR_SKIP(runtime, size_t{16} << 20);
  std::mt19937_64 rng(testing::test_seed("GpuSearcher.WriteStartsCopy"));
  core::ThreadPool pool(0);
  CpuSearcher cpu(pool);
  GpuSearcher gpu(runtime);
  const size_t dim = 768;
  FlatIndex index(dim, Metric::kEuclid);
  upsert_random(index, rng, 0, 1000);
  // Never searched here: a write leaves the device alone.
  gpu.index_changed(index);
  EXPECT_FALSE(gpu.mirror_in_step(index));
  EXPECT_EQ(gpu.resident_bytes(), 0u);
  compare_batches(gpu, cpu, index, rng, "first search");
  EXPECT_TRUE(gpu.mirror_in_step(index));

  // 30,000 rows of 768 float16 values (44 MiB, more than both staging
  // buffers), overwrites in place and deletes; the write's hook copies them.
  const std::vector<float> more = upsert_random(index, rng, 1000, 30000);
  for (size_t i = 1; i < 1000; i += 7) {
    index.upsert(PointId::number(i), {more.data() + i * dim, dim}, nullptr);
  }
  for (size_t i = 3; i < 31000; i += 13) index.remove(PointId::number(i));
  EXPECT_FALSE(gpu.mirror_in_step(index));
  gpu.index_changed(index);
  EXPECT_TRUE(gpu.mirror_in_step(index));
  compare_batches(gpu, cpu, index, rng, "after a write copied by its hook");
}

TEST(DeviceFlatIndex, HostRowsMayChangeAsSoonAsTheAppendReturns) {
  VESTA_OPEN_DEVICE_OR_SKIP(runtime, size_t{16} << 20);
  std::mt19937_64 rng(testing::test_seed("DeviceFlatIndex.HostRowsMayChange"));
  const size_t dim = 64;
  const size_t n = 300000;  // 37 MiB: three staged pieces
  core::Result<std::unique_ptr<kernels::cuda::DeviceFlatIndex>> created =
      kernels::cuda::DeviceFlatIndex::create(runtime, dim, dim, kernels::DistanceKind::kL2Squared);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  kernels::cuda::DeviceFlatIndex& device = *created.value();
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<uint16_t> host(n * dim);
  for (uint16_t& h : host) h = core::float_to_half(value(rng));
  const std::vector<uint16_t> kept = host;
  ASSERT_TRUE(device.append(host.data(), n / 2).is_ok());
  ASSERT_TRUE(device.append(host.data() + n / 2 * dim, n - n / 2).is_ok());
  std::fill(host.begin(), host.end(), core::float_to_half(0.0f));  // before any search
  // Each query is a stored row: its own row is at distance 0.
  const std::vector<uint64_t> picks{0, 4097, n / 2 - 1, n / 2, n - 1};
  std::vector<float> queries;
  for (uint64_t r : picks) {
    for (size_t i = 0; i < dim; ++i) queries.push_back(core::half_to_float(kept[r * dim + i]));
  }
  std::vector<std::vector<kernels::Neighbor>> hits;
  ASSERT_TRUE(device.search(queries.data(), picks.size(), 1, nullptr, &hits).is_ok());
  ASSERT_EQ(hits.size(), picks.size());
  for (size_t q = 0; q < picks.size(); ++q) {
    ASSERT_EQ(hits[q].size(), 1u);
    EXPECT_EQ(hits[q][0].row, picks[q]);
    EXPECT_NEAR(hits[q][0].score, 0.0f, 1e-3f);
  }
}

TEST(DeviceFlatIndex, SearchesReplayedFromGraphsAnswerExactlyAsEnqueuedOnes) {
  // The same rows on two runtimes of one device, one enqueuing every search
  // and one replaying captured graphs: the same kernels on the same data, so
  // the answers are identical, bit for bit, whatever changed between
  // searches (batch size, mask, appended rows, tombstones, and with them the
  // buffers a graph points at).
  auto open = [](bool graphs, std::string* reason) {
    kernels::cuda::DeviceOptions options;
    options.graphs = graphs;
    options.max_concurrent_searches = 1;
    core::Result<std::shared_ptr<kernels::cuda::DeviceRuntime>> runtime =
        kernels::cuda::open_device(options);
    if (!runtime.is_ok()) {
      *reason = "no CUDA device can be used here: " + runtime.status().message();
      return std::shared_ptr<kernels::cuda::DeviceRuntime>();
    }
    return std::move(runtime).value();
  };
  std::string reason;
  auto plain_runtime = open(false, &reason);
  if (plain_runtime == nullptr) GTEST_SKIP() << reason;
  auto graph_runtime = open(true, &reason);
  ASSERT_NE(graph_runtime, nullptr) << reason;
  std::mt19937_64 rng(testing::test_seed("DeviceFlatIndex.SearchesReplayedFromGraphs"));
  const size_t dim = 96;
  auto created_plain = kernels::cuda::DeviceFlatIndex::create(plain_runtime, dim, dim,
                                                              kernels::DistanceKind::kL2Squared);
  auto created_graph = kernels::cuda::DeviceFlatIndex::create(graph_runtime, dim, dim,
                                                              kernels::DistanceKind::kL2Squared);
  ASSERT_TRUE(created_plain.is_ok() && created_graph.is_ok());
  kernels::cuda::DeviceFlatIndex& plain = *created_plain.value();
  kernels::cuda::DeviceFlatIndex& graph = *created_graph.value();
  std::normal_distribution<float> normal;
  auto append = [&](size_t n) {
    std::vector<uint16_t> rows(n * dim);
    for (uint16_t& h : rows) h = core::float_to_half(normal(rng));
    ASSERT_TRUE(plain.append(rows.data(), n).is_ok());
    ASSERT_TRUE(graph.append(rows.data(), n).is_ok());
  };
  auto same_answers = [&](size_t nq, size_t k, bool masked, const std::string& what) {
    for (int round = 0; round < 3; ++round) {  // enqueued, captured, replayed
      const std::vector<float> queries = random_vectors(rng, nq, dim);
      std::vector<uint64_t> allowed((plain.rows() + 63) / 64, 0);
      for (uint64_t r = 0; r < plain.rows(); ++r) {
        if (rng() % 4 != 0) allowed[r / 64] |= uint64_t{1} << (r % 64);
      }
      const uint64_t* mask = masked ? allowed.data() : nullptr;
      std::vector<std::vector<kernels::Neighbor>> expected, got;
      ASSERT_TRUE(plain.search(queries.data(), nq, k, mask, &expected).is_ok());
      ASSERT_TRUE(graph.search(queries.data(), nq, k, mask, &got).is_ok());
      ASSERT_EQ(got.size(), nq);
      for (size_t q = 0; q < nq; ++q) {
        ASSERT_EQ(got[q].size(), expected[q].size()) << what << " round " << round;
        ASSERT_EQ(got[q].size(), std::min(k, plain.rows())) << what;
        for (size_t j = 0; j < got[q].size(); ++j) {
          EXPECT_EQ(got[q][j].row, expected[q][j].row) << what << " round " << round;
          EXPECT_EQ(got[q][j].score, expected[q][j].score) << what << " round " << round;
        }
      }
    }
  };
  append(50000);
  same_answers(8, 10, false, "8 queries");
  same_answers(8, 10, true, "8 queries, masked");
  same_answers(40, 10, false, "40 queries (larger scratch)");
  same_answers(8, 10, false, "8 queries again");
  same_answers(8, 100, false, "k = 100 (block selection)");
  append(1000);
  same_answers(8, 10, false, "after an append");
  std::vector<uint64_t> dead((plain.rows() + 63) / 64, 0);
  for (uint64_t r = 0; r < plain.rows(); r += 3) dead[r / 64] |= uint64_t{1} << (r % 64);
  ASSERT_TRUE(plain.set_tombstones(dead.data()).is_ok());
  ASSERT_TRUE(graph.set_tombstones(dead.data()).is_ok());
  same_answers(8, 10, false, "after tombstones");
  same_answers(8, 10, true, "after tombstones, masked");

  const kernels::cuda::SearchCounts counts = kernels::cuda::search_counts(*graph_runtime);
  EXPECT_EQ(counts.graph_failures, 0u);
  EXPECT_GE(counts.graphs_captured, 8u);  // one per shape above, at least
  EXPECT_GT(counts.graphs_replayed, counts.graphs_captured) << "the graphs were never replayed";
  EXPECT_EQ(kernels::cuda::search_counts(*plain_runtime).graphs_replayed, 0u);
}

// ---- placement ---------------------------------------------------------------

FlatIndex small_index(std::mt19937_64& rng) {
  FlatIndex index(16, Metric::kDot);
  upsert_random(index, rng, 0, 500);
  return index;
}

TEST(Placement, AutoWithoutADeviceSearchesOnTheCpu) {
  const kernels::cuda::DeviceProbe probe = kernels::cuda::probe_devices();
  if (probe.device_count > 0)
    GTEST_SKIP() << "a CUDA device is present; this is the no-device case";
  std::mt19937_64 rng(testing::test_seed("Placement.Auto"));
  core::ThreadPool pool(2);
  CpuSearcher cpu(pool);
  core::Result<std::unique_ptr<PlacementSearcher>> placement =
      PlacementSearcher::create(cpu, PlacementOptions{});
  ASSERT_TRUE(placement.is_ok()) << placement.status().to_string();
  PlacementSearcher& searcher = *placement.value();
  EXPECT_FALSE(searcher.gpu_available());
  EXPECT_EQ(searcher.description().rfind("cpu (no GPU: ", 0), 0u) << searcher.description();
  const FlatIndex index = small_index(rng);
  const std::vector<float> queries = random_vectors(rng, 3, 16);
  const SearchRequest request{queries.data(), 3, 7, nullptr};
  core::Result<SearchHits> placed = searcher.search(index, request);
  core::Result<SearchHits> direct = cpu.search(index, request);
  ASSERT_TRUE(placed.is_ok() && direct.is_ok());
  EXPECT_EQ(placed.value(), direct.value());
  EXPECT_EQ(searcher.stats().cpu_searches, 1u);
  EXPECT_EQ(searcher.stats().gpu_searches, 0u);
}

TEST(Placement, GpuModeWithoutADeviceRefusesToStartAndSaysWhy) {
  const kernels::cuda::DeviceProbe probe = kernels::cuda::probe_devices();
  if (probe.device_count > 0)
    GTEST_SKIP() << "a CUDA device is present; this is the no-device case";
  core::ThreadPool pool(1);
  CpuSearcher cpu(pool);
  PlacementOptions options;
  options.mode = DeviceMode::kGpu;
  core::Result<std::unique_ptr<PlacementSearcher>> placement =
      PlacementSearcher::create(cpu, options);
  ASSERT_FALSE(placement.is_ok());
  EXPECT_EQ(placement.status().code(), core::StatusCode::kUnavailable);
  EXPECT_NE(placement.status().message().find("--device gpu"), std::string::npos)
      << placement.status().message();
}

TEST(Placement, GpuDeviceListsParse) {
  EXPECT_EQ(parse_gpu_devices("all"), std::vector<int>());
  EXPECT_EQ(parse_gpu_devices("0"), std::vector<int>{0});
  EXPECT_EQ(parse_gpu_devices("2,0,5"), (std::vector<int>{2, 0, 5}));
  for (const char* bad : {"", ",", "0,", "a", "-1", "0,0", "1 ", "0,,1", "99999999999"}) {
    EXPECT_EQ(parse_gpu_devices(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(Placement, CpuModeNeverOpensADevice) {
  core::ThreadPool pool(1);
  CpuSearcher cpu(pool);
  PlacementOptions options;
  options.mode = DeviceMode::kCpu;
  core::Result<std::unique_ptr<PlacementSearcher>> placement =
      PlacementSearcher::create(cpu, options);
  ASSERT_TRUE(placement.is_ok());
  EXPECT_FALSE(placement.value()->gpu_available());
  EXPECT_EQ(placement.value()->description(), "cpu (--device cpu)");
  EXPECT_EQ(parse_device_mode("gpu"), DeviceMode::kGpu);
  EXPECT_EQ(parse_device_mode("GPU"), std::nullopt);
}

TEST(Placement, WithADeviceSmallIndexesGoToTheGpuAndOversizedOnesToTheCpu) {
  std::string reason;
  if (open_or_skip_reason(size_t{16} << 20, &reason) == nullptr) GTEST_SKIP() << reason;
  std::mt19937_64 rng(testing::test_seed("Placement.Budget"));
  core::ThreadPool pool(2);
  CpuSearcher cpu(pool);
  const FlatIndex index = small_index(rng);  // 500 x 16 halves: ~16 KiB
  const std::vector<float> queries = random_vectors(rng, 2, 16);
  const SearchRequest request{queries.data(), 2, 5, nullptr};
  for (size_t budget : {size_t{1} << 30, size_t{4} << 10}) {
    PlacementOptions options;
    options.mode = DeviceMode::kGpu;
    options.gpu_memory_budget = budget;
    core::Result<std::unique_ptr<PlacementSearcher>> placement =
        PlacementSearcher::create(cpu, options);
    ASSERT_TRUE(placement.is_ok()) << placement.status().to_string();
    core::Result<SearchHits> hits = placement.value()->search(index, request);
    ASSERT_TRUE(hits.is_ok()) << hits.status().to_string();
    const PlacementStats stats = placement.value()->stats();
    if (budget > (1u << 20)) {
      EXPECT_EQ(stats.gpu_searches, 1u) << placement.value()->description();
    } else {
      EXPECT_EQ(stats.cpu_searches, 1u) << "an index over budget must be searched on the CPU";
    }
    EXPECT_EQ(stats.fallbacks, 0u);
    placement.value()->forget(index);
  }
}

// A device failure (injected: a real one cannot be produced on demand) during
// a search: the batch is still answered (on the CPU), the collection stays on
// the CPU afterwards, and the fallback is counted once.
TEST(Placement, DeviceFailureMovesTheIndexToTheCpuWithoutFailingTheRequest) {
  std::string reason;
  if (open_or_skip_reason(size_t{16} << 20, &reason) == nullptr) GTEST_SKIP() << reason;
  std::mt19937_64 rng(testing::test_seed("Placement.Fallback"));
  core::ThreadPool pool(2);
  CpuSearcher cpu(pool);
  PlacementOptions options;
  options.mode = DeviceMode::kGpu;
  options.gpu_memory_budget = size_t{1} << 30;
  options.device.inject_search_failure = true;
  core::Result<std::unique_ptr<PlacementSearcher>> placement =
      PlacementSearcher::create(cpu, options);
  ASSERT_TRUE(placement.is_ok()) << placement.status().to_string();
  const FlatIndex index = small_index(rng);
  const std::vector<float> queries = random_vectors(rng, 4, 16);
  const SearchRequest request{queries.data(), 4, 9, nullptr};
  core::Result<SearchHits> direct = cpu.search(index, request);
  ASSERT_TRUE(direct.is_ok());
  for (int round = 0; round < 2; ++round) {
    core::Result<SearchHits> hits = placement.value()->search(index, request);
    ASSERT_TRUE(hits.is_ok()) << hits.status().to_string();
    EXPECT_EQ(hits.value(), direct.value()) << "round " << round;
  }
  const PlacementStats stats = placement.value()->stats();
  EXPECT_EQ(stats.fallbacks, 1u);
  EXPECT_EQ(stats.cpu_searches, 2u);
  EXPECT_EQ(stats.gpu_searches, 0u);
  placement.value()->forget(index);
}

}  // namespace
}  // namespace vesta::index
