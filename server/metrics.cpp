#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace vesta::server {
namespace {

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char text[40];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.9g", value);
  }
  return text;
}

}  // namespace

std::string prometheus_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_sample(std::string& out, std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first;
      out += "=\"";
      out += prometheus_escape(labels[i].second);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += number(value);
  out += '\n';
}

void Metrics::observe_request(std::string_view method, std::string_view route, int status,
                              double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(method), std::string(route), status}];
  Latency& latency = latency_[std::string(route)];
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  if (bucket < kLatencyBuckets.size()) ++latency.buckets[bucket];
  ++latency.count;
  latency.sum += seconds;
}

void Metrics::add_collector(Collector collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::render() const {
  std::string out;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mutex_);
    append_metric_header(out, "vesta_http_requests_total", "counter",
                         "HTTP requests answered, by method, route pattern and status.");
    for (const auto& [key, count] : requests_) {
      const auto& [method, route, status] = key;
      append_sample(out, "vesta_http_requests_total",
                    {{"method", method}, {"route", route}, {"status", std::to_string(status)}},
                    static_cast<double>(count));
    }
    append_metric_header(out, "vesta_http_request_duration_seconds", "histogram",
                         "Time from a request's arrival at the handler to its response, by route.");
    for (const auto& [route, latency] : latency_) {
      uint64_t cumulative = 0;
      for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
        cumulative += latency.buckets[b];
        append_sample(out, "vesta_http_request_duration_seconds_bucket",
                      {{"route", route}, {"le", number(kLatencyBuckets[b])}},
                      static_cast<double>(cumulative));
      }
      append_sample(out, "vesta_http_request_duration_seconds_bucket",
                    {{"route", route}, {"le", "+Inf"}}, static_cast<double>(latency.count));
      append_sample(out, "vesta_http_request_duration_seconds_sum", {{"route", route}},
                    latency.sum);
      append_sample(out, "vesta_http_request_duration_seconds_count", {{"route", route}},
                    static_cast<double>(latency.count));
    }
    collectors = collectors_;
  }
  // Collectors run without the mutex: they take other locks.
  for (const Collector& collector : collectors) collector(out);
  return out;
}

}  // namespace vesta::server
