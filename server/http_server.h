#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "server/http_message.h"

namespace vesta::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6333;  // 0: pick a free port (see HttpServer::port())
  size_t io_threads = 2;
  // Threads that run the handlers, apart from the I/O threads; a search that
  // waits for its dynamic batch holds one, so this bounds how many requests
  // one batch can gather.
  size_t handler_threads = 64;
  size_t body_limit_bytes = 64u << 20;
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};  // headers + body
  // Bulk imports (POST paths ending in /import) may carry up to this many
  // bytes, read within import_read_timeout when read into memory (see
  // upload_directory).
  size_t import_body_limit_bytes = size_t{1} << 30;
  std::chrono::milliseconds import_read_timeout{std::chrono::minutes(10)};
  // Snapshot uploads (POST paths ending in /snapshots/upload) and bulk
  // imports (/import) are written to a file in this directory as they
  // arrive, not held in memory: up to upload_body_limit_bytes (an import
  // import_body_limit_bytes), each piece within read_timeout of the last (no
  // limit on the whole), and reach the handler as HttpRequest::body_file,
  // removed once the request is answered (a handler may move it elsewhere
  // first). start() creates the directory and removes files that an earlier
  // process left there. Empty: they are read into memory (an upload as any
  // other request, within body_limit_bytes; an import within
  // import_body_limit_bytes and import_read_timeout).
  std::string upload_directory;
  uint64_t upload_body_limit_bytes = uint64_t{1} << 40;
  // When set, called with the method, path, query and headers (no body) of
  // a request whose body goes to a file, before the body is read: a response
  // answers it at once (401, 403) and the body is never written anywhere.
  std::function<std::optional<HttpResponse>(const HttpRequest&)> admit_to_file;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};  // keep-alive gap
  // TLS (HTTPS) when both are set: a PEM certificate chain and its PEM
  // private key. TLS 1.2 and newer.
  std::string tls_certificate_file;
  std::string tls_key_file;
};

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

// HTTP/1.1 server on Boost.Beast, optionally over TLS: keep-alive, a fixed pool of I/O threads
// and a separate pool that runs the handlers, a request body limit (413), read and idle
// timeouts, and a graceful stop (stop accepting, finish requests in flight,
// close idle connections, join the threads). Thread-safe; `handler` is called
// concurrently from the I/O threads.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler);
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Unavailable when the address
  // cannot be bound.
  core::Status start();
  // The bound port (after start()).
  uint16_t port() const;
  // Graceful stop; idempotent; blocks until every I/O thread has ended.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vesta::server
