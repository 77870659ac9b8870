// The binary batch search, POST /collections/{name}/points/search/raw, over
// real HTTP: both dtypes, scores on and off, padding, every error, and the
// same answers as the JSON search.

#include "server/raw_search_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "core/float16.h"
#include "core/thread_pool.h"
#include "http_test_client.h"
#include "index/cpu_searcher.h"
#include "server/http_server.h"
#include "server/rest_api.h"
#include "test_seed.h"

namespace vesta::server {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::HttpTestClient;

constexpr size_t kBodyLimit = 1 << 20;
constexpr size_t kMaxRows = 8;
constexpr size_t kMaxK = 16;

// A request body: the header, then `values` as float32 or (dtype 2) float16.
std::string raw_request(uint8_t dtype, uint8_t flags, uint32_t rows, uint32_t dim, uint32_t k,
                        const std::vector<float>& values, uint16_t reserved = 0) {
  std::string body(kRawRequestMagic);
  auto put = [&body](const auto& v) {
    char bytes[sizeof(v)];
    std::memcpy(bytes, &v, sizeof(v));
    body.append(bytes, sizeof(v));
  };
  put(dtype);
  put(flags);
  put(reserved);
  put(rows);
  put(dim);
  put(k);
  for (float v : values) {
    if (dtype == kRawDtypeFloat16) {
      put(core::float_to_half(v));
    } else {
      put(v);
    }
  }
  return body;
}

struct RawHit {
  uint64_t id;
  float score;
};

// Parses a response body; `with_scores` says whether entries carry a score.
std::vector<std::vector<RawHit>> parse_response(const std::string& body, bool with_scores) {
  EXPECT_GE(body.size(), kRawResponseHeaderBytes);
  EXPECT_EQ(body.substr(0, 4), kRawResponseMagic);
  uint32_t rows = 0;
  uint32_t k = 0;
  std::memcpy(&rows, body.data() + 4, 4);
  std::memcpy(&k, body.data() + 8, 4);
  const size_t entry = with_scores ? 12 : 8;
  EXPECT_EQ(body.size(), kRawResponseHeaderBytes + size_t{rows} * k * entry);
  std::vector<std::vector<RawHit>> out(rows);
  const char* p = body.data() + kRawResponseHeaderBytes;
  for (uint32_t q = 0; q < rows; ++q) {
    for (uint32_t j = 0; j < k; ++j) {
      RawHit hit{0, std::nanf("")};
      std::memcpy(&hit.id, p, 8);
      if (with_scores) std::memcpy(&hit.score, p + 8, 4);
      p += entry;
      out[q].push_back(hit);
    }
  }
  return out;
}

class RawSearchTest : public ::testing::Test {
 protected:
  virtual RestApiOptions api_options() const {
    RestApiOptions options;
    options.limits.max_search_batch = kMaxRows;
    options.limits.max_limit = kMaxK;
    return options;
  }

  void SetUp() override {
    api_ = std::make_unique<RestApi>(registry_, "9.9.9", api_options());
    HttpServerOptions options;
    options.port = 0;
    options.body_limit_bytes = kBodyLimit;
    server_ = std::make_unique<HttpServer>(
        options, [this](const HttpRequest& request) { return api_->handle(request); });
    ASSERT_TRUE(server_->start().is_ok());
    client_ = std::make_unique<HttpTestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_->stop();
  }

