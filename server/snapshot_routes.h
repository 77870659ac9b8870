#pragma once

#include "engine/engine.h"
#include "server/router.h"

namespace vesta::server {

// Qdrant's collection snapshot API over an Engine (null: the server keeps
// nothing, and the routes say so with 409):
//   POST   /collections/{name}/snapshots                 create one
//   GET    /collections/{name}/snapshots                 list them
//   GET    /collections/{name}/snapshots/{snapshot}      download (octet-stream)
//   DELETE /collections/{name}/snapshots/{snapshot}      delete
//   PUT    /collections/{name}/snapshots/recover         {"location": "file:///…"}
//   POST   /collections/{name}/snapshots/upload          multipart form (field
//                                                        "snapshot") or raw bytes,
//                                                        in memory or a body file
// Recovering replaces the collection (or creates it) with the snapshot's
// points, durably, keeping its aliases.
void add_snapshot_routes(Router& router, engine::Engine* engine);

// The first file of multipart/form-data `body` (RFC 7578), or the body itself
// for any other content type of `request`. An error for a malformed multipart
// body. `body` is the request's, from memory or from its body file.
core::Result<std::string_view> uploaded_file(const HttpRequest& request, std::string_view body);

}  // namespace vesta::server
