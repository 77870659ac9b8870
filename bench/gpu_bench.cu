// vesta_gpu_bench: the GPU search path against the device's own ceilings,
// measured in the same run: copy bandwidth (a large device-to-device copy,
// bytes read + written) and the float16 tensor rate (a large cublasGemmEx,
// float16 inputs, float32 accumulation, as the search uses).
//
//   vesta_gpu_bench [--rows 1000000,10000000] [--dim 768] [--k 10]
//                   [--batches 1,4,16,64,256,1024,4096] [--reps 5] [--json FILE]
//                   [--scratch-bytes N] [--append-rows N] [--block-select]
//                   [--concurrent N] [--trace] [--graphs] [--fused] [--gemm-sms N]
//
// --append-rows N also times appending N rows from host memory (the write
// path's copy) against a plain cudaMemcpy of the same bytes. --block-select
// selects with whole thread blocks where warps would (the earlier way), for
// comparison. --concurrent N also runs N threads searching the same index at
// once (N device search slots, as a server's concurrent batches) and reports
// their combined rate. --trace prints each search's phase times to stderr.
// --graphs replays one-tile searches from CUDA graphs (DeviceOptions::graphs);
// the warm-up search runs plain, the first timed one captures, the rest replay.
// --fused searches batches of up to 16 (k <= 32) with the fused scan
// (DeviceOptions::fused_scan). --gemm-sms N aims the search's GEMMs at N
// multiprocessors (DeviceOptions::gemm_multiprocessors), leaving the others to
// the selection of the previous tile.
//
// Rows are random float16 values made on the device. Each batch size is run
// once to warm up, then --reps times; the median is reported. Without a
// device it says so and exits 0 without numbers.

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/distance.h"
#include "kernels/cuda/flat_search.h"

namespace {

using vesta::kernels::cuda::DeviceFlatIndex;

void die(const char* what, const std::string& message) {
  std::fprintf(stderr, "vesta_gpu_bench: %s: %s\n", what, message.c_str());
  std::exit(1);
}

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) die(what, cudaGetErrorString(error));
}
void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) die(what, cublasGetStatusString(status));
}

