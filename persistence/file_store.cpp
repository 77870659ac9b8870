#include "persistence/file_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <vector>

#include "core/check.h"
#include "persistence/file_io.h"
#include "persistence/mapped_file.h"

namespace vesta::persistence {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSnapshotSuffix = ".vsnap";

// "<incarnation>-<wal sequence>.vsnap", both 20 digits.
std::string snapshot_name(uint64_t incarnation, uint64_t wal_sequence) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020llu-%020llu", static_cast<unsigned long long>(incarnation),
                static_cast<unsigned long long>(wal_sequence));
  return std::string(name) + std::string(kSnapshotSuffix);
}

struct SnapshotFile {
  fs::path path;
  uint64_t incarnation = 0;
  uint64_t wal_sequence = 0;
};

bool parse_snapshot_name(const std::string& name, SnapshotFile* out) {
  unsigned long long incarnation = 0, sequence = 0;
  char suffix[16] = {};
  if (name.size() != 20 + 1 + 20 + kSnapshotSuffix.size()) return false;
  if (std::sscanf(name.c_str(), "%20llu-%20llu%15s", &incarnation, &sequence, suffix) != 3 ||
      kSnapshotSuffix != suffix) {
    return false;
  }
  out->incarnation = incarnation;
  out->wal_sequence = sequence;
  return true;
}

// The snapshots in `dir`, newest (highest WAL sequence) first.
core::Result<std::vector<SnapshotFile>> list_snapshots(const fs::path& dir) {
  std::vector<SnapshotFile> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    SnapshotFile file;
    if (entry.is_regular_file() && parse_snapshot_name(entry.path().filename().string(), &file)) {
      file.path = entry.path();
      out.push_back(std::move(file));
    }
  }
  if (ec) return core::internal_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const SnapshotFile& a, const SnapshotFile& b) {
    return a.wal_sequence > b.wal_sequence;
  });
  return out;
}

core::Status remove_file(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) return core::internal_error("cannot remove " + path.string() + ": " + ec.message());
  return core::Status::ok();
}

}  // namespace

core::Result<std::unique_ptr<FileStore>> FileStore::open(FileStoreOptions options) {
  std::error_code ec;
  fs::create_directories(options.dir / "snapshots", ec);
  if (ec) {
    return core::internal_error("cannot create data directory " + options.dir.string() + ": " +
                                ec.message());
  }
  const fs::path lock_path = options.dir / "LOCK";
  ScopedFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return core::internal_error("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    core::Result<std::string> pid_text = read_whole_file(lock_path);
    const std::string holder = pid_text.is_ok() ? pid_text.value() : std::string();
    return core::Status(core::StatusCode::kConflict,
                        "data directory " + options.dir.string() +
                            " is in use by another vesta process" +
                            (holder.empty() ? "" : " (pid " + holder + ")"));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return core::internal_error("cannot write " + lock_path.string() + ": " + std::strerror(errno));
  }
  options.wal.dir = options.dir / "wal";
  return std::unique_ptr<FileStore>(new FileStore(std::move(options), fd.release()));
}

FileStore::FileStore(FileStoreOptions options, int lock_fd)
    : options_(std::move(options)), lock_fd_(lock_fd) {}

FileStore::~FileStore() {
  wal_.reset();       // syncs what was written
  ::close(lock_fd_);  // releases the flock
}

std::string FileStore::describe() const { return "files in " + options_.dir.string(); }

fs::path FileStore::snapshot_dir(const std::string& collection) const {
  // The prefix keeps names such as "." and ".." plain directory names.
  return options_.dir / "snapshots" / ("c-" + collection);
}

core::Result<std::optional<std::string>> FileStore::load_catalog() {
  core::Result<std::string> text = read_whole_file(options_.dir / "catalog.json");
  if (text.status().code() == core::StatusCode::kNotFound) return std::optional<std::string>();
  if (!text.is_ok()) return text.status();
  return std::optional<std::string>(std::move(text).value());
}

core::Status FileStore::save_catalog(std::string_view text) {
  return write_file_atomically(options_.dir / "catalog.json", text);
}

