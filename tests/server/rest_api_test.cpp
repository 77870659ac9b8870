// Drives the real HTTP server over loopback: every route of this step, the
// error codes, bad inputs, and aliases (including a swap under concurrent
// queries).

#include "server/rest_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "core/thread_pool.h"
#include "http_test_client.h"
#include "index/cpu_searcher.h"
#include "server/http_server.h"

namespace vesta::server {
namespace {

using nlohmann::json;
using testing::HttpTestClient;

class RestApiTest : public ::testing::Test {
 protected:
  // The API's options; a fixture that needs others overrides this.
  virtual RestApiOptions api_options() const { return {}; }

  void SetUp() override {
    api_ = std::make_unique<RestApi>(registry_, "9.9.9", api_options());
    HttpServerOptions options;
    options.port = 0;
    options.body_limit_bytes = 1 << 20;
    server_ = std::make_unique<HttpServer>(
        options, [this](const HttpRequest& request) { return api_->handle(request); });
    ASSERT_TRUE(server_->start().is_ok());
    client_ = std::make_unique<HttpTestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_->stop();
  }

  testing::HttpResult call(const std::string& method, const std::string& target,
                           const json& body = nullptr) {
    return client_->request(method, target, body.is_null() ? "" : body.dump());
  }
  void create(const std::string& name, size_t size, const std::string& distance) {
    auto r = call("PUT", "/collections/" + name,
                  {{"vectors", {{"size", size}, {"distance", distance}}}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Asserts the error envelope and that the message mentions `words`.
  void expect_error(const testing::HttpResult& r, int status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = r.json();
    ASSERT_TRUE(body.contains("status") && body["status"].contains("error")) << r.body;
    EXPECT_NE(body["status"]["error"].get<std::string>().find(words), std::string::npos)
        << "error '" << body["status"]["error"] << "' lacks '" << words << "'";
  }

  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  index::CollectionRegistry registry_{locks_, searcher_};
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(RestApiTest, RootHealthAndReadiness) {
  auto root = call("GET", "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.json()["version"], "9.9.9");
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_TRUE(root.keep_alive);
}

TEST_F(RestApiTest, CollectionLifecycle) {
  create("docs", 4, "Dot");
  auto list = call("GET", "/collections").json();
  EXPECT_EQ(list["status"], "ok");
  EXPECT_TRUE(list.contains("time"));
  EXPECT_EQ(list["result"]["collections"], json::array({{{"name", "docs"}}}));
  auto info = call("GET", "/collections/docs").json()["result"];
  EXPECT_EQ(info["config"]["params"]["vectors"]["size"], 4);
  EXPECT_EQ(info["config"]["params"]["vectors"]["distance"], "Dot");
  EXPECT_EQ(info["points_count"], 0);
  EXPECT_EQ(call("GET", "/collections/docs/exists").json()["result"]["exists"], true);
  expect_error(call("PUT", "/collections/docs", {{"vectors", {{"size", 4}, {"distance", "Dot"}}}}),
               409, "already exists");
  EXPECT_EQ(call("DELETE", "/collections/docs").json()["result"], true);
  EXPECT_EQ(call("DELETE", "/collections/docs").json()["result"], false);
  EXPECT_EQ(call("GET", "/collections/docs/exists").json()["result"]["exists"], false);
  expect_error(call("GET", "/collections/docs"), 404, "does not exist");
}

TEST_F(RestApiTest, CreateCollectionRejectsBadConfig) {
  expect_error(call("PUT", "/collections/a", {{"vectors", {{"size", 0}, {"distance", "Dot"}}}}),
               400, "vectors.size");
  expect_error(call("PUT", "/collections/a", {{"vectors", {{"size", 65537}, {"distance", "Dot"}}}}),
               400, "vectors.size must be at most 65536");
  expect_error(
      call("PUT", "/collections/a", {{"vectors", {{"size", 4}, {"distance", "Manhattan"}}}}), 400,
      "Manhattan");
  expect_error(call("PUT", "/collections/a", {{"vectors", {{"size", -1}, {"distance", "Dot"}}}}),
               400, "vectors.size");
  expect_error(call("PUT", "/collections/a", json::object()), 400, "vectors");
  expect_error(
      call("PUT", "/collections/bad%20name", {{"vectors", {{"size", 4}, {"distance", "Dot"}}}}),
      400, "may only contain");
}

TEST_F(RestApiTest, UpsertListAndBatchFormsThenRetrieve) {
  create("docs", 3, "Dot");
  auto r = call("PUT", "/collections/docs/points",
                {{"points",
                  {{{"id", 1}, {"vector", {1, 0, 0}}, {"payload", {{"tag", "a"}}}},
                   {{"id", "550e8400-e29b-41d4-a716-446655440000"}, {"vector", {0, 1, 0}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["result"]["status"], "completed");
  r = call("PUT", "/collections/docs/points",
           {{"batch",
             {{"ids", {2, "doc-three"}},
              {"vectors", {{0, 0, 1}, {1, 1, 1}}},
              {"payloads", {{{"tag", "b"}}, nullptr}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", json::object()).json()["result"]["count"], 4);

  auto one = call("GET", "/collections/docs/points/2").json()["result"];
  EXPECT_EQ(one["id"], 2);
  EXPECT_EQ(one["payload"]["tag"], "b");
  EXPECT_EQ(one["vector"], json({0.0, 0.0, 1.0}));
  auto uuid = call("GET", "/collections/docs/points/550e8400-e29b-41d4-a716-446655440000");
  EXPECT_EQ(uuid.json()["result"]["id"], "550e8400-e29b-41d4-a716-446655440000");
  expect_error(call("GET", "/collections/docs/points/77"), 404, "does not exist");

  auto many = call("POST", "/collections/docs/points",
                   {{"ids", {1, "doc-three", 99}}, {"with_vector", true}})
                  .json()["result"];
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[0]["id"], 1);
  EXPECT_EQ(many[0]["payload"]["tag"], "a");
  EXPECT_EQ(many[1]["id"], "doc-three");
  EXPECT_EQ(many[1]["vector"], json({1.0, 1.0, 1.0}));
}

TEST_F(RestApiTest, ANamedVectorIsKeptShownAndReachedByItsName) {
  // Qdrant's named form of one vector: {"image": {size, distance}}.
  auto r = call("PUT", "/collections/pics",
                {{"vectors", {{"image", {{"size", 2}, {"distance", "Dot"}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("GET", "/collections/pics").json()["result"]["config"]["params"]["vectors"],
            json({{"image", {{"size", 2}, {"distance", "Dot"}}}}));
  r = call("PUT", "/collections/pics/points",
           {{"points",
             {{{"id", 1}, {"vector", {{"image", {1, 0}}}}},
              // The unnamed form reaches the one vector too.
              {{"id", 2}, {"vector", {0, 1}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  r = call("PUT", "/collections/pics/points",
           {{"batch", {{"ids", {3}}, {"vectors", {{"image", {{-1, 0}}}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;

  auto ids_of = [](const json& hits) {
    json ids = json::array();
    for (const json& h : hits) ids.push_back(h["id"]);
    return ids;
  };
  r = call(
      "POST", "/collections/pics/points/search",
      {{"vector", {{"name", "image"}, {"vector", {1, 0}}}}, {"limit", 1}, {"with_vector", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]), json::array({1}));
  EXPECT_EQ(r.json()["result"][0]["vector"], json({{"image", {1.0, 0.0}}}));
  r = call("POST", "/collections/pics/points/search", {{"vector", {0, 1}}, {"limit", 1}});
  EXPECT_EQ(ids_of(r.json()["result"]), json::array({2}));
  r = call("POST", "/collections/pics/points/query",
           {{"query", {-1, 0}}, {"using", "image"}, {"limit", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json::array({3}));
  EXPECT_EQ(call("GET", "/collections/pics/points/3").json()["result"]["vector"],
            json({{"image", {-1.0, 0.0}}}));
  r = call("POST", "/collections/pics/points/scroll", {{"limit", 1}, {"with_vector", true}});
  EXPECT_EQ(r.json()["result"]["points"][0]["vector"], json({{"image", {1.0, 0.0}}}));

  // Other names, "" included, are refused naming both.
  const std::string other =
      "names the vector \"text\"; this collection's one vector is named "
      "\"image\"";
  expect_error(call("PUT", "/collections/pics/points",
                    {{"points", {{{"id", 4}, {"vector", {{"text", {1, 0}}}}}}}}),
               400, "points[0].vector " + other);
  expect_error(call("PUT", "/collections/pics/points",
                    {{"batch", {{"ids", {4}}, {"vectors", {{"text", {{1, 0}}}}}}}}),
               400, "batch.vectors " + other);
  expect_error(
      call("POST", "/collections/pics/points/query", {{"query", {1, 0}}, {"using", "text"}}), 400,
      "using " + other);
  expect_error(call("POST", "/collections/pics/points/query", {{"query", {1, 0}}, {"using", ""}}),
               400, "using names the vector \"\"");
  expect_error(call("POST", "/collections/pics/points/search",
                    {{"vector", {{"name", "text"}, {"vector", {1, 0}}}}}),
               400, "vector " + other);

  // One vector per collection; a name follows the collection names' rules.
  expect_error(call("PUT", "/collections/two",
                    {{"vectors",
                      {{"image", {{"size", 2}, {"distance", "Dot"}}},
                       {"text", {{"size", 2}, {"distance", "Dot"}}}}}}),
               400, "vectors names 2 vectors (\"image\", \"text\")");
  expect_error(
      call("PUT", "/collections/odd", {{"vectors", {{"a b", {{"size", 2}, {"distance", "Dot"}}}}}}),
      400, "may only contain");
  EXPECT_FALSE(registry_.exists("two"));
  EXPECT_FALSE(registry_.exists("odd"));
}

TEST_F(RestApiTest, UpsertRejectsBadPointsNamingTheField) {
  create("docs", 3, "Dot");
  const std::string url = "/collections/docs/points";
  expect_error(call("PUT", url, {{"points", {{{"id", 1}, {"vector", {1, 0}}}}}}), 400,
               "has 2 values, expected 3");
  expect_error(call("PUT", url, {{"points", {{{"id", -5}, {"vector", {1, 0, 0}}}}}}), 400,
               "points[0].id");
  expect_error(call("PUT", url, {{"points", {{{"id", 1}, {"vector", {1, "x", 0}}}}}}), 400,
               "points[0].vector[1]");
  expect_error(call("PUT", url, {{"points", {{{"id", 1}, {"vector", {1, 1e6, 0}}}}}}), 400,
               "float16 range");
  expect_error(call("PUT", url, {{"points", {{{"id", 1}, {"vector", {1, 1e39, 0}}}}}}), 400,
               "not a finite float32");
  expect_error(call("PUT", url, {{"points", {{{"id", 1}}}}}), 400, "points[0].vector is required");
  expect_error(call("PUT", url, {{"points", {{{"id", 1}, {"vector", {1, 0, 0}}, {"payload", 3}}}}}),
               400, "points[0].payload");
  expect_error(call("PUT", url, {{"batch", {{"ids", {1, 2}}, {"vectors", {{1, 0, 0}}}}}}), 400,
               "one vector per id");
  expect_error(call("PUT", url, json::object()), 400, "\"points\"");
  expect_error(client_->request("PUT", url, "{\"points\": ["), 400, "malformed JSON");
  // A number beyond a double is the client's mistake too (it was a 500).
  expect_error(
      client_->request("PUT", url, "{\"points\": [{\"id\": 1, \"vector\": [1e400, 0, 0]}]}"), 400,
      "unreadable JSON");
  expect_error(client_->request("PUT", url, "{\"points\": [], \"x\": 1e400}"), 400,
               "unreadable JSON");
  expect_error(client_->request("PUT", url, ""), 400, "empty");
  expect_error(call("PUT", "/collections/none/points", {{"points", json::array()}}), 404,
               "does not exist");
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", json::object()).json()["result"]["count"], 0);
}

TEST_F(RestApiTest, SearchFollowsQdrantShapeLimitOffsetAndThreshold) {
  create("docs", 2, "Euclid");
  json points = json::array();
  for (int i = 0; i < 10; ++i) points.push_back({{"id", i}, {"vector", {i, 0}}});
  ASSERT_EQ(call("PUT", "/collections/docs/points", {{"points", points}}).status, 200);

  auto r = call("POST", "/collections/docs/points/search",
                {{"vector", {0, 0}}, {"limit", 3}, {"offset", 1}, {"with_vector", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json hits = r.json()["result"];
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0]["id"], 1);
  EXPECT_NEAR(hits[0]["score"].get<double>(), 1.0, 1e-3);
  EXPECT_EQ(hits[2]["id"], 3);
  EXPECT_EQ(hits[0]["vector"], json({1.0, 0.0}));
  EXPECT_TRUE(hits[0]["payload"].is_null());

  // Euclid: the threshold keeps distances at most 2.5.
  r = call("POST", "/collections/docs/points/search",
           {{"vector", {0, 0}}, {"limit", 10}, {"score_threshold", 2.5}});
  EXPECT_EQ(r.json()["result"].size(), 3u);

  auto batch = call(
      "POST", "/collections/docs/points/search/batch",
      {{"searches", {{{"vector", {9, 0}}, {"limit", 1}}, {{"vector", {4.2, 0}}, {"limit", 2}}}}});
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(batch.json()["result"][0][0]["id"], 9);
  EXPECT_EQ(batch.json()["result"][1][1]["id"], 5);
}

TEST_F(RestApiTest, SearchRejectsBadRequests) {
  create("docs", 2, "Cosine");
  const std::string url = "/collections/docs/points/search";
  expect_error(call("POST", url, {{"limit", 3}}), 400, "vector is required");
  expect_error(call("POST", url, {{"vector", {1, 2, 3}}}), 400, "expected 1 x 2");
  expect_error(call("POST", url, {{"vector", {1, 2}}, {"limit", 2000}}), 400,
               "limit must be at most 1024 (the server's --max-limit), got 2000");
  expect_error(call("POST", url, {{"vector", {1, 2}}, {"limit", 1000}, {"offset", 100}}), 400,
               "limit + offset must be at most 1024");
  expect_error(call("POST", url, {{"vector", {1, 2}}, {"limit", -1}}), 400, "limit");
  expect_error(call("POST", url, {{"vector", {1, 2}}, {"with_payload", "yes"}}), 400,
               "with_payload: expected true, false, a list of payload key paths");
  expect_error(call("POST", url,
                    {{"vector", {1, 2}}, {"filter", {{"must", {{{"key", "a"}, {"range", 3}}}}}}}),
               400, "filter.must[0].range must be an object");
  expect_error(call("POST", "/collections/docs/points/search/batch",
                    {{"searches", {{{"vector", {1, 2}}}, {{"vector", {1}}}}}}),
               400, "searches[1].");
  expect_error(call("POST", "/collections/nope/points/search", {{"vector", {1, 2}}}), 404,
               "does not exist");
}

TEST_F(RestApiTest, DeleteByIds) {
  create("docs", 1, "Dot");
  ASSERT_EQ(call("PUT", "/collections/docs/points",
                 {{"points", {{{"id", 1}, {"vector", {1}}}, {{"id", 2}, {"vector", {2}}}}}})
                .status,
            200);
  EXPECT_EQ(call("POST", "/collections/docs/points/delete", {{"points", {1, 5}}}).status, 200);
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", json::object()).json()["result"]["count"], 1);
  expect_error(call("POST", "/collections/docs/points/delete", {{"points", "1"}}), 400,
               "array of point ids");
}

// Ten points on a line: id i at (i, 1), payload {"n": i, "even": i % 2 == 0,
// "tags": ["t<i % 3>"]}.
class RestApiDataTest : public RestApiTest {
 protected:
  void SetUp() override {
    RestApiTest::SetUp();
    create("docs", 2, "Dot");
    json points = json::array();
    for (int i = 0; i < 10; ++i) {
      points.push_back(
          {{"id", i},
           {"vector", {i, 1}},
           {"payload", {{"n", i}, {"even", i % 2 == 0}, {"tags", {"t" + std::to_string(i % 3)}}}}});
    }
    ASSERT_EQ(call("PUT", "/collections/docs/points", {{"points", points}}).status, 200);
  }
  static json ids_of(const json& points) {
    json ids = json::array();
    for (const json& p : points) ids.push_back(p["id"]);
    return ids;
  }
};

TEST_F(RestApiDataTest, ASearchWhoseClientWentAwayStopsWaitingForTheCollection) {
  // A writer holds the collection; a client sends searches and closes its
  // connection without waiting. The server sees it go and ends the searches'
  // waits (LockManager counts them as cancelled) long before the lock's 30 s
  // timeout; the server then answers others as before.
  core::Result<core::CollectionLockGuard> locked = locks_.lock_collection_exclusive("docs");
  ASSERT_TRUE(locked.is_ok());
  std::optional<core::CollectionLockGuard> writer(std::move(locked).value());
  const uint64_t cancelled_before = locks_.stats().cancellations;
  for (const char* route : {"/collections/docs/points/search", "/collections/docs/points/query"}) {
    const std::string body = std::string(route).ends_with("search")
                                 ? R"({"vector": [1, 1], "limit": 3})"
                                 : R"({"query": [1, 1], "limit": 3})";
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  server_->port()));
    const std::string request = std::string("POST ") + route +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                "application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::asio::write(socket, boost::asio::buffer(request));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the search waits now
    socket.close();
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (locks_.stats().cancellations < cancelled_before + 2 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(locks_.stats().cancellations, cancelled_before + 2);
  writer.reset();
  auto r = call("POST", "/collections/docs/points/search", {{"vector", {1, 1}}, {"limit", 3}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(RestApiDataTest, SearchWithFilters) {
  const json even = {{"must", {{{"key", "even"}, {"match", {{"value", true}}}}}}};
  auto r = call("POST", "/collections/docs/points/search",
                {{"vector", {1, 0}}, {"limit", 3}, {"filter", even}, {"with_payload", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]), json({8, 6, 4}));
  EXPECT_EQ(r.json()["result"][0]["payload"]["n"], 8);
  const json complex = {{"must", {{{"key", "n"}, {"range", {{"gte", 2}, {"lt", 7}}}}}},
                        {"must_not", {{{"key", "tags"}, {"match", {{"any", {"t0"}}}}}}}};
  r = call("POST", "/collections/docs/points/search",
           {{"vector", {1, 0}}, {"limit", 10}, {"filter", complex}});
  EXPECT_EQ(ids_of(r.json()["result"]), json({5, 4, 2}));
  r = call("POST", "/collections/docs/points/search",
           {{"vector", {1, 0}}, {"limit", 10}, {"filter", {{"must", {{{"has_id", {3, 4}}}}}}}});
  EXPECT_EQ(ids_of(r.json()["result"]), json({4, 3}));
}

TEST_F(RestApiDataTest, PayloadIndexesCreateShowInInfoServeFiltersAndDelete) {
  auto r = call("PUT", "/collections/docs/index?wait=true",
                {{"field_name", "n"}, {"field_schema", "integer"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["result"]["status"], "completed");
  r = call("PUT", "/collections/docs/index",
           {{"field_name", "tags"}, {"field_schema", {{"type", "keyword"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json info = call("GET", "/collections/docs").json()["result"]["payload_schema"];
  EXPECT_EQ(info["n"]["data_type"], "integer");
  EXPECT_EQ(info["n"]["points"], 10);
  EXPECT_EQ(info["tags"]["data_type"], "keyword");
  // Filters on indexed fields answer as before.
  const json filter = {{"must",
                        {{{"key", "n"}, {"range", {{"gte", 2}, {"lt", 7}}}},
                         {{"key", "tags"}, {"match", {{"any", {"t0", "t1"}}}}}}}};
  r = call("POST", "/collections/docs/points/search",
           {{"vector", {1, 0}}, {"limit", 10}, {"filter", filter}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]), json({6, 4, 3}));
  EXPECT_EQ(call("DELETE", "/collections/docs/index/tags").status, 200);
  EXPECT_FALSE(
      call("GET", "/collections/docs").json()["result"]["payload_schema"].contains("tags"));
  expect_error(
      call("PUT", "/collections/docs/index", {{"field_name", "n"}, {"field_schema", "geo"}}), 400,
      "field_schema 'geo'");
  expect_error(call("PUT", "/collections/docs/index", {{"field_schema", "keyword"}}), 400,
               "field_name");
  expect_error(
      call("PUT", "/collections/nope/index", {{"field_name", "n"}, {"field_schema", "keyword"}}),
      404, "nope");
}

// search/batch answers unfiltered entries with one shared search: each entry
// must still get exactly what it gets alone.
TEST_F(RestApiDataTest, SearchBatchEntriesAnswerAsTheyWouldAlone) {
  const json even = {{"must", {{{"key", "even"}, {"match", {{"value", true}}}}}}};
  const json entries = json::array(
      {{{"vector", {1, 0}}, {"limit", 3}},
       {{"vector", {0, 1}}, {"limit", 2}, {"offset", 1}, {"with_payload", {"n"}}},
       {{"vector", {1, 1}}, {"limit", 5}, {"score_threshold", 9.5}, {"with_vector", true}},
       {{"vector", {1, 0}}, {"limit", 4}, {"filter", even}},
       {{"vector", {-1, 0}}, {"limit", 1}, {"with_payload", true}}});
  auto batch = call("POST", "/collections/docs/points/search/batch", {{"searches", entries}});
  ASSERT_EQ(batch.status, 200) << batch.body;
  ASSERT_EQ(batch.json()["result"].size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto alone = call("POST", "/collections/docs/points/search", entries[i]);
    ASSERT_EQ(alone.status, 200) << alone.body;
    EXPECT_EQ(batch.json()["result"][i], alone.json()["result"]) << "entry " << i;
  }
  // An error still names its entry.
  json bad = entries;
  bad[2]["vector"] = {1, 2, 3};
  expect_error(call("POST", "/collections/docs/points/search/batch", {{"searches", bad}}), 400,
               "searches[2]");
}

TEST_F(RestApiDataTest, QueryNearestAndWithoutQuery) {
  const json filter = {{"should", {{{"key", "n"}, {"match", {{"any", {1, 2, 3}}}}}}}};
  auto r = call("POST", "/collections/docs/points/query",
                {{"query", {1, 0}}, {"limit", 2}, {"filter", filter}, {"with_payload", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({3, 2}));
  r = call("POST", "/collections/docs/points/query",
           {{"query", {{"nearest", {-1, 0}}}}, {"limit", 1}});
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json::array({0}));
  r = call("POST", "/collections/docs/points/query", {{"limit", 3}});
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({0, 1, 2}));
  expect_error(call("POST", "/collections/docs/points/query",
                    {{"query", {1, 0}}, {"prefetch", json::object()}}),
               400, "prefetch is not supported");
  expect_error(call("POST", "/collections/docs/points/query", {{"query", {1, 0, 0}}}), 400,
               "expected 1 x 2");
  // The one vector's Qdrant name "" is accepted; any other name is refused.
  r = call("POST", "/collections/docs/points/query",
           {{"query", {-1, 0}}, {"using", ""}, {"limit", 1}});
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json::array({0}));
  expect_error(
      call("POST", "/collections/docs/points/query", {{"query", {1, 0}}, {"using", "img"}}), 400,
      "using names the vector \"img\"");
  expect_error(call("POST", "/collections/docs/points/search",
                    {{"vector", {{"name", "img"}, {"vector", {1, 0}}}}}),
               400, "vector names the vector \"img\"");
  expect_error(call("POST", "/collections/docs/points/query",
                    {{"query", {{"nearest", {1, 0}}, {"mmr", {{"diversity", -0.1}}}}}}),
               400, "query.mmr.diversity must be a number from 0 to 1");
}

TEST_F(RestApiDataTest, QueryByPointIdAndRecommendationLeaveTheirExamplesOut) {
  // Point i is (i, 1) under Dot: nearest to point 9's vector are 9, 8, 7, ...;
  // 9 itself is not an answer.
  auto r = call("POST", "/collections/docs/points/query", {{"query", 9}, {"limit", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({8, 7}));
  const json even = {{"must", {{{"key", "even"}, {"match", {{"value", true}}}}}}};
  r = call("POST", "/collections/docs/points/query",
           {{"query", {{"nearest", 9}}}, {"limit", 2}, {"filter", even}});
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({8, 6}));
  r = call("POST", "/collections/docs/points/query/batch",
           {{"searches", {{{"query", 9}, {"limit", 1}}, {{"query", {1, 0}}, {"limit", 1}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"][0]["points"]), json({8}));
  EXPECT_EQ(ids_of(r.json()["result"][1]["points"]), json({9}));

  // average_vector: 2 avg(positive) - avg(negative). Positive point 5 alone
  // points at large i; a negative example (20, 0) turns it to (-10, 2).
  r = call("POST", "/collections/docs/points/query",
           {{"query", {{"recommend", {{"positive", {5}}}}}}, {"limit", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({9, 8}));
  r = call("POST", "/collections/docs/points/query",
           {{"query",
             {{"recommend",
               {{"positive", {5}}, {"negative", {{20, 0}}}, {"strategy", "average_vector"}}}}},
            {"limit", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({0, 1}));
  r = call("POST", "/collections/docs/points/query",
           {{"query", {{"recommend", {{"positive", {9, 8}}, {"negative", {0}}}}}}, {"limit", 3}});
  EXPECT_EQ(ids_of(r.json()["result"]["points"]), json({7, 6, 5}));

  expect_error(call("POST", "/collections/docs/points/query", {{"query", 77}}), 404,
               "query: no point with id 77");
  expect_error(call("POST", "/collections/docs/points/query",
                    {{"query", {{"recommend", {{"positive", {1}}, {"strategy", "best_score"}}}}}}),
               400, "query.recommend.strategy \"best_score\" is not supported");
  expect_error(call("POST", "/collections/docs/points/query",
                    {{"query", {{"recommend", {{"negative", {1}}}}}}}),
               400, "query.recommend.positive needs at least one example");
  expect_error(call("POST", "/collections/docs/points/query",
                    {{"query", {{"recommend", {{"positive", {{1, 2, 3}}}}}}}}),
               400, "query.recommend.positive[0] has 3 values, the collection's size is 2");
  expect_error(call("POST", "/collections/docs/points/query",
                    {{"query", {{"recommend", {{"positive", {1, 55}}}}}}}),
               404, "query.recommend.positive[1]: no point with id 55");
  expect_error(
      call("POST", "/collections/docs/points/query", {{"query", {{"discover", {{"target", 1}}}}}}),
      400, "query.discover is not supported");
  // The search API takes vectors only.
  expect_error(call("POST", "/collections/docs/points/search", {{"vector", 9}}), 400,
               "vector must be an array of numbers");
}

TEST_F(RestApiDataTest, LegacyRecommendRoutesAnswerAsTheQueryApisRecommendation) {
  // POST /points/recommend: the body is the recommendation, the answer a list
  // of hits (as /points/search), the examples left out.
  auto r = call("POST", "/collections/docs/points/recommend",
                {{"positive", {5}}, {"negative", {{20, 0}}}, {"limit", 2}, {"with_payload", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"]), json({0, 1}));
  EXPECT_EQ(r.json()["result"][0]["payload"]["n"], 0);
  auto q =
      call("POST", "/collections/docs/points/query",
           {{"query", {{"recommend", {{"positive", {9, 8}}, {"negative", {0}}}}}}, {"limit", 3}});
  r = call("POST", "/collections/docs/points/recommend",
           {{"positive", {9, 8}}, {"negative", {0}}, {"limit", 3}});
  EXPECT_EQ(ids_of(r.json()["result"]), ids_of(q.json()["result"]["points"]));
  const json even = {{"must", {{{"key", "even"}, {"match", {{"value", true}}}}}}};
  r = call("POST", "/collections/docs/points/recommend",
           {{"positive", {9}}, {"filter", even}, {"limit", 2}, {"using", ""}});
  EXPECT_EQ(ids_of(r.json()["result"]), json({8, 6}));
  r = call("POST", "/collections/docs/points/recommend/batch",
           {{"searches", {{{"positive", {9}}, {"limit", 1}}, {{"positive", {0}}, {"limit", 1}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r.json()["result"][0]), json({8}));
  // Point 0 is (0, 1): every point scores 1, and the tie goes to the smallest
  // id other than 0 itself.
  EXPECT_EQ(ids_of(r.json()["result"][1]), json({1}));

  expect_error(call("POST", "/collections/docs/points/recommend", {{"negative", {1}}}), 400,
               "positive needs at least one example");
  expect_error(call("POST", "/collections/docs/points/recommend",
                    {{"positive", {1}}, {"strategy", "best_score"}}),
               400, "strategy \"best_score\" is not supported");
  expect_error(call("POST", "/collections/docs/points/recommend", {{"positive", {1, 55}}}), 404,
               "positive[1]: no point with id 55");
  expect_error(call("POST", "/collections/docs/points/recommend",
                    {{"positive", {1}}, {"lookup_from", {{"collection", "other"}}}}),
               400, "lookup_from is not supported");
  expect_error(call("POST", "/collections/docs/points/recommend/batch",
                    {{"searches", {{{"positive", {1}}}, {{"positive", {{1, 2, 3}}}}}}}),
               400, "searches[1].positive[0] has 3 values");
}

TEST_F(RestApiDataTest, QueryGroupsByAPayloadKey) {
  // Under (1, 0) the order is 9, 8, ..., 0; point i's tags are ["t<i % 3>"].
  auto groups_of = [](const json& result) {
    json out = json::array();
    for (const json& g : result["groups"]) {
      json ids = json::array();
      for (const json& h : g["hits"]) ids.push_back(h["id"]);
      out.push_back({g["id"], ids});
    }
    return out;
  };
  auto r = call("POST", "/collections/docs/points/query/groups",
                {{"query", {1, 0}}, {"group_by", "tags"}, {"limit", 2}, {"group_size", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(groups_of(r.json()["result"]).dump(), R"([["t0",[9,6]],["t2",[8,5]]])");
  // Integer values group too; with a filter and payload selection.
  const json even = {{"must", {{{"key", "even"}, {"match", {{"value", true}}}}}}};
  r = call("POST", "/collections/docs/points/query/groups",
           {{"query", {1, 0}},
            {"group_by", "n"},
            {"limit", 3},
            {"filter", even},
            {"with_payload", {"n"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(groups_of(r.json()["result"]).dump(), "[[8,[8]],[6,[6]],[4,[4]]]");
  EXPECT_EQ(r.json()["result"]["groups"][0]["hits"][0]["payload"], json({{"n", 8}}));
  // By a point id: that point is left out; groups fill up from the rest.
  r = call("POST", "/collections/docs/points/query/groups",
           {{"query", 9}, {"group_by", "tags"}, {"group_size", 4}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(groups_of(r.json()["result"]).dump(),
            R"([["t2",[8,5,2]],["t1",[7,4,1]],["t0",[6,3,0]]])");
  // Booleans and missing keys make no group.
  r = call("POST", "/collections/docs/points/query/groups",
           {{"query", {1, 0}}, {"group_by", "even"}});
  EXPECT_EQ(r.json()["result"]["groups"], json::array());

  expect_error(call("POST", "/collections/docs/points/query/groups", {{"query", {1, 0}}}), 400,
               "group_by is required");
  expect_error(call("POST", "/collections/docs/points/query/groups",
                    {{"query", {1, 0}}, {"group_by", "tags"}, {"group_size", 0}}),
               400, "group_size must be at least 1");
  expect_error(call("POST", "/collections/docs/points/query/groups",
                    {{"query", {1, 0}}, {"group_by", "tags"}, {"with_lookup", "other"}}),
               400, "with_lookup is not supported");
  expect_error(call("POST", "/collections/docs/points/query/groups", {{"group_by", "tags"}}), 400,
               "query is required");
}

TEST_F(RestApiDataTest, ScrollPagesThroughEveryPointInIdOrder) {
  json seen = json::array();
  json offset = nullptr;
  int pages = 0;
  do {
    json body = {{"limit", 3},
                 {"filter", {{"must_not", {{{"key", "n"}, {"match", {{"value", 5}}}}}}}}};
    if (!offset.is_null()) body["offset"] = offset;
    auto r = call("POST", "/collections/docs/points/scroll", body);
    ASSERT_EQ(r.status, 200) << r.body;
    const json page = r.json();  // named: a range-for over a temporary's member dangles
    for (const json& p : page["result"]["points"]) {
      seen.push_back(p["id"]);
      EXPECT_TRUE(p["payload"].contains("n"));
      EXPECT_TRUE(p["vector"].is_null());
    }
    offset = page["result"]["next_page_offset"];
    ASSERT_LT(++pages, 10);
  } while (!offset.is_null());
  EXPECT_EQ(seen, json({0, 1, 2, 3, 4, 6, 7, 8, 9}));
  EXPECT_EQ(pages, 3);
  expect_error(call("POST", "/collections/docs/points/scroll", {{"limit", 100000}}), 400,
               "at most 10000");
  expect_error(call("POST", "/collections/docs/points/scroll", {{"offset", -1}}), 400, "offset");
}

TEST_F(RestApiDataTest, CountAndDeleteByFilter) {
  const json odd = {{"must", {{{"key", "even"}, {"match", {{"value", false}}}}}}};
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", {{"filter", odd}}).json()["result"]["count"],
      5);
  auto r = call("POST", "/collections/docs/points/delete", {{"filter", odd}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", json::object()).json()["result"]["count"], 5);
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", {{"filter", odd}}).json()["result"]["count"],
      0);
  expect_error(call("POST", "/collections/docs/points/count", {{"filter", {{"must", 5}}}}), 400,
               "filter.must[0] must be an object");
}

TEST_F(RestApiDataTest, PayloadUpdatesByIdsAndFilter) {
  const std::string url = "/collections/docs/points/payload";
  ASSERT_EQ(call("POST", url, {{"payload", {{"color", "red"}}}, {"points", {1, 2}}}).status, 200);
  auto p1 = call("GET", "/collections/docs/points/1").json()["result"]["payload"];
  EXPECT_EQ(p1["color"], "red");
  EXPECT_EQ(p1["n"], 1);
  ASSERT_EQ(call("PUT", url, {{"payload", {{"only", 1}}}, {"points", {1}}}).status, 200);
  EXPECT_EQ(call("GET", "/collections/docs/points/1").json()["result"]["payload"],
            json({{"only", 1}}));
  const json low = {{"must", {{{"key", "n"}, {"range", {{"lt", 3}}}}}}};
  ASSERT_EQ(call("POST", url + "/delete", {{"keys", {"tags"}}, {"filter", low}}).status, 200);
  EXPECT_FALSE(
      call("GET", "/collections/docs/points/2").json()["result"]["payload"].contains("tags"));
  EXPECT_TRUE(
      call("GET", "/collections/docs/points/3").json()["result"]["payload"].contains("tags"));
  ASSERT_EQ(call("POST", url + "/clear", {{"points", {3}}}).status, 200);
  EXPECT_EQ(call("GET", "/collections/docs/points/3").json()["result"]["payload"], json::object());

  expect_error(call("POST", url, {{"payload", {{"a", 1}}}}), 400, "points (ids) or filter");
  expect_error(call("POST", url, {{"payload", 5}, {"points", {1}}}), 400, "payload must be");
  expect_error(call("POST", url + "/delete", {{"keys", {1}}, {"points", {1}}}), 400, "keys[0]");
  expect_error(call("POST", url, {{"payload", {{"a", 1}}}, {"points", {1}}, {"key", "x.y"}}), 400,
               "key (a nested payload path) is not supported");
}

// Two points with nested payloads, for with_payload on every route that
// returns points.
class RestApiPayloadSelectionTest : public RestApiTest {
 protected:
  void SetUp() override {
    RestApiTest::SetUp();
    create("docs", 2, "Dot");
    json points = json::array();
    for (int i = 1; i <= 2; ++i) {
      points.push_back(
          {{"id", i},
           {"vector", {i, 0}},
           {"payload", {{"city", "Oslo"}, {"n", i}, {"meta", {{"lang", "no"}, {"src", "web"}}}}}});
    }
    ASSERT_EQ(call("PUT", "/collections/docs/points", {{"points", points}}).status, 200);
  }
  // The payloads of the points in `result` (a list of points).
  static json payloads(const json& points) {
    json out = json::array();
    for (const json& p : points) out.push_back(p["payload"]);
    return out;
  }
  const json fields_ = {"city", "meta.lang"};
  const json selected_ = {{"city", "Oslo"}, {"meta", {{"lang", "no"}}}};
};

TEST_F(RestApiPayloadSelectionTest, EveryRouteSelectsFields) {
  const std::string base = "/collections/docs/points";
  const json two = json::array({selected_, selected_});
  auto r = call("POST", base + "/search", {{"vector", {1, 0}}, {"with_payload", fields_}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(payloads(r.json()["result"]), two);
  r = call("POST", base + "/search/batch",
           {{"searches",
             {{{"vector", {1, 0}}, {"with_payload", fields_}},
              {{"vector", {1, 0}}, {"with_payload", {{"include", {"n"}}}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(payloads(r.json()["result"][0]), two);
  EXPECT_EQ(payloads(r.json()["result"][1]), json({{{"n", 2}}, {{"n", 1}}}));
  r = call("POST", base + "/query", {{"query", {1, 0}}, {"with_payload", fields_}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(payloads(r.json()["result"]["points"]), two);
  r = call("POST", base + "/query/batch",
           {{"searches",
             {{{"query", {1, 0}}, {"with_payload", {{"exclude", {"meta", "city"}}}}},
              {{"with_payload", fields_}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(payloads(r.json()["result"][0]["points"]), json({{{"n", 2}}, {{"n", 1}}}));
  EXPECT_EQ(payloads(r.json()["result"][1]["points"]), two);
  r = call("POST", base, {{"ids", {1, 2}}, {"with_payload", fields_}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(payloads(r.json()["result"]), two);
  r = call("POST", base + "/scroll", {{"with_payload", {{"exclude", {"meta.src", "n"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(payloads(r.json()["result"]["points"]), two);
  r = call("GET", base + "/1?with_payload=city,meta.lang");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["result"]["payload"], selected_);
  EXPECT_EQ(r.json()["result"]["vector"], json({1.0, 0.0}));
  r = call("GET", base + "/1?with_payload=false&with_vector=false");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json()["result"]["payload"].is_null());
  EXPECT_TRUE(r.json()["result"]["vector"].is_null());
}

TEST_F(RestApiPayloadSelectionTest, BoolsAndDefaultsAsQdrant) {
  const std::string base = "/collections/docs/points";
  // Search and query default to no payload; retrieve, scroll and GET to all.
  auto r = call("POST", base + "/search", {{"vector", {1, 0}}});
  EXPECT_TRUE(r.json()["result"][0]["payload"].is_null());
  r = call("POST", base + "/query", {{"limit", 1}});
  EXPECT_TRUE(r.json()["result"]["points"][0]["payload"].is_null());
  r = call("POST", base + "/scroll", {{"limit", 1}});
  EXPECT_EQ(r.json()["result"]["points"][0]["payload"]["meta"]["src"], "web");
  r = call("POST", base, {{"ids", {1}}});
  EXPECT_EQ(r.json()["result"][0]["payload"]["n"], 1);
  r = call("POST", base, {{"ids", {1}}, {"with_payload", false}});
  EXPECT_TRUE(r.json()["result"][0]["payload"].is_null());
  r = call("POST", base + "/search", {{"vector", {1, 0}}, {"with_payload", true}});
  EXPECT_EQ(r.json()["result"][0]["payload"]["meta"]["src"], "web");
}

TEST_F(RestApiPayloadSelectionTest, ErrorsNameTheField) {
  const std::string base = "/collections/docs/points";
  expect_error(call("POST", base + "/search",
                    {{"vector", {1, 0}}, {"with_payload", {{"include", {"a", 1}}}}}),
               400, "with_payload.include[1]: expected a string");
  expect_error(call("POST", base + "/search/batch",
                    {{"searches",
                      {{{"vector", {1, 0}}}, {{"vector", {1, 0}}, {"with_payload", {"a..b"}}}}}}),
               400, "searches[1].with_payload[0]: 'a..b' is not a payload key path");
  expect_error(
      call("POST", base + "/query/batch", {{"searches", {{{"with_payload", {{"exclude", "a"}}}}}}}),
      400, "searches[0].with_payload.exclude: expected a list");
  expect_error(call("POST", base + "/query", {{"query", {1, 0}}, {"with_payload", 3}}), 400,
               "with_payload: expected true, false");
  expect_error(call("POST", base, {{"ids", {1}}, {"with_payload", {{"only", {"a"}}}}}), 400,
               "with_payload.only: unknown member");
  expect_error(
      call("POST", base + "/scroll", {{"with_payload", {{"include", {"a"}}, {"exclude", {"b"}}}}}),
      400, "not both");
  expect_error(call("GET", base + "/1?with_payload=a[0]"), 400,
               "with_payload[0]: 'a[0]' is not a payload key path");
  expect_error(call("GET", base + "/1?with_vector=maybe"), 400, "with_vector: expected true");
}

// Two collections of dimension 2 for the alias tests: "v1" holds ids 1 and 2,
// "v2" holds id 10, so a hit tells which collection answered.
class RestApiAliasTest : public RestApiTest {
 protected:
  void SetUp() override {
    RestApiTest::SetUp();
    create("v1", 2, "Dot");
    create("v2", 2, "Dot");
    ASSERT_EQ(call("PUT", "/collections/v1/points",
                   {{"points", {{{"id", 1}, {"vector", {1, 0}}}, {{"id", 2}, {"vector", {0, 1}}}}}})
                  .status,
              200);
    ASSERT_EQ(
        call("PUT", "/collections/v2/points", {{"points", {{{"id", 10}, {"vector", {1, 0}}}}}})
            .status,
        200);
  }
  static json create_alias(const std::string& collection, const std::string& alias) {
    return {{"create_alias", {{"collection_name", collection}, {"alias_name", alias}}}};
  }
  static json delete_alias(const std::string& alias) {
    return {{"delete_alias", {{"alias_name", alias}}}};
  }
  static json rename_alias(const std::string& from, const std::string& to) {
    return {{"rename_alias", {{"old_alias_name", from}, {"new_alias_name", to}}}};
  }
  // A vector, not a json: json{one_action} would be the action itself, not
  // an array of one.
  testing::HttpResult update(const std::vector<json>& actions) {
    return call("POST", "/collections/aliases", {{"actions", json(actions)}});
  }
  json aliases() { return call("GET", "/aliases").json()["result"]["aliases"]; }
};

TEST_F(RestApiAliasTest, CreateListRenameDelete) {
  auto r = update({create_alias("v1", "live"), create_alias("v2", "next")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["result"], true);
  EXPECT_EQ(r.json()["status"], "ok");
  EXPECT_EQ(aliases(), json({{{"alias_name", "live"}, {"collection_name", "v1"}},
                             {{"alias_name", "next"}, {"collection_name", "v2"}}}));
  auto of_v1 = call("GET", "/collections/v1/aliases");
  ASSERT_EQ(of_v1.status, 200) << of_v1.body;
  EXPECT_EQ(of_v1.json()["result"]["aliases"],
            json({{{"alias_name", "live"}, {"collection_name", "v1"}}}));
  // The collection list holds collections only.
  EXPECT_EQ(call("GET", "/collections").json()["result"]["collections"],
            json({{{"name", "v1"}}, {{"name", "v2"}}}));

  ASSERT_EQ(update({rename_alias("live", "prod")}).status, 200);
  ASSERT_EQ(update({delete_alias("next")}).status, 200);
  EXPECT_EQ(aliases(), json({{{"alias_name", "prod"}, {"collection_name", "v1"}}}));
  EXPECT_EQ(call("GET", "/collections/v2/aliases").json()["result"]["aliases"], json::array());
  expect_error(call("GET", "/collections/live/points/2"), 404, "collection 'live' does not exist");
}

TEST_F(RestApiAliasTest, EveryCollectionRouteResolvesAnAlias) {
  ASSERT_EQ(update({create_alias("v1", "live")}).status, 200);
  auto hits = call("POST", "/collections/live/points/search", {{"vector", {1, 0}}, {"limit", 5}});
  ASSERT_EQ(hits.status, 200) << hits.body;
  EXPECT_EQ(hits.json()["result"][0]["id"], 1);
  auto upsert =
      call("PUT", "/collections/live/points", {{"points", {{{"id", 3}, {"vector", {1, 1}}}}}});
  ASSERT_EQ(upsert.status, 200) << upsert.body;
  EXPECT_EQ(call("POST", "/collections/v1/points/count").json()["result"]["count"], 3);
  EXPECT_EQ(call("POST", "/collections/live/points/count").json()["result"]["count"], 3);
  EXPECT_EQ(call("GET", "/collections/live/points/3").json()["result"]["id"], 3);
  EXPECT_EQ(call("GET", "/collections/live").json()["result"]["points_count"], 3);
  EXPECT_EQ(call("GET", "/collections/live/exists").json()["result"]["exists"], true);
  EXPECT_EQ(call("GET", "/collections/live/aliases").json()["result"]["aliases"],
            json({{{"alias_name", "live"}, {"collection_name", "v1"}}}));
  auto query = call("POST", "/collections/live/points/query", {{"query", {0, 1}}, {"limit", 1}});
  EXPECT_EQ(query.json()["result"]["points"][0]["id"], 2);
  auto batch = call("POST", "/collections/live/points/search/batch",
                    {{"searches", {{{"vector", {1, 0}}, {"limit", 1}}}}});
  EXPECT_EQ(batch.json()["result"][0][0]["id"], 1);
  ASSERT_EQ(
      call("POST", "/collections/live/points/payload", {{"payload", {{"k", 1}}}, {"points", {3}}})
          .status,
      200);
  EXPECT_EQ(call("GET", "/collections/v1/points/3").json()["result"]["payload"]["k"], 1);
  ASSERT_EQ(call("POST", "/collections/live/points/delete", {{"points", {3}}}).status, 200);
  EXPECT_EQ(call("POST", "/collections/v1/points/count").json()["result"]["count"], 2);
  auto scroll = call("POST", "/collections/live/points/scroll", {{"limit", 10}});
  EXPECT_EQ(scroll.json()["result"]["points"].size(), 2u);
}

TEST_F(RestApiAliasTest, AFailingActionAppliesNothing) {
  ASSERT_EQ(update({create_alias("v1", "live")}).status, 200);
  expect_error(
      update({delete_alias("live"), create_alias("v2", "live"), create_alias("missing", "other")}),
      404, "actions[2].create_alias.collection_name: collection 'missing' does not exist");
  EXPECT_EQ(aliases(), json({{{"alias_name", "live"}, {"collection_name", "v1"}}}));
  expect_error(update({create_alias("v2", "x"), {{"rename_alias", {{"old_alias_name", "live"}}}}}),
               400, "actions[1].rename_alias.new_alias_name must be a string");
  EXPECT_EQ(aliases(), json({{{"alias_name", "live"}, {"collection_name", "v1"}}}));
}

TEST_F(RestApiAliasTest, ErrorCodesNameTheField) {
  const std::string url = "/collections/aliases";
  expect_error(call("POST", url, json::object()), 400, "actions must be an array");
  expect_error(client_->request("POST", url, "{\"actions\": ["), 400, "malformed JSON");
  expect_error(update({5}), 400, "actions[0] must be an object with one of create_alias");
  expect_error(update({{{"create_alias", {{"collection_name", "v1"}, {"alias_name", "a"}}},
                        {"delete_alias", {{"alias_name", "a"}}}}}),
               400, "actions[0] must be an object with one of");
  expect_error(update({{{"drop_alias", {{"alias_name", "a"}}}}}), 400,
               "actions[0]: unknown alias action 'drop_alias'");
  expect_error(update({{{"create_alias", 3}}}), 400, "actions[0].create_alias must be an object");
  expect_error(update({{{"create_alias", {{"collection_name", "v1"}, {"alias_name", 7}}}}}), 400,
               "actions[0].create_alias.alias_name must be a string");
  expect_error(update({create_alias("v1", "bad name")}), 400,
               "actions[0].create_alias.alias_name: alias name 'bad name' may only contain");
  expect_error(update({delete_alias("nope")}), 404,
               "actions[0].delete_alias.alias_name: alias 'nope' does not exist");
  expect_error(update({rename_alias("nope", "x")}), 404,
               "actions[0].rename_alias.old_alias_name: alias 'nope' does not exist");
  // One namespace: an alias may not take a collection's name, nor a new
  // collection an alias's.
  expect_error(update({create_alias("v1", "v2")}), 409,
               "actions[0].create_alias.alias_name: 'v2' is a collection's name");
  ASSERT_EQ(update({create_alias("v1", "live")}).status, 200);
  expect_error(update({rename_alias("live", "v2")}), 409, "actions[0].rename_alias.new_alias_name");
  expect_error(call("PUT", "/collections/live", {{"vectors", {{"size", 2}, {"distance", "Dot"}}}}),
               409, "'live' already exists as an alias of collection 'v1'");
  expect_error(call("GET", "/collections/nope/aliases"), 404, "collection 'nope' does not exist");
  expect_error(call("DELETE", "/aliases"), 405, "not allowed");
}

TEST_F(RestApiAliasTest, DroppingACollectionDropsItsAliasesButAnAliasNameDropsNothing) {
  ASSERT_EQ(update({create_alias("v1", "live"), create_alias("v2", "next")}).status, 200);
  EXPECT_EQ(call("DELETE", "/collections/live").json()["result"], false);
  EXPECT_EQ(call("GET", "/collections/v1/exists").json()["result"]["exists"], true);
  EXPECT_EQ(call("DELETE", "/collections/v1").json()["result"], true);
  EXPECT_EQ(aliases(), json({{{"alias_name", "next"}, {"collection_name", "v2"}}}));
  expect_error(call("POST", "/collections/live/points/search", {{"vector", {1, 0}}}), 404,
               "collection 'live' does not exist");
  EXPECT_EQ(call("GET", "/collections/live/exists").json()["result"]["exists"], false);
  // The freed name may become a collection.
  create("live", 2, "Dot");
}

// Four clients query "live" on their own connections while the main thread
// swaps it between v1 and v2 (delete + create in one request): no query
// fails or finds nothing, and both collections answer at some point.
TEST_F(RestApiAliasTest, SwapUnderConcurrentQueriesFailsNoQuery) {
  ASSERT_EQ(update({create_alias("v1", "live")}).status, 200);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> from_v1{0};
  std::atomic<int> from_v2{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      HttpTestClient c(server_->port());
      const std::string body = json{{"vector", {1, 0}}, {"limit", 1}}.dump();
      while (!stop.load()) {
        auto r = c.request("POST", "/collections/live/points/search", body);
        const json hits = r.status == 200 ? r.json()["result"] : json::array();
        if (hits.size() != 1) {
          ++failures;
        } else if (hits[0]["id"] == 1) {
          ++from_v1;
        } else if (hits[0]["id"] == 10) {
          ++from_v2;
        } else {
          ++failures;
        }
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int swaps = 0;
  while (swaps < 200 ||
         ((from_v1 == 0 || from_v2 == 0) && std::chrono::steady_clock::now() < deadline)) {
    const std::string target = swaps % 2 == 0 ? "v2" : "v1";
    auto r = update({delete_alias("live"), create_alias(target, "live")});
    ASSERT_EQ(r.status, 200) << r.body;
    ++swaps;
  }
  stop = true;
  for (std::thread& th : clients) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(from_v1.load(), 0);
  EXPECT_GT(from_v2.load(), 0);
}

// Small request limits, each tested at its edge.
class RestApiLimitsTest : public RestApiTest {
 protected:
  RestApiOptions api_options() const override {
    RestApiOptions options;
    options.limits.max_batch_points = 3;
    options.limits.max_dim = 8;
    options.limits.max_limit = 5;
    options.limits.max_filter_depth = 2;
    options.limits.max_search_batch = 2;
    return options;
  }
  static json points(size_t n) {
    json out = json::array();
    for (size_t i = 0; i < n; ++i) out.push_back({{"id", i}, {"vector", {1, 0}}});
    return out;
  }
};

TEST_F(RestApiLimitsTest, MaxDimBoundsTheCollectionVectorSize) {
  create("eight", 8, "Dot");
  expect_error(call("PUT", "/collections/nine", {{"vectors", {{"size", 9}, {"distance", "Dot"}}}}),
               400, "vectors.size must be at most 8 (the server's --max-dim), got 9");
  EXPECT_FALSE(registry_.exists("nine"));
}

TEST_F(RestApiLimitsTest, MaxBatchPointsBoundsOneUpsertIn413) {
  create("docs", 2, "Dot");
  const std::string url = "/collections/docs/points";
  EXPECT_EQ(call("PUT", url, {{"points", points(3)}}).status, 200);
  expect_error(call("PUT", url, {{"points", points(4)}}), 413,
               "points holds 4 points, more than one upsert may carry (3, the server's "
               "--max-batch-points)");
  expect_error(
      call("PUT", url,
           {{"batch", {{"ids", {10, 11, 12, 13}}, {"vectors", {{1, 0}, {1, 0}, {1, 0}, {1, 0}}}}}}),
      413, "batch.ids holds 4 points");
  EXPECT_EQ(
      call("PUT", url, {{"batch", {{"ids", {10, 11, 12}}, {"vectors", {{1, 0}, {1, 0}, {1, 0}}}}}})
          .status,
      200);
  EXPECT_EQ(call("POST", url + "/count").json()["result"]["count"], 6);
}

TEST_F(RestApiLimitsTest, MaxLimitBoundsSearchAndQueryLimit) {
  create("docs", 2, "Dot");
  ASSERT_EQ(call("PUT", "/collections/docs/points", {{"points", points(3)}}).status, 200);
  const std::string base = "/collections/docs/points";
  EXPECT_EQ(call("POST", base + "/search", {{"vector", {1, 0}}, {"limit", 5}}).status, 200);
  // Without a limit: Qdrant's default of 10, cut to the server's maximum.
  auto r = call("POST", base + "/search", {{"vector", {1, 0}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["result"].size(), 3u);
  expect_error(call("POST", base + "/search", {{"vector", {1, 0}}, {"limit", 6}}), 400,
               "limit must be at most 5 (the server's --max-limit), got 6");
  expect_error(call("POST", base + "/query", {{"query", {1, 0}}, {"limit", 6}}), 400,
               "limit must be at most 5");
  expect_error(call("POST", base + "/search/batch",
                    {{"searches", {{{"vector", {1, 0}}}, {{"vector", {1, 0}}, {"limit", 6}}}}}),
               400, "searches[1].limit must be at most 5");
  // Scroll pages have their own bound.
  EXPECT_EQ(call("POST", base + "/scroll", {{"limit", 100}}).status, 200);
}

TEST_F(RestApiLimitsTest, MaxFilterDepthBoundsEveryFilter) {
  create("docs", 2, "Dot");
  ASSERT_EQ(call("PUT", "/collections/docs/points", {{"points", points(3)}}).status, 200);
  const std::string base = "/collections/docs/points";
  const json leaf = {{"has_id", {1}}};
  const json depth2 = {{"must", {{{"must", {leaf}}}}}};
  const json depth3 = {{"must", {{{"must", {{{"must", {leaf}}}}}}}}};
  EXPECT_EQ(call("POST", base + "/count", {{"filter", depth2}}).json()["result"]["count"], 1);
  const std::string error = "filter.must[0].must[0] nests filters deeper than 2";
  expect_error(call("POST", base + "/count", {{"filter", depth3}}), 400, error);
  expect_error(call("POST", base + "/search", {{"vector", {1, 0}}, {"filter", depth3}}), 400,
               error);
  expect_error(call("POST", base + "/scroll", {{"filter", depth3}}), 400, error);
  expect_error(call("POST", base + "/delete", {{"filter", depth3}}), 400, error);
  expect_error(call("POST", base + "/payload", {{"payload", {{"a", 1}}}, {"filter", depth3}}), 400,
               error);
  EXPECT_EQ(call("POST", base + "/count").json()["result"]["count"], 3);
}

TEST_F(RestApiLimitsTest, MaxSearchBatchBoundsBatchRequests) {
  create("docs", 2, "Dot");
  const std::string base = "/collections/docs/points";
  const json search = {{"vector", {1, 0}}};
  EXPECT_EQ(call("POST", base + "/search/batch", {{"searches", {search, search}}}).status, 200);
  expect_error(call("POST", base + "/search/batch", {{"searches", {search, search, search}}}), 400,
               "searches holds 3 search requests, more than one request may carry (2, the "
               "server's --max-search-batch)");
  const json query = {{"query", {1, 0}}};
  expect_error(call("POST", base + "/query/batch", {{"searches", {query, query, query}}}), 400,
               "searches holds 3 query requests");
}

// A server with both API keys configured.
class RestApiAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.port = 0;
    server_ = std::make_unique<HttpServer>(
        options, [this](const HttpRequest& request) { return api_.handle(request); });
    ASSERT_TRUE(server_->start().is_ok());
    client_ = std::make_unique<HttpTestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_->stop();
  }
  testing::HttpResult call(const std::string& method, const std::string& target,
                           const std::map<std::string, std::string>& headers,
                           const json& body = nullptr) {
    return client_->request(method, target, body.is_null() ? "" : body.dump(), headers);
  }
  static void expect_status(const testing::HttpResult& r, int status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    if (status < 400) return;
    const json body = r.json();
    ASSERT_TRUE(body.contains("status") && body["status"].contains("error")) << r.body;
    const std::string error = body["status"]["error"].get<std::string>();
    EXPECT_NE(error.find(words), std::string::npos) << error;
    EXPECT_EQ(error.find(kKey), std::string::npos) << "an error shows the key";
    EXPECT_EQ(error.find(kReadOnlyKey), std::string::npos) << "an error shows the key";
  }

  static constexpr const char* kKey = "s3cret-read-write";
  static constexpr const char* kReadOnlyKey = "s3cret-read-only";
  const std::map<std::string, std::string> admin_ = {{"api-key", kKey}};
  const std::map<std::string, std::string> reader_ = {{"api-key", kReadOnlyKey}};
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  index::CollectionRegistry registry_{locks_, searcher_};
  RestApi api_{registry_, "9.9.9", RestApiOptions{ApiKeys{kKey, kReadOnlyKey}, {}}};
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(RestApiAuthTest, HealthRoutesAndTheRootNeedNoKey) {
  for (const char* path : {"/", "/healthz", "/livez", "/readyz"}) {
    EXPECT_EQ(call("GET", path, {}).status, 200) << path;
  }
}

TEST_F(RestApiAuthTest, MissingOrWrongKeyIs401OnEveryOtherRoute) {
  expect_status(call("GET", "/collections", {}), 401, "missing API key");
  expect_status(call("GET", "/collections", {{"api-key", "wrong"}}), 401, "invalid API key");
  expect_status(call("GET", "/collections", {{"api-key", std::string(kKey) + "x"}}), 401,
                "invalid API key");
  expect_status(call("GET", "/collections", {{"api-key", std::string(kKey).substr(1)}}), 401,
                "invalid API key");
  expect_status(call("GET", "/collections", {{"authorization", std::string("Basic ") + kKey}}), 401,
                "missing API key");
  expect_status(
      call("PUT", "/collections/docs", {}, {{"vectors", {{"size", 2}, {"distance", "Dot"}}}}), 401,
      "missing API key");
  EXPECT_FALSE(registry_.exists("docs"));
  // Unknown routes say nothing to a caller without a key.
  expect_status(call("GET", "/no/such/route", {}), 401, "missing API key");
  expect_status(call("GET", "/no/such/route", reader_), 404, "no route");
}

TEST_F(RestApiAuthTest, TheKeyWorksInEitherHeader) {
  expect_status(
      call("PUT", "/collections/docs", admin_, {{"vectors", {{"size", 2}, {"distance", "Dot"}}}}),
      200, "");
  expect_status(
      call("GET", "/collections/docs", {{"authorization", std::string("Bearer ") + kKey}}), 200,
      "");
  expect_status(
      call("GET", "/collections/docs", {{"Authorization", std::string("bearer ") + kKey}}), 200,
      "");
  expect_status(call("GET", "/collections/docs", {{"API-Key", kReadOnlyKey}}), 200, "");
}

TEST_F(RestApiAuthTest, TheReadOnlyKeyReadsAndGets403OnWrites) {
  const std::string base = "/collections/docs";
  ASSERT_EQ(call("PUT", base, admin_, {{"vectors", {{"size", 2}, {"distance", "Dot"}}}}).status,
            200);
  ASSERT_EQ(call("PUT", base + "/points", admin_,
                 {{"points", {{{"id", 1}, {"vector", {1, 0}}, {"payload", {{"a", 1}}}}}}})
                .status,
            200);
  // Every read route.
  expect_status(call("GET", "/collections", reader_), 200, "");
  expect_status(call("GET", base, reader_), 200, "");
  expect_status(call("GET", base + "/exists", reader_), 200, "");
  expect_status(call("GET", base + "/points/1", reader_), 200, "");
  expect_status(call("GET", "/aliases", reader_), 200, "");
  expect_status(call("GET", base + "/aliases", reader_), 200, "");
  expect_status(call("POST", base + "/points", reader_, {{"ids", {1}}}), 200, "");
  expect_status(call("POST", base + "/points/count", reader_, json::object()), 200, "");
  expect_status(call("POST", base + "/points/scroll", reader_, json::object()), 200, "");
  expect_status(call("POST", base + "/points/search", reader_, {{"vector", {1, 0}}}), 200, "");
  expect_status(
      call("POST", base + "/points/search/batch", reader_, {{"searches", {{{"vector", {1, 0}}}}}}),
      200, "");
  expect_status(call("POST", base + "/points/query", reader_, {{"query", {1, 0}}}), 200, "");
  expect_status(
      call("POST", base + "/points/query/batch", reader_, {{"searches", {{{"query", {1, 0}}}}}}),
      200, "");
  // Every write route: 403, and nothing changes.
  const json vectors = {{"vectors", {{"size", 2}, {"distance", "Dot"}}}};
  expect_status(call("PUT", "/collections/other", reader_, vectors), 403,
                "read-only API key may not call PUT /collections/other");
  expect_status(call("DELETE", base, reader_), 403, "read-only");
  expect_status(
      call("PUT", base + "/points", reader_, {{"points", {{{"id", 2}, {"vector", {0, 1}}}}}}), 403,
      "read-only");
  expect_status(call("POST", base + "/points/delete", reader_, {{"points", {1}}}), 403,
                "read-only");
  for (const char* payload_route :
       {"/points/payload", "/points/payload/delete", "/points/payload/clear"}) {
    expect_status(call("POST", base + payload_route, reader_,
                       {{"payload", {{"b", 2}}}, {"keys", {"a"}}, {"points", {1}}}),
                  403, "read-only");
  }
  expect_status(
      call("PUT", base + "/points/payload", reader_, {{"payload", {{"b", 2}}}, {"points", {1}}}),
      403, "read-only");
  expect_status(
      call("POST", "/collections/aliases", reader_,
           {{"actions", {{{"create_alias", {{"collection_name", "docs"}, {"alias_name", "x"}}}}}}}),
      403, "read-only");
  EXPECT_TRUE(registry_.exists("docs"));
  EXPECT_FALSE(registry_.exists("other"));
  EXPECT_FALSE(registry_.exists("x"));
  auto point = call("GET", base + "/points/1", reader_).json()["result"];
  EXPECT_EQ(point["payload"], json({{"a", 1}}));
  EXPECT_EQ(call("POST", base + "/points/count", reader_).json()["result"]["count"], 1);
  // The read-write key may do all of it.
  expect_status(call("POST", base + "/points/delete", admin_, {{"points", {1}}}), 200, "");
  expect_status(call("DELETE", base, admin_), 200, "");
}

TEST(ApiKeyAuth, OnlyAReadOnlyKeyMakesEveryoneReadOnly) {
  const ApiKeyAuth auth(ApiKeys{"", "ro"});
  EXPECT_TRUE(auth.enabled());
  HttpRequest request{"POST", "/collections/a/points/delete", "", {{"api-key", "ro"}}, ""};
  ASSERT_TRUE(auth.check(request, RouteAccess::kWrite).has_value());
  EXPECT_EQ(auth.check(request, RouteAccess::kWrite)->status, 403);
  EXPECT_FALSE(auth.check(request, RouteAccess::kRead).has_value());
  request.headers = {{"api-key", ""}};
  EXPECT_EQ(auth.check(request, RouteAccess::kRead)->status, 401);  // an empty key is none
  EXPECT_FALSE(auth.check(request, RouteAccess::kPublic).has_value());
  EXPECT_FALSE(ApiKeyAuth(ApiKeys{}).enabled());
  EXPECT_FALSE(ApiKeyAuth(ApiKeys{}).check(request, RouteAccess::kWrite).has_value());
}

TEST(ApiKeyAuth, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("key", "key"));
  EXPECT_FALSE(constant_time_equal("key", "kez"));
  EXPECT_FALSE(constant_time_equal("key", "ke"));
  EXPECT_FALSE(constant_time_equal("ke", "key"));
  EXPECT_FALSE(constant_time_equal("", "k"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0", 2), "a"));
}

TEST_F(RestApiTest, UnknownRoutesAndMethods) {
  expect_error(call("GET", "/nothing/here"), 404, "no route");
  expect_error(call("PATCH", "/collections"), 405, "not allowed");
}

TEST_F(RestApiTest, OversizedBodyIs413AndTheServerKeepsServing) {
  create("docs", 1, "Dot");
  const std::string big(2 << 20, ' ');
  HttpTestClient other(server_->port());
  auto r = other.request("PUT", "/collections/docs/points", big);
  expect_error(r, 413, "exceeds the limit");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(call("GET", "/collections/docs/exists").status, 200);
}

TEST_F(RestApiTest, ConcurrentClientsOnSeparateConnections) {
  create("docs", 8, "Dot");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      HttpTestClient c(server_->port());
      for (int i = 0; i < 50; ++i) {
        json body = {{"points", {{{"id", t * 1000 + i}, {"vector", std::vector<float>(8, 1.0f)}}}}};
        if (c.request("PUT", "/collections/docs/points", body.dump()).status != 200) ++failures;
        json search = {{"vector", std::vector<float>(8, 1.0f)}, {"limit", 5}};
        if (c.request("POST", "/collections/docs/points/search", search.dump()).status != 200) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(
      call("POST", "/collections/docs/points/count", json::object()).json()["result"]["count"],
      200);
}

TEST(HttpServer, StopFinishesAndClosesIdleConnections) {
  HttpServerOptions options;
  options.port = 0;
  HttpServer server(options, [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok"};
  });
  ASSERT_TRUE(server.start().is_ok());
  HttpTestClient idle(server.port());  // connected, never sends a request
  EXPECT_EQ(idle.request("GET", "/").status, 200);
  const auto start = std::chrono::steady_clock::now();
  server.stop();  // must not wait for the 60 s idle timeout
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpServer, StartFailsClearlyWhenThePortIsTaken) {
  HttpServerOptions options;
  options.port = 0;
  HttpServer first(options, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(first.start().is_ok());
  options.port = first.port();
  HttpServer second(options, [](const HttpRequest&) { return HttpResponse{}; });
  const core::Status status = second.start();
  EXPECT_EQ(status.code(), core::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("cannot listen"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace vesta::server
