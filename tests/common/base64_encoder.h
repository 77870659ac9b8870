#pragma once

#include <string>
#include <string_view>

namespace vesta::testing {

// Standard base64 with '=' padding, as Python's base64.b64encode writes it:
// the test side of persistence/base64.h's decoder.
inline std::string base64_encode(std::string_view bytes) {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = bytes.size() - i < 3 ? bytes.size() - i : 3;
    unsigned bits = 0;
    for (size_t b = 0; b < 3; ++b) {
      bits = (bits << 8) | (b < n ? static_cast<unsigned char>(bytes[i + b]) : 0u);
    }
    for (size_t c = 0; c < 4; ++c) {
      out += c <= n ? kAlphabet[(bits >> (18 - 6 * c)) & 0x3F] : '=';
    }
  }
  return out;
}

}  // namespace vesta::testing
