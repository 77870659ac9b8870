#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

// The Bolt handshake (the Bolt documentation's "Handshake" page): the client
// sends the magic 60 60 B0 17 and four version proposals of four bytes each
// (reserved, range, minor, major; zero fills unused slots; a range of n
// offers major.minor down to major.(minor - n), Bolt 4.3+); the server
// answers with the version it chose (00 00 minor major), or zero and closes.
namespace vesta::bolt {

inline constexpr std::array<std::uint8_t, 4> kBoltMagic = {0x60, 0x60, 0xB0, 0x17};

struct BoltVersion {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;

  bool at_least(std::uint8_t want_major, std::uint8_t want_minor) const {
    return *this >= BoltVersion{want_major, want_minor};
  }
  std::string to_string() const { return std::to_string(major) + "." + std::to_string(minor); }
  friend auto operator<=>(const BoltVersion&, const BoltVersion&) = default;
};

// One proposal: major.minor and the `range` minor versions below it.
struct VersionProposal {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  std::uint8_t range = 0;

  bool covers(BoltVersion version) const {
    return version.major == major && version.minor <= minor && minor - version.minor <= range;
  }
};

// What this client speaks: Bolt 5.4 down to 5.0 (one range), then 4.4 for
// older servers. Servers answer the first proposal they support.
std::vector<VersionProposal> default_version_proposals();
// Whether the message shapes of `version` are implemented here.
bool is_supported_version(BoltVersion version);

// The 20 bytes a client sends: the magic and up to four proposals (zero
// filled). InvalidArgument for more than four, for a range that crosses a
// major version or for a version this client does not speak.
core::Result<std::array<std::uint8_t, 20>> handshake_request(
    std::span<const VersionProposal> proposals);

// The version in the server's four-byte answer. kUnavailable when the server
// supports none of the proposals (zero); kInternal when it is not a Bolt
// server ("HTTP" answers: an HTTP port) or picked a version never proposed.
core::Result<BoltVersion> parse_handshake_response(std::span<const std::uint8_t, 4> response,
                                                   std::span<const VersionProposal> proposals);

}  // namespace vesta::bolt
