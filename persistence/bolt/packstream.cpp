#include "persistence/bolt/packstream.h"

#include <bit>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

namespace vesta::bolt {
namespace {

// Markers (the Bolt documentation's PackStream page).
constexpr std::uint8_t kTinyStringBase = 0x80;
constexpr std::uint8_t kTinyListBase = 0x90;
constexpr std::uint8_t kTinyDictionaryBase = 0xA0;
constexpr std::uint8_t kTinyStructureBase = 0xB0;
constexpr std::uint8_t kNull = 0xC0;
constexpr std::uint8_t kFloat64 = 0xC1;
constexpr std::uint8_t kFalse = 0xC2;
constexpr std::uint8_t kTrue = 0xC3;
constexpr std::uint8_t kInt8 = 0xC8;
constexpr std::uint8_t kInt16 = 0xC9;
constexpr std::uint8_t kInt32 = 0xCA;
constexpr std::uint8_t kInt64 = 0xCB;
constexpr std::uint8_t kBytes8 = 0xCC;
constexpr std::uint8_t kBytes16 = 0xCD;
constexpr std::uint8_t kBytes32 = 0xCE;
constexpr std::uint8_t kString8 = 0xD0;
constexpr std::uint8_t kString16 = 0xD1;
constexpr std::uint8_t kString32 = 0xD2;
constexpr std::uint8_t kList8 = 0xD4;
constexpr std::uint8_t kList16 = 0xD5;
constexpr std::uint8_t kList32 = 0xD6;
constexpr std::uint8_t kDictionary8 = 0xD8;
constexpr std::uint8_t kDictionary16 = 0xD9;
constexpr std::uint8_t kDictionary32 = 0xDA;

// Sizes are unsigned 8, 16 or 32 bits on the wire, but limited to a signed
// 32-bit integer's maximum.
constexpr std::uint64_t kMaxSize = std::numeric_limits<std::int32_t>::max();
constexpr size_t kMaxStructureFields = 15;
constexpr std::uint8_t kMaxStructureTag = 127;

// The length of the UTF-8 sequence starting at `text[at]`, or 0 when it is
// not well-formed (overlong forms, surrogates and values past U+10FFFF
// included, as RFC 3629 defines).
size_t utf8_sequence_length(std::span<const std::uint8_t> text, size_t at) {
  const std::uint8_t lead = text[at];
  if (lead < 0x80) return 1;
  size_t length = 0;
  std::uint8_t low = 0x80;
  std::uint8_t high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (text[at + 1] < low || text[at + 1] > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (text[at + i] < 0x80 || text[at + i] > 0xBF) return 0;
  }
  return length;
}

// The offset of the first byte that is not valid UTF-8, or npos.
size_t first_invalid_utf8(std::span<const std::uint8_t> text) {
  for (size_t at = 0; at < text.size();) {
    const size_t length = utf8_sequence_length(text, at);
    if (length == 0) return at;
    at += length;
  }
  return std::string::npos;
}

void put_big_endian(Bytes* out, std::uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out->push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

// A marker for a size: the tiny form (base | size) below 16 when the type
// has one, else the 8-, 16- or 32-bit form.
void put_size(Bytes* out, std::uint64_t size, int tiny_base, std::uint8_t marker8) {
  if (tiny_base >= 0 && size < 16) {
    out->push_back(static_cast<std::uint8_t>(tiny_base + size));
  } else if (size <= 0xFF) {
    out->push_back(marker8);
    put_big_endian(out, size, 1);
  } else if (size <= 0xFFFF) {
    out->push_back(static_cast<std::uint8_t>(marker8 + 1));
    put_big_endian(out, size, 2);
  } else {
    out->push_back(static_cast<std::uint8_t>(marker8 + 2));
    put_big_endian(out, size, 4);
  }
}

core::Status pack_value(const Value& value, Bytes* out);

struct Packer {
  Bytes* out;

  core::Status operator()(std::nullptr_t) const {
    out->push_back(kNull);
    return core::Status::ok();
  }
  core::Status operator()(bool b) const {
    out->push_back(b ? kTrue : kFalse);
    return core::Status::ok();
  }
  core::Status operator()(std::int64_t i) const {
    const auto bits = static_cast<std::uint64_t>(i);
    if (i >= -16 && i <= 127) {
      out->push_back(static_cast<std::uint8_t>(bits));
    } else if (i >= -128 && i <= 127) {
      out->push_back(kInt8);
      put_big_endian(out, bits, 1);
    } else if (i >= -32768 && i <= 32767) {
      out->push_back(kInt16);
      put_big_endian(out, bits, 2);
    } else if (i >= std::numeric_limits<std::int32_t>::min() &&
               i <= std::numeric_limits<std::int32_t>::max()) {
      out->push_back(kInt32);
      put_big_endian(out, bits, 4);
    } else {
      out->push_back(kInt64);
      put_big_endian(out, bits, 8);
    }
    return core::Status::ok();
  }
  core::Status operator()(double d) const {
    out->push_back(kFloat64);
    put_big_endian(out, std::bit_cast<std::uint64_t>(d), 8);
    return core::Status::ok();
  }
  core::Status operator()(const Bytes& bytes) const {
    if (bytes.size() > kMaxSize) {
      return core::invalid_argument("PackStream: a byte array of " + std::to_string(bytes.size()) +
                                    " bytes is over the limit of 2^31 - 1");
    }
    put_size(out, bytes.size(), -1, kBytes8);
    out->insert(out->end(), bytes.begin(), bytes.end());
    return core::Status::ok();
  }
  core::Status operator()(const std::string& text) const {
    if (text.size() > kMaxSize) {
      return core::invalid_argument("PackStream: a string of " + std::to_string(text.size()) +
                                    " bytes is over the limit of 2^31 - 1");
    }
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()),
                                              text.size());
    if (const size_t bad = first_invalid_utf8(bytes); bad != std::string::npos) {
      return core::invalid_argument("PackStream: string is not UTF-8 at its byte " +
                                    std::to_string(bad) + ": " + Value(text).to_string());
    }
    put_size(out, text.size(), kTinyStringBase, kString8);
    out->insert(out->end(), bytes.begin(), bytes.end());
    return core::Status::ok();
  }
  core::Status operator()(const List& list) const {
    if (list.size() > kMaxSize) {
      return core::invalid_argument("PackStream: a list of " + std::to_string(list.size()) +
                                    " items is over the limit of 2^31 - 1");
    }
    put_size(out, list.size(), kTinyListBase, kList8);
    for (const Value& item : list) VESTA_RETURN_IF_ERROR(pack_value(item, out));
    return core::Status::ok();
  }
  core::Status operator()(const Dictionary& dictionary) const {
    if (dictionary.size() > kMaxSize) {
      return core::invalid_argument("PackStream: a dictionary of " +
                                    std::to_string(dictionary.size()) +
                                    " entries is over the limit of 2^31 - 1");
    }
    put_size(out, dictionary.size(), kTinyDictionaryBase, kDictionary8);
    for (const DictionaryEntry& entry : dictionary) {
      VESTA_RETURN_IF_ERROR((*this)(entry.key));
      VESTA_RETURN_IF_ERROR(pack_value(entry.value, out));
    }
    return core::Status::ok();
  }
  core::Status operator()(const Structure& structure) const {
    if (structure.fields.size() > kMaxStructureFields) {
      return core::invalid_argument("PackStream: a structure has at most 15 fields, tag " +
                                    std::to_string(structure.tag) + " has " +
                                    std::to_string(structure.fields.size()));
    }
    if (structure.tag > kMaxStructureTag) {
      return core::invalid_argument("PackStream: a structure tag is at most 127, not " +
                                    std::to_string(structure.tag));
    }
    out->push_back(static_cast<std::uint8_t>(kTinyStructureBase + structure.fields.size()));
    out->push_back(structure.tag);
    for (const Value& field : structure.fields) {
      VESTA_RETURN_IF_ERROR(pack_value(field, out));
    }
    return core::Status::ok();
  }
};

core::Status pack_value(const Value& value, Bytes* out) {
  return std::visit(Packer{out}, value.variant());
}

// Reads one value at a time from a span, tracking the offset for errors.
class Unpacker {
 public:
  Unpacker(std::span<const std::uint8_t> bytes, const UnpackLimits& limits)
      : bytes_(bytes), limits_(limits) {}