  HttpResult raw(const std::string& collection, const std::string& body,
                 std::map<std::string, std::string> headers = {}) {
    headers.emplace("content-type", "application/octet-stream");
    return client_->request("POST", "/collections/" + collection + "/points/search/raw", body,
                            headers);
  }
  HttpResult call(const std::string& method, const std::string& target, const json& body) {
    return client_->request(method, target, body.dump(), headers_);
  }
  // A collection of `n` points with ids 0..n-1 and random vectors; returns them.
  std::vector<std::vector<float>> create(const std::string& name, size_t dim, size_t n,
                                         const std::string& distance, std::mt19937_64& rng) {
    EXPECT_EQ(
        call("PUT", "/collections/" + name, {{"vectors", {{"size", dim}, {"distance", distance}}}})
            .status,
        200);
    std::normal_distribution<float> normal;
    std::vector<std::vector<float>> vectors(n, std::vector<float>(dim));
    json points = json::array();
    for (size_t i = 0; i < n; ++i) {
      for (float& v : vectors[i]) v = normal(rng);
      points.push_back({{"id", i}, {"vector", vectors[i]}});
    }
    if (n > 0) {
      const HttpResult r = call("PUT", "/collections/" + name + "/points", {{"points", points}});
      EXPECT_EQ(r.status, 200) << r.body;
    }
    return vectors;
  }
  // The JSON search/batch answer to the same queries, as (id, score) lists
  // (in requests of at most kMaxRows searches).
  std::vector<std::vector<RawHit>> json_search(const std::string& name,
                                               const std::vector<float>& queries, size_t dim,
                                               size_t k) {
    std::vector<std::vector<RawHit>> out;
    const size_t rows = queries.size() / dim;
    for (size_t first = 0; first < rows; first += kMaxRows) {
      json searches = json::array();
      for (size_t q = first; q < std::min(rows, first + kMaxRows); ++q) {
        searches.push_back({{"vector", std::vector<float>(queries.begin() + q * dim,
                                                          queries.begin() + (q + 1) * dim)},
                            {"limit", k}});
      }
      const HttpResult r =
          call("POST", "/collections/" + name + "/points/search/batch", {{"searches", searches}});
      EXPECT_EQ(r.status, 200) << r.body;
      const json answer = r.json();
      for (const json& hits : answer["result"]) {
        out.emplace_back();
        for (const json& h : hits) out.back().push_back({h["id"], h["score"]});
      }
    }
    return out;
  }
  void expect_error(const HttpResult& r, int status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    const json body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("status") && body["status"].contains("error"))
        << r.body;
    const std::string error = body["status"]["error"].get<std::string>();
    EXPECT_NE(error.find(words), std::string::npos)
        << "error '" << error << "' lacks '" << words << "'";
  }

  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  index::CollectionRegistry registry_{locks_, searcher_};
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpTestClient> client_;
  std::map<std::string, std::string> headers_;
};

std::vector<float> random_queries(size_t rows, size_t dim, std::mt19937_64& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> out(rows * dim);
  for (float& v : out) v = normal(rng);
  return out;
}

TEST_F(RawSearchTest, Float32WithScoresMatchesTheJsonSearch) {
  std::mt19937_64 rng(testing::test_seed("Float32WithScoresMatchesTheJsonSearch"));
  for (const char* distance : {"Cosine", "Dot", "Euclid"}) {
    SCOPED_TRACE(distance);
    const std::string name = std::string("docs_") + distance;
    constexpr size_t kDim = 37;  // not a multiple of 16 or 32
    create(name, kDim, 300, distance, rng);
    for (size_t rows : {size_t{1}, size_t{3}, kMaxRows}) {
      const std::vector<float> queries = random_queries(rows, kDim, rng);
      const HttpResult r =
          raw(name, raw_request(kRawDtypeFloat32, kRawFlagScores, rows, kDim, 10, queries));
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.content_type, "application/octet-stream");
      const auto got = parse_response(r.body, true);
      const auto want = json_search(name, queries, kDim, 10);
      ASSERT_EQ(got.size(), rows);
      for (size_t q = 0; q < rows; ++q) {
        ASSERT_EQ(got[q].size(), want[q].size());
        for (size_t j = 0; j < got[q].size(); ++j) {
          EXPECT_EQ(got[q][j].id, want[q][j].id) << "query " << q << " hit " << j;
          EXPECT_EQ(got[q][j].score, want[q][j].score) << "query " << q << " hit " << j;
        }
      }
    }
  }
}

