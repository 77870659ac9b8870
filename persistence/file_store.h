#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "persistence/store.h"
#include "persistence/wal.h"

namespace vesta::persistence {

struct FileStoreOptions {
  std::filesystem::path dir = "vesta-data";
  WalOptions wal;  // wal.dir is set to <dir>/wal
  SnapshotOptions snapshot;
};

// The embedded Store: one data directory, used by one process at a time.
//   <dir>/LOCK          flock()ed while a process has the directory open
//   <dir>/catalog.json  replaced atomically (temporary file, fsync, rename,
//                       directory fsync)
//   <dir>/wal/          the write-ahead log (persistence/wal.h)
//   <dir>/snapshots/c-<collection>/<incarnation>-<wal sequence>.vsnap
//                       (20-digit numbers; written like the catalog)
// Thread-safe after open_wal(); snapshot files are written outside any lock
// the log takes.
class FileStore final : public Store {
 public:
  // Creates the directory if needed and locks it; an error when another
  // process holds it.
  static core::Result<std::unique_ptr<FileStore>> open(FileStoreOptions options);
  ~FileStore() override;

  std::string describe() const override;
  core::Result<std::optional<std::string>> load_catalog() override;
  core::Result<std::optional<SnapshotContents>> load_snapshot(const std::string& collection,
                                                              uint64_t incarnation) override;
  using Store::open_wal;
  core::Status open_wal(uint64_t replay_after, uint64_t position, const ReplayFn& replay) override;
  core::Status save_catalog(std::string_view text) override;
  core::Result<uint64_t> write_wal(std::string_view record) override;
  core::Status sync_wal(uint64_t sequence) override;
  uint64_t wal_last_sequence() const override;
  uint64_t wal_bytes_written() const override;
  core::Result<uint64_t> save_snapshot(const SnapshotContents& contents) override;
  core::Status drop_snapshots(const std::string& collection) override;
  core::Status truncate_wal(uint64_t sequence) override;

 private:
  FileStore(FileStoreOptions options, int lock_fd);
  std::filesystem::path snapshot_dir(const std::string& collection) const;

  FileStoreOptions options_;
  int lock_fd_;
  std::unique_ptr<Wal> wal_;   // set by open_wal()
  std::mutex snapshot_mutex_;  // one snapshot save or drop at a time
};

}  // namespace vesta::persistence
