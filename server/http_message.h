#pragma once

#include <map>
#include <string>

namespace vesta::server {

// A request as the handlers see it: no Beast types, so routing and handlers
// are testable without sockets. Header names are lower-case.
struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // target before '?', not percent-decoded
  std::string query;   // target after '?', may be empty
  std::map<std::string, std::string> headers;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

}  // namespace vesta::server
