#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_message.h"

namespace vesta::server {

// Path parameters by name, percent-decoded: "/collections/{name}" matched
// against "/collections/docs" gives {"name": "docs"}.
using RouteParams = std::map<std::string, std::string>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const RouteParams&)>;

// Maps (method, path pattern) to handlers. Patterns are literal segments and
// {name} segments; a literal segment wins over a parameter at the same place,
// so "/collections/aliases" is not read as a collection name. An unknown path
// is 404, a known path with another method 405. Built once, then read-only:
// dispatch() is thread-safe.
class Router {
 public:
  void add(std::string method, std::string_view pattern, RouteHandler handler);
  HttpResponse dispatch(const HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    RouteHandler handler;
  };
  // Literal matches per segment, counted to prefer the most literal route.
  static bool match(const Route& route, const std::vector<std::string>& path, RouteParams* params,
                    int* literal_count);
  std::vector<Route> routes_;
};

std::vector<std::string> split_path(std::string_view path);
std::string percent_decode(std::string_view text);

// The standard error envelope: {"status": {"error": message}, "time": 0}.
HttpResponse error_response(int status, const std::string& message);

}  // namespace vesta::server
