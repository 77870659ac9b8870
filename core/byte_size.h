#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace vesta::core {

// A size in bytes as flags take it: "123", "64K", "512M", "8G", "1T" (binary
// units; "KiB", "MiB", ... also accepted). nullopt for anything else,
// including a value over 2^62 bytes.
std::optional<size_t> parse_byte_size(std::string_view text);

}  // namespace vesta::core
