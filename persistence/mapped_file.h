#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vesta::persistence {

// A regular file mapped read-only (mmap) for as long as this object lives,
// so that a reader can walk a file larger than it would want to copy. Not
// copyable; the view stays valid until destruction. A file that is changed
// while mapped shows the change (MAP_PRIVATE does not snapshot it), so
// readers map files nobody writes meanwhile.
class MappedFile {
 public:
  // Errors name the path: it cannot be opened, is not a regular file, or
  // cannot be mapped. `sequential` advises the kernel to read ahead.
  static core::Result<std::unique_ptr<MappedFile>> open(const std::string& path,
                                                        bool sequential = true);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* begin() const { return data_; }
  const char* end() const { return data_ + size_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;  // null for an empty file
  size_t size_ = 0;
};

}  // namespace vesta::persistence
