#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace vesta::server {

// Upper bounds (seconds) of the request latency histogram's buckets.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

// The process's metrics in Prometheus's text format (version 0.0.4), served
// at GET /metrics. Request counts and latencies are recorded here as requests
// end; everything else (collections, searches, locks, the device) is read at
// scrape time from the collectors the composition root registers. Label
// values are escaped; routes are patterns, never raw paths, so label sets
// stay bounded. Thread-safe.
class Metrics {
 public:
  // Appends exposition text (with # HELP and # TYPE lines) to `out`.
  using Collector = std::function<void(std::string& out)>;

  void observe_request(std::string_view method, std::string_view route, int status, double seconds);
  void add_collector(Collector collector);
  std::string render() const;

 private:
  struct Latency {
    std::array<uint64_t, kLatencyBuckets.size()> buckets{};  // not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // method, route, status
  std::map<std::string, Latency> latency_;                                  // by route
  std::vector<Collector> collectors_;
};

// Helpers for collectors: one sample line, label values escaped.
std::string prometheus_escape(std::string_view value);
void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);
void append_sample(std::string& out, std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& labels, double value);

}  // namespace vesta::server
