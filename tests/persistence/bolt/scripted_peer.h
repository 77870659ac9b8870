#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "persistence/bolt/chunk_decoder.h"
#include "persistence/bolt/handshake.h"
#include "persistence/bolt/messages.h"
#include "persistence/bolt/packstream.h"
#include "persistence/bolt/value.h"

namespace vesta::bolt::testing {

// A Bolt server in the test process that plays a script: accept a
// connection, answer the handshake, expect a request of a given kind, send
// canned responses (as chunks of any size, with NOOP chunks, or raw bytes),
// hang up. The client under test talks to it over a real loopback socket,
// plain or TLS (tests/server/tls's self-signed certificate).
//
// Build the script, start(), run the client, then finish(): it returns ""
// when every step happened as scripted, else what differed. The peer runs on
// a thread of its own, which finish() (or the destructor) joins; a peer that
// waits too long is unblocked by shutting its socket down.
class ScriptedPeer {
 public:
  explicit ScriptedPeer(bool tls = false) : tls_(tls) {
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    if (tls_) {
      tls_context_.emplace(boost::asio::ssl::context::tls_server);
      tls_context_->use_certificate_chain_file(std::string(VESTA_TESTS_DIR) +
                                               "/server/tls/test-cert.pem");
      tls_context_->use_private_key_file(std::string(VESTA_TESTS_DIR) + "/server/tls/test-key.pem",
                                         boost::asio::ssl::context::pem);
    }
  }
  ~ScriptedPeer() { (void)finish(std::chrono::milliseconds(0)); }
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string uri(const std::string& scheme = "bolt") const {
    return scheme + "://127.0.0.1:" + std::to_string(port());
  }

  // --- the script -------------------------------------------------------

  // Waits for the next connection (closing the current one).
  ScriptedPeer& accept() {
    return step("accept", [this]() -> std::string {
      close_connection();
      if (!wait_readable(acceptor_.native_handle())) return "no connection came";
      boost::system::error_code error;
      socket_.emplace(io_);
      acceptor_.accept(*socket_, error);
      if (error) return "accept failed: " + error.message();
      socket_fd_ = socket_->native_handle();
      decoder_.emplace(size_t{1} << 30);
      if (tls_) {
        tls_stream_.emplace(*socket_, *tls_context_);
        tls_stream_->handshake(boost::asio::ssl::stream_base::server, error);
        if (error) return "TLS handshake failed: " + error.message();
      }
      ++connections_;
      return "";
    });
  }

  // Reads the client's 20 handshake bytes (kept in handshakes()) and
  // answers with `answer`.
  ScriptedPeer& handshake(std::array<std::uint8_t, 4> answer) {
    return step("handshake", [this, answer]() -> std::string {
      std::array<std::uint8_t, 20> request{};
      if (std::string error = read_exact(request.data(), request.size()); !error.empty()) {
        return error;
      }
      {
        std::lock_guard lock(mutex_);
        handshakes_.push_back(request);
      }
      return write(answer.data(), answer.size());
    });
  }
  ScriptedPeer& handshake(BoltVersion version) {
    return handshake(std::array<std::uint8_t, 4>{0, 0, version.minor, version.major});
  }

  // Reads one message and checks that it is a `tag` request (kept in
  // received()).
  ScriptedPeer& expect(MessageTag tag) {
    return step(
        "expect " + message_name(static_cast<std::uint8_t>(tag)), [this, tag]() -> std::string {
          std::optional<Bytes> message;
          while (!(message = decoder_->next_message())) {
            std::array<std::uint8_t, 4096> buffer{};
            size_t n = 0;
            if (std::string error = read_some(buffer.data(), buffer.size(), &n); !error.empty()) {
              return error;
            }
            if (!decoder_->feed(std::span(buffer.data(), n)).is_ok()) return "bad chunks";
          }
          core::Result<Value> value = unpack(*message);
          if (!value.is_ok()) return "undecodable: " + value.status().message();
          const Structure* structure = value.value().get_if<Structure>();
          if (structure == nullptr) return "not a structure: " + value.value().to_string();
          {
            std::lock_guard lock(mutex_);
            received_.push_back(*structure);
          }
          if (structure->tag != static_cast<std::uint8_t>(tag)) {
            return "got " + value.value().to_string();
          }
          return "";
        });
  }

  // Sends `message` in chunks of at most `max_chunk` bytes, after `noops`
  // NOOP chunks.
  ScriptedPeer& reply(const Structure& message, size_t max_chunk = kMaxChunkBytes, int noops = 0) {
    Bytes packed;
    VESTA_CHECK(pack(Value(message), &packed).is_ok());
    Bytes wire;
    wire.resize(2 * static_cast<size_t>(noops), 0);  // NOOP chunks: 00 00 each
    append_chunked(packed, &wire, max_chunk);
    return send_raw(std::move(wire), "reply " + message_name(message.tag));
  }
  ScriptedPeer& success(Dictionary metadata = {}) {
    return reply(Structure{static_cast<std::uint8_t>(MessageTag::kSuccess), {std::move(metadata)}});
  }
  ScriptedPeer& record(List values) {
    return reply(Structure{static_cast<std::uint8_t>(MessageTag::kRecord), {std::move(values)}});
  }
  ScriptedPeer& failure(const std::string& code, const std::string& message) {
    return reply(Structure{static_cast<std::uint8_t>(MessageTag::kFailure),
                           {Dictionary{{"code", code}, {"message", message}}}});
  }
  ScriptedPeer& ignored() {
    return reply(Structure{static_cast<std::uint8_t>(MessageTag::kIgnored), {}});
  }

