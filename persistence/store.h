#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

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
  // `replay_after`, in order; a damaged tail is cut and said on stderr.
  virtual core::Status open_wal(uint64_t replay_after, const ReplayFn& replay) = 0;

  // Replaces the catalog, durably.
  virtual core::Status save_catalog(std::string_view text) = 0;
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
};

}  // namespace vesta::persistence
