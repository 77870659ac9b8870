#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "persistence/bolt/value.h"

namespace vesta::bolt {

// A FAILURE message: the server's status code ("Neo.ClientError.Statement.
// SyntaxError") and message. Bolt up to 5.6 sends them as `code`, 5.7+ as
// `neo4j_code` (with `gql_status` and `description` beside them); both are
// read.
struct ServerFailure {
  std::string code;
  std::string message;

  static ServerFailure from_metadata(const Dictionary& metadata);

  // Whether trying the same work again later may succeed. Neo4j's
  // classification: Neo.TransientError.* is transient (deadlocks, leader
  // switches, memory pressure), except the two its drivers also treat as
  // final because the client caused them (Transaction.Terminated,
  // Transaction.LockClientStopped); a cluster member that cannot write now
  // (Cluster.NotALeader, General.ForbiddenOnReadOnlyDatabase) is transient
  // too. ClientError (syntax, constraints, types, security) and
  // DatabaseError are permanent, as is any code of another shape (FalkorDB's
  // "SyntaxError"). Servers that mimic Neo4j with their own prefix
  // (FalkorDB.ClientError.*) are classified by the same second part.
  bool transient() const;

  // kUnavailable when transient; otherwise kInvalidArgument for a
  // ClientError and kInternal for the rest; the message is
  // "<code>: <message>".
  core::Status to_status() const;
};

// Whether a Status from this client means "try again later": a transient
// server failure, a broken or refused connection (kUnavailable) or a timeout
// (kDeadlineExceeded). A dispatcher retries these and dead-letters the rest.
bool is_transient(const core::Status& status);

}  // namespace vesta::bolt
