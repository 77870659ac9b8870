// vesta_persistence_bench: durable ingest, snapshot size and restore speed of
// the FileStore path (Engine over FileStore, in-process, no HTTP), with the
// in-memory ingest and LightRAG's NanoVectorDB file size as the peers
// measured in the same run.
//
//   vesta_persistence_bench [--points 1000000] [--dim 768] [--batch 1000]
//                           [--writers 4] [--dir DIR (a fresh temporary one)]
//                           [--postgres URI] [--skip-lightrag 1]
//                           [--restores 1] [--keep 1] [--restore-only 1]
//                           [--snapshot-memory 1] [--snapshot-stall 1]
//
// Phases, on "real-looking" embeddings (per-dimension scales drawn from a
// log-normal, a shared mean direction, L2-normalised, as sentence embedders
// produce; float16-representable):
//   1. ingest: --writers threads upsert batches of --batch points into a
//      Cosine collection, (a) in memory only, (b) durable with fsync always,
//      (c) durable with group commit (2 ms), (d) with --postgres, durable in
//      PostgreSQL (a fresh workspace): as served (payloads also in
//      vesta_points), without the payload table, and shared
//      (--postgres-mode shared, one process); points/s each;
//   2. snapshot: one snapshot round of (b); its size against the raw float32
//      bytes, and the size LightRAG (>= 1.4.7) writes for the same points
//      (base64 float32 matrix plus per-point base64(zlib(float16))), computed
//      here with zlib at LightRAG's default level;
//   3. restore: the engine and store closed and reopened (recovery from the
//      snapshot) until a search answers; seconds, --restores times (each
//      one's phases, then the median). The snapshot was just written, so its
//      file is in the page cache (a warm-cache restore).
// --keep 1 leaves the data directory in place; --restore-only 1 skips
// phases 1 and 2 and restores a directory a --keep 1 run left (same --dir,
// --points and --dim), to time restores alone. --snapshot-memory 1 measures
// only the memory that writing a snapshot file of --points points takes
// beside the points themselves, coded whole in memory and then written (as
// snapshots were written before) against streamed to the file as coded.
// --snapshot-stall 1 measures only what a snapshot round costs the writers
// and the memory (measure_snapshot_stall).

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/float16.h"
#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "index/cpu_searcher.h"
#include "persistence/file_io.h"
#include "persistence/file_store.h"
#include "persistence/postgres_store.h"
#include "persistence/snapshot_codec.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds this process has used (user + system, all threads): with
// other work on the machine, wall times grow but this barely does.
double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

struct Options {
  size_t points = 1'000'000;
  size_t dim = 768;
  size_t batch = 1000;
  size_t writers = 4;
  fs::path dir;
  std::string postgres;
  bool lightrag = true;
  size_t restores = 1;
  bool keep = false;
  bool restore_only = false;
  bool snapshot_memory = false;
  bool snapshot_stall = false;
};

std::vector<float> make_embeddings(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<float> scale_of(0.0f, 0.5f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> scale(dim), mean(dim);
  for (size_t d = 0; d < dim; ++d) {
    scale[d] = scale_of(rng);
    mean[d] = 0.3f * normal(rng);
  }
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    float* v = out.data() + i * dim;
    double norm = 0.0;
    for (size_t d = 0; d < dim; ++d) {
      v[d] = mean[d] + scale[d] * normal(rng);
      norm += static_cast<double>(v[d]) * v[d];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t d = 0; d < dim; ++d) {
      v[d] = vesta::core::half_to_float(vesta::core::float_to_half(v[d] * inv));
    }
  }
  return out;
}

// Upserts every point from `writers` threads; returns points/s.
double ingest(vesta::index::Collection& collection, const std::vector<float>& data,
              const Options& o) {
  std::atomic<size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t w = 0; w < o.writers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        const size_t first = next.fetch_add(o.batch);
        if (first >= o.points) return;
        const size_t count = std::min(o.batch, o.points - first);
        std::vector<vesta::index::PointWrite> batch;
        batch.reserve(count);
        for (size_t i = first; i < first + count; ++i) {
          batch.push_back({vesta::core::PointId::number(i),
                           {data.begin() + static_cast<ptrdiff_t>(i * o.dim),
                            data.begin() + static_cast<ptrdiff_t>((i + 1) * o.dim)},
                           {{"doc", "chunk-" + std::to_string(i)}}});
        }
        const vesta::core::Status s = collection.upsert(std::move(batch));
        if (!s.is_ok()) {
          std::fprintf(stderr, "upsert failed: %s\n", s.to_string().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return static_cast<double>(o.points) / seconds_since(start);
}

// The bytes of a LightRAG (>= 1.4.7) NanoVectorDB file for these points,
// without the metadata fields both stores keep alike: "matrix" (base64 of the
// float32 matrix) and each point's "vector" (base64 of zlib level 6 of its
// float16 bytes, as nano_vector_db_impl.py writes it).
// /proc/self/status's value of `field` (kB) in bytes.
size_t proc_status_bytes(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  size_t kb = 0;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':')
      kb = std::strtoull(line + n + 1, nullptr, 10);
  }
  std::fclose(f);
  return kb * 1024;
}

