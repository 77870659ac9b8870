#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "persistence/snapshot_codec.h"

namespace vesta::persistence {

// Where Vesta's state survives a restart: a catalog (an opaque text the
// layer above writes, JSON in practice), a write-ahead log of opaque records
// with increasing sequence numbers, and compressed snapshots of collections.
// Backends: FileStore (a data directory; the embedded default) and
// PostgresStore (vesta_* tables in a PostgreSQL database). The layer above
// (engine/) decides what the texts and records mean; a Store only keeps them,
// durably and in order.
//
// Use: once at start, load_catalog(), then load_snapshot() per collection,
// then open_wal() (which replays the log); afterwards the write methods, from
// any thread. Implementations are thread-safe after open_wal().
// What a log record does to the payloads of points, for a store that also
// keeps them queryable with SQL (PostgresStore's vesta_points), changed in
// the same transaction as the record; other stores ignore it. Ids are
// (type, text): type "number", "uuid" or "string".
struct PayloadChange {
  enum class Kind : uint8_t {
    kUpsert,          // ids get payloads (inserted or replaced)
    kDelete,          // ids are gone
    kMerge,           // existing ids: json's keys set (Qdrant's set payload)
    kReplace,         // existing ids: payload = json (overwrite payload)
    kDeleteKeys,      // existing ids: keys removed
    kClear,           // existing ids: payload = {}
    kDropCollection,  // every point of the collection's incarnation is gone
  };
  Kind kind = Kind::kUpsert;
  std::string collection;
  uint64_t incarnation = 0;
  std::vector<std::pair<std::string, std::string>> ids;
  std::vector<std::string> payloads;  // kUpsert: a JSON object per id, "" for none
  std::string json;                   // kMerge, kReplace: a JSON object
  std::vector<std::string> keys;      // kDeleteKeys
};
using PayloadChanges = std::vector<PayloadChange>;

class Store {
 public:
  using ReplayFn = std::function<core::Status(uint64_t sequence, std::string_view record)>;

  virtual ~Store() = default;

  // A line for the logs: "files in ./vesta-data".
  virtual std::string describe() const = 0;

  // The last saved catalog; nullopt for a new store.
  virtual core::Result<std::optional<std::string>> load_catalog() = 0;
  // The newest snapshot of `collection` taken in `incarnation`; when it is
  // damaged, the one before (said on stderr). nullopt when there is none.
  // An error when snapshots exist and none can be read: starting without
  // them could silently lose points whose log records are gone.
  virtual core::Result<std::optional<SnapshotContents>> load_snapshot(const std::string& collection,
                                                                      uint64_t incarnation) = 0;
  // Opens the log for writing after calling `replay` for every record after
  // `replay_after`, in order; a damaged tail is cut and said on stderr. New
  // records are numbered after the last one and after `position` (at least
  // replay_after: what the caller's snapshots hold, which a lost log must
  // not make the store hand out again).
  virtual core::Status open_wal(uint64_t replay_after, uint64_t position,
                                const ReplayFn& replay) = 0;
  core::Status open_wal(uint64_t replay_after, const ReplayFn& replay) {
    return open_wal(replay_after, replay_after, replay);
  }

