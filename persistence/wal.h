#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/status.h"

namespace vesta::persistence {

// The on-disk format (docs/wal-format.md has it byte by byte), little-endian:
//   segment file "<first sequence, 20 digits>.wal":
//     "VWAL" | u32 version | u64 first sequence | u32 CRC-32 of those 16 bytes
//   then records:
//     u32 length | u64 sequence | u32 CRC-32 of (length, sequence, bytes) | bytes
inline constexpr uint32_t kWalFormatVersion = 1;
inline constexpr size_t kWalSegmentHeaderBytes = 20;
inline constexpr size_t kWalRecordHeaderBytes = 16;
// Larger records are refused by write() and read as damage, so that a torn
// length never makes the reader allocate without bound.
inline constexpr size_t kMaxWalRecordBytes = size_t{1} << 30;

enum class FsyncPolicy {
  // sync() returns after an fdatasync that covers the record; callers waiting
  // at the same time share one (leader/follower).
  kAlways,
  // A thread owned by the Wal fdatasyncs every group_commit_interval while
  // there is unsynced data; sync() waits for the tick that covers the record.
  kGroup,
};

struct WalOptions {
  std::filesystem::path dir;                 // created if missing
  uint64_t segment_bytes = 64ull << 20;      // roll once the active segment reaches this
  FsyncPolicy fsync = FsyncPolicy::kAlways;  // see FsyncPolicy
  std::chrono::microseconds group_commit_interval{2000};  // kGroup only; must be > 0
};

// What open() found.
struct WalOpenReport {
  uint64_t records = 0;        // valid records found (replayed or not)
  uint64_t last_sequence = 0;  // 0 when the log never held a record
  uint64_t segments = 0;       // segment files read
  bool cut_tail = false;       // a torn or damaged tail was cut off
  // "segment 00000000000000000042.wal at byte 1234: checksum mismatch; 57 bytes cut"
  std::string cut_detail;
};

// The write-ahead log: opaque records, each with a sequence number (1, 2, …,
// contiguous for the life of the log), in segment files of about
// segment_bytes each in one directory.
//
// Thread-safety: every method may be called from any thread at the same time,
// except that no call may overlap the destructor. write() assigns sequences in
// file order; sync() waits for durability without holding up writers (the
// fdatasync runs outside the write lock).
//
// Invariants: every segment but the active (last) one is complete and synced
// (rolling fsyncs it); a segment's first sequence is the one after the
// previous segment's last; durable_sequence() <= last_sequence(). After an I/O
// error the log is in an unknown state on disk and stays failed (sticky):
// after a write error it refuses writes, after an fsync error it refuses
// writes and syncs. Reopening recovers what is on disk.
class Wal {
 public:
  using ReplayFn = std::function<core::Status(uint64_t sequence, std::string_view bytes)>;

  // Opens (or creates) the log in options.dir. Reads every segment in order
  // and calls replay(sequence, bytes) for each valid record with sequence >
  // replay_after, in sequence order (`bytes` is valid during the call only); a
  // replay error aborts open with that error.
  //
  // Damage in the last segment (a torn or corrupt record, a torn header) is
  // what a crash leaves: that record and everything after it are cut (the file
  // is truncated to the end of the last valid record and fsynced), described
  // in the report and never replayed. A last segment left with no record is
  // removed. Damage anywhere else (valid data follows it in a later segment),
  // a gap or overlap in the sequences between segments, or a segment of a
  // newer format version fails open with an error naming the segment file and
  // byte offset.
  //
  // Appends then go to a new segment whose first sequence is last_sequence+1;
  // sequences are never reused, even when every record was removed. When
  // replay_after is beyond every record (the caller's snapshot is newer than
  // the log), the old segments are removed and appends start at
  // replay_after+1. `position` (at least replay_after when given) is what the
  // caller holds when it replays from further back than its snapshots (to
  // read records kept for another reason): the same rule applies to it.
  static core::Result<std::unique_ptr<Wal>> open(const WalOptions& options, uint64_t replay_after,
                                                 const ReplayFn& replay,
                                                 WalOpenReport* report = nullptr,
                                                 uint64_t position = 0);
  // Syncs what was written (an error goes to stderr), stops the group-commit
  // thread and closes the files.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Assigns the next sequence and writes the record to the active segment
  // (write(2): not yet durable). Rolls to a new segment first when the active
  // one holds a record and has reached segment_bytes (rolling fsyncs the old
  // one). Records over kMaxWalRecordBytes are PayloadTooLarge.
  core::Result<uint64_t> write(std::string_view bytes);
  // Returns once record `sequence` and all before it are durable
  // (fdatasync), per the policy. A sequence not yet written is an
  // InvalidArgument; 0 returns at once.
  core::Status sync(uint64_t sequence);
  // write() then sync().
  core::Result<uint64_t> append(std::string_view bytes);

