#include "graph/dispatcher.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include "graph/cypher_plan.h"
#include "graph/graph_write.h"
#include "persistence/bolt/server_failure.h"

namespace vesta::graph {

Dispatcher::Dispatcher(engine::Engine& engine, DispatcherOptions options)
    : engine_(engine),
      options_(std::move(options)),
      client_(options_.connection, bolt::PoolOptions{.max_size = 2}) {
  state_.uri = options_.connection.uri;
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

DispatcherState Dispatcher::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void Dispatcher::sleep_for(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, wait, [&] { return stopping_; });
}

void Dispatcher::record_failure(const core::Status& status) {
  std::lock_guard lock(mutex_);
  const bool first = state_.connected || !state_.last_error;
  state_.connected = false;
  state_.last_error = status.message();
  ++state_.retries;
  // One line when the graph database goes away, not one per retry.
  if (first) {
    std::fprintf(stderr,
                 "vesta: graph delivery to %s failed, retrying with backoff (the outbox keeps "
                 "the operations): %s\n",
                 state_.uri.c_str(), status.message().c_str());
  }
}

void Dispatcher::loop() {
  std::mt19937_64 random(std::random_device{}());
  std::chrono::milliseconds backoff = options_.backoff_min;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    // Only the leader delivers; the others apply what it logs.
    if (!engine_.is_leader() || !engine_.outbox().wait_pending(std::chrono::milliseconds(200))) {
      if (!engine_.is_leader()) sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (deliver_front()) {
      backoff = options_.backoff_min;
      continue;
    }
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    sleep_for(std::chrono::milliseconds(jitter(random)));
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

core::Status Dispatcher::ensure_schema(const std::string& workspace) {
  if (schema_done_.contains(workspace)) return core::Status::ok();
  core::Result<bolt::QueryResult> made = client_.run(constraint_statement(workspace));
  if (!made.is_ok() && bolt::is_transient(made.status())) return made.status();
  if (!made.is_ok()) {
    // No constraints in Cypher here (FalkorDB): the index then; one that
    // exists already is refused too, which is fine.
    core::Result<bolt::QueryResult> indexed = client_.run(index_statement(workspace));
    if (!indexed.is_ok() && bolt::is_transient(indexed.status())) return indexed.status();
  }
  schema_done_.insert(workspace);
  return core::Status::ok();
}

core::Status Dispatcher::deliver(const std::vector<engine::OutboxEntry>& entries) {
  std::vector<PlannedEntry> planned;
  planned.reserve(entries.size());
  for (const engine::OutboxEntry& entry : entries) {
    core::Result<GraphOperations> ops = GraphOperations::from_text(entry.item.text);
    if (!ops.is_ok()) return ops.status();
    planned.push_back(PlannedEntry{entry.item.workspace, std::move(ops).value()});
  }
  for (const PlannedEntry& entry : planned) VESTA_RETURN_IF_ERROR(ensure_schema(entry.workspace));
  const std::vector<Statement> statements = plan_statements(planned, options_.statement_bytes);
  bolt::TransactionConfig config;
  config.database = options_.database;
  return client_.execute_in_transaction(
      [&](bolt::Transaction& tx) -> core::Status {
        for (const Statement& statement : statements) {
          core::Result<bolt::QueryResult> ran = tx.run(statement.query, statement.parameters);
          if (!ran.is_ok()) return ran.status();
        }
        return core::Status::ok();
      },
      config);
}

bool Dispatcher::deliver_front() {
  const std::vector<engine::OutboxEntry> batch = engine_.outbox().front(options_.batch_operations);
  if (batch.empty()) return true;
  engine::OutboxChange change;
  core::Status delivered = deliver(batch);
  if (delivered.is_ok()) {
    for (const engine::OutboxEntry& entry : batch) change.delivered.push_back(entry.sequence);
  } else if (bolt::is_transient(delivered)) {
    record_failure(delivered);
    return false;
  } else {
    // Refused for good: one entry at a time, so that only the entries the
    // server refuses become dead letters.
    for (const engine::OutboxEntry& entry : batch) {
      const core::Status alone = batch.size() == 1 ? delivered : deliver({entry});
      if (alone.is_ok()) {
        change.delivered.push_back(entry.sequence);
      } else if (bolt::is_transient(alone)) {
        record_failure(alone);
        break;  // what was settled is logged below; the rest waits
      } else {
        std::fprintf(stderr,
                     "vesta: the graph database refused the operations of log record %llu "
                     "(workspace '%s'), kept as a dead letter: %s\n",
                     static_cast<unsigned long long>(entry.sequence), entry.item.workspace.c_str(),
                     alone.message().c_str());
        change.dead.emplace_back(entry.sequence, alone.message());
      }
    }
  }
  if (change.delivered.empty() && change.dead.empty()) return false;
  const core::Status logged = engine_.change_outbox(change);
  if (!logged.is_ok()) {
    // Delivered but not logged so: delivered again later, which MERGE and
    // SET += make harmless.
    record_failure(core::Status(logged.code(),
                                "delivered, but the log could not record it: " + logged.message()));
    return false;
  }
  std::lock_guard lock(mutex_);
  if (!change.delivered.empty()) ++state_.transactions;
  if (!state_.connected && state_.last_error) {
    std::fprintf(stderr, "vesta: graph delivery to %s works again\n", state_.uri.c_str());
  }
  state_.connected = true;
  state_.last_error.reset();
  return true;
}

}  // namespace vesta::graph
