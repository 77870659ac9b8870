#include "persistence/nano_vectordb_import.h"

#include <zlib.h>

#include <bit>
#include <climits>
#include <cstring>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>

#include "core/float16.h"
#include "core/point_id.h"
#include "persistence/base64.h"
#include "persistence/mapped_file.h"

namespace vesta::persistence {
namespace {

using nlohmann::json;

// The matrix and the float16 vectors are little-endian bytes (numpy's tobytes
// on the x86 and ARM machines that write them); they are copied into floats
// as they are.
static_assert(std::endian::native == std::endian::little,
              "the decoders assume a little-endian host");

core::Status bad(std::string message) { return core::invalid_argument(std::move(message)); }

std::string at(size_t i) { return "data[" + std::to_string(i) + "]"; }

// Inflates one zlib stream into a buffer of a known size; one z_stream is
// reset and reused for every point. Not thread-safe.
class ZlibInflater {
 public:
  ZlibInflater() { initialised_ = inflateInit(&stream_) == Z_OK; }
  ~ZlibInflater() {
    if (initialised_) inflateEnd(&stream_);
  }
  ZlibInflater(const ZlibInflater&) = delete;
  ZlibInflater& operator=(const ZlibInflater&) = delete;

  // Inflates `in` into `out`, which must be exactly filled; `what` names the
  // field in errors.
  core::Status inflate_exactly(std::string_view in, std::span<uint8_t> out,
                               const std::string& what) {
    if (!initialised_) return core::internal_error("zlib inflateInit failed");
    if (in.size() > UINT_MAX) return bad(what + ": compressed data too large");
    inflateReset(&stream_);
    // One spare byte: filling it means the stream holds more than expected.
    spare_.resize(out.size() + 1);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    stream_.avail_in = static_cast<uInt>(in.size());
    stream_.next_out = spare_.data();
    stream_.avail_out = static_cast<uInt>(spare_.size());
    const int rc = inflate(&stream_, Z_FINISH);
    const size_t produced = spare_.size() - stream_.avail_out;
    if (rc == Z_STREAM_END) {
      if (stream_.avail_in != 0) {
        return bad(what + ": " + std::to_string(stream_.avail_in) +
                   " bytes after the end of the zlib stream");
      }
      if (produced != out.size()) return wrong_length(produced, out.size(), what);
      std::memcpy(out.data(), spare_.data(), out.size());
      return core::Status::ok();
    }
    if (stream_.avail_out == 0) return wrong_length(produced, out.size(), what);
    if (rc == Z_BUF_ERROR) return bad(what + ": zlib: the compressed data is truncated");
    return bad(what + ": zlib: " +
               (stream_.msg != nullptr ? std::string(stream_.msg) : "error " + std::to_string(rc)));
  }

 private:
  static core::Status wrong_length(size_t produced, size_t expected, const std::string& what) {
    const std::string dim = "embedding_dim " + std::to_string(expected / 2);
    if (produced > expected) {
      return bad(what + " decompresses to more float16 values than " + dim);
    }
    if (produced % 2 != 0) {
      return bad(what + " decompresses to " + std::to_string(produced) +
                 " bytes, not a whole number of float16 values");
    }
    return bad(what + " holds " + std::to_string(produced / 2) + " float16 values, expected " +
               dim);
  }

  z_stream stream_{};
  bool initialised_ = false;
  std::vector<uint8_t> spare_;
};

core::Result<uint32_t> embedding_dim(const json& doc) {
  auto it = doc.find("embedding_dim");
  if (it == doc.end()) return bad("embedding_dim is missing");
  if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > kMaxNanoDim) {
    return bad("embedding_dim must be an integer from 1 to " + std::to_string(kMaxNanoDim) +
               ", got " + it->dump().substr(0, 40));
  }
  return static_cast<uint32_t>(it->get<uint64_t>());
}

// Decodes the point's own "vector" (base64 of zlib of float16 values).
core::Status decode_vector_field(const json& field, uint32_t dim, const std::string& where,
                                 ZlibInflater& inflater, std::vector<uint16_t>& halves,
                                 std::vector<float>* out) {
  const std::string what = where + ".vector";
  if (!field.is_string()) {
    return bad(what + " must be a base64 string, got " + std::string(field.type_name()));
  }
  const std::string& text = field.get_ref<const std::string&>();
  core::Result<std::string> compressed = base64_decode(text);
  if (!compressed.is_ok()) return bad(what + ": " + compressed.status().message());
  halves.resize(dim);
  VESTA_RETURN_IF_ERROR(inflater.inflate_exactly(
      compressed.value(),
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(halves.data()), halves.size() * 2), what));
  out->resize(dim);
  core::halves_to_floats(halves, *out);
  return core::Status::ok();
}

