#include "loadgen/bench_command.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <span>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/float16.h"
#include "loadgen/exact_search.h"
#include "loadgen/http_client.h"
#include "loadgen/load_generator.h"
#include "loadgen/request_json.h"
#include "server/binary_import_format.h"
#include "server/raw_search_codec.h"

namespace vesta::loadgen {
namespace {

using nlohmann::json;

constexpr std::string_view kUsage =
    R"(vesta bench - load generator for a running vesta (or Qdrant) server

Usage:
  vesta bench --collection NAME [options]

Target:
  --url URL              server to load (default http://127.0.0.1:6333)
  --collection NAME      collection to search (required)
  --api-key KEY          sent in the api-key header (env VESTA_API_KEY)
  --create               delete and create the collection, then upload
                         random points (ids 0..N-1) before the run
  --dim N                vector size for --create (required with it)
  --points N             points to upload with --create (default 10000)
  --distance D           Cosine, Dot or Euclid for --create (default Cosine)
  --upload-batch N       points per upsert request (default 1000)
  --upload json|import   how --create uploads: upsert requests of JSON
                         (default), or binary bulk import jobs of float16
                         rows of at most 256 MiB each, followed until done
                         (for millions of points)
Load:
  --concurrency N        connections, each sending requests back to back
                         (default 64)
  --duration T           run for T: 10s, 1.5s, 500ms, 2m (default 10s)
  --requests N           or stop after N requests
  --mode json|binary     POST .../points/search (search/batch when --batch > 1)
                         or .../points/search/raw with float32 queries
                         (default json)
  --batch N              queries per request (default 1)
  --k N                  neighbours per query (default 10)
  --seed N               random seed for points and queries (default 1)
Output:
  --recall               check a sample of answers against exact top-k
                         computed here in float64 over the uploaded points
                         (needs --create) and print recall@k
  --recall-queries N     queries in that sample (default 100)
  --report FILE.json     also write the results as JSON

Prints requests and queries per second, latency p50/p95/p99 of the successful
requests, and the error count. Exits 0 when every request succeeded, 1 when
one failed (the report is still written) or the setup did, 2 on a usage error.
)";

// Requests in the prepared pool; request i of the run sends entry i % size.
constexpr size_t kPoolRequests = 256;

core::Result<size_t> count_value(std::string_view flag, std::string_view text, size_t min,
                                 size_t max) {
  size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return core::invalid_argument(std::string(flag) + " must be an integer from " +
                                  std::to_string(min) + " to " + std::to_string(max) + ", got '" +
                                  std::string(text) + "'");
  }
  return value;
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", ms);
  return text;
}

// What the run needs to know about the collection.
struct Target {
  size_t dim = 0;
  index::Metric metric = index::Metric::kCosine;
  std::vector<float> points;  // with --create: what was uploaded, row i = id i
};

core::Status expect_ok(const core::Result<HttpReply>& reply, const std::string& what) {
  if (!reply.is_ok()) return {reply.status().code(), what + ": " + reply.status().message()};
  if (reply.value().status != 200) {
    return {core::StatusCode::kUnavailable, what + ": HTTP " +
                                                std::to_string(reply.value().status) + ": " +
                                                reply.value().body.substr(0, 300)};
  }
  return core::Status::ok();
}

// Uploads target.points (row i = id i) through bulk import jobs: float16
// rows in the binary format (docs/api.md "Bulk import"), at most 256 MiB a
// job, each followed (GET /jobs/{id}) until it completed.
core::Status import_points(HttpClient& client, const std::string& path, const Target& target) {
  constexpr size_t kJobBytes = size_t{256} << 20;
  const size_t rows = target.points.size() / target.dim;
  const size_t per_job = std::max<size_t>(1, kJobBytes / (8 + target.dim * 2));
  for (size_t first = 0; first < rows; first += per_job) {
    const size_t count = std::min(per_job, rows - first);
    server::BinaryImportHeader header;
    header.dtype = 1;
    header.dim = static_cast<uint32_t>(target.dim);
    header.rows = count;
    std::string body = server::encode_binary_import_header(header);
    body.reserve(body.size() + count * (8 + target.dim * 2));
    for (uint64_t id = first; id < first + count; ++id) {
      for (size_t b = 0; b < 8; ++b) body.push_back(static_cast<char>((id >> (8 * b)) & 0xFF));
    }
    for (size_t i = first * target.dim; i < (first + count) * target.dim; ++i) {
      const uint16_t half = core::float_to_half(target.points[i]);
      body.push_back(static_cast<char>(half & 0xFF));
      body.push_back(static_cast<char>(half >> 8));
    }
    const std::string what = "importing points " + std::to_string(first) + "..";
    core::Result<HttpReply> submitted = client.request("POST", path + "/import?format=binary",
                                                       std::move(body), "application/octet-stream");
    if (!submitted.is_ok())
      return {submitted.status().code(), what + ": " + submitted.status().message()};
    if (submitted.value().status != 202) {
      return {core::StatusCode::kUnavailable, what + ": HTTP " +
                                                  std::to_string(submitted.value().status) + ": " +
                                                  submitted.value().body.substr(0, 300)};
    }
    const json job = json::parse(submitted.value().body, nullptr, false);
    if (!job.is_object() || !job.contains("result") || !job["result"].contains("id")) {
      return {core::StatusCode::kInternal, what + ": the answer names no job"};
    }
    const std::string job_path = "/jobs/" + job["result"]["id"].get<std::string>();
    for (;;) {
      core::Result<HttpReply> polled = client.request("GET", job_path);
      VESTA_RETURN_IF_ERROR(expect_ok(polled, "GET " + job_path));
      const json state = json::parse(polled.value().body, nullptr, false);
      const std::string s = state.is_object() ? state["result"].value("state", "") : "";
      if (s == "completed") break;
      if (s != "queued" && s != "running") {
        return {core::StatusCode::kUnavailable, what + ": the import job ended " +
                                                    (s.empty() ? "unreadable" : s) + ": " +
                                                    polled.value().body.substr(0, 300)};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return core::Status::ok();
}

core::Result<Target> create_and_upload(HttpClient& client, const BenchOptions& o,
                                       std::mt19937_64& rng) {
  const std::string path = "/collections/" + o.collection;
  VESTA_RETURN_IF_ERROR(expect_ok(client.request("DELETE", path), "DELETE " + path));
  const json config = {
      {"vectors", {{"size", o.dim}, {"distance", std::string(index::metric_name(o.metric))}}}};
  VESTA_RETURN_IF_ERROR(expect_ok(client.request("PUT", path, config.dump()), "PUT " + path));
  Target target{o.dim, o.metric, std::vector<float>(o.points * o.dim)};
  // Values exact in float16, so the server stores what was uploaded (Cosine
  // rows are then normalised and rounded again there).
  std::normal_distribution<float> normal;
  for (float& v : target.points) v = core::half_to_float(core::float_to_half(normal(rng)));
  const auto start = std::chrono::steady_clock::now();
  if (o.upload == BenchOptions::Upload::kImport) {
    VESTA_RETURN_IF_ERROR(import_points(client, path, target));
  } else {
    for (size_t first = 0; first < o.points; first += o.upload_batch) {
      const size_t count = std::min(o.upload_batch, o.points - first);
      const std::string body = upsert_batch_json(
          first, std::span<const float>(target.points).subspan(first * o.dim, count * o.dim),
          o.dim);
      VESTA_RETURN_IF_ERROR(expect_ok(client.request("PUT", path + "/points?wait=true", body),
                                      "upserting points " + std::to_string(first) + ".."));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "vesta bench: created %s (%zu x %zu, %s) and uploaded it in %.2f s\n",
               o.collection.c_str(), o.points, o.dim, index::metric_name(o.metric).data(), seconds);
  return target;
}

core::Result<Target> describe(HttpClient& client, const BenchOptions& o) {
  const std::string path = "/collections/" + o.collection;
  core::Result<HttpReply> reply = client.request("GET", path);
  VESTA_RETURN_IF_ERROR(expect_ok(reply, "GET " + path));
  const json info = json::parse(reply.value().body, nullptr, false);
  const json* vectors = nullptr;
  if (info.is_object()) {
    const json::json_pointer at("/result/config/params/vectors");
    if (info.contains(at)) vectors = &info.at(at);
  }
  if (vectors == nullptr || !vectors->is_object() || !vectors->contains("size") ||
      !(*vectors)["size"].is_number_unsigned()) {
    return core::invalid_argument("GET " + path +
                                  " has no result.config.params.vectors.size (named vectors "
                                  "are not supported)");
  }
  Target target;
  target.dim = (*vectors)["size"].get<size_t>();
  if (auto d = vectors->find("distance"); d != vectors->end() && d->is_string()) {
    if (auto metric = index::parse_metric(d->get<std::string>())) target.metric = *metric;
  }
  return target;
}

// The pool of requests and the queries each carries (entry e holds queries
// e*batch .. e*batch+batch-1 of `queries`).
struct RequestPool {
  std::vector<PreparedRequest> requests;
  std::vector<float> queries;
};

RequestPool prepare_requests(const BenchOptions& o, const Target& t, std::mt19937_64& rng) {
  RequestPool pool;
  pool.queries.resize(kPoolRequests * o.batch * t.dim);
  std::normal_distribution<float> normal;
  for (float& v : pool.queries) v = normal(rng);
  const std::string base = "/collections/" + o.collection + "/points/search";
  for (size_t e = 0; e < kPoolRequests; ++e) {
    const float* first = pool.queries.data() + e * o.batch * t.dim;
    PreparedRequest r;
    if (o.mode == BenchOptions::Mode::kBinary) {
      r.target = base + "/raw";
      r.content_type = "application/octet-stream";
      r.body.append(server::kRawRequestMagic);
      const auto put = [&r](auto value) {
        char bytes[sizeof(value)];
        std::memcpy(bytes, &value, sizeof(value));
        r.body.append(bytes, sizeof(value));
      };
      put(server::kRawDtypeFloat32);
      put(server::kRawFlagScores);
      put(uint16_t{0});
      put(static_cast<uint32_t>(o.batch));
      put(static_cast<uint32_t>(t.dim));
      put(static_cast<uint32_t>(o.k));
      // Little-endian hosts only, as the server (raw_search_codec.cpp).
      r.body.append(reinterpret_cast<const char*>(first), o.batch * t.dim * sizeof(float));
    } else {
      r.content_type = "application/json";
      const std::span<const float> queries(first, o.batch * t.dim);
      if (o.batch == 1) {
        r.target = base;
        r.body = search_request_json(queries, o.k);
      } else {
        r.target = base + "/batch";
        r.body = search_batch_request_json(queries, t.dim, o.k);
      }
    }
    pool.requests.push_back(std::move(r));
  }
  return pool;
}

// The ids of each query's hits in an answer; nullopt when it cannot be read
// (or holds ids that are not numbers).
std::optional<std::vector<std::vector<uint64_t>>> answer_ids(const BenchOptions& o,
                                                             const std::string& body) {
  std::vector<std::vector<uint64_t>> out;
  if (o.mode == BenchOptions::Mode::kBinary) {
    if (body.size() < server::kRawResponseHeaderBytes || body.substr(0, 4) != "VSR1") {
      return std::nullopt;
    }
    uint32_t rows = 0;
    uint32_t k = 0;
    std::memcpy(&rows, body.data() + 4, 4);
    std::memcpy(&k, body.data() + 8, 4);
    constexpr size_t kEntry = 12;  // u64 id + f32 score
    if (rows != o.batch ||
        body.size() != server::kRawResponseHeaderBytes + size_t{rows} * k * kEntry) {
      return std::nullopt;
    }
    for (size_t q = 0; q < rows; ++q) {
      out.emplace_back();
      for (size_t j = 0; j < k; ++j) {
        uint64_t id = 0;
        std::memcpy(&id, body.data() + server::kRawResponseHeaderBytes + (q * k + j) * kEntry, 8);
        if (id != server::kRawMissingId) out.back().push_back(id);
      }
    }
    return out;
  }
  const json answer = json::parse(body, nullptr, false);
  if (!answer.is_object() || !answer.contains("result") || !answer["result"].is_array()) {
    return std::nullopt;
  }
  const json& result = answer["result"];
  auto ids_of = [](const json& hits) -> std::optional<std::vector<uint64_t>> {
    if (!hits.is_array()) return std::nullopt;
    std::vector<uint64_t> ids;
    for (const json& hit : hits) {
      if (!hit.is_object() || !hit.contains("id") || !hit["id"].is_number_unsigned()) {
        return std::nullopt;
      }
      ids.push_back(hit["id"].get<uint64_t>());
    }
    return ids;
  };
  if (o.batch == 1) {
    auto ids = ids_of(result);
    if (!ids) return std::nullopt;
    out.push_back(std::move(*ids));
    return out;
  }
  for (const json& hits : result) {
    auto ids = ids_of(hits);
    if (!ids) return std::nullopt;
    out.push_back(std::move(*ids));
  }
  return out;
}

json latency_json(const LatencySummary& l) {
  return {{"mean", l.mean_ms},
          {"p50", l.p50_ms},
          {"p95", l.p95_ms},
          {"p99", l.p99_ms},
          {"max", l.max_ms}};
}

}  // namespace

std::string_view bench_usage() { return kUsage; }

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  double scale = 1e9;
  if (text.ends_with("ms")) {
    scale = 1e6;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60e9;
    text.remove_suffix(1);
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value <= 0 || value * scale > 1e9 * 86400) {
    return std::nullopt;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(value * scale));
}

core::Result<BenchOptions> parse_bench_options(const std::vector<std::string_view>& args) {
  BenchOptions o;
  if (const char* key = std::getenv("VESTA_API_KEY")) o.api_key = key;
  bool dim_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    }
    if (flag == "--create") {
      o.create = true;
      continue;
    }
    if (flag == "--recall") {
      o.recall = true;
      continue;
    }
    static constexpr std::string_view kValueFlags[] = {
        "--url",      "--collection",     "--api-key",      "--dim",
        "--points",   "--distance",       "--upload-batch", "--concurrency",
        "--duration", "--requests",       "--mode",         "--batch",
        "--k",        "--recall-queries", "--report",       "--seed",
        "--upload"};
    if (std::find(std::begin(kValueFlags), std::end(kValueFlags), flag) == std::end(kValueFlags)) {
      return core::invalid_argument("unknown bench option '" + std::string(flag) + "'");
    }
    if (i + 1 >= args.size()) return core::invalid_argument(std::string(flag) + " needs a value");
    const std::string_view value = args[++i];
    auto count = [&](size_t* out, size_t min, size_t max) -> core::Status {
      core::Result<size_t> n = count_value(flag, value, min, max);
      if (!n.is_ok()) return n.status();
      *out = n.value();
      return core::Status::ok();
    };
    if (flag == "--url") {
      o.url = std::string(value);
    } else if (flag == "--collection") {
      o.collection = std::string(value);
    } else if (flag == "--api-key") {
      o.api_key = std::string(value);
    } else if (flag == "--dim") {
      VESTA_RETURN_IF_ERROR(count(&o.dim, 1, 65536));
      dim_given = true;
    } else if (flag == "--points") {
      VESTA_RETURN_IF_ERROR(count(&o.points, 1, 100'000'000));
    } else if (flag == "--distance") {
      const std::optional<index::Metric> metric = index::parse_metric(value);
      if (!metric) {
        return core::invalid_argument("--distance must be Cosine, Dot or Euclid, got '" +
                                      std::string(value) + "'");
      }
      o.metric = *metric;
    } else if (flag == "--upload") {
      if (value != "json" && value != "import") {
        return core::invalid_argument("--upload must be json or import, got '" +
                                      std::string(value) + "'");
      }
      o.upload = value == "json" ? BenchOptions::Upload::kJson : BenchOptions::Upload::kImport;
    } else if (flag == "--upload-batch") {
      VESTA_RETURN_IF_ERROR(count(&o.upload_batch, 1, 10'000'000));
    } else if (flag == "--concurrency") {
      VESTA_RETURN_IF_ERROR(count(&o.concurrency, 1, 4096));
    } else if (flag == "--duration") {
      o.duration = parse_duration(value);
      if (!o.duration) {
        return core::invalid_argument(
            "--duration must be a positive time such as 10s, 1.5s, 500ms or 2m, got '" +
            std::string(value) + "'");
      }
    } else if (flag == "--requests") {
      VESTA_RETURN_IF_ERROR(count(&o.requests, 1, size_t{1} << 40));
    } else if (flag == "--mode") {
      if (value == "json") {
        o.mode = BenchOptions::Mode::kJson;
      } else if (value == "binary") {
        o.mode = BenchOptions::Mode::kBinary;
      } else {
        return core::invalid_argument("--mode must be json or binary, got '" + std::string(value) +
                                      "'");
      }
    } else if (flag == "--batch") {
      VESTA_RETURN_IF_ERROR(count(&o.batch, 1, 1'000'000));
    } else if (flag == "--k") {
      VESTA_RETURN_IF_ERROR(count(&o.k, 1, 1024));
    } else if (flag == "--recall-queries") {
      VESTA_RETURN_IF_ERROR(count(&o.recall_queries, 1, 1'000'000));
    } else if (flag == "--report") {
      o.report_path = std::string(value);
    } else if (flag == "--seed") {
      size_t seed = 0;
      VESTA_RETURN_IF_ERROR(count(&seed, 0, SIZE_MAX));
      o.seed = seed;
    } else {
      return core::invalid_argument("unknown bench option '" + std::string(flag) + "'");
    }
  }
  if (o.collection.empty()) return core::invalid_argument("--collection is required");
  if (o.create && !dim_given) return core::invalid_argument("--create needs --dim");
  if (!o.create && dim_given) return core::invalid_argument("--dim is only used with --create");
  if (o.recall && !o.create) {
    return core::invalid_argument(
        "--recall needs --create: the exact answers are computed over the points vesta bench "
        "uploads");
  }
  if (o.duration && o.requests > 0) {
    return core::invalid_argument("give --duration or --requests, not both");
  }
  if (!o.duration && o.requests == 0) o.duration = std::chrono::seconds(10);
  return o;
}

int run_bench_command(const std::vector<std::string_view>& args) {
  core::Result<BenchOptions> parsed = parse_bench_options(args);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "vesta bench: %s\nRun 'vesta bench --help' for usage.\n",
                 parsed.status().message().c_str());
    return 2;
  }
  const BenchOptions& o = parsed.value();
  if (o.help) {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  core::Result<HttpEndpoint> endpoint = HttpEndpoint::parse_url(o.url);
  if (!endpoint.is_ok()) {
    std::fprintf(stderr, "vesta bench: %s\n", endpoint.status().message().c_str());
    return 2;
  }
  std::mt19937_64 rng(o.seed);
  HttpClient setup(endpoint.value(), o.api_key);
  core::Result<Target> target = o.create ? create_and_upload(setup, o, rng) : describe(setup, o);
  if (!target.is_ok()) {
    std::fprintf(stderr, "vesta bench: %s\n", target.status().message().c_str());
    return 1;
  }
  const Target& t = target.value();
  const RequestPool pool = prepare_requests(o, t, rng);

  // The answers of the first entries of the pool, kept for the recall check.
  const size_t sampled_entries =
      o.recall ? std::min(kPoolRequests, (o.recall_queries + o.batch - 1) / o.batch) : 0;
  std::mutex sample_mutex;
  std::vector<std::optional<std::vector<std::vector<uint64_t>>>> samples(sampled_entries);
  size_t unreadable = 0;  // guarded by sample_mutex
  const ReplyObserver observe = [&](size_t entry, const HttpReply& reply) {
    if (entry >= sampled_entries) return;
    {
      std::lock_guard lock(sample_mutex);
      if (samples[entry]) return;
    }
    auto ids = answer_ids(o, reply.body);
    std::lock_guard lock(sample_mutex);
    if (!ids) {
      ++unreadable;
    } else if (!samples[entry]) {
      samples[entry] = std::move(ids);
    }
  };

  const char* mode = o.mode == BenchOptions::Mode::kBinary ? "binary" : "json";
  const std::string length =
      o.duration ? format_ms(std::chrono::duration<double, std::milli>(*o.duration).count()) + " ms"
                 : std::to_string(o.requests) + " requests";
  std::fprintf(stderr,
               "vesta bench: %s/collections/%s, %s mode, concurrency %zu, batch %zu, k %zu, %s\n",
               endpoint.value().to_string().c_str(), o.collection.c_str(), mode, o.concurrency,
               o.batch, o.k, length.c_str());
  LoadOptions load{o.concurrency, o.duration, o.requests};
  const LoadResult result =
      LoadGenerator(endpoint.value(), o.api_key, load).run(pool.requests, observe);

  std::optional<double> recall;
  size_t recall_count = 0;
  if (o.recall) {
    double sum = 0;
    for (size_t e = 0; e < sampled_entries; ++e) {
      if (!samples[e]) continue;
      for (size_t q = 0; q < samples[e]->size() && q < o.batch; ++q) {
        const std::span<const float> query(pool.queries.data() + (e * o.batch + q) * t.dim, t.dim);
        const std::vector<uint64_t> exact = exact_top_k(t.points, t.dim, t.metric, query, o.k);
        sum += recall_of((*samples[e])[q], exact);
        ++recall_count;
      }
    }
    if (recall_count > 0) recall = sum / static_cast<double>(recall_count);
  }

  const double qps = result.elapsed_s > 0
                         ? static_cast<double>(result.requests - result.errors) / result.elapsed_s
                         : 0.0;
  std::printf("requests:   %zu in %.2f s, %zu errors\n", result.requests, result.elapsed_s,
              result.errors);
  std::printf("throughput: %.1f requests/s, %.1f queries/s\n", qps,
              qps * static_cast<double>(o.batch));
  std::printf("latency ms: p50 %s  p95 %s  p99 %s  max %s  mean %s\n",
              format_ms(result.latency.p50_ms).c_str(), format_ms(result.latency.p95_ms).c_str(),
              format_ms(result.latency.p99_ms).c_str(), format_ms(result.latency.max_ms).c_str(),
              format_ms(result.latency.mean_ms).c_str());
  if (!result.first_error.empty()) std::printf("first error: %s\n", result.first_error.c_str());
  if (o.recall) {
    if (recall) {
      std::printf("recall@%zu:  %.4f over %zu queries\n", o.k, *recall, recall_count);
    } else {
      // Unreadable: not the expected shape, or ids that are not numbers.
      std::printf(
          "recall@%zu:  none of the sampled queries was answered (%zu answers could not "
          "be read)\n",
          o.k, unreadable);
    }
  }

  if (!o.report_path.empty()) {
    json statuses = json::object();
    for (const auto& [status, count] : result.status_counts) {
      statuses[status == 0 ? "transport" : std::to_string(status)] = count;
    }
    const json report = {
        {"format", "vesta-bench/1"},
        {"url", endpoint.value().to_string()},
        {"collection", o.collection},
        {"dim", t.dim},
        {"distance", std::string(index::metric_name(t.metric))},
        {"created", o.create},
        {"points", o.create ? json(o.points) : json()},
        {"mode", mode},
        {"concurrency", o.concurrency},
        {"batch", o.batch},
        {"k", o.k},
        {"seed", o.seed},
        {"duration_s",
         o.duration ? json(std::chrono::duration<double>(*o.duration).count()) : json()},
        {"requests_limit", o.duration ? json() : json(o.requests)},
        {"elapsed_s", result.elapsed_s},
        {"requests", result.requests},
        {"errors", result.errors},
        {"status_counts", statuses},
        {"first_error", result.first_error.empty() ? json() : json(result.first_error)},
        {"qps", qps},
        {"queries_per_s", qps * static_cast<double>(o.batch)},
        {"latency_ms", latency_json(result.latency)},
        {"recall", recall ? json(*recall) : json()},
        {"recall_queries", recall_count},
    };
    std::ofstream out(o.report_path);
    out << report.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "vesta bench: cannot write %s\n", o.report_path.c_str());
      return 1;
    }
  }
  return result.errors == 0 ? 0 : 1;
}

}  // namespace vesta::loadgen
