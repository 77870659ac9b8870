#include "persistence/snapshot_codec.h"

#include <libdeflate.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/default_init_allocator.h"
#include "core/parallel_for.h"
#include "persistence/byte_codec.h"
#include "persistence/file_io.h"
#include "persistence/sha256.h"

namespace vesta::persistence {
namespace {

constexpr char kMagic[4] = {'V', 'S', 'N', 'P'};
constexpr size_t kChunkHeaderBytes = 1 + 4 * 4;
// A raw chunk larger than this is refused when reading (a damaged length
// must not make the reader allocate without bound).
constexpr size_t kMaxChunkRawBytes = size_t{1} << 31;

enum ChunkKind : uint8_t { kRows = 1, kIds = 2, kPayloads = 3, kEnd = 9 };

const char* kind_name(uint8_t kind) {
  switch (kind) {
    case kRows: return "rows";
    case kIds: return "ids";
    case kPayloads: return "payloads";
    case kEnd: return "end";
  }
  return "unknown";
}

core::Status corrupt(const std::string& where, const std::string& what) {
  return {core::StatusCode::kInternal, "snapshot damaged: " + where + ": " + what};
}

// libdeflate compresses and decompresses whole buffers in the zlib format,
// several times faster than zlib itself; one (de)compressor per call, as
// chunks are coded on several threads.
core::Result<std::string> compress(std::string_view raw, int level) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(std::clamp(level, 1, 12));
  if (c == nullptr) return core::internal_error("out of memory for a compressor");
  std::string out(libdeflate_zlib_compress_bound(c, raw.size()), '\0');
  const size_t size = libdeflate_zlib_compress(c, raw.data(), raw.size(), out.data(), out.size());
  libdeflate_free_compressor(c);
  if (size == 0) return core::internal_error("compression failed");
  out.resize(size);
  return out;
}

// One decompressor per thread: libdeflate's are not thread-safe.
bool decompress(libdeflate_decompressor* d, std::string_view stored, char* out, size_t raw_len) {
  size_t actual = 0;
  const libdeflate_result r =
      libdeflate_zlib_decompress(d, stored.data(), stored.size(), out, raw_len, &actual);
  return r == LIBDEFLATE_SUCCESS && actual == raw_len;
}

// The checksum covers the chunk's header fields and its stored bytes.
uint32_t chunk_crc(std::string_view fields, std::string_view stored) {
  return crc32_update(crc32_of(fields), stored);
}

void put_chunk(std::string& out, uint8_t kind, uint32_t points, std::string_view raw,
               const std::string& stored) {
  std::string fields(1, static_cast<char>(kind));
  append_u32(fields, points);
  append_u32(fields, static_cast<uint32_t>(raw.size()));
  append_u32(fields, static_cast<uint32_t>(stored.size()));
  out += fields;
  append_u32(out, chunk_crc(fields, stored));
  out += stored;
}

void put_id(std::string& out, const core::PointId& id) {
  switch (id.kind()) {
    case core::PointIdKind::kNumber:
      out.push_back(0);
      append_u64(out, id.as_number());
      break;
    case core::PointIdKind::kUuid:
      out.push_back(1);
      out.append(reinterpret_cast<const char*>(id.as_uuid().bytes.data()), 16);
      break;
    case core::PointIdKind::kString:
      out.push_back(2);
      append_u32(out, static_cast<uint32_t>(id.as_string().size()));
      out += id.as_string();
      break;
  }
}

// Interleaves the byte planes of `values` float16 values back into values:
// out[i] = high[i] << 8 | low[i] (the inverse of the writer's shuffle).
void unshuffle_halves(const uint8_t* __restrict high, const uint8_t* __restrict low, size_t values,
                      uint16_t* __restrict out) {
  for (size_t i = 0; i < values; ++i) {
    out[i] = static_cast<uint16_t>((uint16_t{high[i]} << 8) | low[i]);
  }
}

// The points of one decompressed chunk, written to their places: n rows of
// dim values at `rows`, or n ids at `ids`, or n payload texts at `payloads`.
// A message without "where" on damage.
core::Status decode_chunk(uint8_t kind, uint32_t n, std::string_view raw, size_t dim,
                          uint16_t* rows, core::PointId* ids, std::string* payloads) {
  if (kind == kRows) {
    const size_t values = size_t{n} * dim;
    const auto* high = reinterpret_cast<const uint8_t*>(raw.data());
    unshuffle_halves(high, high + values, values, rows);
    return core::Status::ok();
  }
  if (kind == kIds) {
    size_t p = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (p >= raw.size()) return core::internal_error("ids end early");
      const uint8_t id_kind = static_cast<uint8_t>(raw[p++]);
      if (id_kind == 0 && raw.size() - p >= 8) {
        ids[i] = core::PointId::number(load_u64(raw, p));
        p += 8;
      } else if (id_kind == 1 && raw.size() - p >= 16) {
        core::Uuid u;
        std::memcpy(u.bytes.data(), raw.data() + p, 16);
        ids[i] = core::PointId::uuid(u);
        p += 16;
      } else if (id_kind == 2 && raw.size() - p >= 4) {
        const uint32_t len = load_u32(raw, p);
        p += 4;
        if (raw.size() - p < len) return core::internal_error("string id runs past the chunk");
        core::Result<core::PointId> id = core::PointId::string(std::string(raw.substr(p, len)));
        if (!id.is_ok()) return id.status();
        ids[i] = std::move(id).value();
        p += len;
      } else {
        return core::internal_error("bad id " + std::to_string(i));
      }
    }
    if (p != raw.size()) return core::internal_error("bytes after the ids");
    return core::Status::ok();
  }
  size_t p = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t nl = raw.find('\n', p);
    if (nl == std::string::npos) return core::internal_error("payloads end early");
    payloads[i].assign(raw.substr(p, nl - p));
    p = nl + 1;
  }
  if (p != raw.size()) return core::internal_error("bytes after the payloads");
  return core::Status::ok();
}

}  // namespace

