#pragma once

#include "core/lock_manager.h"
#include "engine/engine.h"
#include "index/collection_registry.h"
#include "index/placement.h"
#include "server/metrics.h"

namespace vesta::server {

// Registers the collectors of what `vesta serve` exposes besides requests:
// collections and their points, dynamic batching, searcher calls by device and
// batch size, GPU fallbacks and memory, the device in use, and lock waits.
// Everything passed must outlive `metrics`.
void register_standard_metrics(Metrics& metrics, index::CollectionRegistry& collections,
                               const core::LockManager& locks,
                               const index::PlacementSearcher& placement);

// Durable servers: the log position applied, log records written, snapshot
// rounds, and whether this process is the leader of a shared workspace.
void register_engine_metrics(Metrics& metrics, const engine::Engine& engine);

}  // namespace vesta::server
