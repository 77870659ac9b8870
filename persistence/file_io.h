#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace vesta::persistence {

// Closes a file descriptor on scope exit.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd();
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// fsync of a directory, so that a file created, renamed or removed in it
// stays so after a crash.
core::Status fsync_directory(const std::filesystem::path& dir);

// Replaces `path` with a file written in pieces, so that a crash leaves the
// old file or the whole new one, never a mix: open() creates a temporary file
// beside it, append() writes to it, commit() fsyncs it, renames it over `path`
// and fsyncs the directory. A writer destroyed without commit() removes its
// temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  core::Status open();
  core::Status append(std::string_view bytes);
  core::Status commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  bool created_ = false;
  bool committed_ = false;
};

// Replaces `path` with `bytes` in one go (AtomicFileWriter).
core::Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Makes file `from`, whose contents are `bytes`, the file at `path` without
// writing it again: its data fsynced, renamed over `path`, the directory
// fsynced. Where the two are on different file systems (no rename), `bytes`
// are written to `path` instead (write_file_atomically) and `from` stays.
core::Status adopt_file(const std::filesystem::path& from, const std::filesystem::path& path,
                        std::string_view bytes);

// The whole file; NotFound when it does not exist.
core::Result<std::string> read_whole_file(const std::filesystem::path& path);

}  // namespace vesta::persistence
