// /metrics (Prometheus text) and the access log: the exposition format on its
// own, then the whole of `vesta serve`'s wiring over real HTTP.

#include "server/metrics.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "http_test_client.h"
#include "index/cpu_searcher.h"
#include "index/placement.h"
#include "server/access_log.h"
#include "server/http_server.h"
#include "server/rest_api.h"
#include "server/standard_metrics.h"

namespace vesta::server {
namespace {

using nlohmann::json;

bool has_line(const std::string& text, const std::string& line) {
  size_t at = 0;
  while ((at = text.find(line, at)) != std::string::npos) {
    const bool starts = at == 0 || text[at - 1] == '\n';
    const bool ends = at + line.size() == text.size() || text[at + line.size()] == '\n';
    if (starts && ends) return true;
    at += line.size();
  }
  return false;
}

TEST(Metrics, CountersAndCumulativeHistogramsInPrometheusTextFormat) {
  Metrics metrics;
  metrics.observe_request("GET", "/collections/{name}", 200, 0.0003);
  metrics.observe_request("GET", "/collections/{name}", 200, 0.02);
  metrics.observe_request("GET", "/collections/{name}", 404, 7.0);
  metrics.add_collector([](std::string& out) {
    append_metric_header(out, "x_total", "counter", "A test.");
    append_sample(out, "x_total", {{"name", "a\"b\\c\nd"}}, 2.5);
  });
  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "# TYPE vesta_http_requests_total counter")) << text;
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_requests_total{method="GET",route="/collections/{name}",status="200"} 2)"));
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_requests_total{method="GET",route="/collections/{name}",status="404"} 1)"));
  EXPECT_TRUE(has_line(text, "# TYPE vesta_http_request_duration_seconds histogram"));
  // 0.0003 s falls in le=0.0005 and above; 0.02 s in le=0.025 and above; 7 s only in +Inf.
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_request_duration_seconds_bucket{route="/collections/{name}",le="0.00025"} 0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_request_duration_seconds_bucket{route="/collections/{name}",le="0.0005"} 1)"));
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_request_duration_seconds_bucket{route="/collections/{name}",le="0.025"} 2)"));
  EXPECT_TRUE(has_line(
      text, R"(vesta_http_request_duration_seconds_bucket{route="/collections/{name}",le="5"} 2)"));
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_request_duration_seconds_bucket{route="/collections/{name}",le="+Inf"} 3)"));
  EXPECT_TRUE(has_line(
      text, R"(vesta_http_request_duration_seconds_count{route="/collections/{name}"} 3)"));
  EXPECT_TRUE(has_line(text, R"(x_total{name="a\"b\\c\nd"} 2.5)")) << text;
}

// vesta serve's wiring: metrics, standard collectors and the access log.
class MetricsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path_ = ::testing::TempDir() + "vesta_access_" + std::to_string(::getpid()) + ".log";
    std::remove(log_path_.c_str());
    auto log = AccessLog::open(log_path_);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    access_log_ = std::move(log).value();
    index::PlacementOptions placement;
    placement.mode = index::DeviceMode::kCpu;
    placement_ = std::move(index::PlacementSearcher::create(cpu_, placement)).value();
    registry_ = std::make_unique<index::CollectionRegistry>(locks_, *placement_);
    register_standard_metrics(metrics_, *registry_, locks_, *placement_);
    RestApiOptions options;
    options.metrics = &metrics_;
    options.access_log = access_log_.get();
    api_ = std::make_unique<RestApi>(*registry_, "9.9.9", options);
    HttpServerOptions http;
    http.port = 0;
    server_ = std::make_unique<HttpServer>(
        http, [this](const HttpRequest& request) { return api_->handle(request); });
    ASSERT_TRUE(server_->start().is_ok());
    client_ = std::make_unique<testing::HttpTestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_->stop();
    std::remove(log_path_.c_str());
  }

  std::string log_path_;
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher cpu_{pool_};
  std::unique_ptr<index::PlacementSearcher> placement_;
  std::unique_ptr<index::CollectionRegistry> registry_;
  Metrics metrics_;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<testing::HttpTestClient> client_;
};

