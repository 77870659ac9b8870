#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vesta::server {

// The binary import format's header (docs/api.md "Bulk import"): magic
// "VIMP", u16 version 1, u8 dtype (0 float32, 1 float16), u8 flags (bit 0:
// payloads follow), u32 dim, u64 rows; then rows u64 ids, rows x dim values,
// and with payloads a u64 byte count and that many bytes of NDJSON, one line
// per row. Little-endian. The server reads it (ImportJobs) and `vesta
// import` writes it when it splits a file into several jobs.
struct BinaryImportHeader {
  static constexpr size_t kBytes = 20;
  static constexpr uint16_t kVersion = 1;
  uint8_t dtype = 0;  // 0 float32, 1 float16
  bool payloads = false;
  uint32_t dim = 0;
  uint64_t rows = 0;
  // Where each section starts in the body; payload_bytes is the NDJSON's
  // length (payloads_offset is past its u64 count).
  uint64_t ids_offset = 0, values_offset = 0, payloads_offset = 0, payload_bytes = 0;

  uint64_t value_bytes() const { return dtype == 0 ? 4 : 2; }
};

// Reads and checks the header of a whole body: every size must agree with
// the body's length. The messages name what is wrong.
core::Result<BinaryImportHeader> read_binary_import_header(std::string_view body);

// The 20 header bytes for `header`'s dtype, payloads flag, dim and rows
// (the offsets are not written: they follow from these).
std::string encode_binary_import_header(const BinaryImportHeader& header);

}  // namespace vesta::server
