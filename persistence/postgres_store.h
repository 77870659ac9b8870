#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "persistence/store.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace vesta::persistence {

class PgConnectionPool;

struct PostgresStoreOptions {
  // postgresql://user:password@host:port/dbname?sslmode=verify-full&... ;
  // libpq reads it, so every libpq parameter works (host lists, sslmode,
  // sslrootcert, sslcert, sslkey, application_name, ...). A key=value
  // connection string is accepted too.
  std::string uri;
  size_t pool_size = 4;  // connections, the WAL writer's included
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds statement_timeout{30};
  // The tenant: every row the store writes carries it, and it reads only its
  // own, so stores of different workspaces share one database unseen by each
  // other. 1 to 63 characters of [A-Za-z0-9_.-].
  std::string workspace = "default";
  SnapshotOptions snapshot;
  // Snapshot bytes per vesta_snapshot_chunks row.
  size_t snapshot_chunk_bytes = size_t{8} << 20;
  // Several processes on the workspace (Store::shared()): each takes the
  // workspace lock shared instead of exclusive, writes with append_shared,
  // follows the log (LISTEN/NOTIFY, and a poll every follow_poll), and one
  // of them at a time holds the leader lock. Shared and exclusive processes
  // never mix on a workspace: each refuses to start beside the other kind.
  bool shared = false;
  std::chrono::milliseconds follow_poll{500};
  // A shared process whose heartbeat is older than this no longer holds back
  // the leader's log truncation (it must restart if it comes back behind).
  std::chrono::seconds member_timeout{60};
  // Keep every point's payload in vesta_points (jsonb), changed in the
  // transaction of its log record, so that users can inspect them with SQL.
  bool payload_table = true;
};

// Largest WAL record PostgresStore accepts (a bytea value may not exceed 1 GB).
inline constexpr size_t kMaxPostgresWalRecordBytes = size_t{256} << 20;

// A Store in a PostgreSQL database (docs/postgres-schema.md): the catalog, the
// write-ahead log and snapshot chunks in vesta_* tables, every row keyed by
// the workspace. open() migrates the schema and takes a session-level
// advisory lock on the workspace (one process per workspace in this version;
// a second is refused, as a FileStore's flock refuses one).
//
// The log: write_wal() assigns the next sequence in memory and queues the
// record; one flusher thread (owned, joined by the destructor) takes what is
// queued and writes it in one transaction, multi-row INSERTs in sequence
// order, so concurrent writers share one COMMIT; sync_wal() returns once the
// COMMIT that holds its record succeeded.
//
// Failures: a batch whose transaction fails on a connection that broke is
// retried once on a new connection (after checking, when the COMMIT's
// outcome was unknown, whether it landed). If that fails too, every record
// not yet committed fails (sync_wal: kUnavailable "PostgreSQL unreachable:
// ..."), write_wal() refuses until the flusher, retrying with exponential
// backoff and jitter, reconnects and makes those sequences void (rows with a
// NULL record, deleting any that an unknown COMMIT did write), so a write
// reported failed never takes effect and sequences stay gapless. Records
// reach the table in sequence order; a sequence is never reused (open_wal
// continues after every logged sequence and every snapshot's).
//
// Shared (options.shared, docs/postgres-schema.md "Several processes"):
// sequences are assigned at COMMIT, under pg_advisory_xact_lock on the
// workspace's log, so that COMMITs happen in sequence order and a process
// that sees sequence n committed has seen every one before it; each COMMIT
// NOTIFYs channel vesta_wal; a follower thread per process LISTENs, reads
// what it has not applied, in order, and delivers it (follow()); it also
// keeps the process's row in vesta_members (how far it applied) and tries
// for the leader lock (a session-level advisory lock, released by
// PostgreSQL when its holder's connection ends). A COMMIT whose answer was
// lost is looked up by (origin, batch) once reconnected: found, its writes
// succeed; not found, they fail; when the lookup itself fails they fail
// with "outcome unknown", and every process (this one included) applies
// them should they turn out committed.
//
// Thread-safe after open_wal().
class PostgresStore final : public Store {
 public:
  // Connects, migrates the schema (a database of a newer schema version is
  // refused), and locks the workspace (kConflict when another process holds
  // it after connect_timeout).
  static core::Result<std::unique_ptr<PostgresStore>> open(PostgresStoreOptions options);
  ~PostgresStore() override;  // commits what is queued, stops the flusher

