#include "persistence/bolt/bolt_uri.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string_view>

namespace vesta::bolt {

std::string BoltUri::address() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return scheme + "://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

core::Result<BoltUri> BoltUri::parse(const std::string& uri) {
  struct Scheme {
    std::string_view name;
    TlsMode tls;
    bool routing;
  };
  static constexpr std::array<Scheme, 6> kSchemes = {{
      {"bolt", TlsMode::kOff, false},
      {"bolt+s", TlsMode::kVerify, false},
      {"bolt+ssc", TlsMode::kNoVerify, false},
      {"neo4j", TlsMode::kOff, true},
      {"neo4j+s", TlsMode::kVerify, true},
      {"neo4j+ssc", TlsMode::kNoVerify, true},
  }};
  const size_t separator = uri.find("://");
  if (separator == std::string::npos) {
    return core::invalid_argument("Bolt URI has no scheme (bolt://host:port)");
  }
  BoltUri parsed;
  parsed.scheme = uri.substr(0, separator);
  std::transform(parsed.scheme.begin(), parsed.scheme.end(), parsed.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto* scheme = std::find_if(kSchemes.begin(), kSchemes.end(),
                                    [&](const Scheme& s) { return s.name == parsed.scheme; });
  if (scheme == kSchemes.end()) {
    return core::invalid_argument("Bolt URI scheme '" + parsed.scheme +
                                  "' is not one of bolt, bolt+s, bolt+ssc, neo4j, neo4j+s, "
                                  "neo4j+ssc");
  }
  parsed.tls = scheme->tls;
  parsed.routing_requested = scheme->routing;

  std::string_view rest = std::string_view(uri).substr(separator + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string_view::npos) {
    return core::invalid_argument(
        "Bolt URI has user information before '@'; give credentials separately, not in the URI");
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return core::invalid_argument("Bolt URI '" + uri + "' has an unclosed '[' in its host");
    }
    parsed.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return core::invalid_argument("Bolt URI '" + uri + "' has text after its IPv6 host");
      }
      port_text = after.substr(1);
      if (port_text.empty())
        return core::invalid_argument("Bolt URI '" + uri + "' has an empty port");
    }
  } else {
    const size_t colon = rest.rfind(':');
    parsed.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty())
        return core::invalid_argument("Bolt URI '" + uri + "' has an empty port");
    }
  }
  if (parsed.host.empty()) return core::invalid_argument("Bolt URI '" + uri + "' has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return core::invalid_argument("Bolt URI '" + uri + "' has a bad port '" +
                                    std::string(port_text) + "'");
    }
    parsed.port = static_cast<std::uint16_t>(port);
  }
  return parsed;
}

}  // namespace vesta::bolt
