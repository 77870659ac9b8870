#include "persistence/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vesta::persistence {
namespace {

core::Status io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return core::internal_error(what + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

core::Status fsync_directory(const std::filesystem::path& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("fsync failed for directory", dir, errno);
  return core::Status::ok();
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path)
    : path_(std::move(path)), temporary_(path_) {
  temporary_ += ".tmp";
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (created_ && !committed_) ::unlink(temporary_.c_str());
}

core::Status AtomicFileWriter::open() {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return io_error("cannot create", temporary_, errno);
  created_ = true;
  return core::Status::ok();
}

core::Status AtomicFileWriter::append(std::string_view bytes) {
  if (fd_ < 0) return core::internal_error("append to " + temporary_.string() + ": not open");
  size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + at, bytes.size() - at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write failed for", temporary_, errno);
    }
    at += static_cast<size_t>(n);
  }
  return core::Status::ok();
}

core::Status AtomicFileWriter::commit() {
  if (fd_ < 0) return core::internal_error("commit of " + temporary_.string() + ": not open");
  if (::fsync(fd_) != 0) return io_error("fsync failed for", temporary_, errno);
  if (::close(std::exchange(fd_, -1)) != 0) return io_error("close failed for", temporary_, errno);
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    return io_error("cannot rename " + temporary_.string() + " to", path_, errno);
  }
  committed_ = true;
  return fsync_directory(path_.parent_path().empty() ? "." : path_.parent_path());
}

core::Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFileWriter writer(path);
  VESTA_RETURN_IF_ERROR(writer.open());
  VESTA_RETURN_IF_ERROR(writer.append(bytes));
  return writer.commit();
}

core::Status adopt_file(const std::filesystem::path& from, const std::filesystem::path& path,
                        std::string_view bytes) {
  {
    ScopedFd fd(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return io_error("cannot open", from, errno);
    if (::fsync(fd.get()) != 0) return io_error("fsync failed for", from, errno);
  }
  if (::rename(from.c_str(), path.c_str()) != 0) {
    if (errno == EXDEV) return write_file_atomically(path, bytes);
    return io_error("cannot rename " + from.string() + " to", path, errno);
  }
  return fsync_directory(path.parent_path().empty() ? "." : path.parent_path());
}

core::Result<std::string> read_whole_file(const std::filesystem::path& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return core::not_found(path.string() + " does not exist");
    return io_error("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path, errno);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t at = 0;
  while (at < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + at, out.size() - at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read failed for", path, errno);
    }
    if (n == 0) break;
    at += static_cast<size_t>(n);
  }
  out.resize(at);
  return out;
}

}  // namespace vesta::persistence