namespace {

// The points of contents held in memory, as a source (copied a group at a
// time).
class ContentsSource : public SnapshotPointSource {
 public:
  explicit ContentsSource(const SnapshotContents& c) : c_(c) {}
  size_t points() const override { return c_.ids.size(); }
  core::Status read(size_t n, SnapshotGroup& group) override {
    const size_t take = std::min(n, c_.ids.size() - next_);
    const auto first = static_cast<ptrdiff_t>(next_);
    const auto last = static_cast<ptrdiff_t>(next_ + take);
    group.ids.assign(c_.ids.begin() + first, c_.ids.begin() + last);
    group.rows.assign(c_.rows.begin() + first * c_.dim, c_.rows.begin() + last * c_.dim);
    group.payloads.assign(c_.payloads.begin() + first, c_.payloads.begin() + last);
    group.finish = nullptr;
    next_ += take;
    return core::Status::ok();
  }

 private:
  const SnapshotContents& c_;
  size_t next_ = 0;
};

// The chunks of one group (rows, ids, payloads) appended to `part`.
core::Status code_group(const SnapshotGroup& g, size_t dim, int zlib_level, std::string& part) {
  const size_t n = g.ids.size();
  core::Status status = core::Status::ok();
  auto add = [&](uint8_t kind, std::string_view raw) {
    if (!status.is_ok()) return;
    core::Result<std::string> stored = compress(raw, zlib_level);
    if (!stored.is_ok()) {
      status = stored.status();
      return;
    }
    put_chunk(part, kind, static_cast<uint32_t>(n), raw, stored.value());
  };
  // Rows, byte-shuffled.
  const size_t values = n * dim;
  std::string raw(values * 2, '\0');
  for (size_t i = 0; i < values; ++i) {
    raw[i] = static_cast<char>(g.rows[i] >> 8);
    raw[values + i] = static_cast<char>(g.rows[i] & 0xFF);
  }
  add(kRows, raw);
  // Ids.
  raw.clear();
  for (const core::PointId& id : g.ids) put_id(raw, id);
  add(kIds, raw);
  // Payloads, one per line (JSON text has no raw newline).
  raw.clear();
  for (const std::string& payload : g.payloads) {
    raw += payload;
    raw.push_back('\n');
  }
  add(kPayloads, raw);
  return status;
}

}  // namespace

