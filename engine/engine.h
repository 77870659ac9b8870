#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/lock_manager.h"
#include "core/status.h"
#include "engine/outbox.h"
#include "index/collection_registry.h"
#include "index/searcher.h"
#include "index/write_journal.h"
#include "persistence/store.h"

namespace vesta::engine {

struct EngineOptions {
  // A snapshot round starts once the log has grown by this many bytes since
  // the last one (0: never for size) ...
  uint64_t snapshot_wal_bytes = uint64_t{256} << 20;
  // ... or this long after the last one when anything changed (0: never).
  std::chrono::seconds snapshot_interval{600};
  // How often the background thread looks at both.
  std::chrono::milliseconds snapshot_poll{1000};
  // Where on-demand snapshots (the snapshot API) are kept, one folder per
  // collection, until deleted; empty: the API answers that there is none.
  std::filesystem::path snapshots_dir;
};

// An on-demand snapshot, as the snapshot API lists it.
struct SnapshotInfo {
  std::string name;           // <collection>-<incarnation>-<log sequence>-<UTC time>.snapshot
  std::string creation_time;  // UTC, "2026-11-26T03:05:09"
  uint64_t size = 0;          // bytes
  std::string checksum;       // SHA-256 of the file in hex; "" when unknown
};

// What recovery found, for the start-up log line.
struct RecoveryReport {
  size_t collections = 0;
  size_t snapshots_loaded = 0;
  uint64_t points_loaded = 0;     // from snapshots
  uint64_t records_replayed = 0;  // log records applied
  uint64_t records_skipped = 0;   // of dropped collections, or already in a snapshot
  // Where the time went, in seconds: reading and decoding snapshots (the
  // store's load_snapshot), loading them into the collections, opening and
  // replaying the log.
  double snapshot_read_s = 0;
  double snapshot_load_s = 0;
  double log_replay_s = 0;
};

struct EngineStats {
  uint64_t records_logged = 0;
  uint64_t snapshot_rounds = 0;
  uint64_t snapshots_written = 0;
  uint64_t snapshot_failures = 0;
  // Collections changed since their newest snapshot, or being snapshotted: a
  // restart replays their log records. Only a leader's rounds bring it down.
  uint64_t collections_awaiting_snapshot = 0;
};

// The collections of a process made durable through a Store: the
// WriteJournal of the registry and its collections (every write is in the
// store's log before it applies; catalog changes are saved before they take
// effect), recovery at open (catalog, then each collection's newest
// snapshot, then the log after it), and snapshot rounds (on a background
// thread when the log grew by snapshot_wal_bytes or snapshot_interval
// passed, and on demand), after which the log they cover is truncated.
//
// Thread-safe. Lock order: the registry's writer lock, then snapshot_mutex_,
// then a collection lock, then mutex_ (which is held only briefly and never
// while waiting for the store).
class Engine final : public index::WriteJournal {
 public:
  // Recovers the state kept in `store` and starts the snapshot thread.
  // `store`, `locks` and `searcher` are borrowed and must outlive the engine.
  static core::Result<std::unique_ptr<Engine>> open(
      persistence::Store& store, core::LockManager& locks, index::Searcher& searcher,
      index::BatchingOptions batching, EngineOptions options, RecoveryReport* report = nullptr);
  ~Engine() override;  // stops the snapshot thread (no final snapshot)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  index::CollectionRegistry& registry() { return registry_; }

  // Snapshots every collection changed since its last snapshot (or never
  // snapshotted), then truncates the log they all cover.
  core::Status snapshot_all();
  EngineStats stats() const;
  // Whether this process does the leader-only work (always, unless the
  // store is shared with other processes) and how far it applied the log.
  bool is_leader() const { return store_.is_leader(); }
  uint64_t log_position() const { return watermark(); }

  // The snapshot API (Qdrant's): a collection (or an alias's collection)
  // written to a file in options.snapshots_dir, in the format of
  // persistence/snapshot_codec.h; listed, read back, deleted; and a
  // collection replaced by a snapshot's contents (created when missing,
  // keeping its aliases), durable before the call returns. A snapshot's
  // SHA-256 is kept beside it in <name>.checksum (as Qdrant does); given
  // one, recovery refuses bytes whose SHA-256 differs (InvalidArgument).
  core::Result<SnapshotInfo> create_snapshot(const std::string& collection);
  core::Result<std::vector<SnapshotInfo>> list_snapshots(const std::string& collection);
  // Where snapshot `name` of `collection` is; NotFound when it does not exist.
  core::Result<std::filesystem::path> snapshot_path(const std::string& collection,
                                                    const std::string& name);
  core::Result<bool> delete_snapshot(const std::string& collection, const std::string& name);
  core::Status recover_from_snapshot(const std::string& collection, std::string_view bytes,
                                     std::string_view checksum = {});

