#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.h"

namespace vesta::core {

// The longest string point id, in bytes.
inline constexpr size_t kMaxStringIdBytes = 256;

// A 128-bit UUID, compared and hashed by its bytes.
struct Uuid {
  std::array<uint8_t, 16> bytes{};

  auto operator<=>(const Uuid&) const = default;
  // Lowercase, hyphenated 8-4-4-4-12 form.
  std::string to_string() const;
  // Accepts the hyphenated form, 32 hex digits, either wrapped in {braces},
  // and a "urn:uuid:" prefix; hex digits in any case.
  static Result<Uuid> parse(std::string_view text);
};

enum class PointIdKind { kNumber, kUuid, kString };

// The id of a point: an unsigned 64-bit number, a UUID, or a string of 1 to
// kMaxStringIdBytes bytes. Responses echo the kind that came in. Ordered
// numbers < UUIDs < strings, then by value; equality and hashing agree with
// the order. A value type; thread-compatible.
class PointId {
 public:
  PointId() = default;  // the number 0

  static PointId number(uint64_t value) { return PointId(Value(value)); }
  static PointId uuid(const Uuid& value) { return PointId(Value(value)); }
  // Fails for an empty string or one longer than kMaxStringIdBytes.
  static Result<PointId> string(std::string value);
  // A text id as it arrives in JSON: a UUID when it parses as one, else a string.
  static Result<PointId> from_text(std::string_view text);

  PointIdKind kind() const { return static_cast<PointIdKind>(value_.index()); }
  uint64_t as_number() const;
  const Uuid& as_uuid() const;
  const std::string& as_string() const;

  // Decimal, canonical UUID, or the string itself.
  std::string to_string() const;

  friend bool operator==(const PointId&, const PointId&) = default;
  friend std::strong_ordering operator<=>(const PointId& a, const PointId& b);

  size_t hash() const noexcept;

 private:
  using Value = std::variant<uint64_t, Uuid, std::string>;
  explicit PointId(Value value) : value_(std::move(value)) {}
  Value value_{uint64_t{0}};
};

}  // namespace vesta::core

template <>
struct std::hash<vesta::core::PointId> {
  size_t operator()(const vesta::core::PointId& id) const noexcept { return id.hash(); }
};
