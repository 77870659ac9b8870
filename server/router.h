#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_message.h"

namespace vesta::server {

// Path parameters by name, percent-decoded: "/collections/{name}" matched
// against "/collections/docs" gives {"name": "docs"}.
using RouteParams = std::map<std::string, std::string>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const RouteParams&)>;

// Who may call a route when API keys are configured (see ApiKeyAuth).
enum class RouteAccess {
  kPublic,  // anyone: the health probes and the root
  kRead,    // either key: the route changes nothing
  kWrite,   // the read-write key only
};

// Decides whether a request may reach a route of the given access: nullopt
// lets it through, a response (401, 403) answers it instead.
using AccessCheck = std::function<std::optional<HttpResponse>(const HttpRequest&, RouteAccess)>;

// Maps (method, path pattern) to handlers. Patterns are literal segments and
// {name} segments; a literal segment wins over a parameter at the same place,
// so "/collections/aliases" is not read as a collection name. An unknown path
// is 404, a known path with another method 405. Built once, then read-only:
// dispatch() is thread-safe.
class Router {
 public:
  void add(std::string method, std::string_view pattern, RouteHandler handler, RouteAccess access);
  // GET routes read, routes of any other method write.
  void add(std::string method, std::string_view pattern, RouteHandler handler);
  // `check`, when given, runs before the matched route's handler; an unknown
  // path or method is checked as a read, so that callers without a key learn
  // nothing of the routes.
  // `route`, when given, receives the matched pattern ("/collections/{name}")
  // or "unmatched", for metrics and logs (never the raw path: bounded labels).
  HttpResponse dispatch(const HttpRequest& request, const AccessCheck& check = nullptr,
                        std::string* route = nullptr) const;
  // The access `request` needs, as dispatch() checks it (kRead for an unknown
  // route), without calling its handler; `route` as for dispatch().
  RouteAccess access_of(const HttpRequest& request, std::string* route = nullptr) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    std::string pattern;
    RouteHandler handler;
    RouteAccess access;
  };
  // Literal matches per segment, counted to prefer the most literal route.
  static bool match(const Route& route, const std::vector<std::string>& path, RouteParams* params,
                    int* literal_count);
  // The route `request` calls, with its parameters; null when none (then
  // `path_known` tells whether another method has the path).
  const Route* find(const HttpRequest& request, RouteParams* params, bool* path_known) const;
  std::vector<Route> routes_;
};

std::vector<std::string> split_path(std::string_view path);
std::string percent_decode(std::string_view text);

// The value of parameter `name` in a URL query ("a=1&b=x%2Cy"),
// percent-decoded; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// The standard error envelope: {"status": {"error": message}, "time": 0}.
HttpResponse error_response(int status, const std::string& message);

}  // namespace vesta::server
