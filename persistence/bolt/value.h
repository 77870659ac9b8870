#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/check.h"

namespace vesta::bolt {

class Value;
struct DictionaryEntry;

using Bytes = std::vector<std::uint8_t>;
using List = std::vector<Value>;

// PackStream's Dictionary: string keys in the order they were added (the
// order they go on the wire). Setting a key that exists replaces its value,
// which is also how a decoded dictionary with a repeated key keeps the last
// value, as the PackStream specification asks. Lookups are linear: Bolt
// dictionaries (message metadata, properties) are small.
class Dictionary {
 public:
  Dictionary() = default;
  Dictionary(std::initializer_list<DictionaryEntry> entries);
  // Declared here, defined below DictionaryEntry: `Value` (which holds a
  // Dictionary) must be complete before DictionaryEntry (which holds a Value)
  // can be, and these need DictionaryEntry complete.
  Dictionary(const Dictionary& other);
  Dictionary(Dictionary&& other) noexcept;
  Dictionary& operator=(const Dictionary& other);
  Dictionary& operator=(Dictionary&& other) noexcept;
  ~Dictionary();

  // Adds `key` or replaces its value.
  void set(std::string key, Value value);
  // The value of `key`, or nullptr.
  const Value* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  size_t size() const;
  bool empty() const;
  std::vector<DictionaryEntry>::const_iterator begin() const;
  std::vector<DictionaryEntry>::const_iterator end() const;

  // Equal when both hold the same keys with equal values, in any order.
  friend bool operator==(const Dictionary& a, const Dictionary& b);

 private:
  std::vector<DictionaryEntry> entries_;
};

// PackStream's Structure: a tag byte and up to 15 fields. Bolt messages are
// structures (HELLO is tag 0x01, ...), and so are graph values in records
// (Node 0x4E, Relationship 0x52, Path 0x50, temporal and spatial types).
struct Structure {
  std::uint8_t tag = 0;
  List fields;

  friend bool operator==(const Structure& a, const Structure& b);
};

// One PackStream value: Null, Boolean, Integer (signed 64-bit), Float (IEEE
// double), Bytes, String (UTF-8), List, Dictionary or Structure. A plain
// value type: copies are deep, no sharing.
class Value {
 public:
  using Variant = std::variant<std::nullptr_t, bool, std::int64_t, double, Bytes, std::string, List,
                               Dictionary, Structure>;

  Value() : data_(nullptr) {}
  Value(std::nullptr_t) : data_(nullptr) {}  // NOLINT(google-explicit-constructor)
  Value(bool b) : data_(b) {}                // NOLINT(google-explicit-constructor)
  template <std::integral T>
  requires(!std::same_as<T, bool>) Value(T i)
      : data_(static_cast<std::int64_t>(i)) {  // NOLINT(google-explicit-constructor)
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      VESTA_CHECK(i <= static_cast<T>(std::numeric_limits<std::int64_t>::max()))
          << "unsigned value " << i << " is no Integer";
    }
  }
  Value(double d) : data_(d) {}                         // NOLINT(google-explicit-constructor)
  Value(const char* s) : data_(std::string(s)) {}       // NOLINT(google-explicit-constructor)
  Value(std::string s) : data_(std::move(s)) {}         // NOLINT(google-explicit-constructor)
  Value(std::string_view s) : data_(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  Value(Bytes b) : data_(std::move(b)) {}               // NOLINT(google-explicit-constructor)
  Value(List l) : data_(std::move(l)) {}                // NOLINT(google-explicit-constructor)
  Value(Dictionary d) : data_(std::move(d)) {}          // NOLINT(google-explicit-constructor)
  Value(Structure s) : data_(std::move(s)) {}           // NOLINT(google-explicit-constructor)

  bool is_null() const { return std::holds_alternative<std::nullptr_t>(data_); }
  template <typename T>
  bool is() const {
    return std::holds_alternative<T>(data_);
  }
  // The held T, or nullptr when the value holds another type.
  template <typename T>
  const T* get_if() const {
    return std::get_if<T>(&data_);
  }
  // The held T; calling it on another type is a bug (check with is<T>()).
  template <typename T>
  const T& as() const {
    VESTA_CHECK(is<T>()) << "bolt::Value holds a " << type_name() << ", not the type asked for";
    return std::get<T>(data_);
  }

  const Variant& variant() const { return data_; }
  // "Null", "Boolean", "Integer", "Float", "Bytes", "String", "List",
  // "Dictionary" or "Structure".
  std::string_view type_name() const;
  // A Cypher-like rendering for messages and logs: null, true, 42, 1.5,
  // "text", #0102 (bytes), [..], {key: ..}, Structure<0x4E>[..].
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

 private:
  Variant data_;
};

struct DictionaryEntry {
  std::string key;
  Value value;

  friend bool operator==(const DictionaryEntry& a, const DictionaryEntry& b) {
    return a.key == b.key && a.value == b.value;
  }
};

inline Dictionary::Dictionary(const Dictionary& other) = default;
inline Dictionary::Dictionary(Dictionary&& other) noexcept = default;
inline Dictionary& Dictionary::operator=(const Dictionary& other) = default;
inline Dictionary& Dictionary::operator=(Dictionary&& other) noexcept = default;
inline Dictionary::~Dictionary() = default;

}  // namespace vesta::bolt
