#pragma once

#include <optional>
#include <string>

#include "server/http_message.h"
#include "server/router.h"

namespace vesta::server {

// The API keys a server accepts; an empty string is no key.
struct ApiKeys {
  std::string read_write;  // may call every route
  std::string read_only;   // may call the routes that change nothing
};

// API-key authentication as Qdrant has it. With no key configured every
// request passes. Otherwise every route but the public ones needs a key,
// sent in the `api-key` header (what Qdrant clients send) or as
// `Authorization: Bearer <key>`: a missing or unknown key is 401, the
// read-only key on a route that writes is 403. With only a read-only key
// configured the server is read-only for everyone.
//
// Keys are compared in time that does not depend on where they differ, and
// never appear in a response or a log line. Immutable; thread-safe.
class ApiKeyAuth {
 public:
  explicit ApiKeyAuth(ApiKeys keys) : keys_(std::move(keys)) {}

  bool enabled() const { return !keys_.read_write.empty() || !keys_.read_only.empty(); }

  // nullopt when `request` may call a route of `access`, else the 401 or 403
  // response. Usable as a Router AccessCheck.
  std::optional<HttpResponse> check(const HttpRequest& request, RouteAccess access) const;

 private:
  ApiKeys keys_;
};

// Whether `a` and `b` are equal, in time that depends on their lengths only.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace vesta::server
