#include "server/raw_search_codec.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>

#include "core/float16.h"

namespace vesta::server {
namespace {

// The wire format is little-endian and the codec copies values as they lie in
// memory.
static_assert(std::endian::native == std::endian::little,
              "the binary search codec assumes a little-endian host");

template <typename T>
T load(std::string_view bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T>
void store(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

}  // namespace

core::Result<RawSearchRequest> decode_raw_search_request(std::string_view body,
                                                         const RawSearchBounds& bounds) {
  if (body.size() < kRawRequestHeaderBytes) {
    return core::invalid_argument("body is " + std::to_string(body.size()) +
                                  " bytes, shorter than the " +
                                  std::to_string(kRawRequestHeaderBytes) + "-byte header");
  }
  if (body.substr(0, 4) != kRawRequestMagic) {
    return core::invalid_argument("magic must be \"VSQ1\" (56 53 51 31), got bytes " + [&] {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string hex;
      for (size_t i = 0; i < 4; ++i) {
        const auto b = static_cast<unsigned char>(body[i]);
        if (i > 0) hex.push_back(' ');
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 15]);
      }
      return hex;
    }());
  }
  RawSearchRequest request;
  request.dtype = load<uint8_t>(body, 4);
  const auto flags = load<uint8_t>(body, 5);
  const auto reserved = load<uint16_t>(body, 6);
  const uint32_t rows = load<uint32_t>(body, 8);
  const uint32_t dim = load<uint32_t>(body, 12);
  const uint32_t k = load<uint32_t>(body, 16);
  if (request.dtype != kRawDtypeFloat32 && request.dtype != kRawDtypeFloat16) {
    return core::invalid_argument("dtype " + std::to_string(request.dtype) +
                                  " is not supported; use 1 (float32) or 2 (float16)");
  }
  if ((flags & ~kRawFlagScores) != 0) {
    return core::invalid_argument("flags " + std::to_string(flags) +
                                  " has unknown bits set; only bit 0 (return scores) is defined");
  }
  request.with_scores = (flags & kRawFlagScores) != 0;
  if (reserved != 0) {
    return core::invalid_argument("reserved must be 0, got " + std::to_string(reserved));
  }
  if (rows > bounds.max_rows) {
    return core::invalid_argument(
        "rows " + std::to_string(rows) + " is more than one request may carry (" +
        std::to_string(bounds.max_rows) + ", the server's --max-search-batch)");
  }
  if (dim != bounds.dim) {
    return core::invalid_argument("dim " + std::to_string(dim) +
                                  " does not match the collection's " + std::to_string(bounds.dim));
  }
  if (k == 0) return core::invalid_argument("k must be at least 1");
  if (k > bounds.max_k) {
    return core::invalid_argument("k " + std::to_string(k) + " must be at most " +
                                  std::to_string(bounds.max_k) + " (the server's --max-limit)");
  }
  // rows <= max_rows and dim == the collection's (at most 65536): no overflow.
  const size_t value_bytes = request.dtype == kRawDtypeFloat32 ? 4 : 2;
  const size_t values = size_t{rows} * dim;
  const size_t expected = kRawRequestHeaderBytes + values * value_bytes;
  if (body.size() != expected) {
    return core::invalid_argument(
        "body is " + std::to_string(body.size()) + " bytes, header says " +
        std::to_string(expected) + " (20 + rows " + std::to_string(rows) + " x dim " +
        std::to_string(dim) + " x " + std::to_string(value_bytes) + " bytes)");
  }
  request.rows = rows;
  request.dim = dim;
  request.k = k;
  request.queries.resize(values);
  const char* data = body.data() + kRawRequestHeaderBytes;
  if (values == 0) return request;  // zero rows: nothing to copy (memcpy of null is UB)
  if (request.dtype == kRawDtypeFloat32) {
    std::memcpy(request.queries.data(), data, values * sizeof(float));
  } else {
    std::vector<uint16_t> halves(values);
    std::memcpy(halves.data(), data, values * sizeof(uint16_t));
    core::halves_to_floats(halves, request.queries);
  }
  return request;
}

core::Result<std::string> encode_raw_search_response(
    const RawSearchRequest& request, const std::vector<std::vector<index::ScoredPoint>>& hits) {
  VESTA_CHECK(hits.size() == request.rows)
      << hits.size() << " hit lists for " << request.rows << " queries";
  const size_t entry_bytes = sizeof(uint64_t) + (request.with_scores ? sizeof(float) : 0);
  std::string out;
  out.reserve(kRawResponseHeaderBytes + request.rows * request.k * entry_bytes);
  out.append(kRawResponseMagic);
  store(out, static_cast<uint32_t>(request.rows));
  store(out, static_cast<uint32_t>(request.k));
  for (size_t q = 0; q < request.rows; ++q) {
    VESTA_CHECK(hits[q].size() <= request.k)
        << hits[q].size() << " hits for query " << q << ", k " << request.k;
    for (size_t j = 0; j < request.k; ++j) {
      uint64_t id = kRawMissingId;
      float score = std::numeric_limits<float>::quiet_NaN();
      if (j < hits[q].size()) {
        const index::ScoredPoint& hit = hits[q][j];
        if (hit.id.kind() != core::PointIdKind::kNumber) {
          return core::Status(
              core::StatusCode::kConflict,
              "hit " + std::to_string(j) + " of query " + std::to_string(q) + " is point '" +
                  hit.id.to_string() + "', a " +
                  (hit.id.kind() == core::PointIdKind::kUuid ? "UUID" : "string") +
                  " id; the binary search returns only numeric ids (use the JSON search)");
        }
        id = hit.id.as_number();
        if (id == kRawMissingId) {
          return core::Status(core::StatusCode::kConflict,
                              "hit " + std::to_string(j) + " of query " + std::to_string(q) +
                                  " is point " + std::to_string(id) +
                                  ", the id the binary search reserves for padding (use the "
                                  "JSON search)");
        }
        score = hit.score;
      }
      store(out, id);
      if (request.with_scores) store(out, score);
    }
  }
  return out;
}

}  // namespace vesta::server
