#include "persistence/bolt/handshake.h"

#include <algorithm>
#include <cstdio>

namespace vesta::bolt {

std::vector<VersionProposal> default_version_proposals() { return {{5, 4, 4}, {4, 4, 0}}; }

bool is_supported_version(BoltVersion version) {
  return (version.major == 5 && version.minor <= 4) || version == BoltVersion{4, 4};
}

core::Result<std::array<std::uint8_t, 20>> handshake_request(
    std::span<const VersionProposal> proposals) {
  if (proposals.empty() || proposals.size() > 4) {
    return core::invalid_argument("Bolt: 1 to 4 version proposals, not " +
                                  std::to_string(proposals.size()));
  }
  std::array<std::uint8_t, 20> request{};
  std::copy(kBoltMagic.begin(), kBoltMagic.end(), request.begin());
  for (size_t i = 0; i < proposals.size(); ++i) {
    const VersionProposal& p = proposals[i];
    if (p.range > p.minor) {
      return core::invalid_argument("Bolt: the range of proposal " + std::to_string(p.major) + "." +
                                    std::to_string(p.minor) + " crosses a major version");
    }
    for (int minor = p.minor - p.range; minor <= p.minor; ++minor) {
      const BoltVersion version{p.major, static_cast<std::uint8_t>(minor)};
      if (!is_supported_version(version)) {
        return core::invalid_argument("Bolt: this client does not speak version " +
                                      version.to_string());
      }
    }
    std::uint8_t* slot = request.data() + 4 + 4 * i;
    slot[0] = 0;
    slot[1] = p.range;
    slot[2] = p.minor;
    slot[3] = p.major;
  }
  return request;
}

core::Result<BoltVersion> parse_handshake_response(std::span<const std::uint8_t, 4> response,
                                                   std::span<const VersionProposal> proposals) {
  if (response[0] == 'H' && response[1] == 'T' && response[2] == 'T' && response[3] == 'P') {
    return core::internal_error("Bolt: the server answered in HTTP; is this an HTTP port?");
  }
  if (std::all_of(response.begin(), response.end(), [](std::uint8_t b) { return b == 0; })) {
    return core::Status(core::StatusCode::kUnavailable,
                        "Bolt: the server supports none of the versions proposed");
  }
  const BoltVersion version{response[3], response[2]};
  const bool proposed =
      std::any_of(proposals.begin(), proposals.end(),
                  [version](const VersionProposal& p) { return p.covers(version); });
  if (response[0] != 0 || response[1] != 0 || !proposed) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02X %02X %02X %02X", response[0], response[1], response[2],
                  response[3]);
    return core::internal_error(std::string("Bolt: the server answered the handshake with ") + hex +
                                ", a version that was not proposed");
  }
  return version;
}

}  // namespace vesta::bolt
