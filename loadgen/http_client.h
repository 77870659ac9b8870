#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vesta::loadgen {

// Where a server listens: "http://HOST:PORT" (HOST an IP address or a name;
// PORT 80 when absent). https is not supported.
struct HttpEndpoint {
  std::string host;
  uint16_t port = 80;

  static core::Result<HttpEndpoint> parse_url(std::string_view url);
  std::string to_string() const;
};

struct HttpReply {
  int status = 0;
  std::string body;
};

// One keep-alive HTTP/1.1 connection (Boost.Beast over Asio, blocking calls).
// Connects on the first request and again after a failure; a request that
// fails is not retried. Sends `api-key` when one is given. Socket reads and
// writes time out after 30 s. Not thread-safe: one client per thread.
class HttpClient {
 public:
  explicit HttpClient(HttpEndpoint endpoint, std::string api_key = "");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Unavailable when the connection or the exchange fails (the message says
  // which); any HTTP status is a reply.
  core::Result<HttpReply> request(std::string_view method, const std::string& target,
                                  const std::string& body = "",
                                  std::string_view content_type = "application/json");

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vesta::loadgen
