#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vesta::persistence {

// Base64 decoding for files that other tools write (NanoVectorDB's matrix,
// LightRAG's per-point vectors): the standard alphabet of RFC 4648 section 4
// with '=' padding to a multiple of 4 characters, and no line breaks or
// whitespace, which is what Python's base64.b64encode writes. Bits below the
// last byte in a padded group are ignored, as Python does.
//
// The text is decoded in ranges, so a caller can decode a large matrix row by
// row into its destination without an intermediate copy of the whole of it.
// Errors name the character offset; callers add which field it was.

// The number of bytes `text` decodes to. Fails when its length is not a
// multiple of 4 or its padding is malformed (characters are checked when
// decoded).
core::Result<size_t> base64_decoded_size(std::string_view text);

// Decodes bytes [first_byte, first_byte + out.size()) of `text` into `out`.
// `text` must have passed base64_decoded_size and the range must lie within
// its size (a VESTA_CHECK); fails on a character outside the alphabet.
core::Status base64_decode_range(std::string_view text, size_t first_byte, std::span<uint8_t> out);

// Decodes all of `text`.
core::Result<std::string> base64_decode(std::string_view text);

}  // namespace vesta::persistence