  // Replaces the catalog, durably.
  virtual core::Status save_catalog(std::string_view text) = 0;
  // The same, with what the change does to payloads (dropped collections).
  virtual core::Status save_catalog(std::string_view text, PayloadChanges /*changes*/) {
    return save_catalog(text);
  }
  // Whether the store keeps payloads queryable (wants PayloadChanges).
  virtual bool keeps_payloads() const { return false; }
  // Stores that keep payloads queryable: how many points of the collection
  // they hold (nullopt for other stores), and a replacement of all of them
  // (after a recovery from a snapshot file, or when the count disagrees
  // with the collection's at start).
  virtual core::Result<std::optional<uint64_t>> payload_rows(const std::string& /*collection*/,
                                                             uint64_t /*incarnation*/) {
    return std::optional<uint64_t>();
  }
  virtual core::Status replace_payload_rows(const PayloadChange& /*all*/) {
    return core::Status::ok();
  }
  // Two steps so that a caller can note the sequence before waiting: write
  // assigns it (not yet durable); sync returns once it is durable. A record
  // whose sync failed was not applied by the caller: its outcome after a
  // restart is unknown for a FileStore, whose errors are sticky (a log that
  // failed refuses further writes until reopened); a PostgresStore refuses
  // writes until it has reconnected and made the failed sequences void, so
  // that they never take effect. Either way, a record accepted by
  // write_wal() after a sync failure means that failure is settled: the
  // failed sequences are never replayed and never handed out again (the
  // Engine then lets its snapshots cover them).
  virtual core::Result<uint64_t> write_wal(std::string_view record) = 0;
  // The same, with what the record does to payloads (see PayloadChange).
  virtual core::Result<uint64_t> write_wal(std::string_view record, PayloadChanges /*changes*/) {
    return write_wal(record);
  }
  virtual core::Status sync_wal(uint64_t sequence) = 0;
  // The last sequence the log assigned (0 for an empty, new log).
  virtual uint64_t wal_last_sequence() const = 0;
  // Bytes written to the log since open (for snapshot triggers).
  virtual uint64_t wal_bytes_written() const = 0;
  // Saves a snapshot durably and keeps it and the one before it (a fallback
  // should the newer one be damaged). Returns the sequence after which the
  // log must be kept for this collection: that of the older snapshot kept,
  // or of this one when it is the only one.
  virtual core::Result<uint64_t> save_snapshot(const SnapshotContents& contents) = 0;
  // Removes every snapshot of `collection` (dropped).
  virtual core::Status drop_snapshots(const std::string& collection) = 0;
  // Removes log records up to `sequence` where the backend can (a FileStore
  // removes whole segments only).
  virtual core::Status truncate_wal(uint64_t sequence) = 0;

  // ---- Several processes on one store (a PostgresStore opened shared) ----
  // In a shared store every process may write and every process applies
  // every record, its own included, in the one order of the log: sequences
  // are assigned when a record commits, not before, so the two-step
  // write_wal/sync_wal above is not used; append_shared and
  // append_catalog are, and follow() delivers what was committed.
  virtual bool shared() const { return false; }
  // Commits `record`; returns its sequence once it is committed. An error
  // means it did not commit, or (after a connection loss that could not be
  // resolved) that its outcome is unknown: the message says which.
  virtual core::Result<uint64_t> append_shared(std::string_view record, PayloadChanges changes);
  // Commits a catalog change: `record` (into the log, so that every process
  // applies it in order) and `catalog` (what load_catalog returns from then
  // on) in one transaction, provided the saved catalog is still the one
  // committed at `expected_sequence`; kConflict when another process changed
  // it since.
  virtual core::Result<uint64_t> append_catalog(std::string_view record, std::string_view catalog,
                                                uint64_t expected_sequence, PayloadChanges changes);
  // The sequence at which the catalog load_catalog returned was committed.
  virtual uint64_t catalog_sequence() const { return 0; }
  // After open_wal: calls `deliver` for every record committed after the
  // replay, by any process, in sequence order, on a thread of the store,
  // until the store is destroyed. `deliver` errors are logged and stop the
  // delivery (the process can no longer follow the log).
  virtual core::Status follow(ReplayFn deliver);
  // Stops that delivery and waits until `deliver` is no longer running (the
  // caller is going away). No-op when not following.
  virtual void stop_following() {}
  // Whether this process holds the leader lock of a shared store: work that
  // needs one owner (snapshot rounds, log truncation) runs on the leader
  // only. Always true for a store that is not shared.
  virtual bool is_leader() const { return true; }
};

}  // namespace vesta::persistence
