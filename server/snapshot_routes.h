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
//                                                        "snapshot") or raw bytes
// Recovering replaces the collection (or creates it) with the snapshot's
// points, durably, keeping its aliases.
void add_snapshot_routes(Router& router, engine::Engine* engine);

// The first file of a multipart/form-data body (RFC 7578), or the body itself
// for any other content type. An error for a malformed multipart body.
core::Result<std::string_view> uploaded_file(const HttpRequest& request);

}  // namespace vesta::server
