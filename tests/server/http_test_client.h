#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace vesta::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  std::string content_type;
  bool keep_alive = false;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// A blocking HTTP/1.1 client over one keep-alive connection to 127.0.0.1,
// for tests that drive the real server over loopback.
class HttpTestClient {
 public:
  explicit HttpTestClient(uint16_t port) : stream_(ioc_) {
    stream_.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  }

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {}) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    boost::beast::error_code write_error;
    http::write(stream_, req, write_error);  // the server may answer early (413) and stop reading
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1u << 30);
    http::read(stream_, buffer, parser);
    const auto& res = parser.get();
    return {static_cast<int>(res.result_int()), res.body(),
            std::string(res[http::field::content_type]), res.keep_alive()};
  }

  HttpResult request_json(const std::string& method, const std::string& target,
                          const nlohmann::json& body) {
    return request(method, target, body.dump());
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
};

}  // namespace vesta::testing
