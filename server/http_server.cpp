#include "server/http_server.h"

#include "server/router.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

namespace vesta::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using Tcp = net::ip::tcp;

namespace {

// How long a connection closed after an error keeps reading and dropping what
// the client still sends.
constexpr std::chrono::seconds kLingerTime{2};

// Upload files are named upload-<pid>-<n>.part.
constexpr std::string_view kUploadPrefix = "upload-";
constexpr std::string_view kUploadSuffix = ".part";

}  // namespace

class HttpServer::Impl {
 public:
  // What stop() needs of a connection, whatever its stream.
  class SessionBase {
   public:
    virtual ~SessionBase() = default;
    virtual void close_when_idle() = 0;
  };
  template <typename Stream>
  class Session;

  Impl(HttpServerOptions options, RequestHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        acceptor_(ioc_),
        acceptor_strand_(net::make_strand(ioc_)) {}

  core::Status start();
  void stop();
  uint16_t port() const { return bound_port_; }

  const HttpServerOptions& options() const { return options_; }
  net::thread_pool::executor_type handler_pool() { return handlers_->get_executor(); }
  HttpResponse handle(const HttpRequest& request) const;
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // A new file name in upload_directory for an upload's body; the file is
  // removed when the last reference goes.
  std::shared_ptr<BodyFile> new_body_file();

 private:
  void accept();
  // Creates upload_directory and removes what an earlier process left there.
  core::Status prepare_upload_directory() const;

  HttpServerOptions options_;
  RequestHandler handler_;
  net::io_context ioc_;
  Tcp::acceptor acceptor_;
  // The acceptor is not thread-safe: its completions (which re-arm it) and
  // stop()'s close run on this strand, never at once on two I/O threads.
  net::strand<net::io_context::executor_type> acceptor_strand_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  // Runs the handlers (HttpServerOptions::handler_threads), apart from the
  // I/O threads.
  std::optional<net::thread_pool> handlers_;
  uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> uploads_{0};  // names the upload files
  std::optional<ssl::context> tls_;   // set when TLS is configured
  std::mutex sessions_mutex_;
  std::list<std::weak_ptr<SessionBase>> sessions_;  // guarded by sessions_mutex_
};

// One connection: read a request, run the handler, write the response, and
// again while the client keeps the connection alive. All its work runs on its
// strand, so its members need no lock. `Stream` is a beast::tcp_stream, or a
// beast::ssl_stream over one (TLS: a handshake first, under the read timeout).
template <typename Stream>
class HttpServer::Impl::Session : public SessionBase,
                                  public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(Tcp::socket socket, Impl& server) requires(!kTls)
      : stream_(std::move(socket)), server_(server) {}
  Session(Tcp::socket socket, Impl& server, ssl::context& tls) requires(kTls)
      : stream_(std::move(socket), tls), server_(server) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->busy_ = true;
        beast::get_lowest_layer(self->stream_).expires_after(self->server_.options().read_timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();  // not TLS, bad cert, ...
          self->read_header();
        });
      } else {
        self->read_header();
      }
    });
  }

  // From stop(): close now if waiting for a request, else after the response.
  void close_when_idle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_) self->close();
    });
  }

 private:
  // What the request being read carries, which decides its limit and where
  // its body goes: in memory, or with an upload directory an import's or an
  // upload's to a file there.
  enum class BodyKind {
    kPlain,   // any request: body_limit_bytes
    kImport,  // a bulk import: import_body_limit_bytes
    kUpload,  // a snapshot upload: upload_body_limit_bytes (body_limit_bytes in memory)
  };

  void read_header() {
    busy_ = false;
    if (closing_) return close();
    parser_.emplace();
    file_parser_.reset();
    body_file_.reset();
    body_kind_ = BodyKind::kPlain;
    // No limit while the header is read: on_header checks a Content-Length
    // against the request's own limit, which depends on its target.
    // (Not boost::none: Beast 1.74 compares a Content-Length with the
    // optional itself, and any length exceeds an empty one.)
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    const HttpServerOptions& options = server_.options();
    beast::get_lowest_layer(stream_).expires_after(options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  uint64_t body_limit() const {
    switch (body_kind_) {
      case BodyKind::kImport: return server_.options().import_body_limit_bytes;
      case BodyKind::kUpload:
        // Without an upload directory, an upload is read as any request.
        if (!server_.options().upload_directory.empty()) {
          return server_.options().upload_body_limit_bytes;
        }
        break;
      case BodyKind::kPlain: break;
    }
    return server_.options().body_limit_bytes;
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    busy_ = true;
    // Bulk imports and snapshot uploads have limits of their own, and with an
    // upload directory their bodies go to a file.
    const auto& header = parser_->get();
    const std::string_view target(header.target().data(), header.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const bool post = header.method() == http::verb::post;
    if (post && path.ends_with("/import")) {
      body_kind_ = BodyKind::kImport;
    } else if (post && path.ends_with("/snapshots/upload")) {
      body_kind_ = BodyKind::kUpload;
    }
    if (const auto length = parser_->content_length(); length && *length > body_limit()) {
      return on_read_error(http::error::body_limit);
    }
    if (body_kind_ != BodyKind::kPlain && !server_.options().upload_directory.empty()) {
      return start_file_body();
    }
    parser_->body_limit(body_limit());
    beast::get_lowest_layer(stream_).expires_after(body_kind_ == BodyKind::kImport
                                                       ? server_.options().import_read_timeout
                                                       : server_.options().read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec2, size_t) { self->on_body(ec2); });
  }

  // An upload's or an import's body is written to a new file in
  // upload_directory as it arrives, a piece at a time, each within
  // read_timeout.
  void start_file_body() {
    const HttpServerOptions& options = server_.options();
    if (options.admit_to_file) {
      std::optional<HttpResponse> refused = options.admit_to_file(request_head(parser_->get()));
      if (refused) return reply_and_close(std::move(*refused));
    }
    body_file_ = server_.new_body_file();
    file_parser_.emplace(std::move(*parser_));
    parser_.reset();
    file_parser_->body_limit(body_limit());
    beast::error_code ec;
    file_parser_->get().body().open(body_file_->path.c_str(), beast::file_mode::write_new, ec);
    if (ec) {
      file_parser_.reset();
      body_file_.reset();
      return reply_and_close(cannot_write(ec));
    }
    read_file_body();
  }

  void read_file_body() {
    if (file_parser_->is_done()) return on_file_body();  // an empty body
    beast::get_lowest_layer(stream_).expires_after(server_.options().read_timeout);
    http::async_read_some(stream_, buffer_, *file_parser_,
                          [self = this->shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->on_read_error(ec);
                            self->read_file_body();
                          });
  }

  void on_file_body() {
    http::request<http::file_body> req = file_parser_->release();
    file_parser_.reset();
    req.body().close();
    std::error_code size_error;
    const uintmax_t size = std::filesystem::file_size(body_file_->path, size_error);
    body_file_->bytes = size_error ? 0 : size;
    HttpRequest request = request_head(req);
    request.body_file = std::move(body_file_);
    handle(std::move(request), req.keep_alive(), req.version());
  }

  // The answer to a body that cannot be written to its file.
  HttpResponse cannot_write(const beast::error_code& ec) const {
    return error_response(507, "the upload cannot be written to " +
                                   server_.options().upload_directory + ": " + ec.message());
  }

  // Whether a failed read of a body going to a file failed to write the file.
  static bool storage_error(const beast::error_code& ec) {
    return ec == std::errc::no_space_on_device || ec == std::errc::file_too_large ||
           ec == std::errc::io_error || ec == std::errc::read_only_file_system ||
           (ec.category() == boost::system::system_category() && ec.value() == EDQUOT);
  }

  void on_read_error(beast::error_code ec) {
    const bool to_file = file_parser_.has_value();
    file_parser_.reset();  // closes the body's file, then removes it
    body_file_.reset();
    if (ec == http::error::body_limit) {
      std::string what = "request body";
      std::string hint;
      if (body_kind_ == BodyKind::kImport) {
        what = "import body";
        hint = " (--max-import-bytes); split the import into several jobs";
      } else if (body_kind_ == BodyKind::kUpload && !server_.options().upload_directory.empty()) {
        what = "snapshot upload";
        hint = " (--max-upload-bytes)";
      }
      return reply_and_close(
          413, what + " exceeds the limit of " + std::to_string(body_limit()) + " bytes" + hint);
    }
    if (to_file && storage_error(ec)) return reply_and_close(cannot_write(ec));
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return close();
    }
    return reply_and_close(400, "malformed HTTP request: " + ec.message());
  }

  // The request line and headers of `header` as the handlers see them.
  template <typename Fields>
  static HttpRequest request_head(const http::header<true, Fields>& header) {
    HttpRequest request;
    request.method = std::string(header.method_string());
    const std::string_view target(header.target().data(), header.target().size());
    const size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    for (const auto& field : header) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = std::string(field.value());
    }
    return request;
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    http::request<http::string_body> req = parser_->release();
    HttpRequest request = request_head(req);
    request.body = std::move(req.body());
    handle(std::move(request), req.keep_alive(), req.version());
  }

  void handle(HttpRequest request, bool client_keep_alive, unsigned version) {
    cancel_ = std::make_shared<core::CancellationToken>();
    request.cancel = cancel_;
    const bool keep_alive = client_keep_alive && !closing_ && !server_.stopping();
    // The handler runs on the handler pool, so that a slow one (a search
    // waiting for its batch) never holds an I/O thread; the work guard keeps
    // the I/O threads running until its response is written.
    net::post(server_.handler_pool(),
              [self = this->shared_from_this(), request = std::move(request), version, keep_alive,
               guard = net::make_work_guard(stream_.get_executor())]() mutable {
                HttpResponse response = self->server_.handle(request);
                request = HttpRequest();  // a body file is removed before the response is sent
                net::post(self->stream_.get_executor(),
                          [self, response = std::move(response), version, keep_alive,
                           guard = std::move(guard)]() mutable {
                            self->stop_watching();
                            self->write(std::move(response), version, keep_alive);
                          });
              });
    watch_for_disconnect();
  }

  // While the handler runs, the socket is watched for the client going away:
  // end of stream (it closed the connection) or an error cancels the
  // request's token, so that its waits for locks and batches give up. Bytes
  // from the client (a pipelined request, a TLS alert) end the watch without
  // a verdict. A client that only shuts down its sending side reads as gone.
  void watch_for_disconnect() {
    watching_ = true;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.async_wait(Tcp::socket::wait_read, [self = this->shared_from_this(),
                                               token = cancel_](beast::error_code ec) {
      if (!self->watching_ || token != self->cancel_) return;  // answered meanwhile
      if (ec) {
        if (ec != net::error::operation_aborted) token->cancel();
        self->watching_ = false;
        return;
      }
      char byte = 0;
      const ssize_t got = ::recv(beast::get_lowest_layer(self->stream_).socket().native_handle(),
                                 &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return self->watch_for_disconnect();  // woken without data: watch on
      }
      if (got <= 0) token->cancel();
      self->watching_ = false;
    });
  }

  void stop_watching() {
    if (!watching_) return;
    watching_ = false;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().cancel(ignored);
  }

  static std::shared_ptr<http::response<http::string_body>> make_response(HttpResponse response,
                                                                          unsigned version,
                                                                          bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    res->set(http::field::server, "vesta");
    res->set(http::field::content_type, response.content_type);
    res->keep_alive(keep_alive);
    res->body() = std::move(response.body);
    res->prepare_payload();
    return res;
  }

  void write(HttpResponse response, unsigned version, bool keep_alive) {
    if (!response.file.empty()) return write_file(std::move(response), version, keep_alive);
    send(make_response(std::move(response), version, keep_alive), keep_alive);
  }

  // A response whose body is a file, read from it as it is sent.
  void write_file(HttpResponse response, unsigned version, bool keep_alive) {
    http::file_body::value_type body;
    beast::error_code ec;
    body.open(response.file.c_str(), beast::file_mode::scan, ec);
    if (ec) {
      return send(
          make_response(error_response(404, "'" + response.file + "' is gone: " + ec.message()),
                        version, keep_alive),
          keep_alive);
    }
    auto res = std::make_shared<http::response<http::file_body>>(
        static_cast<http::status>(response.status), version);
    res->set(http::field::server, "vesta");
    res->set(http::field::content_type, response.content_type);
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    send(std::move(res), keep_alive);
  }

  template <typename Response>
  void send(std::shared_ptr<Response> res, bool keep_alive) {
    beast::get_lowest_layer(stream_).expires_after(server_.options().read_timeout);
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
          if (ec || !keep_alive) return self->close();
          self->read_header();
        });
  }

  // Answers a request that cannot be read (malformed, too large) and closes
  // without reading it. The close lingers: the client may still be sending
  // the body, and closing with unread data would reset the connection and
  // lose the response, so the rest is read and dropped for a while first.
  void reply_and_close(int status, const std::string& message) {
    reply_and_close(error_response(status, message));
  }
  void reply_and_close(HttpResponse response) {
    busy_ = true;
    auto res = make_response(std::move(response), 11, false);
    beast::get_lowest_layer(stream_).expires_after(server_.options().read_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        beast::error_code ignored;
                        beast::get_lowest_layer(self->stream_)
                            .socket()
                            .shutdown(Tcp::socket::shutdown_send, ignored);
                        beast::get_lowest_layer(self->stream_).expires_after(kLingerTime);
                        self->drain();
                      });
  }

  void drain() {
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(Tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  Stream stream_;
  Impl& server_;
  beast::flat_buffer buffer_;
  BodyKind body_kind_ = BodyKind::kPlain;  // of the request being read
  std::optional<http::request_parser<http::string_body>> parser_;
  // The parser of a body written to a file once its header is read (parser_
  // moved into it), and that file.
  std::optional<http::request_parser<http::file_body>> file_parser_;
  std::shared_ptr<BodyFile> body_file_;
  bool busy_ = false;
  bool closing_ = false;
  std::shared_ptr<core::CancellationToken> cancel_;  // the request being handled
  bool watching_ = false;                            // watch_for_disconnect() runs
  std::array<char, 16384> drain_buffer_{};
};

HttpResponse HttpServer::Impl::handle(const HttpRequest& request) const {
  try {
    return handler_(request);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vesta: handler for %s %s threw: %s\n", request.method.c_str(),
                 request.path.c_str(), e.what());
    return error_response(500, std::string("internal error: ") + e.what());
  }
}

