#include "persistence/byte_codec.h"

#include <zlib.h>

#include <algorithm>

namespace vesta::persistence {

uint32_t crc32_update(uint32_t crc, std::string_view bytes) {
  uLong sum = crc;
  // zlib takes uInt lengths: feed large inputs in pieces.
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t n = std::min<size_t>(bytes.size() - at, size_t{1} << 30);
    sum = crc32(sum, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
    at += n;
  }
  return static_cast<uint32_t>(sum);
}

uint32_t crc32_of(std::string_view bytes) {
  return crc32_update(static_cast<uint32_t>(crc32(0L, Z_NULL, 0)), bytes);
}

uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, size_t length_b) {
  return static_cast<uint32_t>(crc32_combine(crc_a, crc_b, static_cast<z_off_t>(length_b)));
}

}  // namespace vesta::persistence
