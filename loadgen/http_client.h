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
// fails is not retried. Sends `api-key` when one is given. Each socket read
// and write times out after `timeout_s` (a signal caught meanwhile also
// ends it). Not thread-safe: one client per thread.
class HttpClient {
 public:
  static constexpr int kDefaultTimeoutSeconds = 30;

  explicit HttpClient(HttpEndpoint endpoint, std::string api_key = "",
                      int timeout_s = kDefaultTimeoutSeconds);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Unavailable when the connection or the exchange fails (the message says
  // which); any HTTP status is a reply.
  core::Result<HttpReply> request(std::string_view method, const std::string& target,
                                  const std::string& body = "",
                                  std::string_view content_type = "application/json");
  // The same, taking the body over instead of copying it (bulk import bodies
  // of a gigabyte).
  core::Result<HttpReply> request(std::string_view method, const std::string& target,
                                  std::string&& body,
                                  std::string_view content_type = "application/json");

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// `text` as one URL path segment: every byte but RFC 3986's unreserved ones
// percent-encoded (the server's router decodes it), so a collection named
// "a/b c" stays one segment.
std::string url_path_segment(std::string_view text);

// "HTTP 400: <the server's error>" for an answer that is not a success: the
// message of Qdrant's {"status": {"error": ...}} envelope, else the start of
// the body.
std::string describe_http_failure(const HttpReply& reply);

}  // namespace vesta::loadgen