  // The operations logged with writes (attachments, see
  // engine/outbox.h) that are waiting to be delivered elsewhere, rebuilt at
  // open; the log is kept until they are delivered or dead letters are
  // retried and delivered.
  const Outbox& outbox() const { return outbox_; }
  // Logs a change to the outbox (deliveries, dead letters, retries) and
  // applies it (in every process of a shared workspace).
  core::Status change_outbox(const OutboxChange& change);
  // At shutdown: requests waiting for a delivery answer at once.
  void stop_outbox_waiters() { outbox_.stop_waiting(); }

  // index::WriteJournal
  bool applies_writes() const override { return shared_; }
  core::Result<index::LoggedWrite> log(const index::CollectionConfig& collection,
                                       const index::CollectionWrite& write,
                                       std::string_view attachment) override;
  void applied(uint64_t sequence) override;
  uint64_t watermark() const override;
  core::Status save_catalog(const index::Catalog& catalog) override;

 private:
  Engine(persistence::Store& store, core::LockManager& locks, index::Searcher& searcher,
         index::BatchingOptions batching, EngineOptions options);
  core::Status recover(RecoveryReport* report);
  // Snapshots one collection; snapshot_mutex_ held.
  core::Status snapshot_collection(const std::string& name, uint64_t incarnation);
  // The folder of a collection's on-demand snapshots, and `name` checked as
  // one of its file names; errors for no folder, a bad or unknown name.
  core::Result<std::filesystem::path> snapshot_file(const std::string& collection,
                                                    const std::string& name) const;
  void snapshot_loop();
  // Collections with changes no snapshot holds yet, or being snapshotted.
  uint64_t awaiting_snapshot() const;
  // A log record (a write, or a catalog change of a shared log) read back:
  // at recovery, and from the follower of a shared store. `report` may be
  // null (following).
  core::Status apply_record(uint64_t sequence, std::string_view record, RecoveryReport* report);
  // Logs one record (write or outbox change) and, for an exclusive store,
  // marks it in flight until applied(); `collection` (may be empty) is
  // marked dirty. Shared stores: committed, then waited for until applied.
  core::Result<index::LoggedWrite> log_record(const std::string& record,
                                              persistence::PayloadChanges changes,
                                              const std::string& collection);
  // At recovery: whether a plain write record is of a dropped collection or
  // already in its snapshot, read from its header alone.
  bool skipped_at_recovery(uint64_t sequence, std::string_view record);
  // Shared stores: waits until this process applied `sequence`.
  core::Result<index::LoggedWrite> wait_applied(uint64_t sequence);
  // The collection a record names, when it is the incarnation the engine
  // tracks; nullptr for a dropped one. A shared log's record may arrive
  // just before the registry shows a collection this process created.
  core::Result<std::shared_ptr<index::Collection>> collection_for(const std::string& name,
                                                                  uint64_t incarnation);
  // Brings tracked_ in line with `catalog`, saved at log position `at`;
  // returns the collections it no longer names (or names anew).
  std::vector<std::string> track_catalog(const index::Catalog& catalog, uint64_t at);

  // What the engine knows of each live collection.
  struct Tracked {
    uint64_t incarnation = 0;
    // The log must be kept after this sequence for the collection to be
    // recovered (its older kept snapshot, or where it began).
    uint64_t keep_after = 0;
    bool dirty = true;    // changed since its last snapshot (or none yet)
    bool saving = false;  // its snapshot is being taken and saved
  };

  persistence::Store& store_;
  const bool shared_;  // store_.shared(): several processes, every write applied in log order
  EngineOptions options_;
  index::CollectionRegistry registry_;

  mutable std::mutex mutex_;      // guards the members below it up to the thread ones
  std::set<uint64_t> in_flight_;  // logged, not applied yet
  // Of in_flight_: those whose sync failed, until the log accepts a record
  // again (it has then settled them).
  std::set<uint64_t> failed_;
  uint64_t last_logged_ = 0;
  std::map<std::string, Tracked> tracked_;
  EngineStats stats_;
  Outbox outbox_;  // its own lock
  // Shared stores: every record up to applied_through_ is applied here; what
  // applying the recent ones counted (for their writers); a record this
  // process could not apply stops it following.
  uint64_t applied_through_ = 0;
  std::map<uint64_t, size_t> recent_touched_;
  bool follow_failed_ = false;
  std::condition_variable applied_cv_;
  // During recovery: the sequence each collection's snapshot holds.
  std::map<std::string, uint64_t> covered_;
  // The log position of the catalog the registry shows (shared stores);
  // read and written under the registry's writer lock (save_catalog and
  // the sync predicate), atomic for the snapshot of it at recovery.
  std::atomic<uint64_t> catalog_sequence_{0};

  std::mutex snapshot_mutex_;  // one snapshot, or catalog change, at a time
  uint64_t wal_bytes_at_last_round_ = 0;
  std::chrono::steady_clock::time_point last_round_;

  std::mutex thread_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread snapshot_thread_;
};

}  // namespace vesta::engine