TEST_F(MetricsHttpTest, MetricsCoverRequestsCollectionsSearchesDeviceAndLocks) {
  ASSERT_EQ(
      client_->request("PUT", "/collections/docs", R"({"vectors": {"size": 2, "distance": "Dot"}})")
          .status,
      200);
  ASSERT_EQ(client_
                ->request("PUT", "/collections/docs/points?wait=true",
                          R"({"points": [{"id": 1, "vector": [1, 0]},
                                            {"id": 2, "vector": [0, 1]},
                                            {"id": 3, "vector": [1, 1]}]})")
                .status,
            200);
  ASSERT_EQ(client_
                ->request("POST", "/collections/docs/points/search/batch",
                          R"({"searches": [{"vector": [1, 0], "limit": 2},
                                              {"vector": [0, 1], "limit": 2},
                                              {"vector": [1, 1], "limit": 2}]})")
                .status,
            200);
  EXPECT_EQ(client_->request("GET", "/collections/nope").status, 404);
  EXPECT_EQ(client_->request("GET", "/no/such/route").status, 404);

  const testing::HttpResult r = client_->request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  const std::string& text = r.body;
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_requests_total{method="PUT",route="/collections/{name}",status="200"} 1)"))
      << text;
  EXPECT_TRUE(has_line(
      text,
      R"(vesta_http_requests_total{method="GET",route="/collections/{name}",status="404"} 1)"));
  EXPECT_TRUE(has_line(
      text, R"(vesta_http_requests_total{method="GET",route="unmatched",status="404"} 1)"));
  EXPECT_TRUE(has_line(text, "vesta_collections 1"));
  EXPECT_TRUE(has_line(text, R"(vesta_collection_points{collection="docs"} 3)"));
  // search/batch answers its 3 entries with one searcher call: bucket le=4
  // (and above) holds it, le=2 does not.
  EXPECT_TRUE(has_line(text, R"(vesta_search_batch_queries_bucket{le="2"} 0)"));
  EXPECT_TRUE(has_line(text, R"(vesta_search_batch_queries_bucket{le="4"} 1)"));
  EXPECT_TRUE(has_line(text, R"(vesta_search_batch_queries_bucket{le="+Inf"} 1)"));
  EXPECT_TRUE(has_line(text, "vesta_search_batch_queries_sum 3"));
  EXPECT_TRUE(has_line(text, "vesta_search_batch_queries_count 1"));
  EXPECT_TRUE(has_line(text, R"(vesta_search_calls_total{device="cpu"} 1)"));
  EXPECT_TRUE(has_line(text, R"(vesta_search_calls_total{device="gpu"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"x(vesta_device_info{description="cpu (--device cpu)",gpu="false"} 1)x"));
  EXPECT_TRUE(has_line(text, "vesta_gpu_fallbacks_total 0"));
  EXPECT_NE(text.find("\nvesta_lock_acquisitions_total "), std::string::npos);
  EXPECT_NE(text.find("\nvesta_lock_wait_seconds_total "), std::string::npos);
}

TEST_F(MetricsHttpTest, AccessLogWritesOneJsonLinePerRequestWithoutBodiesOrKeys) {
  EXPECT_EQ(
      client_
          ->request("PUT", "/collections/logged", R"({"vectors": {"size": 2, "distance": "Dot"}})")
          .status,
      200);
  EXPECT_EQ(client_->request("GET", "/collections/missing?secret=1").status, 404);
  std::ifstream in(log_path_);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["method"], "PUT");
  EXPECT_EQ(lines[0]["path"], "/collections/logged");
  EXPECT_EQ(lines[0]["route"], "/collections/{name}");
  EXPECT_EQ(lines[0]["status"], 200);
  EXPECT_GT(lines[0]["bytes_in"].get<int>(), 10);
  EXPECT_TRUE(lines[0]["ms"].is_number());
  EXPECT_EQ(lines[0]["ts"].get<std::string>().size(), 24u);  // 2026-11-26T00:31:02.123Z
  EXPECT_EQ(lines[1]["status"], 404);
  EXPECT_EQ(lines[1]["path"], "/collections/missing");  // no query string
}

TEST(AccessLogOpen, OffGivesNoLogAndAnUnwritablePathIsAnError) {
  auto off = AccessLog::open("off");
  ASSERT_TRUE(off.is_ok());
  EXPECT_EQ(off.value(), nullptr);
  auto bad = AccessLog::open("/nonexistent-dir/for/sure/access.log");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("/nonexistent-dir/for/sure/access.log"), std::string::npos);
}

}  // namespace
}  // namespace vesta::server
