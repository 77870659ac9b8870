// HTTPS: the server with the test certificate (tests/server/tls/), a TLS
// client that verifies it against that certificate as its only trust anchor.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <string>

#include "http_test_client.h"
#include "server/http_server.h"

namespace vesta::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;

const std::string kCert = std::string(VESTA_TESTS_DIR) + "/server/tls/test-cert.pem";
const std::string kKey = std::string(VESTA_TESTS_DIR) + "/server/tls/test-key.pem";

// One GET over TLS; throws on any failure (handshake, verification, I/O).
http::response<http::string_body> tls_get(uint16_t port, const std::string& target,
                                          bool trust_test_cert) {
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  if (trust_test_cert) ctx.load_verify_file(kCert);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(ssl::host_name_verification("localhost"));
  beast::get_lowest_layer(stream).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.handshake(ssl::stream_base::client);
  http::request<http::string_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "localhost");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res;
}

HttpServerOptions tls_options() {
  HttpServerOptions options;
  options.port = 0;
  options.tls_certificate_file = kCert;
  options.tls_key_file = kKey;
  return options;
}

HttpResponse echo(const HttpRequest& request) { return {200, "text/plain", "ok " + request.path}; }

TEST(Tls, ServesHttpsWithAVerifiedCertificate) {
  HttpServer server(tls_options(), echo);
  ASSERT_TRUE(server.start().is_ok());
  const auto res = tls_get(server.port(), "/healthz", true);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "ok /healthz");
  server.stop();
}

TEST(Tls, AClientThatDoesNotTrustTheCertificateFailsTheHandshake) {
  HttpServer server(tls_options(), echo);
  ASSERT_TRUE(server.start().is_ok());
  EXPECT_THROW(tls_get(server.port(), "/", false), boost::system::system_error);
  // The server goes on serving others.
  EXPECT_EQ(tls_get(server.port(), "/", true).result_int(), 200);
  server.stop();
}

TEST(Tls, PlainHttpToTheTlsPortGetsNoAnswer) {
  HttpServer server(tls_options(), echo);
  ASSERT_TRUE(server.start().is_ok());
  testing::HttpTestClient client(server.port());
  // The handshake fails and the server closes the connection: nothing to read.
  EXPECT_ANY_THROW(client.request("GET", "/healthz", ""));
  server.stop();
}

TEST(Tls, MissingOrUnreadableFilesAreReportedAtStart) {
  HttpServerOptions only_cert = tls_options();
  only_cert.tls_key_file.clear();
  HttpServer a(only_cert, echo);
  core::Status status = a.start();
  EXPECT_EQ(status.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("both"), std::string::npos) << status.message();

  HttpServerOptions missing = tls_options();
  missing.tls_key_file = "/nonexistent/key.pem";
  HttpServer b(missing, echo);
  status = b.start();
  EXPECT_EQ(status.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("/nonexistent/key.pem"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace vesta::server
