#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "persistence/bolt/auth_token.h"
#include "persistence/bolt/bolt_uri.h"
#include "persistence/bolt/handshake.h"
#include "persistence/bolt/messages.h"
#include "persistence/bolt/packstream.h"
#include "persistence/bolt/server_failure.h"
#include "persistence/bolt/value.h"

namespace vesta::bolt {

struct ConnectionOptions {
  // bolt://, bolt+s://, bolt+ssc:// (neo4j:// URIs connect directly: see BoltUri).
  std::string uri = "bolt://127.0.0.1:7687";
  AuthToken auth;
  // Names the application to the server (HELLO's user_agent).
  std::string user_agent = "vesta/0.1";
  // Resolving, TCP connect, TLS, the handshake and HELLO/LOGON together.
  std::chrono::milliseconds connect_timeout{5000};
  // The longest wait for one answer (or for a write to be taken). A request
  // that times out leaves the connection broken: its state is unknown.
  std::chrono::milliseconds read_timeout{30000};
  std::vector<VersionProposal> versions = default_version_proposals();
  // bolt+s: a PEM file of certificate authorities to trust besides the
  // system's (a private CA).
  std::string tls_ca_file;
  // Send GOODBYE before closing, as the protocol asks of a polite client.
  // (FalkorDB 4.16 leaves the next connection's handshake unanswered after a
  // GOODBYE, see docs/graph.md; its tests turn this off.)
  bool send_goodbye = true;
  // Longer messages from the server break the connection.
  size_t max_message_bytes = size_t{256} << 20;
  UnpackLimits unpack_limits;
};

// What a query returned: the column names, the records (one List of values
// per row, in column order) and the summary metadata of the last PULL
// (counters such as `stats`, `bookmark`, `type`, `db`).
struct QueryResult {
  std::vector<std::string> keys;
  std::vector<List> records;
  Dictionary summary;
};

struct RunOptions {
  // Records per PULL: -1 pulls all at once; n > 0 pulls in batches of n
  // (each a round trip) until the server has no more.
  std::int64_t fetch_size = -1;
  // For a query outside a transaction (auto-commit): its database, mode,
  // timeout and metadata. Ignored inside a transaction (BEGIN had them).
  TransactionConfig auto_commit;
};

// One Bolt connection, opened with open(): TCP (or TLS), the handshake, HELLO
// and, from Bolt 5.1, LOGON. Requests are synchronous: each call sends its
// messages (pipelined where the protocol allows: RUN and PULL go together)
// and reads every answer before it returns.
//
// Failures come back as Status values, and leave the connection in one of
// two states:
//  - usable: the server answered FAILURE (the status carries its code and
//    message, see ServerFailure). The answers to pipelined requests are read
//    (IGNORED) and a RESET is sent before the call returns, so the next call
//    starts clean; an open transaction is gone (the server rolled it back).
//  - broken (is_broken()): the peer closed, an I/O error or timeout, or a
//    protocol violation; kUnavailable or kDeadlineExceeded (or kInternal for
//    a violation). Every later call fails at once; close and open another.
//
// Not thread-safe: one thread at a time (a pool lends it to one user).
class Connection {
 public:
  // Connects and authenticates. kUnavailable when the server cannot be
  // reached or closes; kDeadlineExceeded after connect_timeout; the server's
  // FAILURE (e.g. Neo.ClientError.Security.Unauthorized) when it refuses the
  // credentials; InvalidArgument for a bad URI or options.
  static core::Result<std::unique_ptr<Connection>> open(const ConnectionOptions& options);

  ~Connection();  // close()
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // BEGIN an explicit transaction; kConflict when one is open.
  core::Status begin(const TransactionConfig& config = {});
  // RUN `query` with `parameters` and PULL its records: inside the open
  // transaction, else as an auto-commit transaction.
  core::Result<QueryResult> run(std::string_view query, const Dictionary& parameters = {},
                                const RunOptions& options = {});
  // COMMIT the open transaction; kConflict when none is open. When the
  // connection breaks before the answer, whether it committed is unknown
  // (kUnavailable): make the work idempotent.
  core::Status commit();
  // ROLLBACK the open transaction; nothing to do (ok) when none is open,
  // e.g. after a failure ended it.
  core::Status rollback();
  // RESET: ends any transaction and returns the server to READY.
  core::Status reset();
  // GOODBYE (when options say so) and close. Idempotent.
  void close();

  bool is_broken() const { return broken_; }
  bool in_transaction() const { return in_transaction_; }
  // False when the server has closed the connection (or sent something)
  // while it sat idle: a cheap check before lending it out again.
  bool looks_alive() const;

  BoltVersion version() const { return version_; }
  // HELLO's SUCCESS metadata: `server` ("Neo4j/5.13.0"), `connection_id`.
  const Dictionary& server_metadata() const { return server_metadata_; }
  // The bookmark of the last COMMIT (or auto-commit), if the server sent one.
  const std::string& last_bookmark() const { return last_bookmark_; }
  // The last FAILURE the server sent on this connection.
  const ServerFailure& last_failure() const { return last_failure_; }
  // "bolt://host:port".
  std::string address() const { return uri_.address(); }

 private:
  struct Io;
  Connection(ConnectionOptions options, BoltUri uri);

  core::Status connect();
  core::Status send(const std::vector<Structure>& messages);
  core::Result<Response> receive();
  // Marks the connection broken and closes its socket; returns `why`.
  core::Status break_connection(core::Status why);
  // After a FAILURE (or an unexpected IGNORED): sends RESET, reads the
  // `pending` answers still due (IGNORED) and RESET's SUCCESS, and returns
  // the failure.
  core::Status recover(core::Status failure, int pending);
  core::Status check_usable() const;
  core::Status unexpected(const Response& response, std::string_view request);
  // The answer to `request` when it is not SUCCESS: a FAILURE (kept as
  // last_failure(), then recover()), an IGNORED (recover()), or anything
  // else (unexpected()). `pending`: answers still due after this one.
  core::Status not_success(const Response& response, std::string_view request, int pending);

  const ConnectionOptions options_;
  const BoltUri uri_;
  std::unique_ptr<Io> io_;
  BoltVersion version_;
  Dictionary server_metadata_;
  std::string last_bookmark_;
  ServerFailure last_failure_;
  bool broken_ = false;
  bool closed_ = false;
  bool in_transaction_ = false;
};

}  // namespace vesta::bolt
