// vesta_json_bench: what the server spends turning JSON request bodies into
// the vectors its handlers need (Google Benchmark). One thread; time per
// iteration is per request, bytes/s counts the body's JSON text.
//
//   build/bench/vesta_json_bench [--benchmark_filter=parse]
//
// Bodies (d = 768, random normal values):
//   search    {"vector": [...], "limit": 10, "with_payload": true}
//   batch64   {"searches": [64 such searches]}
//   upsert    {"points": [1000 × {"id", "vector", "payload": {3 keys}}]}
//   upsert_batch {"batch": {"ids", "vectors", "payloads"}} of 1000 points
// Number text (the `digits` argument):
//   0 python:   the double nearest a float32 value, shortest round trip, as
//               Python writes a numpy float32 embedding's tolist() (17 digits,
//               ", " separators); this is what qdrant-client sends
//   1 float32:  the float32 value's shortest round trip (at most 9 digits,
//               no spaces); what `vesta bench` sends
// Stages:
//   bm_parse:    body text → DOM → float vectors, as the handlers read them
//                (ids and payloads too for upserts): reader 0 parses with
//                parse_json_body (nlohmann's DOM, one value per float: the
//                path before VectorBodyParser and its fallback), reader 1
//                with VectorBodyParser (what the routes use), then
//                vector_from_json per vector
//   bm_write:    what `vesta bench` writes: a nlohmann DOM + dump() (before)
//                or loadgen/request_json (now), float32 values
//   bm_handle:   RestApi::handle on an in-memory collection of d = 768 with
//                one point (search) or the 1000 points (upsert): the whole
//                handler, answer included, without HTTP.

#include <benchmark/benchmark.h>

#include <charconv>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "index/collection_registry.h"
#include "index/cpu_searcher.h"
#include "loadgen/request_json.h"
#include "server/json_codec.h"
#include "server/rest_api.h"
#include "server/vector_body_parser.h"