  core::Result<Value> value(size_t depth) {
    const size_t start = at_;
    if (at_ >= bytes_.size()) return error(start, "a value is missing (end of input)");
    const std::uint8_t marker = bytes_[at_++];
    if (marker <= 0x7F) return Value(static_cast<std::int64_t>(marker));
    if (marker >= 0xF0) return Value(static_cast<std::int64_t>(static_cast<std::int8_t>(marker)));
    switch (marker & 0xF0) {
      case kTinyStringBase: return string(start, marker & 0x0F);
      case kTinyListBase: return list(start, marker & 0x0F, depth);
      case kTinyDictionaryBase: return dictionary(start, marker & 0x0F, depth);
      case kTinyStructureBase: return structure(start, marker & 0x0F, depth);
      default: break;
    }
    switch (marker) {
      case kNull: return Value(nullptr);
      case kFalse: return Value(false);
      case kTrue: return Value(true);
      case kFloat64: {
        std::uint64_t bits = 0;
        if (!read_unsigned(8, &bits)) return truncated(start, "Float");
        return Value(std::bit_cast<double>(bits));
      }
      case kInt8:
      case kInt16:
      case kInt32:
      case kInt64: {
        const int width = 1 << (marker - kInt8);
        std::uint64_t bits = 0;
        if (!read_unsigned(width, &bits)) return truncated(start, "Integer");
        // Sign-extend from `width` bytes.
        const int unused = 64 - 8 * width;
        return Value(static_cast<std::int64_t>(bits << unused) >> unused);
      }
      case kBytes8:
      case kBytes16:
      case kBytes32: {
        core::Result<size_t> size = read_size(start, marker - kBytes8);
        if (!size.is_ok()) return size.status();
        if (size.value() > remaining()) return truncated(start, "Bytes");
        Bytes bytes(bytes_.begin() + static_cast<std::ptrdiff_t>(at_),
                    bytes_.begin() + static_cast<std::ptrdiff_t>(at_ + size.value()));
        at_ += size.value();
        return Value(std::move(bytes));
      }
      case kString8:
      case kString16:
      case kString32: {
        core::Result<size_t> size = read_size(start, marker - kString8);
        if (!size.is_ok()) return size.status();
        return string(start, size.value());
      }
      case kList8:
      case kList16:
      case kList32: {
        core::Result<size_t> size = read_size(start, marker - kList8);
        if (!size.is_ok()) return size.status();
        return list(start, size.value(), depth);
      }
      case kDictionary8:
      case kDictionary16:
      case kDictionary32: {
        core::Result<size_t> size = read_size(start, marker - kDictionary8);
        if (!size.is_ok()) return size.status();
        return dictionary(start, size.value(), depth);
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", marker);
        return error(start, std::string("reserved marker ") + hex);
      }
    }
  }

