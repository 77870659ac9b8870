#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "persistence/bolt/client.h"

namespace vesta::graph {

struct DispatcherOptions {
  bolt::ConnectionOptions connection;
  std::string database;              // BEGIN's db; "" for the server's default
  size_t batch_operations = 5000;    // most operations in one transaction
  size_t statement_bytes = 1 << 20;  // most PackStream bytes of rows in one statement
  // Backoff after a transient failure: from `backoff_min`, doubled per
  // failure up to `backoff_max`, each wait drawn in [wait/2, wait].
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{30000};
};

// What the dispatcher knows of the graph database, for the status route.
struct DispatcherState {
  std::string uri;
  bool connected = false;  // the last delivery or connection attempt worked
  std::optional<std::string> last_error;
  uint64_t transactions = 0;  // committed
  uint64_t retries = 0;       // transient failures
};

// Ships the engine's outbox to the graph database (docs/graph.md): on the
// process that holds the leader lock (always, unless the store is shared),
// one thread takes the oldest pending entries (up to batch_operations
// operations), applies them in one explicit transaction of idempotent
// Cypher (graph/cypher_plan.h), and only after COMMIT succeeds logs them
// delivered (Engine::change_outbox). Transient failures (connection loss,
// timeouts, Neo.TransientError.*) are retried after a backoff with jitter,
// for as long as they last; a permanent failure of a batch is retried one
// entry at a time, and an entry the server refuses for good becomes a dead
// letter with its message while later entries go on. Before a workspace's
// first delivery it asks for the uniqueness constraint on its label's `id`
// (or the index, where constraints are refused). Thread-safe.
class Dispatcher {
 public:
  // `engine` is borrowed and must outlive the dispatcher.
  Dispatcher(engine::Engine& engine, DispatcherOptions options);
  ~Dispatcher();  // stops the thread (what is pending stays in the outbox)
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void stop();
  DispatcherState state() const;

 private:
  void loop();
  // One pass: delivers the front of the outbox. False when it should back
  // off (a transient failure).
  bool deliver_front();
  core::Status deliver(const std::vector<engine::OutboxEntry>& entries);
  core::Status ensure_schema(const std::string& workspace);
  void record_failure(const core::Status& status);
  void sleep_for(std::chrono::milliseconds wait);

  engine::Engine& engine_;
  DispatcherOptions options_;
  bolt::Client client_;
  std::set<std::string> schema_done_;  // the loop's thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  DispatcherState state_;
  std::thread thread_;
};

}  // namespace vesta::graph
