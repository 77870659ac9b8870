#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vesta::persistence {

// One point of a NanoVectorDB file: data[i] with its vector.
struct NanoPoint {
  std::string id;             // data[i].__id__
  std::vector<float> vector;  // embedding_dim values, all finite and within float16's range
  nlohmann::json payload;     // an object: every field of data[i] but __id__, vector, __vector__
};

// What a NanoVectorDB file holds, as plain data (the importer turns it into
// upserts).
struct NanoVectorDbFile {
  uint32_t dim = 0;  // embedding_dim
  std::vector<NanoPoint> points;
  // Points whose vector came from their own "vector" field (LightRAG >= 1.4.7)
  // rather than from a row of the matrix.
  size_t vectors_from_field = 0;
};

// The largest embedding_dim accepted: the most a Vesta collection may have
// (index::CollectionRegistry::kMaxDim, not included: this layer sees core/
// only). It also bounds what a damaged file can make the reader allocate.
inline constexpr uint32_t kMaxNanoDim = 65536;

// The format, as written by the nano-vectordb package (NanoVectorDB.save,
// checked against 0.0.4.3) and by LightRAG's NanoVectorDBStorage on top of it
// (checked against lightrag-hku 1.4.6, 1.4.7 and 1.5.7); docs/import.md has it
// field by field:
//   {"embedding_dim": D,
//    "data": [{"__id__": "...", ...other fields...}, ...],
//    "matrix": base64 of the float32 little-endian points x D array, row i for
//              data[i] (NanoVectorDB L2-normalises rows for its cosine metric),
//    ...other top-level keys, such as "additional_data", ignored}
// LightRAG >= 1.4.7 also gives each point "vector": base64 of zlib-compressed
// float16 little-endian values, the embedding before normalisation. A point's
// "vector" is preferred when present, else its matrix row; the matrix may
// then be absent, but when present its length is checked.
//
// Every malformed input is an InvalidArgument naming where it is
// ("data[17].__id__ must be a string", "data[3].vector: zlib: incorrect header
// check", "matrix: bad base64 character '#' at offset 12"). Ids must be valid
// Vesta point ids (1 to 256 bytes) and unique: a duplicate would be one point
// on import, not two.
core::Result<NanoVectorDbFile> parse_nano_vectordb(std::string_view text);

// Reads and parses the file at `path`. Files of hundreds of MB are usual
// (LightRAG's vdb_chunks.json): the file is mapped, not copied, parsed into one
// JSON document, then decoded point by point while the document is taken
// apart, so the peak is about the document plus the decoded vectors.
core::Result<NanoVectorDbFile> read_nano_vectordb_file(const std::string& path);

}  // namespace vesta::persistence
