#pragma once

#include "engine/engine.h"
#include "graph/dispatcher.h"
#include "graph/graph_write.h"
#include "index/collection_registry.h"
#include "server/router.h"

namespace vesta::server {

// The graph API (docs/graph.md): POST /graph/{workspace}/upsert and
// /delete (?wait=durable|delivered, ?timeout=seconds), GET
// /graph/{workspace}/status, GET /graph/dead-letters, POST
// /graph/dead-letters/retry. Without a dispatcher (no --neo4j-uri) every
// one answers 503 saying graph coordination is not configured. Everything
// is borrowed; `engine` and `dispatcher` may be null.
void add_graph_routes(Router& router, index::CollectionRegistry& collections,
                      engine::Engine* engine, graph::Dispatcher* dispatcher,
                      graph::GraphLimits limits);

}  // namespace vesta::server