core::Result<std::optional<SnapshotContents>> FileStore::load_snapshot(
    const std::string& collection, uint64_t incarnation) {
  core::Result<std::vector<SnapshotFile>> files = list_snapshots(snapshot_dir(collection));
  if (!files.is_ok()) return files.status();
  std::vector<std::string> problems;
  for (const SnapshotFile& file : files.value()) {
    if (file.incarnation != incarnation) continue;
    // Mapped, not read: decoded straight from the page cache.
    core::Result<MappedFile> mapped = MappedFile::open(file.path);
    core::Result<SnapshotContents> contents = mapped.is_ok()
                                                  ? decode_snapshot(mapped.value().bytes())
                                                  : core::Result<SnapshotContents>(mapped.status());
    if (contents.is_ok() && contents.value().collection == collection &&
        contents.value().incarnation == incarnation &&
        contents.value().wal_sequence == file.wal_sequence) {
      return std::optional<SnapshotContents>(std::move(contents).value());
    }
    const std::string why = contents.is_ok() ? "its header names another collection or position"
                                             : contents.status().message();
    std::fprintf(stderr, "vesta: snapshot %s cannot be used (%s); trying an older one\n",
                 file.path.c_str(), why.c_str());
    problems.push_back(file.path.string() + ": " + why);
  }
  if (!problems.empty()) {
    std::string message = "no usable snapshot of collection '" + collection + "':";
    for (const std::string& p : problems) message += " " + p + ";";
    return core::internal_error(message);
  }
  return std::optional<SnapshotContents>();
}

core::Status FileStore::open_wal(uint64_t replay_after, uint64_t position, const ReplayFn& replay) {
  VESTA_CHECK(wal_ == nullptr) << "open_wal called twice";
  WalOpenReport report;
  core::Result<std::unique_ptr<Wal>> wal =
      Wal::open(options_.wal, replay_after, replay, &report, position);
  if (!wal.is_ok()) return wal.status();
  if (report.cut_tail) {
    std::fprintf(stderr, "vesta: the write-ahead log ended in a torn or damaged record, cut: %s\n",
                 report.cut_detail.c_str());
  }
  wal_ = std::move(wal).value();
  return core::Status::ok();
}

core::Result<uint64_t> FileStore::write_wal(std::string_view record) { return wal_->write(record); }

core::Status FileStore::sync_wal(uint64_t sequence) { return wal_->sync(sequence); }

uint64_t FileStore::wal_last_sequence() const { return wal_ ? wal_->last_sequence() : 0; }

uint64_t FileStore::wal_bytes_written() const { return wal_ ? wal_->bytes_written() : 0; }

core::Result<uint64_t> FileStore::save_snapshot(const SnapshotContents& contents) {
  std::lock_guard lock(snapshot_mutex_);
  const fs::path dir = snapshot_dir(contents.collection);
  std::error_code ec;
  if (fs::create_directories(dir, ec)) VESTA_RETURN_IF_ERROR(fsync_directory(dir.parent_path()));
  if (ec) return core::internal_error("cannot create " + dir.string() + ": " + ec.message());
  core::Result<size_t> written =
      write_snapshot_file(dir / snapshot_name(contents.incarnation, contents.wal_sequence),
                          contents, options_.snapshot);
  if (!written.is_ok()) return written.status();
  // Keep this snapshot and the one before it of the same incarnation.
  core::Result<std::vector<SnapshotFile>> files = list_snapshots(dir);
  if (!files.is_ok()) return files.status();
  uint64_t keep_after = contents.wal_sequence;
  size_t kept = 0;
  for (const SnapshotFile& file : files.value()) {
    if (file.incarnation == contents.incarnation && kept < 2) {
      ++kept;
      keep_after = std::min(keep_after, file.wal_sequence);
      continue;
    }
    VESTA_RETURN_IF_ERROR(remove_file(file.path));
  }
  VESTA_RETURN_IF_ERROR(fsync_directory(dir));
  return keep_after;
}

core::Status FileStore::drop_snapshots(const std::string& collection) {
  std::lock_guard lock(snapshot_mutex_);
  const fs::path dir = snapshot_dir(collection);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return core::internal_error("cannot remove " + dir.string() + ": " + ec.message());
  return fsync_directory(dir.parent_path());
}

core::Status FileStore::truncate_wal(uint64_t sequence) {
  core::Result<size_t> removed = wal_->remove_through(sequence);
  return removed.status();
}

}  // namespace vesta::persistence