  size_t offset() const { return at_; }
  size_t remaining() const { return bytes_.size() - at_; }

  static core::Status error(size_t offset, const std::string& what) {
    return core::invalid_argument("PackStream: " + what + " at byte " + std::to_string(offset));
  }

 private:
  static core::Status truncated(size_t offset, const char* type) {
    return error(offset, std::string("truncated ") + type);
  }

  bool read_unsigned(int width, std::uint64_t* value) {
    if (remaining() < static_cast<size_t>(width)) return false;
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | bytes_[at_++];
    *value = v;
    return true;
  }

  // The size after a marker: `scale` 0, 1, 2 for 8, 16, 32 bits.
  core::Result<size_t> read_size(size_t start, int scale) {
    std::uint64_t size = 0;
    if (!read_unsigned(1 << scale, &size)) return error(start, "truncated size");
    if (size > kMaxSize) {
      return error(start, "size " + std::to_string(size) + " over the limit of 2^31 - 1");
    }
    return static_cast<size_t>(size);
  }

  core::Status enter(size_t start, size_t depth) const {
    if (depth >= limits_.max_depth) {
      return error(start, "nesting deeper than " + std::to_string(limits_.max_depth));
    }
    return core::Status::ok();
  }

  core::Result<Value> string(size_t start, size_t size) {
    if (size > remaining()) return truncated(start, "String");
    const std::span<const std::uint8_t> text = bytes_.subspan(at_, size);
    if (const size_t bad = first_invalid_utf8(text); bad != std::string::npos) {
      return error(at_ + bad, "a string that is not UTF-8");
    }
    at_ += size;
    return Value(std::string(reinterpret_cast<const char*>(text.data()), text.size()));
  }

