#include "persistence/snapshot_codec.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "persistence/byte_codec.h"

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

core::Result<std::string> compress(std::string_view raw, int level) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  const int rc =
      compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), level);
  if (rc != Z_OK) return core::Status(core::StatusCode::kInternal, "zlib compress2 failed");
  out.resize(size);
  return out;
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

}  // namespace

core::Result<std::string> encode_snapshot(const SnapshotContents& c,
                                          const SnapshotOptions& options) {
  const size_t points = c.ids.size();
  if (c.dim == 0 || c.rows.size() != points * c.dim || c.payloads.size() != points) {
    return core::invalid_argument("snapshot contents do not agree: " + std::to_string(points) +
                                  " ids, " + std::to_string(c.rows.size()) + " row values (dim " +
                                  std::to_string(c.dim) + "), " +
                                  std::to_string(c.payloads.size()) + " payloads");
  }
  const size_t per_chunk = std::max<size_t>(1, options.chunk_points);
  std::string out(kMagic, 4);
  append_u32(out, kSnapshotFormatVersion);
  const std::string header = nlohmann::json{
      {"collection", c.collection},
      {"dim", c.dim},
      {"metric", c.metric},
      {"incarnation", c.incarnation},
      {"wal_sequence", c.wal_sequence},
      {"payload_indexes", c.payload_indexes},
      {"points", points}}.dump();
  append_u32(out, static_cast<uint32_t>(header.size()));
  out += header;
  append_u32(out, crc32_of(header));

  for (size_t first = 0; first < points; first += per_chunk) {
    const size_t n = std::min(per_chunk, points - first);
    // Rows, byte-shuffled.
    std::string raw(n * c.dim * 2, '\0');
    const uint16_t* rows = c.rows.data() + first * c.dim;
    const size_t values = n * c.dim;
    for (size_t i = 0; i < values; ++i) {
      raw[i] = static_cast<char>(rows[i] >> 8);
      raw[values + i] = static_cast<char>(rows[i] & 0xFF);
    }
    core::Result<std::string> stored = compress(raw, options.zlib_level);
    if (!stored.is_ok()) return stored.status();
    put_chunk(out, kRows, static_cast<uint32_t>(n), raw, stored.value());
    // Ids.
    raw.clear();
    for (size_t i = first; i < first + n; ++i) put_id(raw, c.ids[i]);
    stored = compress(raw, options.zlib_level);
    if (!stored.is_ok()) return stored.status();
    put_chunk(out, kIds, static_cast<uint32_t>(n), raw, stored.value());
    // Payloads, one per line (JSON text has no raw newline).
    raw.clear();
    for (size_t i = first; i < first + n; ++i) {
      raw += c.payloads[i];
      raw.push_back('\n');
    }
    stored = compress(raw, options.zlib_level);
    if (!stored.is_ok()) return stored.status();
    put_chunk(out, kPayloads, static_cast<uint32_t>(n), raw, stored.value());
  }
  put_chunk(out, kEnd, static_cast<uint32_t>(points), "", "");
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
    c.payload_indexes = header.at("payload_indexes").get<std::map<std::string, std::string>>();
    points = header.at("points").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    return corrupt("header", e.what());
  }
  if (c.dim == 0) return corrupt("header", "dim 0");
  size_t at = 12 + size_t{header_len} + 4;
  size_t expect_rows = 0, expect_ids = 0, expect_payloads = 0;
  for (size_t chunk = 0;; ++chunk) {
    const std::string where_prefix = "chunk " + std::to_string(chunk);
    if (in.size() - at < kChunkHeaderBytes) {
      return corrupt(where_prefix + " at byte " + std::to_string(at), "truncated (no end chunk)");
    }
    const uint8_t kind = static_cast<uint8_t>(in[at]);
    const uint32_t n = load_u32(in, at + 1);
    const uint32_t raw_len = load_u32(in, at + 5);
    const uint32_t stored_len = load_u32(in, at + 9);
    const uint32_t sum = load_u32(in, at + 13);
    const std::string where =
        where_prefix + " (" + kind_name(kind) + ") at byte " + std::to_string(at);
    const std::string_view fields = in.substr(at, kChunkHeaderBytes - 4);
    at += kChunkHeaderBytes;
    if (in.size() - at < stored_len) return corrupt(where, "truncated");
    const std::string_view stored = in.substr(at, stored_len);
    at += stored_len;
    if (chunk_crc(fields, stored) != sum) return corrupt(where, "checksum mismatch");
    if (kind == kEnd) {
      if (n != points || c.ids.size() != points || c.payloads.size() != points ||
          c.rows.size() != points * c.dim) {
        return corrupt(where, "holds " + std::to_string(c.ids.size()) + " points, header says " +
                                  std::to_string(points));
      }
      if (at != in.size()) return corrupt(where, "bytes after the end chunk");
      return c;
    }
    if (raw_len > kMaxChunkRawBytes) return corrupt(where, "raw length out of range");
    std::string raw(raw_len, '\0');
    uLongf size = raw_len;
    if (raw_len > 0 &&
        (uncompress(reinterpret_cast<Bytef*>(raw.data()), &size,
                    reinterpret_cast<const Bytef*>(stored.data()), stored_len) != Z_OK ||
         size != raw_len)) {
      return corrupt(where, "does not decompress to its length");
    }
    if (kind == kRows) {
      if (raw_len != size_t{n} * c.dim * 2) return corrupt(where, "row bytes do not match");
      const size_t values = size_t{n} * c.dim;
      const size_t base = c.rows.size();
      c.rows.resize(base + values);
      for (size_t i = 0; i < values; ++i) {
        c.rows[base + i] = static_cast<uint16_t>((uint16_t{static_cast<uint8_t>(raw[i])} << 8) |
                                                 static_cast<uint8_t>(raw[values + i]));
      }
      expect_rows += n;
    } else if (kind == kIds) {
      size_t p = 0;
      for (uint32_t i = 0; i < n; ++i) {
        if (p >= raw.size()) return corrupt(where, "ids end early");
        const uint8_t id_kind = static_cast<uint8_t>(raw[p++]);
        if (id_kind == 0 && raw.size() - p >= 8) {
          c.ids.push_back(core::PointId::number(load_u64(raw, p)));
          p += 8;
        } else if (id_kind == 1 && raw.size() - p >= 16) {
          core::Uuid u;
          std::memcpy(u.bytes.data(), raw.data() + p, 16);
          c.ids.push_back(core::PointId::uuid(u));
          p += 16;
        } else if (id_kind == 2 && raw.size() - p >= 4) {
          const uint32_t len = load_u32(raw, p);
          p += 4;
          if (raw.size() - p < len) return corrupt(where, "string id runs past the chunk");
          core::Result<core::PointId> id = core::PointId::string(raw.substr(p, len));
          if (!id.is_ok()) return corrupt(where, id.status().message());
          c.ids.push_back(std::move(id).value());
          p += len;
        } else {
          return corrupt(where, "bad id " + std::to_string(i));
        }
      }
      if (p != raw.size()) return corrupt(where, "bytes after the ids");
      expect_ids += n;
    } else if (kind == kPayloads) {
      size_t p = 0;
      for (uint32_t i = 0; i < n; ++i) {
        const size_t nl = raw.find('\n', p);
        if (nl == std::string::npos) return corrupt(where, "payloads end early");
        c.payloads.push_back(raw.substr(p, nl - p));
        p = nl + 1;
      }
      if (p != raw.size()) return corrupt(where, "bytes after the payloads");
      expect_payloads += n;
    } else {
      return corrupt(where, "unknown chunk kind " + std::to_string(kind));
    }
    if (expect_rows > points || expect_ids > points || expect_payloads > points) {
      return corrupt(where, "more points than the header's " + std::to_string(points));
    }
  }
}

}  // namespace vesta::persistence
