#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "index/write_journal.h"

namespace vesta::engine {

// A collection write as one write-ahead log record: which collection (name
// and incarnation) and what changed. The bytes are documented in
// docs/wal-format.md ("Record contents"), version kWriteRecordVersion.
inline constexpr uint8_t kWriteRecordVersion = 1;

struct DecodedWrite {
  std::string collection;
  uint64_t incarnation = 0;
  index::CollectionWrite write;
  std::string attachment;  // empty for none
};

// With a non-empty `attachment` (upserts and deletes only), a record of
// kind 7 that carries it after the write.
std::string encode_write(const index::CollectionConfig& collection,
                         const index::CollectionWrite& write, std::string_view attachment = {});

// Every length is checked against the record; damage (which the log's
// checksums make unlikely) and newer versions are errors naming the offset.
core::Result<DecodedWrite> decode_write(std::string_view record);

// The collection a plain write record (kinds 1..5) names, read without
// decoding the rest; nullopt for any other record.
struct WriteHeader {
  std::string collection;
  uint64_t incarnation = 0;
};
std::optional<WriteHeader> peek_write_header(std::string_view record);

// A change to the outbox as a log record (kind 8): its text (JSON, see
// engine/outbox.h).
std::string encode_outbox_record(std::string_view change);
// The text of an outbox record; nullopt for any other record.
std::optional<std::string_view> outbox_record_text(std::string_view record);

// A catalog change as a log record (kind 6), which processes sharing a log
// apply in order with the writes: the whole catalog text.
std::string encode_catalog_record(std::string_view catalog_text);
// The catalog text of a catalog record; nullopt for any other record.
std::optional<std::string_view> catalog_record_text(std::string_view record);

}  // namespace vesta::engine