namespace {

using nlohmann::json;
namespace server = vesta::server;

constexpr size_t kDim = 768;
constexpr size_t kBatchSearches = 64;
constexpr size_t kUpsertPoints = 1000;

enum class Digits { kPython = 0, kFloat32 = 1 };

// Appends one number as Digits says.
void append_number(std::string& out, float value, Digits digits) {
  char text[64];
  const auto result = digits == Digits::kPython
                          ? std::to_chars(text, text + sizeof(text), static_cast<double>(value))
                          : std::to_chars(text, text + sizeof(text), value);
  out.append(text, result.ptr);
}

// A separator: ", " in Python's style, "," otherwise.
const char* comma(Digits digits) { return digits == Digits::kPython ? ", " : ","; }
const char* colon(Digits digits) { return digits == Digits::kPython ? ": " : ":"; }

void append_vector(std::string& out, std::mt19937& rng, Digits digits) {
  std::normal_distribution<float> normal(0.0f, 0.05f);
  out += '[';
  for (size_t i = 0; i < kDim; ++i) {
    if (i > 0) out += comma(digits);
    append_number(out, normal(rng), digits);
  }
  out += ']';
}

std::string search_body(std::mt19937& rng, Digits digits) {
  std::string out = std::string("{\"vector\"") + colon(digits);
  append_vector(out, rng, digits);
  out += std::string(comma(digits)) + "\"limit\"" + colon(digits) + "10" + comma(digits) +
         "\"with_payload\"" + colon(digits) + "true}";
  return out;
}

std::string batch_body(std::mt19937& rng, Digits digits) {
  std::string out = std::string("{\"searches\"") + colon(digits) + "[";
  for (size_t i = 0; i < kBatchSearches; ++i) {
    if (i > 0) out += comma(digits);
    out += search_body(rng, digits);
  }
  return out + "]}";
}

std::string payload_text(size_t i, Digits digits) {
  const std::string c = colon(digits);
  const std::string s = comma(digits);
  return "{\"title\"" + c + "\"document " + std::to_string(i) + "\"" + s + "\"tag\"" + c +
         (i % 2 == 0 ? "\"even\"" : "\"odd\"") + s + "\"year\"" + c +
         std::to_string(2000 + i % 25) + "}";
}

std::string upsert_body(std::mt19937& rng, Digits digits) {
  const std::string c = colon(digits);
  const std::string s = comma(digits);
  std::string out = "{\"points\"" + c + "[";
  for (size_t i = 0; i < kUpsertPoints; ++i) {
    if (i > 0) out += s;
    out += "{\"id\"" + c + std::to_string(i) + s + "\"vector\"" + c;
    append_vector(out, rng, digits);
    out += s + "\"payload\"" + c + payload_text(i, digits) + "}";
  }
  return out + "]}";
}

std::string upsert_batch_body(std::mt19937& rng, Digits digits) {
  const std::string c = colon(digits);
  const std::string s = comma(digits);
  std::string out = "{\"batch\"" + c + "{\"ids\"" + c + "[";
  for (size_t i = 0; i < kUpsertPoints; ++i) out += (i > 0 ? s : "") + std::to_string(i);
  out += "]" + s + "\"vectors\"" + c + "[";
  for (size_t i = 0; i < kUpsertPoints; ++i) {
    if (i > 0) out += s;
    append_vector(out, rng, digits);
  }
  out += "]" + s + "\"payloads\"" + c + "[";
  for (size_t i = 0; i < kUpsertPoints; ++i) out += (i > 0 ? s : "") + payload_text(i, digits);
  return out + "]}}";
}

enum class Kind { kSearch, kBatch, kUpsert, kUpsertBatch };

std::string make_body(Kind kind, Digits digits) {
  std::mt19937 rng(42);
  switch (kind) {
    case Kind::kSearch: return search_body(rng, digits);
    case Kind::kBatch: return batch_body(rng, digits);
    case Kind::kUpsert: return upsert_body(rng, digits);
    case Kind::kUpsertBatch: return upsert_batch_body(rng, digits);
  }
  return {};
}

// What the handlers take from a parsed body: every vector as float32, and
// for upserts the ids and payloads. Aborts the benchmark on an error.
size_t read_vectors(Kind kind, const json& body, benchmark::State& state) {
  size_t floats = 0;
  auto vector = [&](const json& value, const std::string& field) {
    auto v = server::vector_from_json(value, field, "");
    if (!v.is_ok()) {
      state.SkipWithError(v.status().message().c_str());
      return;
    }
    floats += v.value().size();
    benchmark::DoNotOptimize(v.value().data());
  };
  switch (kind) {
    case Kind::kSearch: vector(body["vector"], "vector"); break;
    case Kind::kBatch:
      for (const json& search : body["searches"]) vector(search["vector"], "searches[].vector");
      break;
    case Kind::kUpsert:
      for (const json& point : body["points"]) {
        auto id = server::point_id_from_json(point["id"], "points[].id");
        benchmark::DoNotOptimize(id);
        vector(point["vector"], "points[].vector");
        json payload = point["payload"];
        benchmark::DoNotOptimize(payload);
      }
      break;
    case Kind::kUpsertBatch: {
      const json& batch = body["batch"];
      for (const json& value : batch["ids"]) {
        auto id = server::point_id_from_json(value, "batch.ids[]");
        benchmark::DoNotOptimize(id);
      }
      for (const json& v : batch["vectors"]) vector(v, "batch.vectors[]");
      for (const json& p : batch["payloads"]) {
        json payload = p;
        benchmark::DoNotOptimize(payload);
      }
      break;
    }
  }
  return floats;
}

// The reader of each kind's route, with the paths rest_api.cpp gives it.
const server::VectorBodyParser& reader_for(Kind kind) {
  static const server::VectorBodyParser kSearch{"vector"};
  static const server::VectorBodyParser kBatch{"searches[].vector"};
  static const server::VectorBodyParser kUpsert{"points[].vector", "batch.vectors[]"};
  return kind == Kind::kSearch ? kSearch : kind == Kind::kBatch ? kBatch : kUpsert;
}

// args: kind, digits, reader (0: parse_json_body, the reference; 1:
// VectorBodyParser, as the routes parse)
void bm_parse(benchmark::State& state) {
  const auto kind = static_cast<Kind>(state.range(0));
  const std::string body = make_body(kind, static_cast<Digits>(state.range(1)));
  const server::VectorBodyParser* reader = state.range(2) == 1 ? &reader_for(kind) : nullptr;
  for (auto _ : state) {
    auto parsed = reader != nullptr ? reader->parse(body) : server::parse_json_body(body);
    if (!parsed.is_ok()) {
      state.SkipWithError(parsed.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(read_vectors(kind, parsed.value(), state));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["body_KiB"] = static_cast<double>(body.size()) / 1024.0;
}
BENCHMARK(bm_parse)
    ->ArgNames({"kind", "digits", "reader"})
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// The whole handler on an in-memory collection (args: kind, digits).
void bm_handle(benchmark::State& state) {
  const auto kind = static_cast<Kind>(state.range(0));
  vesta::core::ThreadPool pool(1);
  vesta::core::LockManager locks;
  vesta::index::CpuSearcher searcher(pool);
  vesta::index::CollectionRegistry registry(locks, searcher);
  if (!registry.create({"b", kDim, vesta::index::Metric::kDot}).is_ok()) {
    state.SkipWithError("cannot create the collection");
    return;
  }
  server::RestApi api(registry, "bench");
  server::HttpRequest request;
  const bool upsert = kind == Kind::kUpsert || kind == Kind::kUpsertBatch;
  if (!upsert) {
    // One point to find: the search itself stays negligible.
    json point = {{"id", 1}, {"vector", std::vector<float>(kDim, 0.5f)}};
    request.method = "PUT";
    request.path = "/collections/b/points";
    request.body = json{{"points", json::array({point})}}.dump();
    if (api.handle(request).status != 200) {
      state.SkipWithError("cannot upsert the point");
      return;
    }
  }
  request.method = upsert ? "PUT" : "POST";
  request.path = kind == Kind::kSearch  ? "/collections/b/points/search"
                 : kind == Kind::kBatch ? "/collections/b/points/search/batch"
                                        : "/collections/b/points";
  request.body = make_body(kind, static_cast<Digits>(state.range(1)));
  for (auto _ : state) {
    server::HttpResponse response = api.handle(request);
    if (response.status != 200) {
      state.SkipWithError(response.body.c_str());
      break;
    }
    benchmark::DoNotOptimize(response.body.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.body.size()));
}
BENCHMARK(bm_handle)
    ->ArgNames({"kind", "digits"})
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// What `vesta bench` writes (args: kind 0 search, 1 search/batch of 64,
// 3 upsert in batch form; writer 0: a nlohmann DOM and dump(), as it did
// before loadgen/request_json; 1: request_json). Bytes/s counts the text.
void bm_write(benchmark::State& state) {
  const auto kind = static_cast<Kind>(state.range(0));
  const bool direct = state.range(1) == 1;
  const size_t vectors = kind == Kind::kSearch  ? 1
                         : kind == Kind::kBatch ? kBatchSearches
                                                : kUpsertPoints;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> values(vectors * kDim);
  for (float& v : values) v = normal(rng);
  constexpr size_t kK = 10;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text;
    if (direct) {
      text = kind == Kind::kSearch  ? vesta::loadgen::search_request_json(values, kK)
             : kind == Kind::kBatch ? vesta::loadgen::search_batch_request_json(values, kDim, kK)
                                    : vesta::loadgen::upsert_batch_json(0, values, kDim);
    } else {
      auto row = [&](size_t i) {
        return std::vector<float>(values.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                                  values.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
      };
      if (kind == Kind::kSearch) {
        text = json{{"vector", row(0)}, {"limit", kK}}.dump();
      } else if (kind == Kind::kBatch) {
        json searches = json::array();
        for (size_t q = 0; q < vectors; ++q)
          searches.push_back({{"vector", row(q)}, {"limit", kK}});
        text = json{{"searches", searches}}.dump();
      } else {
        json ids = json::array();
        json rows = json::array();
        for (size_t i = 0; i < vectors; ++i) {
          ids.push_back(i);
          rows.push_back(row(i));
        }
        text = json{{"batch", {{"ids", ids}, {"vectors", rows}}}}.dump();
      }
    }
    bytes += text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(bm_write)
    ->ArgNames({"kind", "writer"})
    ->ArgsProduct({{0, 1, 3}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
