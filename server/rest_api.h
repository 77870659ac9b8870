#pragma once

#include <string>

#include "index/collection_registry.h"
#include "server/http_message.h"
#include "server/router.h"

namespace vesta::server {

// The Qdrant-shaped REST API over a CollectionRegistry: collections and their
// aliases, points (upsert, retrieve, delete, count, scroll, payload updates)
// and search and query (single and batch). Collection routes accept an alias
// wherever they take a collection name.
// Responses use Qdrant's envelope, {"result": ..., "status": "ok", "time": s};
// errors {"status": {"error": ...}, "time": s} with the HTTP status of the
// Status code (core::http_status_for). Thread-safe.
class RestApi {
 public:
  RestApi(index::CollectionRegistry& collections, std::string version);

  HttpResponse handle(const HttpRequest& request) const { return router_.dispatch(request); }

 private:
  void add_routes();

  index::CollectionRegistry& collections_;
  std::string version_;
  Router router_;
};

}  // namespace vesta::server