// How far the resident set rose above where it was while `fn` ran: the peak
// (VmHWM, reset first through /proc/self/clear_refs) minus the start.
template <typename Fn>
size_t peak_growth(Fn&& fn) {
  ::malloc_trim(0);
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
  const size_t before = proc_status_bytes("VmRSS");
  fn();
  const size_t peak = proc_status_bytes("VmHWM");
  return peak > before ? peak - before : 0;
}

int measure_snapshot_memory(const Options& o) {
  const std::vector<float> data = make_embeddings(o.points, o.dim, 42);
  vesta::persistence::SnapshotContents c;
  c.collection = "docs";
  c.dim = static_cast<uint32_t>(o.dim);
  c.metric = "Cosine";
  c.incarnation = 1;
  for (size_t i = 0; i < o.points; ++i) {
    c.ids.push_back(vesta::core::PointId::number(i));
    c.payloads.push_back(R"({"n":)" + std::to_string(i) + "}");
  }
  c.rows.resize(data.size());
  for (size_t i = 0; i < data.size(); ++i) c.rows[i] = vesta::core::float_to_half(data[i]);
  const size_t row_bytes = c.rows.size() * sizeof(uint16_t);
  fs::create_directories(o.dir);
  const fs::path file = o.dir / "memory.snapshot";
  size_t encoded = 0;
  const size_t whole = peak_growth([&] {
    const auto bytes = vesta::persistence::encode_snapshot(c);
    encoded = bytes.value().size();
    (void)vesta::persistence::write_file_atomically(file, bytes.value());
  });
  const size_t streamed =
      peak_growth([&] { (void)vesta::persistence::write_snapshot_file(file, c); });
  std::printf(
      "| snapshot of %zu x %zu (rows %.0f MiB, file %.0f MiB) | memory beyond the points |\n",
      o.points, o.dim, row_bytes / 1048576.0, encoded / 1048576.0);
  std::printf("|---|---|\n");
  std::printf("| coded whole in memory, then written | %.0f MiB (%.2f x the rows) |\n",
              whole / 1048576.0, static_cast<double>(whole) / row_bytes);
  std::printf("| streamed to the file as coded | %.0f MiB (%.2f x the rows) |\n",
              streamed / 1048576.0, static_cast<double>(streamed) / row_bytes);
  if (!o.keep) fs::remove_all(o.dir);
  return 0;
}

size_t lightrag_vector_bytes(const std::vector<float>& data, const Options& o) {
  auto base64_len = [](size_t n) { return 4 * ((n + 2) / 3); };
  size_t total = base64_len(data.size() * sizeof(float));
  std::vector<uint16_t> halves(o.dim);
  std::vector<Bytef> out(compressBound(static_cast<uLong>(o.dim * 2)));
  for (size_t i = 0; i < o.points; ++i) {
    for (size_t d = 0; d < o.dim; ++d) halves[d] = vesta::core::float_to_half(data[i * o.dim + d]);
    uLongf n = static_cast<uLongf>(out.size());
    compress2(out.data(), &n, reinterpret_cast<const Bytef*>(halves.data()),
              static_cast<uLong>(o.dim * 2), 6);
    total += base64_len(n) + 12;  // "vector": "…",
  }
  return total;
}