  std::string describe() const override;
  core::Result<std::optional<std::string>> load_catalog() override;
  core::Result<std::optional<SnapshotContents>> load_snapshot(const std::string& collection,
                                                              uint64_t incarnation) override;
  using Store::open_wal;
  core::Status open_wal(uint64_t replay_after, uint64_t position, const ReplayFn& replay) override;
  core::Status save_catalog(std::string_view text) override;
  core::Status save_catalog(std::string_view text, PayloadChanges changes) override;
  core::Result<uint64_t> write_wal(std::string_view record) override;
  core::Result<uint64_t> write_wal(std::string_view record, PayloadChanges changes) override;
  bool keeps_payloads() const override { return options_.payload_table; }
  core::Result<std::optional<uint64_t>> payload_rows(const std::string& collection,
                                                     uint64_t incarnation) override;
  core::Status replace_payload_rows(const PayloadChange& all) override;
  core::Status sync_wal(uint64_t sequence) override;
  uint64_t wal_last_sequence() const override;
  uint64_t wal_bytes_written() const override;
  core::Result<uint64_t> save_snapshot(const SnapshotContents& contents) override;
  core::Status drop_snapshots(const std::string& collection) override;
  core::Status truncate_wal(uint64_t sequence) override;
  bool shared() const override { return options_.shared; }
  core::Result<uint64_t> append_shared(std::string_view record, PayloadChanges changes) override;
  core::Result<uint64_t> append_catalog(std::string_view record, std::string_view catalog,
                                        uint64_t expected_sequence,
                                        PayloadChanges changes) override;
  uint64_t catalog_sequence() const override;
  core::Status follow(ReplayFn deliver) override;
  void stop_following() override;
  bool is_leader() const override;

  // For tests and metrics: COMMITs of log batches, records they held,
  // batches retried on a new connection, and records that failed.
  struct WalStats {
    uint64_t commits = 0;
    uint64_t records = 0;
    uint64_t retried_batches = 0;
    uint64_t failed_records = 0;
  };
  WalStats wal_stats() const;

 private:
  struct Pending {
    uint64_t sequence;
    std::string record;
    PayloadChanges changes;
  };
  struct FailedRange {
    uint64_t last;
    core::Status status;
  };

  PostgresStore(PostgresStoreOptions options, std::string description, std::string conninfo);
  // Holds (or takes again, when its connection broke) the workspace's
  // session-level advisory lock on lock_session_.
  core::Status ensure_workspace_lock();
  // Runs `body` in one transaction on a pooled connection; a broken
  // connection is retried once on a new one (every caller is idempotent).
  template <typename Body>
  core::Status with_transaction(const std::string& doing, Body&& body);
  // One COMMIT of `batch` (sequence order), retried once on a new
  // connection when the first broke.
  core::Status write_batch(const std::deque<Pending>& batch);
  // Makes [first, last] void rows; checks the workspace lock first.
  core::Status void_sequences(uint64_t first, uint64_t last);
  void flush_loop();
  // Applies what records do to vesta_points, in order (payload_table).
  void apply_payload_changes(pqxx::transaction_base& txn, const PayloadChanges& changes) const;
  // Shared stores: the flusher's loop, one COMMIT of `batch` (returns the
  // first sequence it got), the follower's loop and its pieces.
  void shared_flush_loop();
  core::Result<uint64_t> write_shared_batch(const std::deque<Pending>& batch, int64_t token);
  void follow_loop();
  // Takes the leader lock when free (or checks it is still held); logs changes.
  void update_leadership();
  // Upserts this process's vesta_members row.
  core::Status heartbeat(uint64_t applied);

  const PostgresStoreOptions options_;
  const std::string description_;
  const std::string conninfo_;
  const int64_t lock_key_;
  std::unique_ptr<PgConnectionPool> pool_;

  struct LockSession;      // the connection holding the workspace lock
  std::mutex lock_mutex_;  // guards lock_session_
  std::unique_ptr<LockSession> lock_session_;

  std::mutex snapshot_mutex_;  // one snapshot save or drop at a time

  // The log. Lock order: wal_mutex_ is a leaf (never held while talking to
  // the database).
  mutable std::mutex wal_mutex_;  // guards the members below
  bool wal_open_ = false;
  bool stopping_ = false;
  uint64_t last_sequence_ = 0;               // last assigned
  uint64_t resolved_through_ = 0;            // every sequence up to it committed or failed
  std::deque<Pending> queue_;                // assigned, not yet taken by the flusher
  std::map<uint64_t, FailedRange> failed_;   // first sequence -> range that failed
  core::Status broken_;                      // not ok: refusing writes until the repair below
  uint64_t void_first_ = 0, void_last_ = 0;  // the failed range to make void
  uint64_t bytes_written_ = 0;
  WalStats stats_;
  std::condition_variable flusher_wake_;  // queue_ grew, or stopping_
  std::condition_variable resolved_;      // resolved_through_ moved
  std::thread flusher_;

  // Shared stores. member_: this process's id in vesta_members and origin of
  // its log rows; tickets number queue_'s records (Pending::sequence) until
  // their COMMIT gives them sequences, answered through shared_done_.
  const int64_t member_;
  const int64_t leader_key_;
  uint64_t last_ticket_ = 0;                                // wal_mutex_
  int64_t last_batch_ = 0;                                  // flusher thread only
  std::map<uint64_t, core::Result<uint64_t>> shared_done_;  // wal_mutex_
  uint64_t catalog_sequence_ = 0;                           // wal_mutex_
  uint64_t followed_through_ = 0;                           // wal_mutex_: delivered
  std::atomic<bool> leader_{false};
  bool follow_stop_ = false;  // wal_mutex_
  ReplayFn deliver_;
  std::thread follower_;
};

}  // namespace vesta::persistence
