#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/binary_import_format.h"

namespace vesta::importer {

// One job's share of an import file: a run of whole NDJSON lines, or of
// binary rows. Positions count as the server's job errors do: NDJSON lines
// from 1, binary rows from 0.
struct ImportPart {
  // NDJSON: the file's line number of the part's first line; binary: the
  // file's row number of its first row.
  uint64_t first = 0;
  uint64_t count = 0;   // NDJSON: lines, blank ones included; binary: rows
  uint64_t points = 0;  // the job's points_total: NDJSON, the non-blank lines; binary, rows
  // NDJSON: the part's lines, `bytes` from byte `offset` of the file.
  // Binary: the payload NDJSON that the part's body carries, `bytes` long,
  // its rows' lines from byte `offset` of the file's payload NDJSON.
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint64_t body_bytes = 0;  // the part's request body
};

// Cuts an NDJSON or binary import file (docs/api.md "Bulk import") into
// parts whose request bodies each fit `max_body_bytes` (the server's
// --max-import-bytes): NDJSON at line boundaries, every part's lines exactly
// as in the file; binary at row boundaries, every part with its own header
// (rows rewritten) and its rows' slice of the ids, the values and the
// payload NDJSON. Concatenating the parts' points gives the file's points
// in order. A file that fits is one part whose body is the file unchanged.
//
// Reads the file through a view it does not own: the file must outlive the
// splitter. Immutable after construction, so safe to share between threads.
class ImportSplitter {
 public:
  enum class Format { kNdjson, kBinary };

  // Errors: a binary file whose header or length is wrong (the server's own
  // check), or a single line or row too large for any part (naming it).
  static core::Result<ImportSplitter> split(Format format, std::string_view file,
                                            uint64_t max_body_bytes);

  Format format() const { return format_; }
  const std::vector<ImportPart>& parts() const { return parts_; }
  uint64_t points() const;  // over all parts
  // Binary only: the file's header (dim, dtype, rows, ...).
  const server::BinaryImportHeader& binary_header() const { return header_; }

  // The request body of parts()[index].
  std::string body(size_t index) const;

  // A job error's position (`line` of GET /jobs/{id}'s errors) in the
  // part's body, as a position in the file.
  uint64_t file_position(size_t index, uint64_t position_in_part) const;
  // A job's error or failure message, whose leading "line N" or "row N"
  // counts in the part, with N counted in the file instead; other messages
  // are returned unchanged.
  std::string in_file_terms(size_t index, std::string_view message) const;

 private:
  ImportSplitter(Format format, std::string_view file) : format_(format), file_(file) {}
  core::Status split_ndjson(uint64_t max_body_bytes);
  core::Status split_binary(uint64_t max_body_bytes);

  Format format_;
  std::string_view file_;
  server::BinaryImportHeader header_;
  std::vector<ImportPart> parts_;
};

}  // namespace vesta::importer
