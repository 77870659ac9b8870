#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vesta::persistence {

// Little-endian integers and CRC-32, as the on-disk formats of this folder
// (the write-ahead log, snapshots) write them.

inline void store_u32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
inline void store_u64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
inline void append_u32(std::string& out, uint32_t v) {
  char bytes[4];
  store_u32(bytes, v);
  out.append(bytes, 4);
}
inline void append_u64(std::string& out, uint64_t v) {
  char bytes[8];
  store_u64(bytes, v);
  out.append(bytes, 8);
}
// The caller checks that `in` holds the bytes at `at`.
inline uint32_t load_u32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}
inline uint64_t load_u64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}

// zlib's CRC-32 (the IEEE polynomial), of inputs of any size.
uint32_t crc32_update(uint32_t crc, std::string_view bytes);
uint32_t crc32_of(std::string_view bytes);
// The CRC-32 of A followed by B, from crc32_of(A), crc32_of(B) and B's length
// (so B's checksum can be computed apart, e.g. outside a lock).
uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, size_t length_b);

}  // namespace vesta::persistence
