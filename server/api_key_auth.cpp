#include "server/api_key_auth.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace vesta::server {
namespace {

// The key a request presents: the api-key header, else the token of an
// "Authorization: Bearer <token>" header; empty when neither is there.
std::string presented_key(const HttpRequest& request) {
  if (auto it = request.headers.find("api-key"); it != request.headers.end()) return it->second;
  auto it = request.headers.find("authorization");
  if (it == request.headers.end()) return "";
  std::string_view value = it->second;
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), value.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return "";
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return std::string(value);
}

}  // namespace

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Every byte of the longer string is visited whatever the contents, and
  // the differences are OR-ed, not tested one by one.
  const size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::optional<HttpResponse> ApiKeyAuth::check(const HttpRequest& request,
                                              RouteAccess access) const {
  if (!enabled() || access == RouteAccess::kPublic) return std::nullopt;
  const std::string key = presented_key(request);
  if (key.empty()) {
    return error_response(401,
                          "missing API key: send it in the api-key header or as "
                          "Authorization: Bearer <key>");
  }
  // Both comparisons always run, so the time says nothing about which key
  // (if any) matched.
  const bool read_write = !keys_.read_write.empty() && constant_time_equal(key, keys_.read_write);
  const bool read_only = !keys_.read_only.empty() && constant_time_equal(key, keys_.read_only);
  if (!read_write && !read_only) return error_response(401, "invalid API key");
  if (access == RouteAccess::kWrite && !read_write) {
    return error_response(403, "the read-only API key may not call " + request.method + " " +
                                   request.path + ": it changes data");
  }
  return std::nullopt;
}

}  // namespace vesta::server