size_t directory_bytes(const fs::path& dir) {
  size_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// Runs `use` with the value of `result`, or exits saying why there is none.
template <typename T, typename Use>
void core_check(vesta::core::Result<T> result, Use use) {
  if (!result.is_ok()) {
    std::fprintf(stderr, "%s\n", result.status().to_string().c_str());
    std::exit(1);
  }
  use(std::move(result).value());
}

struct Durable {
  std::unique_ptr<vesta::persistence::Store> store;
  std::unique_ptr<vesta::engine::Engine> engine;
};

vesta::engine::EngineOptions rounds_on_request() {
  vesta::engine::EngineOptions eo;
  eo.snapshot_wal_bytes = 0;  // rounds only when asked
  eo.snapshot_interval = std::chrono::seconds(0);
  return eo;
}

Durable open_durable(const fs::path& dir, vesta::persistence::FsyncPolicy fsync,
                     vesta::core::LockManager& locks, vesta::index::Searcher& searcher,
                     vesta::engine::RecoveryReport* report = nullptr) {
  vesta::persistence::FileStoreOptions fo;
  fo.dir = dir;
  fo.wal.fsync = fsync;
  Durable d;
  d.store = std::move(vesta::persistence::FileStore::open(fo)).value();
  d.engine = std::move(vesta::engine::Engine::open(*d.store, locks, searcher, {},
                                                   rounds_on_request(), report))
                 .value();
  return d;
}

struct RestoreTiming {
  double total_s = 0;  // open until the first search answered
  double cpu_s = 0;    // CPU time of the process meanwhile
  vesta::engine::RecoveryReport report;
  double search_s = 0;  // the first search
  size_t count = 0;
};

// Reopens the store and engine in `dir` and searches for point 0 (`query`),
// which must come first.
RestoreTiming restore_once(const fs::path& dir, vesta::core::LockManager& locks,
                           vesta::index::Searcher& searcher, std::span<const float> query) {
  RestoreTiming t;
  const double cpu_start = process_cpu_seconds();
  const auto start = Clock::now();
  Durable d =
      open_durable(dir, vesta::persistence::FsyncPolicy::kAlways, locks, searcher, &t.report);
  const auto search_start = Clock::now();
  vesta::index::SearchParams params;
  params.limit = 10;
  auto hits = d.engine->registry().get("docs").value()->search(query, params);
  t.search_s = seconds_since(search_start);
  t.total_s = seconds_since(start);
  t.cpu_s = process_cpu_seconds() - cpu_start;
  if (!hits.is_ok() || hits.value().empty() || hits.value()[0].id.as_number() != 0) {
    std::fprintf(stderr, "restored collection does not find point 0 first\n");
    std::exit(1);
  }
  t.count = d.engine->registry().get("docs").value()->count().value();
  std::printf(
      "restore: %.2f s, CPU %.2f s (snapshot read + decode %.2f s, load into the collection %.2f "
      "s, log open + replay %.2f s, first search %.3f s)\n",
      t.total_s, t.cpu_s, t.report.snapshot_read_s, t.report.snapshot_load_s, t.report.log_replay_s,
      t.search_s);
  std::fflush(stdout);
  return t;
}

// The restore with the median total time of `o.restores` runs.
RestoreTiming median_restore(const fs::path& dir, vesta::core::LockManager& locks,
                             vesta::index::Searcher& searcher, std::span<const float> query,
                             size_t restores) {
  std::vector<RestoreTiming> runs;
  for (size_t i = 0; i < std::max<size_t>(1, restores); ++i) {
    runs.push_back(restore_once(dir, locks, searcher, query));
  }
  std::sort(runs.begin(), runs.end(),
            [](const RestoreTiming& a, const RestoreTiming& b) { return a.total_s < b.total_s; });
  return runs[runs.size() / 2];
}

// What a snapshot round costs the writers and the memory: a durable
// collection (FileStore, group commit) of --points points with LightRAG-like
// payloads (a chunk's text and a few fields); one thread upserts single
// points in a loop, timing each, while the main thread runs three snapshot
// rounds (Engine::snapshot_all, each after a write so that the collection is
// due), 0.5 s apart. Prints the round's time, the longest upsert before and
// during the rounds, and how far the resident set rose during a round
// (VmHWM, reset before each).
int measure_snapshot_stall(const Options& o, vesta::core::LockManager& locks,
                           vesta::index::Searcher& searcher) {
  fs::remove_all(o.dir);
  const std::vector<float> data = make_embeddings(o.points, o.dim, 42);
  Durable d =
      open_durable(o.dir / "stall", vesta::persistence::FsyncPolicy::kGroup, locks, searcher);
  (void)d.engine->registry().create({"docs", o.dim, vesta::index::Metric::kCosine});
  std::shared_ptr<vesta::index::Collection> collection = d.engine->registry().get("docs").value();
  const std::string text(300, 'x');
  auto point = [&](size_t i) {
    return vesta::index::PointWrite{vesta::core::PointId::number(i),
                                    {data.begin() + static_cast<ptrdiff_t>(i * o.dim),
                                     data.begin() + static_cast<ptrdiff_t>((i + 1) * o.dim)},
                                    {{"content", text},
                                     {"source_id", "chunk-" + std::to_string(i)},
                                     {"file_path", "docs/file-" + std::to_string(i % 1000) + ".md"},
                                     {"tokens", 300}}};
  };
  for (size_t first = 0; first < o.points; first += o.batch) {
    std::vector<vesta::index::PointWrite> batch;
    for (size_t i = first; i < std::min(o.points, first + o.batch); ++i) batch.push_back(point(i));
    if (!collection->upsert(std::move(batch)).is_ok()) return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<bool> in_round{false};
  double longest_before = 0;
  double longest_during = 0;
  size_t writes = 0;
  std::thread writer([&] {
    size_t i = 0;
    while (!stop.load()) {
      std::vector<vesta::index::PointWrite> one;
      one.push_back(point(i++ % o.points));
      const bool during = in_round.load();
      const auto start = Clock::now();
      if (!collection->upsert(std::move(one)).is_ok()) std::exit(1);
      const double took = seconds_since(start);
      double& longest = during || in_round.load() ? longest_during : longest_before;
      longest = std::max(longest, took);
      ++writes;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<double> rounds;
  std::vector<size_t> growth;
  for (int round = 0; round < 3; ++round) {
    in_round = true;
    const auto start = Clock::now();
    vesta::core::Status status = vesta::core::Status::ok();
    growth.push_back(peak_growth([&] { status = d.engine->snapshot_all(); }));
    rounds.push_back(seconds_since(start));
    in_round = false;
    if (!status.is_ok()) {
      std::fprintf(stderr, "snapshot round failed: %s\n", status.to_string().c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  stop = true;
  writer.join();
  std::sort(rounds.begin(), rounds.end());
  std::sort(growth.begin(), growth.end());
  const double row_mib = static_cast<double>(o.points * o.dim * 2) / 1048576.0;
  std::printf("| snapshot round of %zu x %zu with payloads (rows %.0f MiB) | value |\n", o.points,
              o.dim, row_mib);
  std::printf("|---|---|\n");
  std::printf("| round (copy or read, code, write, fsync), median of 3 | %.2f s |\n", rounds[1]);
  std::printf("| memory the round needs beyond the collection, median of 3 | %.0f MiB |\n",
              static_cast<double>(growth[1]) / 1048576.0);
  std::printf("| longest single-point upsert, no round running | %.3f s |\n", longest_before);
  std::printf("| longest single-point upsert, during the rounds | %.3f s |\n", longest_during);
  std::printf("| upserts timed | %zu |\n", writes);
  d.engine.reset();
  d.store.reset();
  if (!o.keep) fs::remove_all(o.dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--points")
      o.points = std::stoul(value);
    else if (flag == "--dim")
      o.dim = std::stoul(value);
    else if (flag == "--batch")
      o.batch = std::stoul(value);
    else if (flag == "--writers")
      o.writers = std::stoul(value);
    else if (flag == "--dir")
      o.dir = value;
    else if (flag == "--postgres")
      o.postgres = value;
    else if (flag == "--skip-lightrag")
      o.lightrag = value != "1";
    else if (flag == "--restores")
      o.restores = std::stoul(value);
    else if (flag == "--keep")
      o.keep = value == "1";
    else if (flag == "--restore-only")
      o.restore_only = value == "1";
    else if (flag == "--snapshot-memory")
      o.snapshot_memory = value == "1";
    else if (flag == "--snapshot-stall")
      o.snapshot_stall = value == "1";
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (o.dir.empty()) o.dir = fs::temp_directory_path() / "vesta-persistence-bench";
  std::printf("points %zu, dim %zu, batch %zu, %zu writers, %u hardware threads, dir %s\n",
              o.points, o.dim, o.batch, o.writers, std::thread::hardware_concurrency(),
              o.dir.c_str());
  if (o.snapshot_memory) return measure_snapshot_memory(o);
  vesta::core::ThreadPool pool(0);
  vesta::core::LockManager locks;
  vesta::index::CpuSearcher searcher(pool);
  if (o.snapshot_stall) return measure_snapshot_stall(o, locks, searcher);
  if (o.restore_only) {
    // Point 0 comes first from the generator, whatever the count.
    const std::vector<float> first = make_embeddings(1, o.dim, 42);
    const RestoreTiming t = median_restore(o.dir / "always", locks, searcher, first, o.restores);
    std::printf(
        "| restore %zu points from the snapshot until searchable (median of %zu) | %.2f s |\n",
        t.count, std::max<size_t>(1, o.restores), t.total_s);
    return 0;
  }
  fs::remove_all(o.dir);
  const std::vector<float> data = make_embeddings(o.points, o.dim, 42);
  const vesta::index::CollectionConfig config{"docs", o.dim, vesta::index::Metric::kCosine};

  double memory_rate = 0;
  {
    vesta::index::CollectionRegistry registry(locks, searcher);
    (void)registry.create(config);
    memory_rate = ingest(*registry.get("docs").value(), data, o);
  }
  double group_rate = 0;
  {
    Durable d =
        open_durable(o.dir / "group", vesta::persistence::FsyncPolicy::kGroup, locks, searcher);
    (void)d.engine->registry().create(config);
    group_rate = ingest(*d.engine->registry().get("docs").value(), data, o);
  }
  fs::remove_all(o.dir / "group");
  // PostgreSQL: as served (payloads also in vesta_points), without the
  // payload table, and shared (several processes per workspace; one here).
  struct PostgresRun {
    const char* what;
    bool payload_table;
    bool shared;
    double rate = 0;
  };
  std::vector<PostgresRun> postgres_runs = {{"PostgreSQL", true, false},
                                            {"PostgreSQL without the payload table", false, false},
                                            {"PostgreSQL shared", true, true}};
  for (PostgresRun& run : postgres_runs) {
    if (o.postgres.empty()) break;
    vesta::persistence::PostgresStoreOptions po;
    po.uri = o.postgres;
    po.workspace = "bench-" + std::to_string(::getpid());
    po.payload_table = run.payload_table;
    po.shared = run.shared;
    core_check(vesta::persistence::PostgresStore::open(po), [&](auto store) {
      Durable d;
      d.store = std::move(store);
      d.engine =
          std::move(vesta::engine::Engine::open(*d.store, locks, searcher, {}, rounds_on_request()))
              .value();
      (void)d.engine->registry().create(config);
      run.rate = ingest(*d.engine->registry().get("docs").value(), data, o);
      (void)d.engine->registry().drop("docs");
    });
  }
  double always_rate = 0;
  double snapshot_s = 0;
  {
    Durable d =
        open_durable(o.dir / "always", vesta::persistence::FsyncPolicy::kAlways, locks, searcher);
    (void)d.engine->registry().create(config);
    always_rate = ingest(*d.engine->registry().get("docs").value(), data, o);
    const auto start = Clock::now();
    const vesta::core::Status s = d.engine->snapshot_all();
    snapshot_s = seconds_since(start);
    if (!s.is_ok()) {
      std::fprintf(stderr, "snapshot failed: %s\n", s.to_string().c_str());
      return 1;
    }
  }
  const size_t snapshot_bytes = directory_bytes(o.dir / "always" / "snapshots");
  const size_t raw_bytes = o.points * o.dim * sizeof(float);
  const size_t lightrag_bytes = o.lightrag ? lightrag_vector_bytes(data, o) : 0;

  const RestoreTiming restored = median_restore(
      o.dir / "always", locks, searcher, std::span<const float>(data.data(), o.dim), o.restores);

  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| ingest, in memory | %.0f points/s |\n", memory_rate);
  std::printf("| ingest, durable, fsync always | %.0f points/s (%.2f of in memory) |\n",
              always_rate, always_rate / memory_rate);
  std::printf("| ingest, durable, group commit 2 ms | %.0f points/s (%.2f of in memory) |\n",
              group_rate, group_rate / memory_rate);
  for (const PostgresRun& run : postgres_runs) {
    if (o.postgres.empty()) break;
    std::printf("| ingest, durable, %s | %.0f points/s (%.2f of in memory) |\n", run.what, run.rate,
                run.rate / memory_rate);
  }
  std::printf("| snapshot round | %.2f s |\n", snapshot_s);
  std::printf("| snapshot size / raw float32 | %.3f (%zu bytes) |\n",
              static_cast<double>(snapshot_bytes) / raw_bytes, snapshot_bytes);
  std::printf("| LightRAG vectors (matrix + per-point vector) / raw float32 | %.3f |\n",
              static_cast<double>(lightrag_bytes) / raw_bytes);
  std::printf(
      "| restore %zu points from the snapshot until searchable (median of %zu) | %.2f s |\n",
      restored.count, std::max<size_t>(1, o.restores), restored.total_s);
  if (!o.keep) fs::remove_all(o.dir);
  return 0;
}
