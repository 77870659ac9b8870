#include "persistence/byte_codec.h"

#include <libdeflate.h>
#include <zlib.h>

namespace vesta::persistence {

uint32_t crc32_update(uint32_t crc, std::string_view bytes) {
  // libdeflate's CRC-32 (the same as zlib's) is several times faster.
  return libdeflate_crc32(crc, bytes.data(), bytes.size());
}

uint32_t crc32_of(std::string_view bytes) { return crc32_update(0, bytes); }

uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, size_t length_b) {
  return static_cast<uint32_t>(crc32_combine(crc_a, crc_b, static_cast<z_off_t>(length_b)));
}

}  // namespace vesta::persistence
