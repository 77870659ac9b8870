#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace vesta::persistence {

// A whole file mapped read-only into memory, unmapped when this goes. Reading
// a large file this way costs no copy and no fresh memory: the bytes are the
// page cache's own pages (a 1.3 GB snapshot read into a string costs a
// second's page faults and copying on a small machine; mapped, a tenth).
//
// Only for files nobody shortens while they are mapped (a read past the new
// end would raise SIGBUS): snapshot files, which are written under a
// temporary name, renamed into place and never changed; removing one while
// it is mapped is harmless. The price: a disk read error under a mapped page
// also raises SIGBUS (the process stops) where read() would have returned
// EIO. Move-only; the bytes stay valid while this lives. Thread-compatible.
class MappedFile {
 public:
  // NotFound when the file does not exist.
  static core::Result<MappedFile> open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const { return {data_, size_}; }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}

  const char* data_ = nullptr;  // null for an empty file
  size_t size_ = 0;
};

}  // namespace vesta::persistence
