#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/metric.h"

namespace vesta::loadgen {

// The options of `vesta bench` (bench_usage() describes each).
struct BenchOptions {
  std::string url = "http://127.0.0.1:6333";
  std::string collection;
  std::string api_key;  // sent as the api-key header when not empty
  bool create = false;  // (re)create the collection and upload random points
  size_t dim = 0;       // with create; else read from the collection
  size_t points = 10000;
  index::Metric metric = index::Metric::kCosine;
  size_t upload_batch = 1000;
  // How --create uploads: upsert requests of JSON, or bulk import jobs of
  // float16 rows (POST .../import, binary; far less to write and parse for
  // millions of points).
  enum class Upload { kJson, kImport } upload = Upload::kJson;
  size_t concurrency = 64;
  std::optional<std::chrono::nanoseconds> duration;  // default 10 s unless requests
  size_t requests = 0;
  enum class Mode { kJson, kBinary } mode = Mode::kJson;
  size_t batch = 1;  // queries per request
  size_t k = 10;
  bool recall = false;
  size_t recall_queries = 100;
  std::string report_path;
  uint64_t seed = 1;
  bool help = false;
};

// Parses the arguments after "bench"; errors name the flag.
core::Result<BenchOptions> parse_bench_options(const std::vector<std::string_view>& args);

// "10s", "1.5s", "500ms", "2m", or a plain number of seconds.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

std::string_view bench_usage();

// `vesta bench`: 0 when every request succeeded, 1 when a request failed or
// the setup did, 2 for a usage error.
int run_bench_command(const std::vector<std::string_view>& args);

}  // namespace vesta::loadgen
