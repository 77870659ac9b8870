#include "persistence/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "persistence/byte_codec.h"
#include "persistence/file_io.h"

namespace vesta::persistence {
namespace {

constexpr char kMagic[4] = {'V', 'W', 'A', 'L'};
constexpr size_t kSegmentNameDigits = 20;
constexpr std::string_view kSegmentSuffix = ".wal";
// Open reads segments in pieces of this size (records straddling a piece
// boundary are read again in one piece).
constexpr size_t kReadChunkBytes = size_t{1} << 20;

std::string segment_name(uint64_t first_sequence) {
  char name[kSegmentNameDigits + 1];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(first_sequence));
  return std::string(name) + std::string(kSegmentSuffix);
}

// "<20 digits>.wal" -> its first sequence; anything else is not a segment.
bool parse_segment_name(const std::string& name, uint64_t* first_sequence) {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size() ||
      name.compare(kSegmentNameDigits, std::string::npos, kSegmentSuffix) != 0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < kSegmentNameDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *first_sequence = v;
  return true;
}

core::Status damaged(const std::string& where, const std::string& what) {
  return core::internal_error("WAL damaged: " + where + ": " + what);
}

core::Status io_error(const std::string& what, int err) {
  return core::internal_error("WAL " + what + ": " + std::strerror(err));
}

// Writes all of `iov`, resuming after short writes and EINTR.
core::Status write_all(int fd, iovec* iov, int count, const std::string& file) {
  while (count > 0) {
    const ssize_t n = ::writev(fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write to " + file + " failed", errno);
    }
    size_t left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return core::Status::ok();
}

int fdatasync_retrying(int fd) {
  int rc;
  do {
    rc = ::fdatasync(fd);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// Reads one segment file through a buffer, for open().
class SegmentReader {
 public:
  SegmentReader(int fd, uint64_t size, std::string name)
      : fd_(fd), size_(size), name_(std::move(name)) {}

  // The `n` bytes at `offset`, which the caller checked lie inside the file;
  // valid until the next call.
  core::Result<std::string_view> read(uint64_t offset, size_t n) {
    if (offset >= buffer_offset_ && offset + n <= buffer_offset_ + buffer_.size()) {
      return std::string_view(buffer_).substr(offset - buffer_offset_, n);
    }
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadChunkBytes), size_ - offset));
    buffer_.resize(want);
    buffer_offset_ = offset;
    size_t got = 0;
    while (got < want) {
      const ssize_t r =
          ::pread(fd_, buffer_.data() + got, want - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return io_error("read of segment " + name_ + " failed", errno);
      if (r == 0) {
        return core::internal_error("WAL segment " + name_ + " shrank while being read");
      }
      got += static_cast<size_t>(r);
    }
    return std::string_view(buffer_).substr(0, n);
  }

 private:
  int fd_;
  uint64_t size_;
  std::string name_;
  std::string buffer_;
  uint64_t buffer_offset_ = 0;
};

std::string header_bytes(uint64_t first_sequence) {
  std::string h(kWalSegmentHeaderBytes, '\0');
  std::memcpy(h.data(), kMagic, 4);
  store_u32(h.data() + 4, kWalFormatVersion);
  store_u64(h.data() + 8, first_sequence);
  store_u32(h.data() + 16, crc32_of(std::string_view(h).substr(0, 16)));
  return h;
}

}  // namespace

// An open segment file. Shared between the Wal (while active) and an fsync in
// flight, so that a roll never closes a descriptor another thread is syncing.
class Wal::SegmentFile {
 public:
  SegmentFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~SegmentFile() { ::close(fd_); }
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

