#include "server/binary_import_format.h"

#include <cstring>

namespace vesta::server {
namespace {

constexpr char kMagic[4] = {'V', 'I', 'M', 'P'};

template <typename T>
T read_le(std::string_view bytes, size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // little-endian hosts
  return value;
}

template <typename T>
void append_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little-endian hosts
  out.append(bytes, sizeof(T));
}

}  // namespace

core::Result<BinaryImportHeader> read_binary_import_header(std::string_view body) {
  if (body.size() < BinaryImportHeader::kBytes || std::memcmp(body.data(), kMagic, 4) != 0) {
    return core::invalid_argument(
        "a binary import starts with the 20-byte header \"VIMP\" … (docs/api.md, Bulk import)");
  }
  const uint16_t version = read_le<uint16_t>(body, 4);
  if (version != BinaryImportHeader::kVersion) {
    return core::invalid_argument("binary import version " + std::to_string(version) +
                                  "; this server reads version " +
                                  std::to_string(BinaryImportHeader::kVersion));
  }
  BinaryImportHeader h;
  h.dtype = static_cast<uint8_t>(body[6]);
  const uint8_t flags = static_cast<uint8_t>(body[7]);
  if (h.dtype > 1) {
    return core::invalid_argument("binary import dtype " + std::to_string(h.dtype) +
                                  " (0: float32, 1: float16)");
  }
  if ((flags & ~1u) != 0) {
    return core::invalid_argument("binary import flags " + std::to_string(flags) +
                                  " (bit 0: payloads follow; the others must be 0)");
  }
  h.payloads = (flags & 1u) != 0;
  h.dim = read_le<uint32_t>(body, 8);
  h.rows = read_le<uint64_t>(body, 12);
  const uint64_t value_bytes = h.value_bytes();
  // Sizes checked against the body before any is multiplied out of range.
  const uint64_t available = body.size() - BinaryImportHeader::kBytes;
  if (h.dim == 0 || h.rows > available / 8 ||
      (h.rows > 0 && h.dim > (available - h.rows * 8) / h.rows / value_bytes)) {
    return core::invalid_argument("binary import of " + std::to_string(h.rows) + " rows of " +
                                  std::to_string(h.dim) + " values does not fit its " +
                                  std::to_string(body.size()) + " bytes");
  }
  h.ids_offset = BinaryImportHeader::kBytes;
  h.values_offset = h.ids_offset + h.rows * 8;
  h.payloads_offset = h.values_offset + h.rows * h.dim * value_bytes;
  const uint64_t end = h.payloads_offset + (h.payloads ? 8 : 0);
  if (end > body.size()) {
    return core::invalid_argument("binary import: the payload byte count is missing");
  }
  if (h.payloads) {
    h.payload_bytes = read_le<uint64_t>(body, h.payloads_offset);
    h.payloads_offset += 8;
    if (h.payload_bytes != body.size() - h.payloads_offset) {
      return core::invalid_argument("binary import: " + std::to_string(h.payload_bytes) +
                                    " payload bytes announced, " +
                                    std::to_string(body.size() - h.payloads_offset) + " follow");
    }
  } else if (end != body.size()) {
    return core::invalid_argument("binary import: " + std::to_string(body.size() - end) +
                                  " bytes after the values (payloads need flag bit 0)");
  }
  return h;
}

std::string encode_binary_import_header(const BinaryImportHeader& header) {
  std::string out(kMagic, sizeof(kMagic));
  append_le<uint16_t>(out, BinaryImportHeader::kVersion);
  append_le<uint8_t>(out, header.dtype);
  append_le<uint8_t>(out, header.payloads ? 1 : 0);
  append_le<uint32_t>(out, header.dim);
  append_le<uint64_t>(out, header.rows);
  return out;
}

}  // namespace vesta::server
