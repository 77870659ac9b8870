#pragma once

#include <functional>
#include <string_view>

#include "core/status.h"
#include "persistence/bolt/connection.h"
#include "persistence/bolt/connection_pool.h"

namespace vesta::bolt {

// An explicit transaction on a leased connection, handed to the function
// given to Client::execute_in_transaction. Valid only during that call.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {}

  // RUN + PULL inside the transaction. A failure ends the transaction on the
  // server (execute_in_transaction then reports it).
  core::Result<QueryResult> run(std::string_view query, const Dictionary& parameters = {},
                                std::int64_t fetch_size = -1) {
    RunOptions options;
    options.fetch_size = fetch_size;
    return connection_.run(query, parameters, options);
  }

 private:
  Connection& connection_;
};

// The entry point for graph work: a pool of connections to one server and
// explicit transactions on them. Retries nothing: the caller decides, from
// is_transient(status), whether work is tried again (the outbox dispatcher
// retries transient failures with backoff, dead-letters the others), so the
// work must be idempotent (MERGE, SET +=). Thread-safe.
class Client {
 public:
  Client(ConnectionOptions connection_options, PoolOptions pool_options = {})
      : pool_(std::move(connection_options), pool_options) {}

  // Runs `query` in a transaction of its own (BEGIN, RUN, PULL, COMMIT) and
  // returns its records.
  core::Result<QueryResult> run(std::string_view query, const Dictionary& parameters = {},
                                const TransactionConfig& config = {});

  // BEGIN, then `work`, then COMMIT when it returns ok, else ROLLBACK and
  // its Status. A failed COMMIT or a broken connection is returned as is
  // (kUnavailable when the outcome is unknown).
  core::Status execute_in_transaction(const std::function<core::Status(Transaction&)>& work,
                                      const TransactionConfig& config = {});

  ConnectionPool& pool() { return pool_; }

 private:
  ConnectionPool pool_;
};

}  // namespace vesta::bolt