std::shared_ptr<BodyFile> HttpServer::Impl::new_body_file() {
  const std::string name = std::string(kUploadPrefix) + std::to_string(::getpid()) + "-" +
                           std::to_string(uploads_.fetch_add(1)) + std::string(kUploadSuffix);
  return std::make_shared<BodyFile>(std::filesystem::path(options_.upload_directory) / name, 0);
}

core::Status HttpServer::Impl::prepare_upload_directory() const {
  const std::filesystem::path dir(options_.upload_directory);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return core::internal_error("cannot create the upload directory " + dir.string() + ": " +
                                ec.message());
  }
  size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kUploadPrefix) && name.ends_with(kUploadSuffix) &&
        std::filesystem::remove(entry.path(), ec)) {
      ++removed;
    }
  }
  if (removed > 0) {
    std::fprintf(stderr, "vesta: removed %zu unfinished uploads and imports from %s\n", removed,
                 dir.c_str());
  }
  return core::Status::ok();
}

core::Status HttpServer::Impl::start() {
  if (!options_.upload_directory.empty()) {
    VESTA_RETURN_IF_ERROR(prepare_upload_directory());
  }
  if (!options_.tls_certificate_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_certificate_file.empty() || options_.tls_key_file.empty()) {
      return core::invalid_argument("TLS needs both a certificate file and a key file");
    }
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use);
    beast::error_code tls_ec;
    tls_->use_certificate_chain_file(options_.tls_certificate_file, tls_ec);
    if (tls_ec) {
      return core::invalid_argument("cannot use TLS certificate '" + options_.tls_certificate_file +
                                    "': " + tls_ec.message());
    }
    tls_->use_private_key_file(options_.tls_key_file, ssl::context::pem, tls_ec);
    if (tls_ec) {
      return core::invalid_argument("cannot use TLS key '" + options_.tls_key_file +
                                    "': " + tls_ec.message());
    }
  }
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) return core::invalid_argument("host '" + options_.host + "' is not an IP address");
  const Tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return {core::StatusCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                                std::to_string(options_.port) + ": " +
                                                ec.message()};
  }
  bound_port_ = acceptor_.local_endpoint().port();
  work_.emplace(net::make_work_guard(ioc_));
  handlers_.emplace(std::max<size_t>(1, options_.handler_threads));
  accept();
  const size_t n = std::max<size_t>(1, options_.io_threads);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
  return core::Status::ok();
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept(
      net::make_strand(ioc_),
      net::bind_executor(acceptor_strand_, [this](beast::error_code ec, Tcp::socket socket) {
        if (ec) return;  // the acceptor was closed by stop(), or a transient failure
        std::shared_ptr<SessionBase> session;
        std::function<void()> start;
        if (tls_) {
          auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              std::move(socket), *this, *tls_);
          start = [s] { s->start(); };
          session = s;
        } else {
          auto s = std::make_shared<Session<beast::tcp_stream>>(std::move(socket), *this);
          start = [s] { s->start(); };
          session = s;
        }
        {
          // stop() flips stopping_ under this mutex, so a session is either seen
          // by stop() or sees the flag here; none can wait out its idle timeout.
          std::lock_guard lock(sessions_mutex_);
          if (stopping()) return;  // the socket closes with the session
          sessions_.remove_if([](const std::weak_ptr<SessionBase>& s) { return s.expired(); });
          sessions_.push_back(session);
        }
        start();
        accept();
      }));
}

void HttpServer::Impl::stop() {
  {
    std::lock_guard lock(sessions_mutex_);
    if (stopping_.exchange(true)) return;
  }
  if (threads_.empty()) return;
  net::post(acceptor_strand_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  {
    std::lock_guard lock(sessions_mutex_);
    for (const std::weak_ptr<SessionBase>& weak : sessions_) {
      if (std::shared_ptr<SessionBase> s = weak.lock()) s->close_when_idle();
    }
  }
  work_.reset();  // run() returns once the last connection has closed
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Every handler has finished: each held a work guard on the I/O threads.
  handlers_->join();
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

core::Status HttpServer::start() { return impl_->start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::stop() { impl_->stop(); }

}  // namespace vesta::server