  core::Result<Value> list(size_t start, size_t size, size_t depth) {
    VESTA_RETURN_IF_ERROR(enter(start, depth));
    // Every item takes at least one byte.
    if (size > remaining()) return truncated(start, "List");
    List items;
    items.reserve(size);
    for (size_t i = 0; i < size; ++i) {
      core::Result<Value> item = value(depth + 1);
      if (!item.is_ok()) return item.status();
      items.push_back(std::move(item).value());
    }
    return Value(std::move(items));
  }

  core::Result<Value> dictionary(size_t start, size_t size, size_t depth) {
    VESTA_RETURN_IF_ERROR(enter(start, depth));
    // Every entry takes at least two bytes (a key and a value).
    if (size > remaining() / 2) return truncated(start, "Dictionary");
    Dictionary entries;
    for (size_t i = 0; i < size; ++i) {
      const size_t key_at = at_;
      core::Result<Value> key = value(depth + 1);
      if (!key.is_ok()) return key.status();
      if (!key.value().is<std::string>()) {
        return error(key_at, "a dictionary key that is a " + std::string(key.value().type_name()) +
                                 ", not a String");
      }
      core::Result<Value> item = value(depth + 1);
      if (!item.is_ok()) return item.status();
      entries.set(key.value().as<std::string>(), std::move(item).value());
    }
    return Value(std::move(entries));
  }

  core::Result<Value> structure(size_t start, size_t fields, size_t depth) {
    VESTA_RETURN_IF_ERROR(enter(start, depth));
    if (remaining() < 1) return truncated(start, "Structure");
    Structure structure;
    structure.tag = bytes_[at_++];
    if (structure.tag > kMaxStructureTag) {
      return error(start + 1, "structure tag " + std::to_string(structure.tag) + " over 127");
    }
    if (fields > remaining()) return truncated(start, "Structure");
    structure.fields.reserve(fields);
    for (size_t i = 0; i < fields; ++i) {
      core::Result<Value> field = value(depth + 1);
      if (!field.is_ok()) return field.status();
      structure.fields.push_back(std::move(field).value());
    }
    return Value(std::move(structure));
  }

  std::span<const std::uint8_t> bytes_;
  const UnpackLimits& limits_;
  size_t at_ = 0;
};

}  // namespace

core::Status pack(const Value& value, Bytes* out) {
  const size_t size_before = out->size();
  core::Status status = pack_value(value, out);
  if (!status.is_ok()) out->resize(size_before);
  return status;
}

core::Result<Value> unpack(std::span<const std::uint8_t> bytes, const UnpackLimits& limits) {
  Unpacker unpacker(bytes, limits);
  core::Result<Value> value = unpacker.value(0);
  if (!value.is_ok()) return value.status();
  if (unpacker.remaining() != 0) {
    return Unpacker::error(unpacker.offset(),
                           std::to_string(unpacker.remaining()) + " bytes after the value");
  }
  return value;
}

}  // namespace vesta::bolt