  // Deletes the segment files all of whose records have sequence <= `sequence`
  // (never the active segment), then fsyncs the directory. Returns how many
  // files were removed.
  core::Result<size_t> remove_through(uint64_t sequence);

  uint64_t last_sequence() const { return last_sequence_.load(); }        // last assigned
  uint64_t durable_sequence() const { return durable_sequence_.load(); }  // last known durable
  // Bytes this Wal wrote to segment files (records and segment headers).
  uint64_t bytes_written() const { return bytes_written_.load(); }
  size_t segment_count() const;  // segment files in the log, the active one included
  // fdatasyncs of segment files by this Wal (creating a segment does one);
  // shows how many records each sync served.
  uint64_t fsync_count() const { return fsync_count_.load(); }

 private:
  class SegmentFile;  // an open segment file; closed when its last holder lets go
  struct SegmentEntry {
    uint64_t first_sequence;
    std::filesystem::path path;
  };

  Wal(const WalOptions& options, int dir_fd);

  // Creates segment `first_sequence` (file, header, fsync file, fsync
  // directory) and makes it the active one. With write_mutex_ held, or before
  // the Wal is shared.
  core::Status start_segment(uint64_t first_sequence);
  // With write_mutex_ held: fsyncs the active segment and starts the next.
  core::Status roll();
  // Fdatasyncs the active segment without holding write_mutex_ during the
  // call; on success sets *covered to the last sequence it made durable.
  core::Status sync_active(uint64_t* covered);
  // Records the outcome of an fsync and wakes the waiters; takes sync_mutex_.
  void finish_sync(const core::Status& status, uint64_t covered);
  // With sync_mutex_ held.
  void finish_sync_locked(const core::Status& status, uint64_t covered);
  core::Status fsync_dir();
  void group_commit_loop();

  const WalOptions options_;
  const int dir_fd_;  // the directory, for fsyncing entries created or removed

  // Lock order: remove_mutex_, then write_mutex_, then sync_mutex_ (a leaf).
  std::mutex remove_mutex_;  // one remove_through at a time

  mutable std::mutex write_mutex_;       // guards the members down to the next blank line
  std::shared_ptr<SegmentFile> active_;  // shared with an fsync in flight
  uint64_t active_bytes_ = 0;            // size of the active segment file
  std::deque<SegmentEntry> segments_;    // oldest first; the active one last
  core::Status write_error_;             // sticky

  // Written under write_mutex_ (and sync_mutex_ for durable_sequence_), read
  // without a lock by the accessors and the group-commit wait.
  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<uint64_t> durable_sequence_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> fsync_count_{0};
  std::atomic<bool> sync_failed_{false};  // sync_error_ is set; lets write() check without a lock

  std::mutex sync_mutex_;           // guards the members down to the next blank line
  std::condition_variable synced_;  // an fsync ended (durable_sequence_ moved or sync_error_ set)
  bool syncing_ = false;            // kAlways: a leader's fsync is in flight
  core::Status sync_error_;         // sticky
  // kGroup: the thread waits on group_wake_ for unsynced data (group_idle_
  // says it is asleep, so that write() knows to wake it) and for stopping_.
  std::condition_variable group_wake_;
  bool stopping_ = false;
  std::atomic<bool> group_idle_{false};

  std::thread group_thread_;  // kGroup only; joined by the destructor
};

}  // namespace vesta::persistence