TEST_F(RawSearchTest, Float16QueriesAnswerAsTheirFloat32Values) {
  std::mt19937_64 rng(testing::test_seed("Float16QueriesAnswerAsTheirFloat32Values"));
  constexpr size_t kDim = 16;
  create("docs", kDim, 200, "Dot", rng);
  std::vector<float> queries = random_queries(4, kDim, rng);
  const HttpResult r =
      raw("docs", raw_request(kRawDtypeFloat16, kRawFlagScores, 4, kDim, 5, queries));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.size(), kRawResponseHeaderBytes + 4 * 5 * 12);
  // The server sees the float16 values: the JSON search of those agrees exactly.
  for (float& v : queries) v = core::half_to_float(core::float_to_half(v));
  const auto got = parse_response(r.body, true);
  const auto want = json_search("docs", queries, kDim, 5);
  for (size_t q = 0; q < 4; ++q) {
    for (size_t j = 0; j < 5; ++j) {
      EXPECT_EQ(got[q][j].id, want[q][j].id);
      EXPECT_EQ(got[q][j].score, want[q][j].score);
    }
  }
}

TEST_F(RawSearchTest, WithoutScoresEntriesAreIdsOnly) {
  std::mt19937_64 rng(testing::test_seed("WithoutScoresEntriesAreIdsOnly"));
  create("docs", 8, 50, "Euclid", rng);
  const std::vector<float> queries = random_queries(2, 8, rng);
  const HttpResult r = raw("docs", raw_request(kRawDtypeFloat32, 0, 2, 8, 3, queries));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.size(), kRawResponseHeaderBytes + 2 * 3 * 8);
  const auto got = parse_response(r.body, false);
  const auto want = json_search("docs", queries, 8, 3);
  for (size_t q = 0; q < 2; ++q) {
    for (size_t j = 0; j < 3; ++j) EXPECT_EQ(got[q][j].id, want[q][j].id);
  }
}

TEST_F(RawSearchTest, FewerHitsThanKArePadded) {
  std::mt19937_64 rng(testing::test_seed("FewerHitsThanKArePadded"));
  create("docs", 4, 3, "Dot", rng);
  const HttpResult r =
      raw("docs", raw_request(kRawDtypeFloat32, kRawFlagScores, 2, 4, 5, {1, 0, 0, 0, 0, 1, 0, 0}));
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& hits : parse_response(r.body, true)) {
    ASSERT_EQ(hits.size(), 5u);
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_LT(hits[j].id, 3u);
      EXPECT_FALSE(std::isnan(hits[j].score));
    }
    for (size_t j = 3; j < 5; ++j) {
      EXPECT_EQ(hits[j].id, kRawMissingId);
      EXPECT_TRUE(std::isnan(hits[j].score));
    }
  }
  // An empty collection: every entry is padding.
  create("empty", 4, 0, "Dot", rng);
  const HttpResult e = raw("empty", raw_request(kRawDtypeFloat32, 0, 1, 4, 2, {1, 0, 0, 0}));
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(parse_response(e.body, false)[0][1].id, kRawMissingId);
}

