#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/default_init_allocator.h"
#include "core/point_id.h"
#include "core/status.h"

namespace vesta::persistence {

// One group of a snapshot's points, as a SnapshotPointSource reads it.
struct SnapshotGroup {
  std::vector<core::PointId> ids;     // the group's points
  core::HalfVector rows;              // ids.size() x dim
  std::vector<std::string> payloads;  // one JSON text per point ("" for none), or
  // when set, called on a coding thread (several groups at once) to fill
  // `payloads`: the slow part of reading, kept off the source's lock.
  std::function<void(SnapshotGroup&)> finish;
};

// Where a snapshot's points come from when they are not all in memory: read
// in order, a group at a time, from one thread, as the snapshot is written
// (engine/ reads a frozen collection this way, group by group under its
// lock, rather than copying it).
class SnapshotPointSource {
 public:
  virtual ~SnapshotPointSource() = default;
  virtual size_t points() const = 0;
  // Replaces `group`'s contents with the next min(n, what is left) points.
  virtual core::Status read(size_t n, SnapshotGroup& group) = 0;
};

// What a snapshot holds: one collection's live points and the WAL position it
// covers. Plain data, so that this layer depends on core/ only; the index
// layer converts a FlatIndex to and from it.
struct SnapshotContents {
  std::string collection;
  uint32_t dim = 0;
  std::string metric;         // "Cosine", "Dot" or "Euclid"
  uint64_t incarnation = 0;   // which life of the collection's name
  uint64_t wal_sequence = 0;  // the last WAL record the snapshot includes
  std::string vector_name;    // the vector's name in Qdrant's named forms; "" unnamed
  // Payload indexes: field key -> schema name ("keyword", "integer", "float").
  std::map<std::string, std::string> payload_indexes;
  std::vector<core::PointId> ids;     // one per point
  core::HalfVector rows;              // ids.size() x dim float16 bit patterns
  std::vector<std::string> payloads;  // one JSON text per point; "" for none
  // When set (writing only), the points come from here, read as they are
  // written, and ids, rows and payloads stay empty.
  std::shared_ptr<SnapshotPointSource> source;
};

struct SnapshotOptions {
  // Points per chunk (bounds the memory one chunk needs to write or read).
  size_t chunk_points = 16384;
  int zlib_level = 1;  // 1 (fast) to 9 (small)
};

// The format, version 1 (little-endian throughout):
//   "VSNP" | u32 version | u32 header length | header JSON | u32 CRC-32 of it
//   then chunks: u8 kind | u32 points | u32 raw length | u32 stored length |
//                u32 CRC-32 of those 13 bytes and the stored bytes | stored bytes (zlib)
//   kinds: 1 rows (float16, byte-shuffled: every high byte, then every low
//   byte, which zlib compresses far better), 2 ids, 3 payloads (one JSON text
//   per point, '\n'-separated), 9 end (no bytes; its `points` is the total).
// Rows, ids and payloads come in that order for each group of chunk_points
// points. The header JSON holds collection, dim, metric, incarnation,
// wal_sequence, payload_indexes and points, and vector_name when the vector is
// named (absent: unnamed, as in snapshots written before names were kept).
inline constexpr uint32_t kSnapshotFormatVersion = 1;

// Receives a snapshot's bytes in order, a piece at a time; an error stops
// the writing and is returned by write_snapshot.
using SnapshotSink = std::function<core::Status(std::string_view)>;

// Writes `contents` in the format above to `sink`: the header, then each
// group of chunk_points points' chunks as soon as they are coded (a few
// groups at a time, on several threads), then the end chunk. Beside
// `contents`, memory holds only the groups being coded, not the snapshot;
// with a source, the groups are read from it just before they are coded.
core::Status write_snapshot(const SnapshotContents& contents, const SnapshotOptions& options,
                            const SnapshotSink& sink);

// Writes `contents` to a file at `path` as it is coded, atomically (a
// temporary file renamed over `path`, as persistence/file_io); returns the
// file's size, and when `sha256` is given sets it to the file's SHA-256 in
// hex (computed as it is written).
core::Result<size_t> write_snapshot_file(const std::filesystem::path& path,
                                         const SnapshotContents& contents,
                                         const SnapshotOptions& options = {},
                                         std::string* sha256 = nullptr);

// The same bytes in one string.
core::Result<std::string> encode_snapshot(const SnapshotContents& contents,
                                          const SnapshotOptions& options = {});

// Checks everything: magic, version (a newer one is refused), every checksum,
// every length, the counts; any damage is an error naming where it is
// ("chunk 7 (ids) at byte 123456: checksum mismatch").
core::Result<SnapshotContents> decode_snapshot(std::string_view bytes);

}  // namespace vesta::persistence
