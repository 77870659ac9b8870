// vesta_batching_bench: many concurrent single-query searches of one
// collection, with dynamic batching at several settings and without it (max
// batch 1), in-process (Collection + CpuSearcher, no HTTP), same data, same
// run. Prints queries/s, latency percentiles and the mean batch size.
//
//   vesta_batching_bench [--rows 200000] [--dim 768] [--clients 64] [--seconds 5]
//                        [--configs 1:0,16:1000,64:1000,256:250,256:1000,256:4000]
//                        [--device cpu|gpu] [--batch N]
//
// --batch N: each client sends N queries per call (queries/s counts queries).
//
// A config is max_batch:max_delay_us.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "index/collection.h"
#include "index/cpu_searcher.h"
#include "index/placement.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  size_t max_batch;
  long delay_us;
};

std::vector<Config> parse_configs(const std::string& text) {
  std::vector<Config> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    const size_t colon = item.find(':');
    out.push_back({std::stoull(item.substr(0, colon)),
                   colon == std::string::npos ? 0 : std::stol(item.substr(colon + 1))});
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t rows = 200000;
  size_t dim = 768;
  size_t clients = 64;
  double seconds = 5;
  std::string configs = "1:0,16:1000,64:1000,256:250,256:1000,256:4000";
  std::string device = "cpu";
  size_t batch = 1;  // queries per search call
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--rows") rows = std::stoull(argv[i + 1]);
    if (arg == "--dim") dim = std::stoull(argv[i + 1]);
    if (arg == "--clients") clients = std::stoull(argv[i + 1]);
    if (arg == "--seconds") seconds = std::stod(argv[i + 1]);
    if (arg == "--configs") configs = argv[i + 1];
    if (arg == "--device") device = argv[i + 1];
    if (arg == "--batch") batch = std::stoull(argv[i + 1]);
  }
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> data(rows * dim);
  for (float& x : data) x = normal(rng) * 0.1f;
  std::vector<std::vector<float>> queries(1024, std::vector<float>(dim));
  for (auto& q : queries) {
    for (float& x : q) x = normal(rng) * 0.1f;
  }
  vesta::core::ThreadPool pool(0);
  vesta::index::CpuSearcher cpu(pool);
  vesta::index::PlacementOptions placement_options;
  placement_options.mode =
      device == "gpu" ? vesta::index::DeviceMode::kGpu : vesta::index::DeviceMode::kCpu;
  auto placement = vesta::index::PlacementSearcher::create(cpu, placement_options);
  if (!placement.is_ok()) {
    std::printf("vesta_batching_bench: NOT RUN - %s\n", placement.status().message().c_str());
    return 0;
  }
  vesta::index::Searcher& searcher = *placement.value();
  std::printf("rows %zu, dim %zu, %zu clients, %.1f s per config, search on %s, %zu CPU threads\n",
              rows, dim, clients, seconds, placement.value()->description().c_str(), pool.size());
  std::printf("| max batch | max delay us | queries/s | p50 ms | p95 ms | p99 ms | mean batch |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Config& config : parse_configs(configs)) {
    vesta::core::LockManager locks;
    vesta::index::Collection collection(
        {"bench", dim, vesta::index::Metric::kDot}, locks, searcher,
        {.max_batch = config.max_batch, .max_delay = std::chrono::microseconds(config.delay_us)});
    for (size_t first = 0; first < rows; first += 10000) {
      std::vector<vesta::index::PointWrite> points;
      for (size_t i = first; i < std::min(rows, first + 10000); ++i) {
        points.push_back({vesta::core::PointId::number(i),
                          {data.begin() + static_cast<ptrdiff_t>(i * dim),
                           data.begin() + static_cast<ptrdiff_t>((i + 1) * dim)},
                          nullptr});
      }
      if (!collection.upsert(std::move(points)).is_ok()) return 1;
    }
    std::atomic<bool> stop{false};
    std::vector<std::vector<double>> latencies(clients);
    std::vector<std::thread> threads;
    const Clock::time_point start = Clock::now();
    for (size_t c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        size_t i = c * 17;
        while (!stop.load(std::memory_order_relaxed)) {
          vesta::index::SearchParams params;
          params.limit = 10;
          std::vector<float> stacked;
          for (size_t b = 0; b < batch; ++b) {
            const std::vector<float>& q = queries[i++ % queries.size()];
            stacked.insert(stacked.end(), q.begin(), q.end());
          }
          const Clock::time_point t0 = Clock::now();
          auto hits = collection.search_batch(stacked, batch, params);
          const Clock::time_point t1 = Clock::now();
          if (!hits.is_ok()) std::abort();
          latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (std::thread& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all[std::min(all.size() - 1, size_t(p * all.size()))]; };
    const vesta::index::BatchingStats stats = collection.batching_stats();
    std::printf("| %zu | %ld | %.0f | %.2f | %.2f | %.2f | %.1f |\n", config.max_batch,
                config.delay_us, static_cast<double>(all.size() * batch) / elapsed, pct(0.50),
                pct(0.95), pct(0.99),
                static_cast<double>(stats.queries) /
                    static_cast<double>(std::max<uint64_t>(1, stats.batches)));
    std::fflush(stdout);
  }
  return 0;
}
