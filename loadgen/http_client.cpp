#include "loadgen/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <charconv>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace vesta::loadgen {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using Tcp = net::ip::tcp;

namespace {

// Bytes of a server's answer quoted in an error when it is not Qdrant's
// {"status": {"error": ...}}.
constexpr size_t kQuotedBodyBytes = 300;

}  // namespace

core::Result<HttpEndpoint> HttpEndpoint::parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return core::invalid_argument("url must start with http:// (https is not supported), got '" +
                                  std::string(url) + "'");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return core::invalid_argument("url must be http://HOST[:PORT] without a path, got '" +
                                    std::string(url) + "'");
    }
    rest = rest.substr(0, slash);
  }
  HttpEndpoint endpoint;
  const size_t colon = rest.rfind(':');
  endpoint.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return core::invalid_argument("url port must be 1 to 65535, got '" + std::string(port) + "'");
    }
    endpoint.port = static_cast<uint16_t>(value);
  }
  if (endpoint.host.empty()) {
    return core::invalid_argument("url has no host: '" + std::string(url) + "'");
  }
  return endpoint;
}

std::string HttpEndpoint::to_string() const {
  return "http://" + host + ":" + std::to_string(port);
}

class HttpClient::Impl {
 public:
  Impl(HttpEndpoint endpoint, std::string api_key, int timeout_s)
      : endpoint_(std::move(endpoint)), api_key_(std::move(api_key)), timeout_s_(timeout_s) {}

  core::Result<HttpReply> request(std::string_view method, const std::string& target,
                                  std::string body, std::string_view content_type) {
    if (!socket_) VESTA_RETURN_IF_ERROR(connect());
    http::request<http::string_body> req(
        http::string_to_verb(beast::string_view(method.data(), method.size())), target, 11);
    req.set(http::field::host, endpoint_.host);
    req.set(http::field::user_agent, "vesta-bench");
    if (!body.empty())
      req.set(http::field::content_type,
              beast::string_view(content_type.data(), content_type.size()));
    if (!api_key_.empty()) req.set("api-key", api_key_);
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    beast::error_code ec;
    http::write(*socket_, req, ec);
    if (ec) return fail("sending " + target, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(size_t{1} << 32);
    http::read(*socket_, buffer_, parser, ec);
    if (ec) return fail("reading the answer to " + target, ec);
    http::response<http::string_body> res = parser.release();
    HttpReply reply{static_cast<int>(res.result_int()), std::move(res.body())};
    if (!res.keep_alive()) close();
    return reply;
  }

 private:
  core::Status connect() {
    beast::error_code ec;
    Tcp::resolver resolver(ioc_);
    const auto endpoints = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
    if (ec) return unavailable("cannot resolve " + endpoint_.host, ec);
    socket_.emplace(ioc_);
    net::connect(*socket_, endpoints, ec);
    if (ec) {
      socket_.reset();
      return unavailable("cannot connect to " + endpoint_.to_string(), ec);
    }
    socket_->set_option(Tcp::no_delay(true), ec);
    timeval timeout{timeout_s_, 0};
    ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    buffer_.clear();
    return core::Status::ok();
  }

  void close() {
    beast::error_code ignored;
    if (socket_) socket_->close(ignored);
    socket_.reset();
    buffer_.clear();
  }

  core::Status fail(const std::string& what, const beast::error_code& ec) {
    close();
    return unavailable(what, ec);
  }

  static core::Status unavailable(const std::string& what, const beast::error_code& ec) {
    return {core::StatusCode::kUnavailable, what + ": " + ec.message()};
  }

  HttpEndpoint endpoint_;
  std::string api_key_;
  int timeout_s_;
  net::io_context ioc_;
  std::optional<Tcp::socket> socket_;
  beast::flat_buffer buffer_;
};

HttpClient::HttpClient(HttpEndpoint endpoint, std::string api_key, int timeout_s)
    : impl_(std::make_unique<Impl>(std::move(endpoint), std::move(api_key), timeout_s)) {}

HttpClient::~HttpClient() = default;

core::Result<HttpReply> HttpClient::request(std::string_view method, const std::string& target,
                                            const std::string& body,
                                            std::string_view content_type) {
  return impl_->request(method, target, body, content_type);
}

core::Result<HttpReply> HttpClient::request(std::string_view method, const std::string& target,
                                            std::string&& body, std::string_view content_type) {
  return impl_->request(method, target, std::move(body), content_type);
}

std::string url_path_segment(std::string_view text) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

std::string describe_http_failure(const HttpReply& reply) {
  std::string message = "HTTP " + std::to_string(reply.status) + ": ";
  const nlohmann::json body = nlohmann::json::parse(reply.body, nullptr, false);
  const nlohmann::json::json_pointer error("/status/error");
  if (body.is_object() && body.contains(error) && body.at(error).is_string()) {
    message += body.at(error).get<std::string>();
  } else {
    message += reply.body.substr(0, kQuotedBodyBytes);
  }
  return message;
}

}  // namespace vesta::loadgen
