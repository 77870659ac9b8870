// Times CpuSearcher on rows and queries from raw float32 files, the same way
// bench/faiss_compare.py times FAISS (see that script for the protocol):
//
//   vesta_flat_bench --rows ROWS.f32 --queries QUERIES.f32 --dim D --k K
//                    --batches 1,16,256 --threads T --min-seconds S --out-ids PREFIX
//
// Prints one JSON line per batch size and writes the top-k rows of every query
// to PREFIX.b<batch>.i64 (Q x K little-endian int64, -1 where fewer than k).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"
#include "index/cpu_searcher.h"
#include "index/flat_index.h"

namespace {

struct Options {
  std::string rows_path;
  std::string queries_path;
  size_t dim = 768;
  size_t k = 10;
  std::vector<size_t> batches{1, 16, 256};
  size_t threads = 0;
  double min_seconds = 3.0;
  std::string out_ids;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "vesta_flat_bench: %s\n", message.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) fail("missing value after " + std::string(arg));
    const std::string value = argv[++i];
    if (arg == "--rows") {
      o.rows_path = value;
    } else if (arg == "--queries") {
      o.queries_path = value;
    } else if (arg == "--dim") {
      o.dim = std::stoul(value);
    } else if (arg == "--k") {
      o.k = std::stoul(value);
    } else if (arg == "--threads") {
      o.threads = std::stoul(value);
    } else if (arg == "--min-seconds") {
      o.min_seconds = std::stod(value);
    } else if (arg == "--out-ids") {
      o.out_ids = value;
    } else if (arg == "--batches") {
      o.batches.clear();
      size_t start = 0;
      while (start < value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        o.batches.push_back(std::stoul(value.substr(start, comma - start)));
        start = comma + 1;
      }
    } else {
      fail("unknown option " + std::string(arg));
    }
  }
  if (o.rows_path.empty() || o.queries_path.empty()) fail("--rows and --queries are required");
  return o;
}

std::vector<float> read_floats(const std::string& path, size_t offset, size_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open " + path);
  in.seekg(static_cast<std::streamoff>(offset * sizeof(float)));
  std::vector<float> out(count);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (static_cast<size_t>(in.gcount()) != count * sizeof(float)) fail("short read from " + path);
  return out;
}

size_t file_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail("cannot open " + path);
  return static_cast<size_t>(in.tellg()) / sizeof(float);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  using Clock = std::chrono::steady_clock;

  const size_t n_rows = file_floats(o.rows_path) / o.dim;
  const size_t n_queries = file_floats(o.queries_path) / o.dim;
  const std::vector<float> queries = read_floats(o.queries_path, 0, n_queries * o.dim);

  const auto load_start = Clock::now();
  vesta::index::FlatIndex index(o.dim, vesta::index::Metric::kDot);
  constexpr size_t kChunk = 65536;
  for (size_t r0 = 0; r0 < n_rows; r0 += kChunk) {
    const size_t n = std::min(kChunk, n_rows - r0);
    const std::vector<float> chunk = read_floats(o.rows_path, r0 * o.dim, n * o.dim);
    for (size_t r = 0; r < n; ++r) {
      const std::span<const float> v(chunk.data() + r * o.dim, o.dim);
      vesta::core::Status status = index.validate_vector(v, "row " + std::to_string(r0 + r));
      if (!status.is_ok()) fail(status.to_string());
      index.upsert(vesta::core::PointId::number(r0 + r), v, nullptr);
    }
  }
  std::printf("loaded %zu rows x %zu dims as float16 in %.1f s; %zu queries\n", n_rows, o.dim,
              std::chrono::duration<double>(Clock::now() - load_start).count(), n_queries);

  vesta::core::ThreadPool pool(o.threads);
  vesta::index::CpuSearcher searcher(pool);
  std::printf("threads %zu, kernels %s\n", pool.size(),
              vesta::kernels::isa_name(vesta::kernels::active_isa()).data());

  for (size_t batch : o.batches) {
    if (batch == 0 || batch > n_queries) fail("batch " + std::to_string(batch) + " out of range");
    const size_t blocks = n_queries / batch;
    auto run_block = [&](size_t block) {
      const size_t first = (block % blocks) * batch;
      vesta::index::SearchRequest request{queries.data() + first * o.dim, batch, o.k, nullptr};
      auto hits = searcher.search(index, request);
      if (!hits.is_ok()) fail(hits.status().to_string());
      return std::move(hits).value();
    };

    // Result ids for every query, searched in blocks of `batch` (untimed).
    std::vector<int64_t> ids(n_queries * o.k, -1);
    for (size_t b = 0; b < blocks; ++b) {
      const vesta::index::SearchHits hits = run_block(b);
      for (size_t q = 0; q < batch; ++q) {
        for (size_t j = 0; j < hits[q].size(); ++j) {
          ids[(b * batch + q) * o.k + j] = static_cast<int64_t>(hits[q][j].row);
        }
      }
    }
    if (!o.out_ids.empty()) {
      const std::string path = o.out_ids + ".b" + std::to_string(batch) + ".i64";
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(ids.data()),
                static_cast<std::streamsize>(ids.size() * sizeof(int64_t)));
      if (!out) fail("cannot write " + path);
    }

    // Timed: one warm-up, then calls until min_seconds and at least 3 calls.
    run_block(0);
    std::vector<double> seconds;
    const auto start = Clock::now();
    for (size_t call = 1;
         seconds.size() < 3 ||
         std::chrono::duration<double>(Clock::now() - start).count() < o.min_seconds;
         ++call) {
      const auto t0 = Clock::now();
      run_block(call);
      seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    std::printf("{\"batch\": %zu, \"seconds_per_batch\": %.6g, \"calls\": %zu}\n", batch,
                seconds[seconds.size() / 2], seconds.size());
    std::fflush(stdout);
  }
  return 0;
}
