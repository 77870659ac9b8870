#include "persistence/bolt/connection.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "persistence/bolt/chunk_decoder.h"

namespace vesta::bolt {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// The socket (plain or TLS) and the io_context that runs its operations.
// Every operation is asynchronous underneath and run to completion or to a
// deadline on the caller's thread (Asio's blocking-with-timeout pattern): on
// the deadline the socket is closed, which cancels the operation.
struct Connection::Io {
  asio::io_context context;
  asio::ip::tcp::socket plain{context};
  std::optional<asio::ssl::context> tls_context;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> tls;
  ChunkDecoder decoder;
  std::array<std::uint8_t, 64 * 1024> read_buffer{};

  explicit Io(size_t max_message_bytes) : decoder(max_message_bytes) {}

  asio::ip::tcp::socket& socket() { return tls ? tls->next_layer() : plain; }

  void close() {
    boost::system::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  // Starts an operation with `start(handler)` and runs it until it completes
  // or `deadline` passes; returns its error (timed_out at the deadline, after
  // `cancel` has ended the operation: by default closing the socket).
  template <typename Start, typename Cancel>
  boost::system::error_code run(Start&& start, Clock::time_point deadline, Cancel&& cancel) {
    std::optional<boost::system::error_code> result;
    start([&result](boost::system::error_code error) { result = error; });
    context.restart();
    context.run_until(deadline);
    if (!result) {
      cancel();
      context.restart();
      context.run();
      return asio::error::timed_out;
    }
    return *result;
  }
  template <typename Start>
  boost::system::error_code run(Start&& start, Clock::time_point deadline) {
    return run(std::forward<Start>(start), deadline, [this] { close(); });
  }
};

namespace {

core::Status io_status(const boost::system::error_code& error, std::string_view doing,
                       const std::string& address) {
  if (error == asio::error::timed_out) {
    return {core::StatusCode::kDeadlineExceeded,
            "Bolt: timed out " + std::string(doing) + " " + address};
  }
  if (error == asio::error::eof || error == asio::ssl::error::stream_truncated ||
      error == asio::error::connection_reset || error == asio::error::broken_pipe) {
    return {core::StatusCode::kUnavailable,
            "Bolt: " + address + " closed the connection while " + std::string(doing)};
  }
  return {core::StatusCode::kUnavailable,
          "Bolt: " + std::string(doing) + " " + address + " failed: " + error.message()};
}

}  // namespace

Connection::Connection(ConnectionOptions options, BoltUri uri)
    : options_(std::move(options)),
      uri_(std::move(uri)),
      io_(std::make_unique<Io>(options_.max_message_bytes)) {}

Connection::~Connection() { close(); }

core::Result<std::unique_ptr<Connection>> Connection::open(const ConnectionOptions& options) {
  core::Result<BoltUri> uri = BoltUri::parse(options.uri);
  if (!uri.is_ok()) return uri.status();
  if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0) {
    return core::invalid_argument("Bolt: connect and read timeouts must be positive");
  }
  std::unique_ptr<Connection> connection(new Connection(options, std::move(uri).value()));
  core::Status status = connection->connect();
  if (!status.is_ok()) {
    connection->broken_ = true;
    connection->closed_ = true;
    connection->io_->close();
    return status;
  }
  return connection;
}

core::Status Connection::connect() {
  const Clock::time_point deadline = Clock::now() + options_.connect_timeout;
  const std::string address = uri_.address();
  Io& io = *io_;

  asio::ip::tcp::resolver resolver(io.context);
  asio::ip::tcp::resolver::results_type endpoints;
  boost::system::error_code error = io.run(
      [&](auto done) {
        resolver.async_resolve(uri_.host, std::to_string(uri_.port),
                               [&endpoints, done](boost::system::error_code e,
                                                  asio::ip::tcp::resolver::results_type results) {
                                 endpoints = std::move(results);
                                 done(e);
                               });
      },
      deadline, [&resolver] { resolver.cancel(); });
  if (error) return io_status(error, "resolving", address);

  if (uri_.tls != TlsMode::kOff) {
    io.tls_context.emplace(asio::ssl::context::tls_client);
    io.tls_context->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    if (uri_.tls == TlsMode::kVerify) {
      io.tls_context->set_default_verify_paths(error);
      if (!options_.tls_ca_file.empty()) {
        io.tls_context->load_verify_file(options_.tls_ca_file, error);
        if (error) {
          return core::invalid_argument("Bolt: cannot read the CA file " + options_.tls_ca_file +
                                        ": " + error.message());
        }
      }
      io.tls_context->set_verify_mode(asio::ssl::verify_peer);
    } else {
      io.tls_context->set_verify_mode(asio::ssl::verify_none);
    }
    io.tls.emplace(io.context, *io.tls_context);
    if (uri_.tls == TlsMode::kVerify) {
      io.tls->set_verify_callback(asio::ssl::host_name_verification(uri_.host));
    }
    boost::system::error_code not_ip;
    asio::ip::make_address(uri_.host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(io.tls->native_handle(), uri_.host.c_str());
  }

  error = io.run(
      [&](auto done) {
        asio::async_connect(
            io.socket(), endpoints,
            [done](boost::system::error_code e, const asio::ip::tcp::endpoint&) { done(e); });
      },
      deadline);
  if (error) return io_status(error, "connecting to", address);
  io.socket().set_option(asio::ip::tcp::no_delay(true));
  io.socket().set_option(asio::socket_base::keep_alive(true));

  if (io.tls) {
    error =
        io.run([&](auto done) { io.tls->async_handshake(asio::ssl::stream_base::client, done); },
               deadline);
    if (error) return io_status(error, "negotiating TLS with", address);
  }

  core::Result<std::array<std::uint8_t, 20>> request = handshake_request(options_.versions);
  if (!request.is_ok()) return request.status();
  std::array<std::uint8_t, 4> answer{};
  auto write_then_read = [&](auto done) {
    auto on_read = [done](boost::system::error_code e, size_t) { done(e); };
    auto on_write = [&io, &answer, done, on_read](boost::system::error_code e, size_t) {
      if (e) return done(e);
      if (io.tls) {
        asio::async_read(*io.tls, asio::buffer(answer), on_read);
      } else {
        asio::async_read(io.plain, asio::buffer(answer), on_read);
      }
    };
    if (io.tls) {
      asio::async_write(*io.tls, asio::buffer(request.value()), on_write);
    } else {
      asio::async_write(io.plain, asio::buffer(request.value()), on_write);
    }
  };
  error = io.run(write_then_read, deadline);
  if (error) return io_status(error, "in the Bolt handshake with", address);
  core::Result<BoltVersion> version =
      parse_handshake_response(std::span<const std::uint8_t, 4>(answer), options_.versions);
  if (!version.is_ok()) {
    return core::Status(version.status().code(), version.status().message() + " (" + address + ")");
  }
  version_ = version.value();

  // HELLO, and LOGON from 5.1, pipelined. The connect deadline bounds the
  // answers too.
  std::vector<Structure> hello = {hello_message(version_, options_.user_agent, options_.auth)};
  const bool logon = version_.at_least(5, 1);
  if (logon) hello.push_back(logon_message(options_.auth));
  VESTA_RETURN_IF_ERROR(send(hello));
  for (int i = 0; i < (logon ? 2 : 1); ++i) {
    const char* request_name = i == 0 ? "HELLO" : "LOGON";
    core::Result<Response> response = receive();
    if (!response.is_ok()) return response.status();
    if (response.value().is(MessageTag::kFailure)) {
      last_failure_ = ServerFailure::from_metadata(response.value().metadata);
      const core::Status failure = last_failure_.to_status();
      return core::Status(failure.code(), "Bolt: " + address + " refused " + request_name + ": " +
                                              failure.message());
    }
    if (!response.value().is(MessageTag::kSuccess)) {
      return unexpected(response.value(), request_name);
    }
    if (i == 0) server_metadata_ = response.value().metadata;
  }
  return core::Status::ok();
}

core::Status Connection::send(const std::vector<Structure>& messages) {
  Bytes wire;
  Bytes message;
  for (const Structure& structure : messages) {
    message.clear();
    core::Status packed = pack(Value(structure), &message);
    if (!packed.is_ok()) {
      // Nothing was written: the connection stays usable.
      return core::invalid_argument("Bolt: cannot encode " + message_name(structure.tag) + ": " +
                                    packed.message());
    }
    append_chunked(message, &wire);
  }
  Io& io = *io_;
  const boost::system::error_code error = io.run(
      [&](auto done) {
        auto on_write = [done](boost::system::error_code e, size_t) { done(e); };
        if (io.tls) {
          asio::async_write(*io.tls, asio::buffer(wire), on_write);
        } else {
          asio::async_write(io.plain, asio::buffer(wire), on_write);
        }
      },
      Clock::now() + options_.read_timeout);
  if (error) return break_connection(io_status(error, "writing to", uri_.address()));
  return core::Status::ok();
}

core::Result<Response> Connection::receive() {
  Io& io = *io_;
  const Clock::time_point deadline = Clock::now() + options_.read_timeout;
  std::optional<Bytes> message = io.decoder.next_message();
  while (!message) {
    size_t received = 0;
    const boost::system::error_code error = io.run(
        [&](auto done) {
          auto on_read = [&received, done](boost::system::error_code e, size_t n) {
            received = n;
            done(e);
          };
          if (io.tls) {
            io.tls->async_read_some(asio::buffer(io.read_buffer), on_read);
          } else {
            io.plain.async_read_some(asio::buffer(io.read_buffer), on_read);
          }
        },
        deadline);
    if (error) return break_connection(io_status(error, "reading from", uri_.address()));
    core::Status fed = io.decoder.feed(std::span(io.read_buffer.data(), received));
    if (!fed.is_ok()) return break_connection(core::internal_error(fed.message()));
    message = io.decoder.next_message();
  }
  core::Result<Value> value = unpack(*message, options_.unpack_limits);
  if (!value.is_ok()) {
    return break_connection(
        core::internal_error("Bolt: a message from " + uri_.address() +
                             " cannot be decoded: " + value.status().message()));
  }
  core::Result<Response> response = parse_response(std::move(value).value());
  if (!response.is_ok()) {
    return break_connection(
        core::internal_error(response.status().message() + " (from " + uri_.address() + ")"));
  }
  return response;
}

core::Status Connection::break_connection(core::Status why) {
  broken_ = true;
  in_transaction_ = false;
  io_->close();
  return why;
}

core::Status Connection::not_success(const Response& response, std::string_view request,
                                     int pending) {
  if (response.is(MessageTag::kFailure)) {
    last_failure_ = ServerFailure::from_metadata(response.metadata);
    return recover(last_failure_.to_status(), pending);
  }
  if (response.is(MessageTag::kIgnored)) {
    return recover(
        {core::StatusCode::kUnavailable, "Bolt: the server ignored " + std::string(request)},
        pending);
  }
  return unexpected(response, request);
}

core::Status Connection::unexpected(const Response& response, std::string_view request) {
  return break_connection(
      core::internal_error("Bolt: " + uri_.address() + " answered " + std::string(request) +
                           " with " + message_name(static_cast<std::uint8_t>(response.tag))));
}

core::Status Connection::check_usable() const {
  if (broken_ || closed_) {
    return {core::StatusCode::kUnavailable,
            "Bolt: the connection to " + uri_.address() + " is broken or closed"};
  }
  return core::Status::ok();
}

core::Status Connection::recover(core::Status failure, int pending) {
  // RESET goes out before the answers still due are read: a server in the
  // FAILED state answers the pipelined requests with IGNORED and RESET with
  // SUCCESS, in order. (FalkorDB 4.16 sends those IGNOREDs only once more
  // bytes arrive, so waiting for them first would wait for ever.) Whatever
  // goes wrong here breaks the connection (send, receive and unexpected do);
  // the caller still gets the server's failure, which is what its request
  // met.
  in_transaction_ = false;
  if (!send({bare_message(MessageTag::kReset)}).is_ok()) return failure;
  for (int i = 0; i < pending; ++i) {
    core::Result<Response> response = receive();
    if (!response.is_ok()) return failure;
    if (!response.value().is(MessageTag::kIgnored)) {
      (void)unexpected(response.value(), "a request after a FAILURE");
      return failure;
    }
  }
  core::Result<Response> reset = receive();
  if (reset.is_ok() && !reset.value().is(MessageTag::kSuccess)) {
    (void)unexpected(reset.value(), "RESET after a FAILURE");
  }
  return failure;
}

core::Status Connection::begin(const TransactionConfig& config) {
  VESTA_RETURN_IF_ERROR(check_usable());
  if (in_transaction_) {
    return {core::StatusCode::kConflict, "Bolt: BEGIN while a transaction is open"};
  }
  VESTA_RETURN_IF_ERROR(send({begin_message(config)}));
  core::Result<Response> response = receive();
  if (!response.is_ok()) return response.status();
  if (response.value().is(MessageTag::kSuccess)) {
    in_transaction_ = true;
    return core::Status::ok();
  }
  return not_success(response.value(), "BEGIN", 0);
}

core::Result<QueryResult> Connection::run(std::string_view query, const Dictionary& parameters,
                                          const RunOptions& options) {
  VESTA_RETURN_IF_ERROR(check_usable());
  if (options.fetch_size == 0 || options.fetch_size < -1) {
    return core::invalid_argument("Bolt: fetch_size is -1 (all) or positive, not " +
                                  std::to_string(options.fetch_size));
  }
  const bool auto_commit = !in_transaction_;
  Dictionary extra = auto_commit ? options.auto_commit.to_extra() : Dictionary{};
  VESTA_RETURN_IF_ERROR(
      send({run_message(query, parameters, std::move(extra)), pull_message(options.fetch_size)}));
  // One PULL is answered after RUN's own answer.
  core::Result<Response> response = receive();
  if (!response.is_ok()) return response.status();
  if (!response.value().is(MessageTag::kSuccess)) return not_success(response.value(), "RUN", 1);

  QueryResult result;
  if (const Value* fields = response.value().metadata.find("fields");
      fields != nullptr && fields->is<List>()) {
    for (const Value& field : fields->as<List>()) {
      if (field.is<std::string>()) result.keys.push_back(field.as<std::string>());
    }
  }
  while (true) {
    response = receive();
    if (!response.is_ok()) return response.status();
    Response& answer = response.value();
    if (answer.is(MessageTag::kRecord)) {
      result.records.push_back(std::move(answer.record));
      continue;
    }
    if (!answer.is(MessageTag::kSuccess)) return not_success(answer, "PULL", 0);
    const Value* has_more = answer.metadata.find("has_more");
    if (has_more != nullptr && has_more->is<bool>() && has_more->as<bool>()) {
      VESTA_RETURN_IF_ERROR(send({pull_message(options.fetch_size)}));
      continue;
    }
    result.summary = std::move(answer.metadata);
    break;
  }
  if (auto_commit) {
    if (const Value* bookmark = result.summary.find("bookmark");
        bookmark != nullptr && bookmark->is<std::string>()) {
      last_bookmark_ = bookmark->as<std::string>();
    }
  }
  return result;
}

core::Status Connection::commit() {
  VESTA_RETURN_IF_ERROR(check_usable());
  if (!in_transaction_) {
    return {core::StatusCode::kConflict, "Bolt: COMMIT without an open transaction"};
  }
  VESTA_RETURN_IF_ERROR(send({bare_message(MessageTag::kCommit)}));
  core::Result<Response> response = receive();
  if (!response.is_ok()) return response.status();
  in_transaction_ = false;
  if (response.value().is(MessageTag::kSuccess)) {
    if (const Value* bookmark = response.value().metadata.find("bookmark");
        bookmark != nullptr && bookmark->is<std::string>()) {
      last_bookmark_ = bookmark->as<std::string>();
    }
    return core::Status::ok();
  }
  return not_success(response.value(), "COMMIT", 0);
}

core::Status Connection::rollback() {
  VESTA_RETURN_IF_ERROR(check_usable());
  if (!in_transaction_) return core::Status::ok();
  VESTA_RETURN_IF_ERROR(send({bare_message(MessageTag::kRollback)}));
  core::Result<Response> response = receive();
  if (!response.is_ok()) return response.status();
  in_transaction_ = false;
  if (response.value().is(MessageTag::kSuccess)) return core::Status::ok();
  return not_success(response.value(), "ROLLBACK", 0);
}

core::Status Connection::reset() {
  VESTA_RETURN_IF_ERROR(check_usable());
  VESTA_RETURN_IF_ERROR(send({bare_message(MessageTag::kReset)}));
  core::Result<Response> response = receive();
  if (!response.is_ok()) return response.status();
  in_transaction_ = false;
  if (response.value().is(MessageTag::kSuccess)) return core::Status::ok();
  if (response.value().is(MessageTag::kFailure)) {
    // The protocol has no way back from a failed RESET.
    last_failure_ = ServerFailure::from_metadata(response.value().metadata);
    return break_connection(last_failure_.to_status());
  }
  return unexpected(response.value(), "RESET");
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  if (!broken_ && options_.send_goodbye) {
    // Best effort, bounded by the connect timeout: the server sends nothing
    // back, and a server that does not read it changes nothing.
    Bytes message;
    Bytes wire;
    if (pack(Value(bare_message(MessageTag::kGoodbye)), &message).is_ok()) {
      append_chunked(message, &wire);
      Io& io = *io_;
      io.run(
          [&](auto done) {
            auto on_write = [done](boost::system::error_code e, size_t) { done(e); };
            if (io.tls) {
              asio::async_write(*io.tls, asio::buffer(wire), on_write);
            } else {
              asio::async_write(io.plain, asio::buffer(wire), on_write);
            }
          },
          Clock::now() + options_.connect_timeout);
    }
  }
  broken_ = true;
  in_transaction_ = false;
  io_->close();
}

bool Connection::looks_alive() const {
  if (broken_ || closed_) return false;
  std::uint8_t byte = 0;
  const ssize_t peeked = ::recv(io_->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked > 0) return true;    // data waiting (a NOOP chunk, say)
  if (peeked == 0) return false;  // the peer closed
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

}  // namespace vesta::bolt