 private:
  const int fd_;
  const std::string name_;
};

Wal::Wal(const WalOptions& options, int dir_fd) : options_(options), dir_fd_(dir_fd) {}

core::Result<std::unique_ptr<Wal>> Wal::open(const WalOptions& options, uint64_t replay_after,
                                             const ReplayFn& replay, WalOpenReport* report,
                                             uint64_t position) {
  position = std::max(position, replay_after);
  WalOpenReport local_report;
  WalOpenReport& rep = report != nullptr ? *report : local_report;
  rep = WalOpenReport{};
  if (options.dir.empty()) return core::invalid_argument("WAL directory not set");
  if (options.fsync == FsyncPolicy::kGroup && options.group_commit_interval.count() <= 0) {
    return core::invalid_argument("WAL group_commit_interval must be positive with kGroup");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return core::internal_error("WAL cannot create directory " + options.dir.string() + ": " +
                                ec.message());
  }
  ScopedFd dir_fd(::open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return io_error("cannot open directory " + options.dir.string(), errno);

  std::vector<SegmentEntry> found;
  for (std::filesystem::directory_iterator it(options.dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    uint64_t first = 0;
    if (parse_segment_name(it->path().filename().string(), &first)) {
      found.push_back({first, it->path()});
    }
  }
  if (ec) {
    return core::internal_error("WAL cannot list directory " + options.dir.string() + ": " +
                                ec.message());
  }
  std::sort(found.begin(), found.end(), [](const SegmentEntry& a, const SegmentEntry& b) {
    return a.first_sequence < b.first_sequence;
  });

  // The sequence the next record must have; sequences start at 1.
  uint64_t next = found.empty() ? 1 : found.front().first_sequence;
  if (next == 0) return damaged("segment " + segment_name(0), "sequence 0 is never used");
  uint64_t last_valid_end = 0;  // of the last segment: where valid records end
  uint64_t last_file_size = 0;
  bool last_has_records = false;
  for (size_t i = 0; i < found.size(); ++i) {
    const bool is_last = i + 1 == found.size();
    const std::string name = found[i].path.filename().string();
    ++rep.segments;
    if (found[i].first_sequence != next) {
      return damaged("segment " + name, "starts at sequence " +
                                            std::to_string(found[i].first_sequence) +
                                            ", but the segment before it ends at " +
                                            std::to_string(next - 1) + " (a gap or an overlap)");
    }
    ScopedFd fd(::open(found[i].path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return io_error("cannot open segment " + name, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat segment " + name, errno);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    SegmentReader reader(fd.get(), size, name);

    // Where the first problem is, if any: a damaged last segment is cut there.
    uint64_t at = 0;
    std::string problem;
    if (size < kWalSegmentHeaderBytes) {
      problem = "header truncated (" + std::to_string(size) + " bytes)";
    } else {
      core::Result<std::string_view> header = reader.read(0, kWalSegmentHeaderBytes);
      if (!header.is_ok()) return header.status();
      const std::string_view h = header.value();
      const uint32_t version = load_u32(h, 4);
      if (std::memcmp(h.data(), kMagic, 4) != 0) {
        problem = "no VWAL magic";
      } else if (crc32_of(h.substr(0, 16)) != load_u32(h, 16)) {
        problem = "header checksum mismatch";
      } else if (version > kWalFormatVersion) {
        return core::Status(core::StatusCode::kConflict,
                            "WAL segment " + name + " has format version " +
                                std::to_string(version) + ", newer than this binary reads (" +
                                std::to_string(kWalFormatVersion) + ")");
      } else if (version != kWalFormatVersion) {
        return damaged("segment " + name + " at byte 4",
                       "unknown format version " + std::to_string(version));
      } else if (load_u64(h, 8) != found[i].first_sequence) {
        // A checksummed header that disagrees with its name is not a torn
        // write: something renamed or copied the file.
        return damaged("segment " + name + " at byte 8",
                       "header says first sequence " + std::to_string(load_u64(h, 8)));
      } else {
        at = kWalSegmentHeaderBytes;
      }
    }
    bool has_records = false;
    while (problem.empty() && at < size) {
      const uint64_t left = size - at;
      if (left < kWalRecordHeaderBytes) {
        problem = "record header truncated (" + std::to_string(left) + " bytes)";
        break;
      }
      core::Result<std::string_view> head = reader.read(at, kWalRecordHeaderBytes);
      if (!head.is_ok()) return head.status();
      const uint32_t length = load_u32(head.value(), 0);
      const uint64_t sequence = load_u64(head.value(), 4);
      const uint32_t sum = load_u32(head.value(), 12);
      if (length > kMaxWalRecordBytes) {
        problem = "record length " + std::to_string(length) + " is out of range";
        break;
      }
      if (left - kWalRecordHeaderBytes < length) {
        problem = "record truncated (" + std::to_string(left - kWalRecordHeaderBytes) + " of " +
                  std::to_string(length) + " bytes)";
        break;
      }
      // Header and bytes in one view, so the checksum runs over them in order.
      core::Result<std::string_view> record = reader.read(at, kWalRecordHeaderBytes + length);
      if (!record.is_ok()) return record.status();
      const std::string_view r = record.value();
      const uint32_t actual =
          crc32_update(crc32_of(r.substr(0, 12)), r.substr(kWalRecordHeaderBytes, length));
      if (actual != sum) {
        problem = "checksum mismatch";
        break;
      }
      // A checksummed record with the wrong sequence can still be crash
      // debris (stale blocks of an old segment exposed past the last write),
      // so in the last segment it is cut like any other damage.
      if (sequence != next) {
        problem = "sequence " + std::to_string(sequence) + ", expected " + std::to_string(next);
        break;
      }
      if (sequence > replay_after) {
        VESTA_RETURN_IF_ERROR(replay(sequence, r.substr(kWalRecordHeaderBytes, length)));
      }
      ++next;
      ++rep.records;
      has_records = true;
      at += kWalRecordHeaderBytes + length;
    }
    if (!problem.empty() && !is_last) {
      return damaged("segment " + name + " at byte " + std::to_string(at),
                     problem + " (later segments follow, so this is not a torn tail)");
    }
    // An empty file is a crash right after creating it: nothing was lost.
    if (!problem.empty() && size > 0) {
      rep.cut_tail = true;
      rep.cut_detail = "segment " + name + " at byte " + std::to_string(at) + ": " + problem +
                       "; " + std::to_string(size - at) + " bytes cut";
    }
    if (is_last) {
      last_valid_end = at;
      last_file_size = size;
      last_has_records = has_records;
    }
  }
  const uint64_t last_sequence = next - 1;
  rep.last_sequence = last_sequence;

  std::unique_ptr<Wal> wal(new Wal(options, dir_fd.release()));
  wal->last_sequence_.store(last_sequence);
  wal->durable_sequence_.store(last_sequence);
  for (const SegmentEntry& e : found) wal->segments_.push_back(e);

  if (!found.empty()) {
    const SegmentEntry& last = found.back();
    const std::string name = last.path.filename().string();
    if (!last_has_records) {
      // Nothing in it worth keeping (a crash while creating it, or every
      // record cut), and the new segment takes its name.
      if (::unlink(last.path.c_str()) != 0) {
        return io_error("cannot remove empty segment " + name, errno);
      }
      wal->segments_.pop_back();
      VESTA_RETURN_IF_ERROR(wal->fsync_dir());
    } else {
      // Cut the damage, and make sure what was replayed is durable: the
      // process that wrote it may have crashed before its fsync.
      ScopedFd fd(::open(last.path.c_str(), O_WRONLY | O_CLOEXEC));
      if (fd.get() < 0) return io_error("cannot open segment " + name, errno);
      if (last_valid_end < last_file_size &&
          ::ftruncate(fd.get(), static_cast<off_t>(last_valid_end)) != 0) {
        return io_error("cannot cut the damaged tail of segment " + name, errno);
      }
      if (fdatasync_retrying(fd.get()) != 0) return io_error("fsync of " + name + " failed", errno);
      wal->fsync_count_.fetch_add(1);
    }
  }
  uint64_t first_sequence = last_sequence + 1;
  if (position > last_sequence) {
    // The caller already holds everything up to `position` (a snapshot
    // newer than the log: the log was lost or removed). New records must
    // come after it, or the next open would take them for covered ones; the
    // old segments go, since a gap before the new one would read as damage.
    for (const SegmentEntry& e : wal->segments_) {
      if (::unlink(e.path.c_str()) != 0) {
        return io_error("cannot remove covered segment " + e.path.filename().string(), errno);
      }
    }
    wal->segments_.clear();
    VESTA_RETURN_IF_ERROR(wal->fsync_dir());
    first_sequence = position + 1;
    wal->last_sequence_.store(position);
    wal->durable_sequence_.store(position);
    rep.last_sequence = position;
  }
  {
    std::lock_guard<std::mutex> lock(wal->write_mutex_);
    VESTA_RETURN_IF_ERROR(wal->start_segment(first_sequence));
  }
  if (options.fsync == FsyncPolicy::kGroup) {
    wal->group_thread_ = std::thread([w = wal.get()] { w->group_commit_loop(); });
  }
  return wal;
}

Wal::~Wal() {
  if (group_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(sync_mutex_);
      stopping_ = true;
    }
    group_wake_.notify_all();
    group_thread_.join();
  }
  if (active_ != nullptr && !sync_failed_.load() &&
      durable_sequence_.load() < last_sequence_.load()) {
    uint64_t covered = 0;
    const core::Status s = sync_active(&covered);
    if (!s.is_ok()) {
      std::fprintf(stderr, "vesta: closing the WAL in %s: %s\n", options_.dir.c_str(),
                   s.to_string().c_str());
    }
  }
  ::close(dir_fd_);
}

core::Status Wal::fsync_dir() {
  if (::fsync(dir_fd_) != 0) {
    return io_error("fsync of directory " + options_.dir.string() + " failed", errno);
  }
  return core::Status::ok();
}

core::Status Wal::start_segment(uint64_t first_sequence) {
  const std::string name = segment_name(first_sequence);
  const std::filesystem::path path = options_.dir / name;
  // O_EXCL: a segment is never appended to after someone else's bytes.
  ScopedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return io_error("cannot create segment " + path.string(), errno);
  std::string header = header_bytes(first_sequence);
  iovec iov{header.data(), header.size()};
  VESTA_RETURN_IF_ERROR(write_all(fd.get(), &iov, 1, name));
  if (fdatasync_retrying(fd.get()) != 0) return io_error("fsync of " + name + " failed", errno);
  fsync_count_.fetch_add(1);
  VESTA_RETURN_IF_ERROR(fsync_dir());
  active_ = std::make_shared<SegmentFile>(fd.release(), name);
  active_bytes_ = header.size();
  bytes_written_.fetch_add(header.size());
  segments_.push_back({first_sequence, path});
  return core::Status::ok();
}

core::Status Wal::roll() {
  // The old segment must be complete on disk before a later one exists: open
  // treats damage before the last segment as data loss, not a torn tail.
  if (fdatasync_retrying(active_->fd()) != 0) {
    const core::Status s = io_error(
        "fsync of segment " + active_->name() +
            " failed (the log refuses further writes and syncs: the kernel may have dropped "
            "the unsynced pages; reopen to recover what is on disk)",
        errno);
    finish_sync(s, 0);
    return s;
  }
  fsync_count_.fetch_add(1);
  finish_sync(core::Status::ok(), last_sequence_.load());
  return start_segment(last_sequence_.load() + 1);
}

core::Result<uint64_t> Wal::write(std::string_view bytes) {
  if (bytes.size() > kMaxWalRecordBytes) {
    return core::Status(core::StatusCode::kPayloadTooLarge,
                        "WAL record of " + std::to_string(bytes.size()) +
                            " bytes is over the limit of " + std::to_string(kMaxWalRecordBytes));
  }
  // The checksum of the bytes is computed outside the lock and combined with
  // that of the header fields once the sequence is known.
  const uint32_t bytes_crc = crc32_of(bytes);
  char head[kWalRecordHeaderBytes];
  store_u32(head, static_cast<uint32_t>(bytes.size()));
  uint64_t sequence = 0;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (!write_error_.is_ok()) return write_error_;
    if (sync_failed_.load()) {
      std::lock_guard<std::mutex> sync_lock(sync_mutex_);
      return sync_error_;
    }
    if (active_bytes_ >= options_.segment_bytes && active_bytes_ > kWalSegmentHeaderBytes) {
      const core::Status s = roll();
      if (!s.is_ok()) {
        write_error_ = s;
        return s;
      }
    }
    sequence = last_sequence_.load() + 1;
    store_u64(head + 4, sequence);
    const uint32_t sum =
        crc32_concat(crc32_of(std::string_view(head, 12)), bytes_crc, bytes.size());
    store_u32(head + 12, sum);
    iovec iov[2] = {{head, kWalRecordHeaderBytes}, {const_cast<char*>(bytes.data()), bytes.size()}};
    const core::Status s = write_all(active_->fd(), iov, bytes.empty() ? 1 : 2, active_->name());
    if (!s.is_ok()) {
      // Part of the record may be in the file: nothing may follow it.
      write_error_ = core::Status(s.code(), s.message() + " (the log refuses further writes)");
      return write_error_;
    }
    active_bytes_ += kWalRecordHeaderBytes + bytes.size();
    bytes_written_.fetch_add(kWalRecordHeaderBytes + bytes.size());
    last_sequence_.store(sequence);
  }
  // kGroup: wake the commit thread if it sleeps for want of unsynced data. It
  // sets group_idle_ before checking last_sequence_, and we store
  // last_sequence_ before reading group_idle_ (both sequentially consistent),
  // so one of us sees the other; taking sync_mutex_ orders the notify after
  // its wait began.
  if (group_idle_.load()) {
    std::lock_guard<std::mutex> lock(sync_mutex_);
    group_wake_.notify_one();
  }
  return sequence;
}

core::Status Wal::sync_active(uint64_t* covered) {
  std::shared_ptr<SegmentFile> segment;
  uint64_t target = 0;
  {
    // Every record up to `target` has been written to `segment` or to an
    // older segment, which rolling synced.
    std::lock_guard<std::mutex> lock(write_mutex_);
    segment = active_;
    target = last_sequence_.load();
  }
  if (fdatasync_retrying(segment->fd()) != 0) {
    return io_error(
        "fsync of segment " + segment->name() +
            " failed (the log refuses further writes and syncs: the kernel may have dropped "
            "the unsynced pages; reopen to recover what is on disk)",
        errno);
  }
  fsync_count_.fetch_add(1);
  *covered = target;
  return core::Status::ok();
}

void Wal::finish_sync(const core::Status& status, uint64_t covered) {
  std::lock_guard<std::mutex> lock(sync_mutex_);
  finish_sync_locked(status, covered);
}

void Wal::finish_sync_locked(const core::Status& status, uint64_t covered) {
  if (status.is_ok()) {
    if (covered > durable_sequence_.load()) durable_sequence_.store(covered);
  } else if (sync_error_.is_ok()) {
    sync_error_ = status;
    sync_failed_.store(true);
  }
  synced_.notify_all();
}

core::Status Wal::sync(uint64_t sequence) {
  const uint64_t last = last_sequence_.load();
  if (sequence > last) {
    return core::invalid_argument("WAL sync of sequence " + std::to_string(sequence) +
                                  ", but the last one written is " + std::to_string(last));
  }
  std::unique_lock<std::mutex> lock(sync_mutex_);
  for (;;) {
    // A record made durable before a later failure stays durable.
    if (durable_sequence_.load() >= sequence) return core::Status::ok();
    if (!sync_error_.is_ok()) return sync_error_;
    if (options_.fsync == FsyncPolicy::kGroup || syncing_) {
      // kGroup: the commit thread's tick will cover it. kAlways: an fsync is
      // in flight; if it does not cover `sequence`, this thread leads the next.
      synced_.wait(lock);
      continue;
    }
    syncing_ = true;
    lock.unlock();
    uint64_t covered = 0;
    const core::Status s = sync_active(&covered);
    lock.lock();
    syncing_ = false;
    finish_sync_locked(s, covered);
  }
}

core::Result<uint64_t> Wal::append(std::string_view bytes) {
  core::Result<uint64_t> sequence = write(bytes);
  if (!sequence.is_ok()) return sequence;
  VESTA_RETURN_IF_ERROR(sync(sequence.value()));
  return sequence;
}

void Wal::group_commit_loop() {
  std::unique_lock<std::mutex> lock(sync_mutex_);
  for (;;) {
    group_idle_.store(true);
    group_wake_.wait(lock, [this] {
      return stopping_ || sync_failed_.load() || last_sequence_.load() > durable_sequence_.load();
    });
    group_idle_.store(false);
    if (stopping_ || sync_failed_.load()) return;  // the destructor syncs the rest
    // Let one interval's writes gather, so that one fsync serves them all.
    if (group_wake_.wait_for(lock, options_.group_commit_interval, [this] { return stopping_; })) {
      return;
    }
    lock.unlock();
    uint64_t covered = 0;
    const core::Status s = sync_active(&covered);
    lock.lock();
    finish_sync_locked(s, covered);
  }
}

core::Result<size_t> Wal::remove_through(uint64_t sequence) {
  std::lock_guard<std::mutex> remove_lock(remove_mutex_);
  std::vector<std::filesystem::path> doomed;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    // Segment i holds sequences [first_i, first_{i+1}); the last one is active.
    for (size_t i = 0; i + 1 < segments_.size(); ++i) {
      if (segments_[i + 1].first_sequence - 1 > sequence) break;
      doomed.push_back(segments_[i].path);
    }
  }
  // Unlink outside the write lock; only remove_through (serialised by
  // remove_mutex_) takes entries off the front of segments_.
  size_t removed = 0;
  core::Status status;
  for (const std::filesystem::path& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      status = io_error("cannot remove segment " + path.filename().string(), errno);
      break;
    }
    ++removed;
  }
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(removed));
  }
  if (removed > 0) {
    const core::Status s = fsync_dir();
    if (status.is_ok()) status = s;
  }
  if (!status.is_ok()) return status;
  return removed;
}

size_t Wal::segment_count() const {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return segments_.size();
}

}  // namespace vesta::persistence
