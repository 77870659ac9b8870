#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/collection.h"

namespace vesta::server {

// The wire format of POST /collections/{name}/points/search/raw, version 1
// (docs/api.md, "Binary batch search", documents it byte by byte). All
// integers and floats are little-endian.
//
// Request:  "VSQ1" | u8 dtype | u8 flags | u16 reserved | u32 rows | u32 dim |
//           u32 k | rows * dim values (float32 or float16)
// Response: "VSR1" | u32 rows | u32 k | rows * k entries of
//           u64 id [ | f32 score when flags bit 0 is set ]
// A query with fewer than k hits is padded with kRawMissingId and a NaN score.
inline constexpr std::string_view kRawRequestMagic = "VSQ1";
inline constexpr std::string_view kRawResponseMagic = "VSR1";
inline constexpr size_t kRawRequestHeaderBytes = 20;
inline constexpr size_t kRawResponseHeaderBytes = 12;
inline constexpr uint8_t kRawDtypeFloat32 = 1;
inline constexpr uint8_t kRawDtypeFloat16 = 2;
inline constexpr uint8_t kRawFlagScores = 0x01;  // the only defined flag bit
inline constexpr uint64_t kRawMissingId = ~uint64_t{0};

// A decoded request: `rows` queries of `dim` float32 values, row after row.
struct RawSearchRequest {
  uint8_t dtype = kRawDtypeFloat32;
  bool with_scores = false;
  size_t rows = 0;
  size_t dim = 0;
  size_t k = 0;
  std::vector<float> queries;
};

// What the decoder checks the header against.
struct RawSearchBounds {
  size_t dim = 0;       // the collection's dimension
  size_t max_rows = 0;  // the server's --max-search-batch
  size_t max_k = 0;     // the server's --max-limit
};

// Decodes and checks a request body. Each failure is an InvalidArgument that
// names the header field at fault ("dim 384 does not match the collection's
// 768", "body is 100 bytes, header says 4096"). Values are not checked here
// (NaN, range): Collection::search_batch does that, naming the query.
core::Result<RawSearchRequest> decode_raw_search_request(std::string_view body,
                                                         const RawSearchBounds& bounds);

// Encodes the answer to `request`: one list of hits per row, each at most k
// long and best first. A hit whose id is not a number is a Conflict naming it
// (the format carries u64 ids only).
core::Result<std::string> encode_raw_search_response(
    const RawSearchRequest& request, const std::vector<std::vector<index::ScoredPoint>>& hits);

}  // namespace vesta::server
