#include "loadgen/request_json.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "core/check.h"

namespace vesta::loadgen {
namespace {

// Room for any float's or double's shortest form ("-2.2250738585072014e-308"
// is 24 characters).
constexpr size_t kMaxFloatChars = 32;

void append_float(std::string& out, float value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char text[kMaxFloatChars];
  std::to_chars_result written = std::to_chars(text, text + sizeof(text), value);
  VESTA_CHECK(written.ec == std::errc()) << "to_chars of a float needs more than " << sizeof(text);
  // Read back as the server reads it. The shortest float32 text, rounded to
  // double and then to float, is not always the float: of all 2^31 positive
  // finite floats, 7.038531e-26 (0x15ae43fd) alone becomes its neighbour. And
  // the server refuses a double beyond float32's largest value, which
  // "3.4028235e+38" (FLT_MAX's shortest text) is. The double's shortest text
  // always comes back exactly.
  double read = 0;
  if (std::from_chars(text, written.ptr, read).ec != std::errc() ||
      static_cast<float>(read) != value || std::fabs(read) > std::numeric_limits<float>::max()) {
    written = std::to_chars(text, text + sizeof(text), static_cast<double>(value));
    VESTA_CHECK(written.ec == std::errc())
        << "to_chars of a double needs more than " << sizeof(text);
  }
  out.append(text, written.ptr);
  if (value == 0.0f && std::signbit(value)) out += ".0";  // "-0" would read as +0
}

void append_search(std::string& out, std::span<const float> vector, size_t k) {
  out += "{\"vector\":";
  append_float_array(out, vector);
  out += ",\"limit\":";
  out += std::to_string(k);
  out += '}';
}

}  // namespace

void append_float_array(std::string& out, std::span<const float> values) {
  out.reserve(out.size() + values.size() * 12 + 2);
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    append_float(out, values[i]);
  }
  out += ']';
}

std::string search_request_json(std::span<const float> vector, size_t k) {
  std::string out;
  append_search(out, vector, k);
  return out;
}

std::string search_batch_request_json(std::span<const float> queries, size_t dim, size_t k) {
  VESTA_CHECK(dim > 0 && queries.size() % dim == 0) << queries.size() << " floats, dim " << dim;
  std::string out = "{\"searches\":[";
  for (size_t q = 0; q < queries.size() / dim; ++q) {
    if (q > 0) out += ',';
    append_search(out, queries.subspan(q * dim, dim), k);
  }
  out += "]}";
  return out;
}

std::string upsert_batch_json(uint64_t first_id, std::span<const float> rows, size_t dim) {
  VESTA_CHECK(dim > 0 && rows.size() % dim == 0) << rows.size() << " floats, dim " << dim;
  const size_t count = rows.size() / dim;
  std::string out = "{\"batch\":{\"ids\":[";
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    out += std::to_string(first_id + i);
  }
  out += "],\"vectors\":[";
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    append_float_array(out, rows.subspan(i * dim, dim));
  }
  out += "]}}";
  return out;
}

}  // namespace vesta::loadgen
