#include "server/standard_metrics.h"

#include <chrono>
#include <string>

namespace vesta::server {

void register_standard_metrics(Metrics& metrics, index::CollectionRegistry& collections,
                               const core::LockManager& locks,
                               const index::PlacementSearcher& placement) {
  metrics.add_collector([&collections](std::string& out) {
    const std::vector<std::string> names = collections.names();
    append_metric_header(out, "vesta_collections", "gauge", "Collections.");
    append_sample(out, "vesta_collections", {}, static_cast<double>(names.size()));
    append_metric_header(out, "vesta_collection_points", "gauge", "Live points per collection.");
    std::string batching;
    uint64_t batches = 0;
    uint64_t requests = 0;
    for (const std::string& name : names) {
      core::Result<std::shared_ptr<index::Collection>> collection = collections.get(name);
      if (!collection.is_ok()) continue;  // dropped meanwhile
      // A scrape never waits long behind a writer.
      core::LockOptions quick;
      quick.timeout = std::chrono::milliseconds(100);
      core::Result<size_t> count = collection.value()->count(quick);
      if (count.is_ok()) {
        append_sample(out, "vesta_collection_points", {{"collection", name}},
                      static_cast<double>(count.value()));
      }
      const index::BatchingStats stats = collection.value()->batching_stats();
      batches += stats.batches;
      requests += stats.requests;
    }
    append_metric_header(out, "vesta_batched_requests_total", "counter",
                         "Unfiltered search requests answered through dynamic batching "
                         "(live collections).");
    append_sample(out, "vesta_batched_requests_total", {}, static_cast<double>(requests));
    append_metric_header(out, "vesta_batches_total", "counter",
                         "Searcher calls dynamic batching made for them (live collections).");
    append_sample(out, "vesta_batches_total", {}, static_cast<double>(batches));
  });

  metrics.add_collector([&placement](std::string& out) {
    const index::PlacementStats stats = placement.stats();
    append_metric_header(out, "vesta_device_info", "gauge",
                         "Where searches run (the label says which device).");
    append_sample(out, "vesta_device_info",
                  {{"description", placement.description()},
                   {"gpu", placement.gpu_available() ? "true" : "false"}},
                  1);
    append_metric_header(out, "vesta_search_calls_total", "counter",
                         "Searcher calls (batches of queries), by the device that answered.");
    append_sample(out, "vesta_search_calls_total", {{"device", "gpu"}},
                  static_cast<double>(stats.gpu_searches));
    append_sample(out, "vesta_search_calls_total", {{"device", "cpu"}},
                  static_cast<double>(stats.cpu_searches));
    append_metric_header(out, "vesta_search_batch_queries", "histogram",
                         "Queries per searcher call.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < index::kBatchSizeBuckets; ++b) {
      cumulative += stats.batch_sizes[b];
      const std::string le =
          b + 1 < index::kBatchSizeBuckets ? std::to_string(size_t{1} << b) : "+Inf";
      if (b + 1 == index::kBatchSizeBuckets) {
        // The last bucket also holds the larger calls: report its bound, then +Inf.
        append_sample(out, "vesta_search_batch_queries_bucket",
                      {{"le", std::to_string(size_t{1} << b)}}, static_cast<double>(cumulative));
      }
      append_sample(out, "vesta_search_batch_queries_bucket", {{"le", le}},
                    static_cast<double>(cumulative));
    }
    append_sample(out, "vesta_search_batch_queries_sum", {}, static_cast<double>(stats.queries));
    append_sample(out, "vesta_search_batch_queries_count", {}, static_cast<double>(cumulative));
    append_metric_header(out, "vesta_gpu_fallbacks_total", "counter",
                         "Collections moved to the CPU after a device failure.");
    append_sample(out, "vesta_gpu_fallbacks_total", {}, static_cast<double>(stats.fallbacks));
    append_metric_header(out, "vesta_gpu_resident_bytes", "gauge",
                         "Device memory the collections' GPU copies hold.");
    append_sample(out, "vesta_gpu_resident_bytes", {},
                  static_cast<double>(placement.gpu_resident_bytes()));
    append_metric_header(out, "vesta_gpu_memory_budget_bytes", "gauge",
                         "Device memory the collections may hold (--gpu-memory-budget).");
    append_sample(out, "vesta_gpu_memory_budget_bytes", {},
                  static_cast<double>(placement.gpu_memory_budget()));
  });

  metrics.add_collector([&locks](std::string& out) {
    const core::LockStats stats = locks.stats();
    const std::pair<const char*, double> counters[] = {
        {"vesta_lock_acquisitions_total", static_cast<double>(stats.acquisitions)},
        {"vesta_lock_waits_total", static_cast<double>(stats.waits)},
        {"vesta_lock_wait_seconds_total", static_cast<double>(stats.wait_ns) / 1e9},
        {"vesta_lock_timeouts_total", static_cast<double>(stats.timeouts)},
        {"vesta_lock_cancellations_total", static_cast<double>(stats.cancellations)},
    };
    const char* help[] = {"Lock requests granted (collection and point locks).",
                          "Lock requests that had to wait.", "Time lock requests spent waiting.",
                          "Lock requests that timed out (503).",
                          "Lock requests cancelled while waiting."};
    for (size_t i = 0; i < std::size(counters); ++i) {
      append_metric_header(out, counters[i].first, "counter", help[i]);
      append_sample(out, counters[i].first, {}, counters[i].second);
    }
  });
}

void register_engine_metrics(Metrics& metrics, const engine::Engine& engine) {
  metrics.add_collector([&engine](std::string& out) {
    const engine::EngineStats stats = engine.stats();
    append_metric_header(out, "vesta_leader", "gauge",
                         "1 when this process does the leader-only work (snapshot rounds, log "
                         "truncation): always, unless several servers share the workspace.");
    append_sample(out, "vesta_leader", {}, engine.is_leader() ? 1 : 0);
    append_metric_header(out, "vesta_log_applied_sequence", "gauge",
                         "Every write-ahead log record up to this sequence is applied here.");
    append_sample(out, "vesta_log_applied_sequence", {},
                  static_cast<double>(engine.log_position()));
    append_metric_header(out, "vesta_log_records_total", "counter",
                         "Write-ahead log records this process wrote.");
    append_sample(out, "vesta_log_records_total", {}, static_cast<double>(stats.records_logged));
    append_metric_header(out, "vesta_snapshot_rounds_total", "counter",
                         "Snapshot rounds (each followed by a log truncation).");
    append_sample(out, "vesta_snapshot_rounds_total", {},
                  static_cast<double>(stats.snapshot_rounds));
    append_metric_header(out, "vesta_collections_awaiting_snapshot", "gauge",
                         "Collections changed since their newest snapshot (or being "
                         "snapshotted): a restart replays their log records. Only the leader's "
                         "snapshot rounds bring it down.");
    append_sample(out, "vesta_collections_awaiting_snapshot", {},
                  static_cast<double>(stats.collections_awaiting_snapshot));
    append_metric_header(out, "vesta_snapshot_failures_total", "counter",
                         "Collection snapshots that failed (retried next round).");
    append_sample(out, "vesta_snapshot_failures_total", {},
                  static_cast<double>(stats.snapshot_failures));
    const engine::OutboxStatus outbox = engine.outbox().status(std::nullopt);
    append_metric_header(out, "vesta_graph_outbox_records", "gauge",
                         "Graph requests logged and not delivered to the graph database yet.");
    append_sample(out, "vesta_graph_outbox_records", {},
                  static_cast<double>(outbox.pending_records));
    append_metric_header(out, "vesta_graph_outbox_operations", "gauge",
                         "Graph operations (node and edge writes and deletes) of those.");
    append_sample(out, "vesta_graph_outbox_operations", {},
                  static_cast<double>(outbox.pending_operations));
    append_metric_header(out, "vesta_graph_outbox_lag_seconds", "gauge",
                         "How long the oldest undelivered graph request has waited.");
    append_sample(out, "vesta_graph_outbox_lag_seconds", {}, outbox.oldest_pending_s);
    append_metric_header(out, "vesta_graph_dead_letters", "gauge",
                         "Graph requests the graph database refused for good.");
    append_sample(out, "vesta_graph_dead_letters", {}, static_cast<double>(outbox.dead_letters));
    append_metric_header(out, "vesta_graph_delivery_waits_cancelled_total", "counter",
                         "Graph writes with wait=delivered whose client went away before "
                         "delivery (the write stays durable and is delivered).");
    append_sample(out, "vesta_graph_delivery_waits_cancelled_total", {},
                  static_cast<double>(outbox.waits_cancelled));
    append_metric_header(out, "vesta_graph_delivered_sequence", "gauge",
                         "The newest log sequence delivered to the graph database.");
    append_sample(out, "vesta_graph_delivered_sequence", {},
                  static_cast<double>(outbox.last_delivered));
  });
}

}  // namespace vesta::server