std::vector<size_t> parse_list(const char* text) {
  std::vector<size_t> out;
  std::string s(text);
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(std::stoull(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Random values in [-1, 1) from a hash of the index; padding stays zero.
__global__ void fill_rows_kernel(__half* rows, size_t count, size_t dim, size_t stride,
                                 uint64_t seed) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count * stride) return;
  const size_t col = i % stride;
  if (col >= dim) {
    rows[i] = __float2half(0.0f);
    return;
  }
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  const float u = static_cast<float>(x >> 40) / static_cast<float>(1ull << 24);
  rows[i] = __float2half(2.0f * u - 1.0f);
}

// Seconds for the matrix products alone of one search: the rows in tiles of
// `tile_rows` against `batch` float16 queries, float32 out (what the search's
// GEMM stream does, without selection).
double gemm_only_seconds(cublasHandle_t handle, const __half* rows, size_t n_rows, size_t dim,
                         size_t stride, const __half* queries, size_t batch, size_t tile_rows,
                         float* out, int reps, bool swapped);

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Bytes per second of a device-to-device copy, counting read + write.
double copy_bandwidth() {
  const size_t bytes = size_t{2} << 30;
  void* a = nullptr;
  void* b = nullptr;
  check(cudaMalloc(&a, bytes), "cudaMalloc");
  check(cudaMalloc(&b, bytes), "cudaMalloc");
  check(cudaMemset(a, 1, bytes), "cudaMemset");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  std::vector<double> rates;
  for (int rep = 0; rep < 8; ++rep) {
    check(cudaEventRecord(start), "record");
    check(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice), "copy");
    check(cudaEventRecord(stop), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    if (rep > 0) rates.push_back(2.0 * static_cast<double>(bytes) / (ms * 1e-3));
  }
  cudaFree(a);
  cudaFree(b);
  return median(rates);
}

// FLOP/s of an n x n x n float16 GEMM with float32 accumulation and output.
double tensor_rate() {
  const int n = 8192;
  __half* a = nullptr;
  __half* b = nullptr;
  float* c = nullptr;
  const size_t elems = static_cast<size_t>(n) * n;
  check(cudaMalloc(&a, elems * sizeof(__half)), "cudaMalloc");
  check(cudaMalloc(&b, elems * sizeof(__half)), "cudaMalloc");
  check(cudaMalloc(&c, elems * sizeof(float)), "cudaMalloc");
  const unsigned blocks = static_cast<unsigned>((elems + 255) / 256);
  fill_rows_kernel<<<blocks, 256>>>(a, n, n, n, 1);
  fill_rows_kernel<<<blocks, 256>>>(b, n, n, n, 2);
  check(cudaGetLastError(), "fill");
  cublasHandle_t handle;
  check(cublasCreate(&handle), "cublasCreate");
  const float alpha = 1.0f;
  const float beta = 0.0f;
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  std::vector<double> rates;
  for (int rep = 0; rep < 8; ++rep) {
    check(cudaEventRecord(start), "record");
    check(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, a, CUDA_R_16F, n, b,
                       CUDA_R_16F, n, &beta, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
    check(cudaEventRecord(stop), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    if (rep > 0) rates.push_back(2.0 * n * static_cast<double>(n) * n / (ms * 1e-3));
  }
  cublasDestroy(handle);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return median(rates);
}

double gemm_only_seconds(cublasHandle_t handle, const __half* rows, size_t n_rows, size_t dim,
                         size_t stride, const __half* queries, size_t batch, size_t tile_rows,
                         float* out, int reps, bool swapped) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  std::vector<double> seconds;
  for (int rep = 0; rep <= reps; ++rep) {
    check(cudaEventRecord(start), "record");
    for (size_t first = 0; first < n_rows; first += tile_rows) {
      const size_t m = std::min(tile_rows, n_rows - first);
      // swapped: out (batch x m) = queries^T rows, the other orientation.
      const cublasStatus_t status =
          swapped
              ? cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(batch),
                             static_cast<int>(m), static_cast<int>(dim), &alpha, queries,
                             CUDA_R_16F, static_cast<int>(stride), rows + first * stride,
                             CUDA_R_16F, static_cast<int>(stride), &beta, out, CUDA_R_32F,
                             static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)
              : cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m),
                             static_cast<int>(batch), static_cast<int>(dim), &alpha,
                             rows + first * stride, CUDA_R_16F, static_cast<int>(stride), queries,
                             CUDA_R_16F, static_cast<int>(stride), &beta, out, CUDA_R_32F,
                             static_cast<int>(m), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
      check(status, "cublasGemmEx");
    }
    check(cudaEventRecord(stop), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    if (rep > 0) seconds.push_back(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(seconds);
}

// Appends from host memory, as a write does: how long until append() returns
// (the rows staged, the copy running) and until a search has them, against
// one plain cudaMemcpy of the same bytes from pageable memory.
void measure_append(const std::shared_ptr<vesta::kernels::cuda::DeviceRuntime>& runtime,
                    size_t rows, size_t dim, size_t stride) {
  std::vector<uint16_t> host(rows * stride, 0x3C00);  // 1.0
  const size_t bytes = host.size() * sizeof(uint16_t);
  void* plain = nullptr;
  check(cudaMalloc(&plain, bytes), "cudaMalloc");
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count() * 1e3;
  };
  std::vector<float> query(dim, 0.5f);
  std::vector<std::vector<vesta::kernels::Neighbor>> hits;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    check(cudaMemcpy(plain, host.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    const auto t1 = Clock::now();
    auto created =
        DeviceFlatIndex::create(runtime, dim, stride, vesta::kernels::DistanceKind::kInnerProduct);
    if (!created.is_ok()) die("create", created.status().message());
    const auto t2 = Clock::now();  // append() includes the device allocation
    const vesta::core::Status appended = created.value()->append(host.data(), rows);
    if (!appended.is_ok()) die("append", appended.message());
    const auto t3 = Clock::now();
    const vesta::core::Status searched =
        created.value()->search(query.data(), 1, 1, nullptr, &hits);
    if (!searched.is_ok()) die("search", searched.message());
    const auto t4 = Clock::now();
    std::printf(
        "append %zu rows (%.0f MiB) from host memory: plain cudaMemcpy %.1f ms (%.1f GB/s); "
        "append() returned after %.1f ms, first search done after %.1f ms (%.1f GB/s)\n",
        rows, static_cast<double>(bytes) / (1 << 20), ms(t0, t1), bytes / ms(t0, t1) / 1e6,
        ms(t2, t3), ms(t2, t4), bytes / ms(t2, t4) / 1e6);
  }
  cudaFree(plain);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> row_counts{1000000, 10000000};
  std::vector<size_t> batches{1, 4, 16, 64, 256, 1024, 4096};
  size_t dim = 768;
  size_t k = 10;
  int reps = 5;
  size_t scratch = size_t{256} << 20;
  size_t append_rows = 0;
  std::string json_path;
  bool block_select = false;
  bool trace = false;
  bool graphs = false;
  bool fused = false;
  int gemm_sms = 0;
  size_t concurrent = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(arg.c_str(), "needs a value");
      return argv[++i];
    };
    if (arg == "--rows") {
      row_counts = parse_list(value());
    } else if (arg == "--batches") {
      batches = parse_list(value());
    } else if (arg == "--dim") {
      dim = std::stoull(value());
    } else if (arg == "--k") {
      k = std::stoull(value());
    } else if (arg == "--reps") {
      reps = std::stoi(value());
    } else if (arg == "--scratch-bytes") {
      scratch = std::stoull(value());
    } else if (arg == "--append-rows") {
      append_rows = std::stoull(value());
    } else if (arg == "--block-select") {
      block_select = true;
    } else if (arg == "--trace") {
      trace = true;
    } else if (arg == "--graphs") {
      graphs = true;
    } else if (arg == "--fused") {
      fused = true;
    } else if (arg == "--gemm-sms") {
      gemm_sms = std::stoi(value());
    } else if (arg == "--concurrent") {
      concurrent = std::max<size_t>(1, std::stoull(value()));
    } else if (arg == "--json") {
      json_path = value();
    } else {
      std::fprintf(
          stderr,
          "usage: vesta_gpu_bench [--rows N,N] [--dim D] [--k K] [--batches B,B] "
          "[--reps R] [--scratch-bytes N] [--append-rows N] [--block-select] "
          "[--concurrent N] [--trace] [--graphs] [--fused] [--gemm-sms N] [--json FILE]\n");
      return arg == "--help" ? 0 : 2;
    }
  }

  vesta::kernels::cuda::DeviceOptions options;
  options.scratch_bytes = scratch;
  options.max_concurrent_searches = concurrent;
  options.block_select = block_select;
  options.trace = trace;
  options.graphs = graphs;
  options.fused_scan = fused;
  options.gemm_multiprocessors = gemm_sms;
  auto runtime = vesta::kernels::cuda::open_device(options);
  if (!runtime.is_ok()) {
    std::printf("vesta_gpu_bench: NOT RUN - no usable CUDA device (%s)\n",
                runtime.status().message().c_str());
    return 0;
  }
  const auto facts = vesta::kernels::cuda::device_facts(*runtime.value());
  const double copy_bps = copy_bandwidth();
  const double tensor_flops = tensor_rate();
  std::printf("device: %s, %d SMs, %.1f GiB\n", facts.name.c_str(), facts.multiprocessors,
              static_cast<double>(facts.total_bytes) / (1u << 30));
  std::printf("copy bandwidth (read+write): %.0f GB/s; fp16 GEMM (fp32 accumulate): %.0f TFLOP/s\n",
              copy_bps / 1e9, tensor_flops / 1e12);

  FILE* json = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "w");
  if (json != nullptr) {
    std::fprintf(json,
                 "{\"device\": \"%s\", \"copy_bytes_per_s\": %.6e, \"tensor_flops\": %.6e, "
                 "\"dim\": %zu, \"k\": %zu, \"runs\": [",
                 facts.name.c_str(), copy_bps, tensor_flops, dim, k);
  }
  bool first_run = true;
  const size_t stride = vesta::kernels::padded_dim(dim);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal;
  std::printf(
      "\n| rows | batch | ms/batch | queries/s | row bytes/s | %% of copy | FLOP/s | "
      "%% of fp16 GEMM | GEMMs alone, ms | swapped GEMMs, ms "
      "|\n|---|---|---|---|---|---|---|---|---|---|\n");
  cublasHandle_t handle;
  check(cublasCreate(&handle), "cublasCreate");
  for (size_t rows : row_counts) {
    auto created = DeviceFlatIndex::create(runtime.value(), dim, stride,
                                           vesta::kernels::DistanceKind::kInnerProduct);
    if (!created.is_ok()) die("create", created.status().message());
    std::unique_ptr<DeviceFlatIndex> index = std::move(created).value();
    const size_t chunk = 1 << 20;
    __half* staging = nullptr;
    check(cudaMalloc(&staging, chunk * stride * sizeof(__half)), "cudaMalloc staging");
    for (size_t first = 0; first < rows; first += chunk) {
      const size_t count = std::min(chunk, rows - first);
      const size_t elems = count * stride;
      fill_rows_kernel<<<static_cast<unsigned>((elems + 255) / 256), 256>>>(staging, count, dim,
                                                                            stride, first + 7);
      check(cudaDeviceSynchronize(), "fill");
      vesta::core::Status status = index->append_device(staging, count);
      if (!status.is_ok()) die("append", status.message());
    }
    // A second copy of the rows for the GEMM-only timing (same values).
    __half* gemm_rows = nullptr;
    check(cudaMalloc(&gemm_rows, rows * stride * sizeof(__half)), "cudaMalloc gemm rows");
    for (size_t first = 0; first < rows; first += chunk) {
      const size_t count = std::min(chunk, rows - first);
      const size_t elems = count * stride;
      fill_rows_kernel<<<static_cast<unsigned>((elems + 255) / 256), 256>>>(
          gemm_rows + first * stride, count, dim, stride, first + 7);
    }
    check(cudaDeviceSynchronize(), "fill");
    cudaFree(staging);
    const double row_bytes = static_cast<double>(rows) * static_cast<double>(stride) * 2.0;
    for (size_t batch : batches) {
      std::vector<float> queries(batch * dim);
      for (float& x : queries) x = normal(rng) * 0.5f;
      std::vector<std::vector<vesta::kernels::Neighbor>> hits;
      std::vector<double> seconds;
      for (int rep = 0; rep <= reps; ++rep) {
        const auto start = std::chrono::steady_clock::now();
        vesta::core::Status status = index->search(queries.data(), batch, k, nullptr, &hits);
        const auto stop = std::chrono::steady_clock::now();
        if (!status.is_ok()) die("search", status.message());
        if (rep > 0) seconds.push_back(std::chrono::duration<double>(stop - start).count());
      }
      const double t = median(seconds);
      // N threads at once, each as many searches as --reps (after one each to warm up).
      double concurrent_t = 0;
      if (concurrent > 1) {
        std::vector<std::thread> threads;
        std::atomic<bool> failed{false};
        auto run = [&](int searches) {
          std::vector<std::vector<vesta::kernels::Neighbor>> own;
          for (int i = 0; i < searches; ++i) {
            if (!index->search(queries.data(), batch, k, nullptr, &own).is_ok()) failed = true;
          }
        };
        for (size_t c = 0; c < concurrent; ++c) threads.emplace_back(run, 1);
        for (std::thread& thread : threads) thread.join();
        threads.clear();
        const int per_thread = std::max(reps, 4);
        const auto start = std::chrono::steady_clock::now();
        for (size_t c = 0; c < concurrent; ++c) threads.emplace_back(run, per_thread);
        for (std::thread& thread : threads) thread.join();
        const auto stop = std::chrono::steady_clock::now();
        if (failed) die("search", "a concurrent search failed");
        concurrent_t = std::chrono::duration<double>(stop - start).count() /
                       static_cast<double>(concurrent * static_cast<size_t>(per_thread));
      }
      // The GEMM-only time, with the tile size the search picks.
      const size_t tile_rows = std::min(
          rows,
          std::max<size_t>(256, scratch / 2 / (std::min<size_t>(batch, 4096) * 4) / 256 * 256));
      __half* q16 = nullptr;
      float* out = nullptr;
      check(cudaMalloc(&q16, batch * stride * sizeof(__half)), "cudaMalloc");
      check(cudaMalloc(&out, tile_rows * batch * sizeof(float)), "cudaMalloc");
      fill_rows_kernel<<<static_cast<unsigned>((batch * stride + 255) / 256), 256>>>(
          q16, batch, dim, stride, 99);
      const double gemm_t = gemm_only_seconds(handle, gemm_rows, rows, dim, stride, q16, batch,
                                              tile_rows, out, reps, false);
      const double swapped_t = gemm_only_seconds(handle, gemm_rows, rows, dim, stride, q16, batch,
                                                 tile_rows, out, reps, true);
      cudaFree(q16);
      cudaFree(out);
      const double flops =
          2.0 * static_cast<double>(rows) * static_cast<double>(dim) * static_cast<double>(batch);
      std::printf(
          "| %zu | %zu | %.3f | %.0f | %.0f GB/s | %.1f | %.1f TFLOP/s | %.1f | %.3f | %.3f |\n",
          rows, batch, t * 1e3, static_cast<double>(batch) / t, row_bytes / t / 1e9,
          100.0 * row_bytes / t / copy_bps, flops / t / 1e12, 100.0 * flops / t / tensor_flops,
          gemm_t * 1e3, swapped_t * 1e3);
      if (concurrent > 1) {
        std::printf(
            "| %zu | %zu, %zu at once | %.3f | %.0f | %.0f GB/s | %.1f | %.1f TFLOP/s | "
            "%.1f | | |\n",
            rows, batch, concurrent, concurrent_t * 1e3, static_cast<double>(batch) / concurrent_t,
            row_bytes / concurrent_t / 1e9, 100.0 * row_bytes / concurrent_t / copy_bps,
            flops / concurrent_t / 1e12, 100.0 * flops / concurrent_t / tensor_flops);
      }
      std::fflush(stdout);
      if (json != nullptr) {
        std::fprintf(json,
                     "%s{\"rows\": %zu, \"batch\": %zu, \"seconds\": %.6e, \"row_bytes_per_s\": "
                     "%.6e, \"flops\": %.6e, \"gemm_only_seconds\": %.6e}",
                     first_run ? "" : ", ", rows, batch, t, row_bytes / t, flops / t, gemm_t);
        first_run = false;
      }
    }
    cudaFree(gemm_rows);
  }
  cublasDestroy(handle);
  if (append_rows > 0) measure_append(runtime.value(), append_rows, dim, stride);
  if (graphs || fused) {
    const auto counts = vesta::kernels::cuda::search_counts(*runtime.value());
    std::printf(
        "searches: %llu shapes captured as CUDA graphs, %llu replayed, %llu captures failed; "
        "%llu chunks by the fused scan\n",
        static_cast<unsigned long long>(counts.graphs_captured),
        static_cast<unsigned long long>(counts.graphs_replayed),
        static_cast<unsigned long long>(counts.graph_failures),
        static_cast<unsigned long long>(counts.fused_chunks));
  }
  if (json != nullptr) {
    std::fprintf(json, "]}\n");
    std::fclose(json);
  }
  return 0;
}
