#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/status.h"
#include "persistence/bolt/value.h"

// PackStream version 1, the value encoding of Bolt 1 to 5 (byte layout in
// docs/graph.md, after the Bolt documentation's "PackStream" page).
namespace vesta::bolt {

// Guards against hostile or broken input when decoding. Sizes are checked
// against the bytes that remain before anything is allocated, so a declared
// size alone can never make the decoder reserve memory.
struct UnpackLimits {
  // Lists, dictionaries and structures nested deeper than this are refused
  // (the decoder recurses once per level).
  size_t max_depth = 64;
};

// Appends the encoding of `value` to `out` (nothing on failure), choosing the smallest form for
// every integer and size, as the specification recommends. InvalidArgument
// naming the value when it cannot be encoded: a string that is not UTF-8, a
// size over 2^31 - 1, a structure of more than 15 fields or a tag over 127.
core::Status pack(const Value& value, Bytes* out);

// Decodes the one value that fills `bytes` exactly. Every marker of the
// specification is accepted, the wider forms of small values included; a
// reserved marker, a truncated value, a size over 2^31 - 1, a non-string
// dictionary key, a string that is not UTF-8, nesting over the limit or bytes
// left over are InvalidArgument naming the byte offset.
core::Result<Value> unpack(std::span<const std::uint8_t> bytes, const UnpackLimits& limits = {});

}  // namespace vesta::bolt