TEST_F(RawSearchTest, ZeroRowsIsAnEmptyAnswer) {
  std::mt19937_64 rng(testing::test_seed("ZeroRowsIsAnEmptyAnswer"));
  create("docs", 4, 3, "Dot", rng);
  const HttpResult r = raw("docs", raw_request(kRawDtypeFloat32, kRawFlagScores, 0, 4, 5, {}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, std::string("VSR1\0\0\0\0\x05\0\0\0", 12));
}

TEST_F(RawSearchTest, AnAliasNamesTheCollection) {
  std::mt19937_64 rng(testing::test_seed("AnAliasNamesTheCollection"));
  create("docs", 4, 10, "Dot", rng);
  ASSERT_EQ(call("POST", "/collections/aliases",
                 {{"actions",
                   {{{"create_alias", {{"collection_name", "docs"}, {"alias_name", "live"}}}}}}})
                .status,
            200);
  EXPECT_EQ(raw("live", raw_request(kRawDtypeFloat32, 0, 1, 4, 2, {1, 0, 0, 0})).status, 200);
}

TEST_F(RawSearchTest, HeaderErrorsNameTheField) {
  std::mt19937_64 rng(testing::test_seed("HeaderErrorsNameTheField"));
  create("docs", 4, 10, "Dot", rng);
  const std::vector<float> one(4, 0.5f);
  expect_error(raw("docs", "VSQ1"), 400, "body is 4 bytes, shorter than the 20-byte header");
  expect_error(raw("docs", ""), 400, "body is 0 bytes");
  std::string bad_magic = raw_request(kRawDtypeFloat32, 0, 1, 4, 2, one);
  bad_magic[3] = '2';
  expect_error(raw("docs", bad_magic), 400,
               "magic must be \"VSQ1\" (56 53 51 31), got bytes 56 53 51 32");
  expect_error(raw("docs", raw_request(3, 0, 1, 4, 2, one)), 400,
               "dtype 3 is not supported; use 1 (float32) or 2 (float16)");
  expect_error(raw("docs", raw_request(0, 0, 1, 4, 2, one)), 400, "dtype 0");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 2, 1, 4, 2, one)), 400,
               "flags 2 has unknown bits set");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0x81, 1, 4, 2, one)), 400, "flags 129");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 4, 2, one, 7)), 400,
               "reserved must be 0, got 7");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, kMaxRows + 1, 4, 2,
                                       std::vector<float>((kMaxRows + 1) * 4, 0.5f))),
               400,
               "rows 9 is more than one request may carry (8, the server's --max-search-batch)");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 3, 2, {1, 2, 3})), 400,
               "dim 3 does not match the collection's 4");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 4, 0, one)), 400,
               "k must be at least 1");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 4, kMaxK + 1, one)), 400,
               "k 17 must be at most 16 (the server's --max-limit)");
  // The body is shorter, or longer, than the header says.
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 2, 4, 2, one)), 400,
               "body is 36 bytes, header says 52");
  expect_error(raw("docs", raw_request(kRawDtypeFloat16, 0, 1, 4, 2, one) + "x"), 400,
               "body is 29 bytes, header says 28");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 4, 2, one).substr(0, 30)), 400,
               "body is 30 bytes, header says 36");
}

TEST_F(RawSearchTest, BadValuesNameTheQuery) {
  std::mt19937_64 rng(testing::test_seed("BadValuesNameTheQuery"));
  create("docs", 4, 10, "Dot", rng);
  expect_error(
      raw("docs", raw_request(kRawDtypeFloat32, 0, 2, 4, 2, {1, 2, 3, 4, 1, std::nanf(""), 3, 4})),
      400, "query 1: value at position 1 is NaN");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 4, 2, {1, 2, 3, 70000})), 400,
               "query 0: value at position 3 is 70000");
  // float16 infinity (0x7c00) is no query value either.
  std::string inf = raw_request(kRawDtypeFloat16, 0, 1, 4, 2, {1, 2, 3, 4});
  inf[20] = 0x00;
  inf[21] = 0x7c;
  expect_error(raw("docs", inf), 400, "query 0: value at position 0 is +Inf");
}

TEST_F(RawSearchTest, UnknownCollectionIs404AndAnOversizedBody413) {
  expect_error(raw("nope", raw_request(kRawDtypeFloat32, 0, 1, 4, 2, {1, 2, 3, 4})), 404,
               "does not exist");
  std::mt19937_64 rng(testing::test_seed("UnknownCollectionIs404AndAnOversizedBody413"));
  create("docs", 4, 1, "Dot", rng);
  const size_t rows = kBodyLimit / 16 + 1;
  client_ = std::make_unique<HttpTestClient>(server_->port());
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, static_cast<uint32_t>(rows), 4, 2,
                                       std::vector<float>(rows * 4, 1.0f))),
               413, "request body exceeds the limit of 1048576 bytes");
}

