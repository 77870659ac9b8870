#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/http_client.h"

namespace vesta::loadgen {

// One request the generator may send, prepared before the run.
struct PreparedRequest {
  std::string target;  // "/collections/docs/points/search"
  std::string body;
  std::string content_type;
};

struct LoadOptions {
  size_t concurrency = 64;  // connections, one worker thread each
  // Stop after this long, or (when not set) after `requests` requests.
  std::optional<std::chrono::nanoseconds> duration;
  size_t requests = 0;
};

// Latency percentiles of the successful requests, in milliseconds.
struct LatencySummary {
  double mean_ms = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;

  // Nearest-rank percentiles of `micros` (sorted in place); zeros when empty.
  static LatencySummary of(std::vector<double>& micros);
};

struct LoadResult {
  size_t requests = 0;  // sent and finished, errors included
  size_t errors = 0;    // transport failures and non-200 answers
  double elapsed_s = 0;
  LatencySummary latency;
  std::map<int, size_t> status_counts;  // HTTP status -> answers; 0 for transport failures
  std::string first_error;              // empty when there was none
};

// Called for each 200 answer with the index of the prepared request it
// answers; runs on the worker threads, concurrently.
using ReplyObserver = std::function<void(size_t request_index, const HttpReply& reply)>;

// A closed-loop load generator: `concurrency` workers, each with its own
// keep-alive connection, send POSTs back to back, taking the prepared
// requests in turn (request i of the run is requests[i % size]), until the
// duration has passed or the request count is reached. Every worker thread
// is joined before run() returns.
class LoadGenerator {
 public:
  LoadGenerator(HttpEndpoint endpoint, std::string api_key, LoadOptions options);

  LoadResult run(const std::vector<PreparedRequest>& requests, const ReplyObserver& observe) const;

 private:
  HttpEndpoint endpoint_;
  std::string api_key_;
  LoadOptions options_;
};

}  // namespace vesta::loadgen