core::Result<NanoVectorDbFile> decode_document(json doc) {
  if (!doc.is_object()) {
    return bad("the file must hold a JSON object with embedding_dim, data and matrix, not " +
               std::string(doc.type_name()));
  }
  NanoVectorDbFile file;
  core::Result<uint32_t> dim = embedding_dim(doc);
  if (!dim.is_ok()) return dim.status();
  file.dim = dim.value();
  const size_t row_bytes = size_t{file.dim} * sizeof(float);

  auto data_it = doc.find("data");
  if (data_it == doc.end()) return bad("data is missing");
  if (!data_it->is_array()) {
    return bad("data must be an array, got " + std::string(data_it->type_name()));
  }
  json& data = *data_it;

  // The matrix is checked whole here but decoded one row at a time, only for
  // the points that have no "vector" of their own.
  const std::string* matrix = nullptr;
  if (auto m = doc.find("matrix"); m != doc.end()) {
    if (!m->is_string())
      return bad("matrix must be a base64 string, got " + std::string(m->type_name()));
    matrix = &m->get_ref<const std::string&>();
    core::Result<size_t> bytes = base64_decoded_size(*matrix);
    if (!bytes.is_ok()) return bad("matrix: " + bytes.status().message());
    if (bytes.value() % sizeof(float) != 0) {
      return bad("matrix holds " + std::to_string(bytes.value()) +
                 " bytes, not a whole number of float32 values");
    }
    const size_t values = bytes.value() / sizeof(float);
    if (values != data.size() * file.dim) {
      return bad("matrix holds " + std::to_string(values) + " float32 values, expected " +
                 std::to_string(data.size()) + " points x embedding_dim " +
                 std::to_string(file.dim) + " = " + std::to_string(data.size() * file.dim));
    }
  }

  ZlibInflater inflater;
  std::vector<uint16_t> halves;
  std::unordered_map<core::PointId, size_t> seen;
  seen.reserve(data.size());
  file.points.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const std::string where = at(i);
    json& item = data[i];
    if (!item.is_object()) {
      return bad(where + " must be an object, got " + std::string(item.type_name()));
    }
    NanoPoint point;
    auto id = item.find("__id__");
    if (id == item.end()) return bad(where + ".__id__ is missing");
    if (!id->is_string()) {
      return bad(where + ".__id__ must be a string, got " + std::string(id->type_name()));
    }
    point.id = std::move(id->get_ref<std::string&>());
    core::Result<core::PointId> parsed = core::PointId::from_text(point.id);
    if (!parsed.is_ok()) return bad(where + ".__id__: " + parsed.status().message());
    if (auto [first, inserted] = seen.emplace(std::move(parsed).value(), i); !inserted) {
      return bad(where + ".__id__ '" + point.id + "' is the id of " + at(first->second) + " too");
    }

    std::string what;
    if (auto field = item.find("vector"); field != item.end()) {
      VESTA_RETURN_IF_ERROR(
          decode_vector_field(*field, file.dim, where, inflater, halves, &point.vector));
      what = where + ".vector";
      ++file.vectors_from_field;
    } else {
      if (matrix == nullptr) {
        return bad(where + " has no \"vector\" and the file has no \"matrix\"");
      }
      point.vector.resize(file.dim);
      core::Status row = base64_decode_range(
          *matrix, i * row_bytes,
          std::span<uint8_t>(reinterpret_cast<uint8_t*>(point.vector.data()), row_bytes));
      if (!row.is_ok()) return bad("matrix row " + std::to_string(i) + ": " + row.message());
      what = "matrix row " + std::to_string(i) + " (" + where + ")";
    }
    VESTA_RETURN_IF_ERROR(core::check_float16_range(point.vector, what));

    // The rest of the point is its payload, moved out of the document.
    point.payload = std::move(item);
    point.payload.erase("__id__");
    point.payload.erase("vector");
    point.payload.erase("__vector__");
    file.points.push_back(std::move(point));
  }
  return file;
}

core::Result<json> parse_json(const char* begin, const char* end) {
  if (begin == end) return bad("the file is empty");
  try {
    return json::parse(begin, end);
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, ...".
    std::string message = e.what();
    if (const size_t close = message.find("] "); close != std::string::npos) {
      message.erase(0, close + 2);
    }
    return bad("not valid JSON: " + message);
  }
}

// The file is unmapped when this returns, before the vectors are decoded.
core::Result<json> parse_file(const std::string& path) {
  core::Result<MappedFile> file = MappedFile::open(path);
  if (!file.is_ok()) return file.status();
  const std::string_view bytes = file.value().bytes();
  return parse_json(bytes.data(), bytes.data() + bytes.size());
}

}  // namespace

core::Result<NanoVectorDbFile> parse_nano_vectordb(std::string_view text) {
  core::Result<json> doc = parse_json(text.data(), text.data() + text.size());
  if (!doc.is_ok()) return doc.status();
  return decode_document(std::move(doc).value());
}

core::Result<NanoVectorDbFile> read_nano_vectordb_file(const std::string& path) {
  core::Result<json> doc = parse_file(path);
  if (!doc.is_ok()) return doc.status();
  return decode_document(std::move(doc).value());
}

}  // namespace vesta::persistence
