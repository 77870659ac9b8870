#include "loadgen/load_generator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>
#include <thread>

namespace vesta::loadgen {

using Clock = std::chrono::steady_clock;

LatencySummary LatencySummary::of(std::vector<double>& micros) {
  LatencySummary s;
  if (micros.empty()) return s;
  std::sort(micros.begin(), micros.end());
  // Nearest rank: the smallest value with at least p percent at or below it.
  auto rank = [&](double p) {
    const auto index =
        static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(micros.size())));
    return micros[std::clamp<size_t>(index, 1, micros.size()) - 1] / 1000.0;
  };
  s.p50_ms = rank(50);
  s.p95_ms = rank(95);
  s.p99_ms = rank(99);
  s.max_ms = micros.back() / 1000.0;
  s.mean_ms = std::accumulate(micros.begin(), micros.end(), 0.0) /
              static_cast<double>(micros.size()) / 1000.0;
  return s;
}

LoadGenerator::LoadGenerator(HttpEndpoint endpoint, std::string api_key, LoadOptions options)
    : endpoint_(std::move(endpoint)), api_key_(std::move(api_key)), options_(options) {}

LoadResult LoadGenerator::run(const std::vector<PreparedRequest>& requests,
                              const ReplyObserver& observe) const {
  VESTA_CHECK(!requests.empty()) << "no requests to send";
  VESTA_CHECK(options_.concurrency > 0) << "concurrency 0";
  // What each worker gathers alone, merged after the join.
  struct WorkerTally {
    std::vector<double> micros;
    std::map<int, size_t> status_counts;
    size_t requests = 0;
    size_t errors = 0;
    std::string first_error;
  };
  std::vector<WorkerTally> tallies(options_.concurrency);
  std::atomic<size_t> next{0};
  const Clock::time_point start = Clock::now();
  const std::optional<Clock::time_point> deadline =
      options_.duration ? std::optional(start + *options_.duration) : std::nullopt;

  auto work = [&](WorkerTally& tally) {
    HttpClient client(endpoint_, api_key_);
    while (true) {
      if (deadline && Clock::now() >= *deadline) break;
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (!deadline && i >= options_.requests) break;
      const size_t index = i % requests.size();
      const PreparedRequest& r = requests[index];
      const Clock::time_point sent = Clock::now();
      core::Result<HttpReply> reply = client.request("POST", r.target, r.body, r.content_type);
      const double micros = std::chrono::duration<double, std::micro>(Clock::now() - sent).count();
      ++tally.requests;
      if (!reply.is_ok()) {
        ++tally.errors;
        ++tally.status_counts[0];
        if (tally.first_error.empty()) tally.first_error = reply.status().message();
        continue;
      }
      ++tally.status_counts[reply.value().status];
      if (reply.value().status != 200) {
        ++tally.errors;
        if (tally.first_error.empty()) {
          tally.first_error = "HTTP " + std::to_string(reply.value().status) + " from " + r.target +
                              ": " + reply.value().body.substr(0, 300);
        }
        continue;
      }
      tally.micros.push_back(micros);
      if (observe) observe(index, reply.value());
    }
  };
  {
    std::vector<std::jthread> workers;
    workers.reserve(options_.concurrency);
    for (WorkerTally& tally : tallies) workers.emplace_back(work, std::ref(tally));
  }  // joined here
  LoadResult result;
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> micros;
  for (WorkerTally& t : tallies) {
    micros.insert(micros.end(), t.micros.begin(), t.micros.end());
    for (const auto& [status, count] : t.status_counts) result.status_counts[status] += count;
    result.requests += t.requests;
    result.errors += t.errors;
    if (result.first_error.empty()) result.first_error = t.first_error;
  }
  result.latency = LatencySummary::of(micros);
  return result;
}

}  // namespace vesta::loadgen
