#include "core/point_id.h"

#include <cstring>

#include "core/check.h"

namespace vesta::core {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A 64-bit finaliser (splitmix64): spreads every input bit over the output.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::string Uuid::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

Result<Uuid> Uuid::parse(std::string_view text) {
  const std::string_view original = text;
  auto fail = [&] { return invalid_argument("'" + std::string(original) + "' is not a UUID"); };
  if (text.size() >= 9 && (text.substr(0, 9) == "urn:uuid:" || text.substr(0, 9) == "URN:UUID:")) {
    text.remove_prefix(9);
  }
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  const bool hyphenated = text.size() == 36;
  if (!hyphenated && text.size() != 32) return fail();
  Uuid uuid;
  size_t pos = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (hyphenated && (i == 4 || i == 6 || i == 8 || i == 10)) {
      if (text[pos] != '-') return fail();
      ++pos;
    }
    const int hi = hex_value(text[pos]);
    const int lo = hex_value(text[pos + 1]);
    if (hi < 0 || lo < 0) return fail();
    uuid.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    pos += 2;
  }
  return uuid;
}

Result<PointId> PointId::string(std::string value) {
  if (value.empty()) return invalid_argument("a string point id must not be empty");
  if (value.size() > kMaxStringIdBytes) {
    return invalid_argument("string point id of " + std::to_string(value.size()) +
                            " bytes exceeds the limit of " + std::to_string(kMaxStringIdBytes));
  }
  return PointId(Value(std::move(value)));
}

Result<PointId> PointId::from_text(std::string_view text) {
  if (Result<Uuid> uuid = Uuid::parse(text); uuid.is_ok()) return PointId::uuid(uuid.value());
  return PointId::string(std::string(text));
}

uint64_t PointId::as_number() const {
  VESTA_CHECK(kind() == PointIdKind::kNumber) << "point id " << to_string() << " is not a number";
  return std::get<uint64_t>(value_);
}

const Uuid& PointId::as_uuid() const {
  VESTA_CHECK(kind() == PointIdKind::kUuid) << "point id " << to_string() << " is not a UUID";
  return std::get<Uuid>(value_);
}

const std::string& PointId::as_string() const {
  VESTA_CHECK(kind() == PointIdKind::kString) << "point id " << to_string() << " is not a string";
  return std::get<std::string>(value_);
}

std::string PointId::to_string() const {
  switch (kind()) {
    case PointIdKind::kNumber: return std::to_string(std::get<uint64_t>(value_));
    case PointIdKind::kUuid: return std::get<Uuid>(value_).to_string();
    case PointIdKind::kString: return std::get<std::string>(value_);
  }
  return {};
}

std::strong_ordering operator<=>(const PointId& a, const PointId& b) {
  if (a.value_.index() != b.value_.index()) return a.value_.index() <=> b.value_.index();
  switch (a.kind()) {
    case PointIdKind::kNumber: return std::get<uint64_t>(a.value_) <=> std::get<uint64_t>(b.value_);
    case PointIdKind::kUuid: return std::get<Uuid>(a.value_) <=> std::get<Uuid>(b.value_);
    case PointIdKind::kString:
      return std::get<std::string>(a.value_) <=> std::get<std::string>(b.value_);
  }
  return std::strong_ordering::equal;
}

size_t PointId::hash() const noexcept {
  uint64_t h = 0;
  switch (kind()) {
    case PointIdKind::kNumber: h = std::get<uint64_t>(value_); break;
    case PointIdKind::kUuid: {
      uint64_t halves[2];
      std::memcpy(halves, std::get<Uuid>(value_).bytes.data(), sizeof halves);
      h = halves[0] ^ mix(halves[1]);
      break;
    }
    case PointIdKind::kString:
      h = std::hash<std::string_view>()(std::get<std::string>(value_));
      break;
  }
  return static_cast<size_t>(mix(h + value_.index() * 0x9e3779b97f4a7c15ull));
}

}  // namespace vesta::core