core::Status write_snapshot(const SnapshotContents& c, const SnapshotOptions& options,
                            const SnapshotSink& sink) {
  std::optional<ContentsSource> in_memory;
  SnapshotPointSource* source = c.source.get();
  if (source == nullptr) {
    const size_t points = c.ids.size();
    if (c.dim == 0 || c.rows.size() != points * c.dim || c.payloads.size() != points) {
      return core::invalid_argument("snapshot contents do not agree: " + std::to_string(points) +
                                    " ids, " + std::to_string(c.rows.size()) + " row values (dim " +
                                    std::to_string(c.dim) + "), " +
                                    std::to_string(c.payloads.size()) + " payloads");
    }
    source = &in_memory.emplace(c);
  } else if (c.dim == 0) {
    return core::invalid_argument("snapshot contents have dim 0");
  }
  const size_t points = source->points();
  const size_t per_chunk = std::max<size_t>(1, options.chunk_points);
  std::string head(kMagic, 4);
  append_u32(head, kSnapshotFormatVersion);
  nlohmann::json header_json = {{"collection", c.collection},
                                {"dim", c.dim},
                                {"metric", c.metric},
                                {"incarnation", c.incarnation},
                                {"wal_sequence", c.wal_sequence},
                                {"payload_indexes", c.payload_indexes},
                                {"points", points}};
  if (!c.vector_name.empty()) header_json["vector_name"] = c.vector_name;
  const std::string header = header_json.dump();
  append_u32(head, static_cast<uint32_t>(header.size()));
  head += header;
  append_u32(head, crc32_of(header));
  VESTA_RETURN_IF_ERROR(sink(head));

  // Each group of per_chunk points becomes its rows, ids and payloads
  // chunks. A wave of groups is read from the source in order, then coded at
  // once, one group per thread, then handed to the sink in order and freed.
  const size_t groups = (points + per_chunk - 1) / per_chunk;
  const size_t wave = std::max<size_t>(1, 2 * std::thread::hardware_concurrency());
  std::vector<SnapshotGroup> read(std::min(wave, groups));
  std::vector<std::string> parts;
  std::vector<core::Status> errors;
  for (size_t wave_first = 0; wave_first < groups; wave_first += wave) {
    const size_t in_wave = std::min(wave, groups - wave_first);
    for (size_t w = 0; w < in_wave; ++w) {
      const size_t n = std::min(per_chunk, points - (wave_first + w) * per_chunk);
      VESTA_RETURN_IF_ERROR(source->read(n, read[w]));
      if (read[w].ids.size() != n || read[w].rows.size() != n * c.dim) {
        return core::internal_error("the snapshot's source gave " +
                                    std::to_string(read[w].ids.size()) + " points and " +
                                    std::to_string(read[w].rows.size()) + " row values for " +
                                    std::to_string(n) + " points of dim " + std::to_string(c.dim));
      }
    }
    parts.assign(in_wave, std::string());
    errors.assign(in_wave, core::Status::ok());
    core::parallel_for(in_wave, [&](size_t w) {
      SnapshotGroup& g = read[w];
      if (g.finish) g.finish(g);
      if (g.payloads.size() != g.ids.size()) {
        errors[w] =
            core::internal_error("the snapshot's source gave " + std::to_string(g.payloads.size()) +
                                 " payloads for " + std::to_string(g.ids.size()) + " points");
        return;
      }
      errors[w] = code_group(g, c.dim, options.zlib_level, parts[w]);
    });
    for (size_t w = 0; w < in_wave; ++w) {
      VESTA_RETURN_IF_ERROR(errors[w]);
      VESTA_RETURN_IF_ERROR(sink(parts[w]));
      std::string().swap(parts[w]);
    }
  }
  std::string end;
  put_chunk(end, kEnd, static_cast<uint32_t>(points), "", "");
  return sink(end);
}

