#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "graph/dispatcher.h"
#include "graph/graph_write.h"
#include "index/collection_registry.h"
#include "index/payload_filter.h"
#include "kernels/cpu/top_k.h"
#include "server/access_log.h"
#include "server/api_key_auth.h"
#include "server/http_message.h"
#include "server/import_jobs.h"
#include "server/metrics.h"
#include "server/router.h"

namespace vesta::server {

// What one request may ask for; each limit exceeded is a 4xx naming the field.
struct RequestLimits {
  size_t max_batch_points = 10000;                      // points in one upsert (413)
  size_t max_dim = index::CollectionRegistry::kMaxDim;  // vectors.size of a new collection
  size_t max_limit = kernels::kMaxTopK;                 // search and query `limit`
  size_t max_filter_depth = index::PayloadFilter::kDefaultMaxDepth;  // nesting of filters
  size_t max_search_batch = 1024;  // entries of search/batch and query/batch
};

struct RestApiOptions {
  ApiKeys api_keys;  // none: every route is open
  RequestLimits limits;
  Metrics* metrics = nullptr;       // optional: request metrics and GET /metrics
  AccessLog* access_log = nullptr;  // optional: one line per request
  // Optional: the snapshot API (server/snapshot_routes.h); without it those
  // routes answer that the server keeps nothing.
  engine::Engine* engine = nullptr;
  // Optional: bulk import jobs (server/import_routes.h); without them the
  // import and job routes answer 404.
  ImportJobs* import_jobs = nullptr;
  // Optional: graph coordination (server/graph_routes.h, with `engine`);
  // without it the graph routes answer 503.
  graph::Dispatcher* graph = nullptr;
  graph::GraphLimits graph_limits{};
  // Read the vectors of search, query and upsert bodies straight from the
  // text (VectorBodyParser). false: every body through parse_json_body
  // alone, the reference the tests compare the reader with.
  bool fast_json_vectors = true;
};

// The Qdrant-shaped REST API over a CollectionRegistry: collections and their
// aliases, points (upsert, retrieve, delete, count, scroll, payload updates)
// and search and query (single and batch). Collection routes accept an alias
// wherever they take a collection name.
// Responses use Qdrant's envelope, {"result": ..., "status": "ok", "time": s};
// errors {"status": {"error": ...}, "time": s} with the HTTP status of the
// Status code (core::http_status_for). With API keys configured, every route
// but the root and the health probes needs one (ApiKeyAuth); the read-only
// key may call the GET routes and the POST routes that change nothing
// (search, query, their batches, scroll, count, retrieve). Thread-safe.
class RestApi {
 public:
  RestApi(index::CollectionRegistry& collections, std::string version, RestApiOptions options = {});

  HttpResponse handle(const HttpRequest& request) const;
  // For HttpServerOptions::admit_to_file: the 401 or 403 that handle() would
  // answer `head` (a request without its body) with, counted and logged as
  // handle() does, or nullopt when its key lets it through.
  std::optional<HttpResponse> admit(const HttpRequest& head) const;

 private:
  void add_routes();
  void observe(const HttpRequest& request, const HttpResponse& response, const std::string& route,
               std::chrono::steady_clock::time_point start) const;

  index::CollectionRegistry& collections_;
  std::string version_;
  ApiKeyAuth auth_;
  RequestLimits limits_;
  Metrics* metrics_;
  AccessLog* access_log_;
  engine::Engine* engine_;
  ImportJobs* import_jobs_;
  graph::Dispatcher* graph_;
  graph::GraphLimits graph_limits_;
  bool fast_json_vectors_;
  Router router_;
};

}  // namespace vesta::server
