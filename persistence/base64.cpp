#include "persistence/base64.h"

#include <array>

namespace vesta::persistence {
namespace {

// Marks a byte that is not in the alphabet ('=' included: padding is handled
// apart from the table).
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> make_table() {
  std::array<uint8_t, 256> table{};
  table.fill(kInvalid);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kTable = make_table();

std::string describe(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7F) return std::string("'") + c + "'";
  constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

// The 6-bit value of text[at], or an error naming it.
core::Status sextet(std::string_view text, size_t at, uint32_t* out) {
  const uint8_t v = kTable[static_cast<uint8_t>(text[at])];
  if (v == kInvalid) {
    return core::invalid_argument("bad base64 character " + describe(text[at]) + " at offset " +
                                  std::to_string(at));
  }
  *out = v;
  return core::Status::ok();
}

}  // namespace

core::Result<size_t> base64_decoded_size(std::string_view text) {
  if (text.size() % 4 != 0) {
    return core::invalid_argument("base64 text of " + std::to_string(text.size()) +
                                  " characters is not a multiple of 4");
  }
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  // "x===" and "====" are not padding of a group: the first two characters
  // of a group always carry data.
  if (padding > 0 && text.size() >= 4 && text[text.size() - 3] == '=') {
    return core::invalid_argument("bad base64 padding at offset " +
                                  std::to_string(text.size() - 3));
  }
  return text.size() / 4 * 3 - padding;
}

core::Status base64_decode_range(std::string_view text, size_t first_byte, std::span<uint8_t> out) {
  if (out.empty()) return core::Status::ok();
  const size_t groups = text.size() / 4;
  VESTA_CHECK(text.size() % 4 == 0 && groups > 0) << "base64 text was not validated";
  const size_t padding = text.back() != '=' ? 0 : text[text.size() - 2] == '=' ? 2 : 1;
  VESTA_CHECK(first_byte + out.size() <= groups * 3 - padding)
      << "base64 range [" << first_byte << ", " << first_byte + out.size() << ") is past "
      << groups * 3 - padding << " bytes";
  size_t written = 0;
  for (size_t group = first_byte / 3; written < out.size(); ++group) {
    const size_t at = group * 4;
    // The last group may end in padding: its '=' characters count as zero bits.
    const size_t data_chars = group + 1 == groups ? 4 - padding : 4;
    uint32_t bits = 0;
    for (size_t c = 0; c < 4; ++c) {
      uint32_t v = 0;
      if (c < data_chars) VESTA_RETURN_IF_ERROR(sextet(text, at + c, &v));
      bits = (bits << 6) | v;
    }
    const uint8_t bytes[3] = {static_cast<uint8_t>(bits >> 16), static_cast<uint8_t>(bits >> 8),
                              static_cast<uint8_t>(bits)};
    for (size_t b = group == first_byte / 3 ? first_byte % 3 : 0; b < 3 && written < out.size();
         ++b) {
      out[written++] = bytes[b];
    }
  }
  return core::Status::ok();
}

core::Result<std::string> base64_decode(std::string_view text) {
  core::Result<size_t> size = base64_decoded_size(text);
  if (!size.is_ok()) return size.status();
  std::string out(size.value(), '\0');
  VESTA_RETURN_IF_ERROR(base64_decode_range(
      text, 0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size())));
  return out;
}

}  // namespace vesta::persistence