TEST_F(RawSearchTest, NonNumericIdsAmongTheHitsAre409) {
  ASSERT_EQ(
      call("PUT", "/collections/docs", {{"vectors", {{"size", 2}, {"distance", "Dot"}}}}).status,
      200);
  ASSERT_EQ(call("PUT", "/collections/docs/points",
                 {{"points",
                   {{{"id", 1}, {"vector", {1, 0}}},
                    {{"id", "doc-7"}, {"vector", {0, 1}}},
                    {{"id", "550e8400-e29b-41d4-a716-446655440000"}, {"vector", {0, -1}}}}}})
                .status,
            200);
  // Only numeric ids among the hits: answered.
  const HttpResult ok = raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 2, 1, {1, 0}));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(parse_response(ok.body, false)[0][0].id, 1u);
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 2, 2, {1, 0.5f})), 409,
               "hit 1 of query 0 is point 'doc-7', a string id");
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 2, 2, 1, {1, 0, 0, -1})), 409,
               "hit 0 of query 1 is point '550e8400-e29b-41d4-a716-446655440000', a UUID id");
  // The largest u64 is the padding id, so a point holding it is refused too.
  ASSERT_EQ(call("PUT", "/collections/docs/points",
                 {{"points", {{{"id", kRawMissingId}, {"vector", {10, 0}}}}}})
                .status,
            200);
  expect_error(raw("docs", raw_request(kRawDtypeFloat32, 0, 1, 2, 1, {1, 0})), 409,
               "reserves for padding");
}

TEST_F(RawSearchTest, ConcurrentRequestsShareBatchesAndGetTheirOwnAnswers) {
  std::mt19937_64 rng(testing::test_seed("ConcurrentRequestsShareBatchesAndGetTheirOwnAnswers"));
  constexpr size_t kDim = 24;
  create("docs", kDim, 2000, "Cosine", rng);
  constexpr size_t kThreads = 6;
  constexpr size_t kRequests = 20;
  std::vector<std::vector<float>> queries(kThreads);
  for (auto& q : queries) q = random_queries(kRequests, kDim, rng);
  std::vector<std::vector<std::vector<RawHit>>> answers(kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpTestClient client(server_->port());
      for (size_t i = 0; i < kRequests; ++i) {
        const std::vector<float> one(queries[t].begin() + i * kDim,
                                     queries[t].begin() + (i + 1) * kDim);
        const HttpResult r =
            client.request("POST", "/collections/docs/points/search/raw",
                           raw_request(kRawDtypeFloat32, kRawFlagScores, 1, kDim, 4, one));
        if (r.status != 200) {
          ADD_FAILURE() << r.body;
          return;
        }
        answers[t].push_back(parse_response(r.body, true)[0]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t t = 0; t < kThreads; ++t) {
    const auto want = json_search("docs", queries[t], kDim, 4);
    ASSERT_EQ(answers[t].size(), kRequests);
    for (size_t i = 0; i < kRequests; ++i) {
      for (size_t j = 0; j < 4; ++j) {
        EXPECT_EQ(answers[t][i][j].id, want[i][j].id);
        EXPECT_EQ(answers[t][i][j].score, want[i][j].score);
      }
    }
  }
  // Every one of them went through the collection's batcher.
  auto collection = registry_.get("docs");
  ASSERT_TRUE(collection.is_ok());
  EXPECT_GE(collection.value()->batching_stats().requests, kThreads * kRequests);
}

class RawSearchAuthTest : public RawSearchTest {
 protected:
  RestApiOptions api_options() const override {
    RestApiOptions options = RawSearchTest::api_options();
    options.api_keys = {"rw-key", "ro-key"};
    return options;
  }
};

TEST_F(RawSearchAuthTest, IsAReadRoute) {
  headers_ = {{"api-key", "rw-key"}};
  std::mt19937_64 rng(testing::test_seed("IsAReadRoute"));
  create("docs", 4, 10, "Dot", rng);
  const std::string body = raw_request(kRawDtypeFloat32, 0, 1, 4, 2, {1, 2, 3, 4});
  expect_error(raw("docs", body), 401, "missing API key");
  expect_error(raw("docs", body, {{"api-key", "wrong"}}), 401, "invalid API key");
  EXPECT_EQ(raw("docs", body, {{"api-key", "ro-key"}}).status, 200);
  EXPECT_EQ(raw("docs", body, {{"authorization", "Bearer rw-key"}}).status, 200);
}

}  // namespace
}  // namespace vesta::server