  ScriptedPeer& send_raw(Bytes bytes, std::string what = "send raw bytes") {
    return step(std::move(what), [this, bytes = std::move(bytes)]() -> std::string {
      return write(bytes.data(), bytes.size());
    });
  }

  // Closes the current connection.
  ScriptedPeer& hang_up() {
    return step("hang up", [this]() -> std::string {
      close_connection();
      return "";
    });
  }

  // Waits for `duration` (to let a client time out).
  ScriptedPeer& pause(std::chrono::milliseconds duration) {
    return step("pause", [this, duration]() -> std::string {
      std::unique_lock lock(mutex_);
      stop_requested_cv_.wait_for(lock, duration, [this] { return stop_requested_; });
      return "";
    });
  }

  // accept, handshake with `version`, HELLO (and LOGON from 5.1) answered
  // with SUCCESS.
  ScriptedPeer& serve_hello(BoltVersion version) {
    accept()
        .handshake(version)
        .expect(MessageTag::kHello)
        .success({{"server", "Scripted/1.0"},
                  {"connection_id", "bolt-" + std::to_string(steps_.size())}});
    if (version.at_least(5, 1)) expect(MessageTag::kLogon).success();
    return *this;
  }

  // --- running ----------------------------------------------------------

  void start() {
    thread_ = std::thread([this] { play(); });
  }

  // Waits up to `timeout` for the script to end, then stops the peer.
  // Returns "" when every step happened, else the first that did not.
  std::string finish(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!thread_.joinable()) return outcome_;
    {
      std::unique_lock lock(mutex_);
      done_cv_.wait_for(lock, timeout, [this] { return done_; });
      stop_requested_ = true;
    }
    stop_requested_cv_.notify_all();
    // Unblocks a read or accept still waiting (shutdown is safe from another
    // thread; the peer thread alone touches the Asio objects).
    const int fd = socket_fd_.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    thread_.join();
    return outcome_;
  }

  std::vector<Structure> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<std::array<std::uint8_t, 20>> handshakes() const {
    std::lock_guard lock(mutex_);
    return handshakes_;
  }
  int connections() const { return connections_.load(); }

 private:
  struct Step {
    std::string name;
    std::function<std::string()> run;
  };

  ScriptedPeer& step(std::string name, std::function<std::string()> run) {
    steps_.push_back({std::move(name), std::move(run)});
    return *this;
  }

  void play() {
    std::string outcome;
    for (size_t i = 0; i < steps_.size() && outcome.empty(); ++i) {
      std::string error = steps_[i].run();
      if (!error.empty())
        outcome = "step " + std::to_string(i) + " (" + steps_[i].name + "): " + error;
    }
    {
      std::unique_lock lock(mutex_);
      outcome_ = outcome;
      done_ = true;
      done_cv_.notify_all();
      // Keep the connection open until the test is done with it.
      stop_requested_cv_.wait(lock, [this] { return stop_requested_; });
    }
    close_connection();
  }

  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_requested_;
  }

  // Polls in short slices so a stop request is noticed.
  bool wait_readable(int fd) {
    for (int waited_ms = 0; waited_ms < 10000 && !stopping(); waited_ms += 50) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  std::string read_some(std::uint8_t* data, size_t size, size_t* n) {
    if (!socket_) return "no connection";
    // With TLS, bytes may already sit decrypted or buffered inside the
    // stream where poll() cannot see them: read at once (finish() shuts the
    // socket down if nothing ever comes).
    if (!tls_stream_ && !wait_readable(socket_fd_)) return "nothing came";
    boost::system::error_code error;
    *n = tls_stream_ ? tls_stream_->read_some(boost::asio::buffer(data, size), error)
                     : socket_->read_some(boost::asio::buffer(data, size), error);
    if (error) return "read failed: " + error.message();
    return "";
  }

  std::string read_exact(std::uint8_t* data, size_t size) {
    for (size_t got = 0; got < size;) {
      size_t n = 0;
      if (std::string error = read_some(data + got, size - got, &n); !error.empty()) return error;
      got += n;
    }
    return "";
  }

  std::string write(const std::uint8_t* data, size_t size) {
    if (!socket_) return "no connection";
    boost::system::error_code error;
    if (tls_stream_) {
      boost::asio::write(*tls_stream_, boost::asio::buffer(data, size), error);
    } else {
      boost::asio::write(*socket_, boost::asio::buffer(data, size), error);
    }
    if (error) return "write failed: " + error.message();
    return "";
  }

  void close_connection() {
    if (!socket_) return;
    socket_fd_ = -1;
    boost::system::error_code ignored;
    socket_->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_->close(ignored);
    tls_stream_.reset();
    socket_.reset();
  }

  const bool tls_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::optional<boost::asio::ssl::context> tls_context_;
  std::optional<boost::asio::ip::tcp::socket> socket_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_stream_;
  std::optional<ChunkDecoder> decoder_;
  std::atomic<int> socket_fd_{-1};
  std::atomic<int> connections_{0};
  std::vector<Step> steps_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards the members below
  std::condition_variable done_cv_;
  std::condition_variable stop_requested_cv_;
  bool done_ = false;
  bool stop_requested_ = false;
  std::string outcome_;
  std::vector<Structure> received_;
  std::vector<std::array<std::uint8_t, 20>> handshakes_;
};

}  // namespace vesta::bolt::testing