core::Result<size_t> write_snapshot_file(const std::filesystem::path& path,
                                         const SnapshotContents& contents,
                                         const SnapshotOptions& options, std::string* sha256) {
  AtomicFileWriter file(path);
  VESTA_RETURN_IF_ERROR(file.open());
  size_t size = 0;
  std::optional<Sha256> hasher;
  if (sha256 != nullptr) hasher.emplace();
  VESTA_RETURN_IF_ERROR(write_snapshot(contents, options, [&](std::string_view piece) {
    size += piece.size();
    if (hasher) hasher->update(piece);
    return file.append(piece);
  }));
  VESTA_RETURN_IF_ERROR(file.commit());
  if (hasher) *sha256 = hasher->hex();
  return size;
}

core::Result<std::string> encode_snapshot(const SnapshotContents& contents,
                                          const SnapshotOptions& options) {
  std::string out;
  VESTA_RETURN_IF_ERROR(write_snapshot(contents, options, [&out](std::string_view piece) {
    out += piece;
    return core::Status::ok();
  }));
  return out;
}

core::Result<SnapshotContents> decode_snapshot(std::string_view in) {
  if (in.size() < 12 || std::memcmp(in.data(), kMagic, 4) != 0) {
    return corrupt("byte 0", "not a Vesta snapshot (no VSNP magic)");
  }
  const uint32_t version = load_u32(in, 4);
  if (version > kSnapshotFormatVersion) {
    return core::Status(core::StatusCode::kConflict,
                        "snapshot format version " + std::to_string(version) +
                            " is newer than this binary reads (" +
                            std::to_string(kSnapshotFormatVersion) + ")");
  }
  const uint32_t header_len = load_u32(in, 8);
  if (in.size() < 12 + size_t{header_len} + 4) return corrupt("header", "truncated");
  const std::string_view header_text = in.substr(12, header_len);
  if (crc32_of(header_text) != load_u32(in, 12 + header_len)) {
    return corrupt("header", "checksum mismatch");
  }
  SnapshotContents c;
  uint64_t points = 0;
  try {
    const nlohmann::json header = nlohmann::json::parse(header_text);
    c.collection = header.at("collection").get<std::string>();
    c.dim = header.at("dim").get<uint32_t>();
    c.metric = header.at("metric").get<std::string>();
    c.incarnation = header.at("incarnation").get<uint64_t>();
    c.wal_sequence = header.at("wal_sequence").get<uint64_t>();
    c.vector_name = header.value("vector_name", std::string());
    c.payload_indexes = header.at("payload_indexes").get<std::map<std::string, std::string>>();
    points = header.at("points").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    return corrupt("header", e.what());
  }
  if (c.dim == 0) return corrupt("header", "dim 0");
  // First the chunk headers, in order (cheap); then the chunks' checksums
  // and contents on several threads, rows straight to their place.
  struct Chunk {
    uint8_t kind;
    uint32_t n;
    uint32_t raw_len;
    std::string_view fields;
    std::string_view stored;
    uint32_t sum;
    std::string where;
    size_t first;  // its first point
  };
  std::vector<Chunk> chunks;
  size_t at = 12 + size_t{header_len} + 4;
  size_t counted[4] = {0, 0, 0, 0};  // points per kind: rows, ids, payloads
  for (size_t chunk = 0;; ++chunk) {
    const std::string where_prefix = "chunk " + std::to_string(chunk);
    if (in.size() - at < kChunkHeaderBytes) {
      return corrupt(where_prefix + " at byte " + std::to_string(at), "truncated (no end chunk)");
    }
    Chunk k;
    k.kind = static_cast<uint8_t>(in[at]);
    k.n = load_u32(in, at + 1);
    k.raw_len = load_u32(in, at + 5);
    const uint32_t stored_len = load_u32(in, at + 9);
    k.sum = load_u32(in, at + 13);
    k.where = where_prefix + " (" + kind_name(k.kind) + ") at byte " + std::to_string(at);
    k.fields = in.substr(at, kChunkHeaderBytes - 4);
    at += kChunkHeaderBytes;
    if (in.size() - at < stored_len) return corrupt(k.where, "truncated");
    k.stored = in.substr(at, stored_len);
    at += stored_len;
    if (k.kind == kEnd) {
      if (chunk_crc(k.fields, k.stored) != k.sum) return corrupt(k.where, "checksum mismatch");
      if (k.n != points || counted[kRows] != points || counted[kIds] != points ||
          counted[kPayloads] != points) {
        return corrupt(k.where, "holds " + std::to_string(counted[kIds]) + " points, header says " +
                                    std::to_string(points));
      }
      if (at != in.size()) return corrupt(k.where, "bytes after the end chunk");
      break;
    }
    if (k.kind != kRows && k.kind != kIds && k.kind != kPayloads) {
      if (chunk_crc(k.fields, k.stored) != k.sum) return corrupt(k.where, "checksum mismatch");
      return corrupt(k.where, "unknown chunk kind " + std::to_string(k.kind));
    }
    if (k.raw_len > kMaxChunkRawBytes) return corrupt(k.where, "raw length out of range");
    if (k.kind == kRows && k.raw_len != size_t{k.n} * c.dim * 2) {
      return corrupt(k.where, "row bytes do not match");
    }
    k.first = counted[k.kind];
    counted[k.kind] += k.n;
    if (counted[k.kind] > points) {
      return corrupt(k.where, "more points than the header's " + std::to_string(points));
    }
    chunks.push_back(std::move(k));
  }

  // Every point's row, id and payload is written below exactly once, by the
  // chunk that holds it (the counts were checked above), or decoding fails:
  // the rows are not zero-filled first (HalfVector).
  c.rows.resize(points * c.dim);
  c.ids.resize(points);
  c.payloads.resize(points);
  std::vector<core::Status> errors(chunks.size(), core::Status::ok());
  // One worker per core takes chunks in file order; each inflates into its
  // own buffer, reused from chunk to chunk (a fresh buffer per chunk would
  // page-fault its whole length every time), and writes the points to their
  // places.
  const size_t workers =
      std::min<size_t>(chunks.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next_chunk{0};
  core::parallel_for(workers, [&](size_t /*worker*/) {
    const std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)>
        decompressor(libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
    std::vector<char, core::DefaultInitAllocator<char>> buffer;
    for (size_t i = next_chunk.fetch_add(1); i < chunks.size(); i = next_chunk.fetch_add(1)) {
      const Chunk& k = chunks[i];
      if (chunk_crc(k.fields, k.stored) != k.sum) {
        errors[i] = corrupt(k.where, "checksum mismatch");
        continue;
      }
      if (decompressor == nullptr) {
        errors[i] = core::internal_error("out of memory for a decompressor");
        continue;
      }
      // Not zero-filled: decompression writes every byte or fails.
      if (buffer.size() < k.raw_len) {
        buffer.clear();  // nothing to copy when it grows
        buffer.resize(k.raw_len);
      }
      if (k.raw_len > 0 && !decompress(decompressor.get(), k.stored, buffer.data(), k.raw_len)) {
        errors[i] = corrupt(k.where, "does not decompress to its length");
        continue;
      }
      errors[i] = decode_chunk(k.kind, k.n, std::string_view(buffer.data(), k.raw_len), c.dim,
                               c.rows.data() + k.first * c.dim, c.ids.data() + k.first,
                               c.payloads.data() + k.first);
      if (!errors[i].is_ok()) errors[i] = corrupt(k.where, errors[i].message());
    }
  });
  for (const core::Status& e : errors) VESTA_RETURN_IF_ERROR(e);
  return c;
}

}  // namespace vesta::persistence
