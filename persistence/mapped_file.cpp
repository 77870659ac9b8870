#include "persistence/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "persistence/file_io.h"

namespace vesta::persistence {

core::Result<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT)
      return core::not_found("cannot open " + path.string() + ": it does not exist");
    return core::internal_error("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return core::internal_error("cannot stat " + path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return core::invalid_argument("cannot map " + path.string() + ": not a regular file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) return MappedFile(nullptr, 0);  // mmap refuses length 0
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (data == MAP_FAILED) {
    return core::internal_error("cannot map " + path.string() + ": " + std::strerror(errno));
  }
  // Start reading the whole file now (a file not in the page cache is read
  // while the first parts are decoded). Only advice: its failure changes
  // nothing.
  (void)::madvise(data, size, MADV_WILLNEED);
  return MappedFile(static_cast<const char*>(data), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    MappedFile old(std::move(*this));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  // const_cast: munmap takes a non-const pointer; the mapping is read-only.
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace vesta::persistence
