#include "core/byte_size.h"

namespace vesta::core {

std::optional<size_t> parse_byte_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  // 15 digits cannot overflow before the range check below.
  if (digits == 0 || digits > 15) return std::nullopt;
  size_t number = 0;
  for (size_t i = 0; i < digits; ++i) number = number * 10 + static_cast<size_t>(text[i] - '0');
  std::string_view suffix = text.substr(digits);
  if (suffix.size() == 3 && suffix.substr(1) == "iB") suffix = suffix.substr(0, 1);
  int shift = 0;
  if (suffix.empty()) {
    shift = 0;
  } else if (suffix == "K") {
    shift = 10;
  } else if (suffix == "M") {
    shift = 20;
  } else if (suffix == "G") {
    shift = 30;
  } else if (suffix == "T") {
    shift = 40;
  } else {
    return std::nullopt;
  }
  if (number > (size_t{1} << (62 - shift))) return std::nullopt;
  return number << shift;
}

}  // namespace vesta::core
