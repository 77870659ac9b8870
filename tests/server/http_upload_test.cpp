// Snapshot uploads and bulk imports over real HTTP on loopback: written to a
// file as they arrive (never held in memory, not bound by the request body
// limit), handed to the handler as that file, removed once answered or
// abandoned; refused unread when the admit hook says so; 413 over their own
// limit, 507 when the file cannot be written.

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_test_client.h"
#include "server/http_server.h"
#include "server/router.h"

namespace vesta::server {
namespace {

namespace fs = std::filesystem;
using vesta::testing::HttpTestClient;

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What the handler saw of one request.
struct Seen {
  std::string method;
  std::string path;
  std::string body;
  bool had_file = false;
  std::string file_contents;
  uint64_t file_bytes = 0;
  fs::path file_path;
};

class HttpUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vesta-upload-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    options_.port = 0;
    options_.body_limit_bytes = 64 << 10;
    options_.import_body_limit_bytes = 128 << 10;
    options_.upload_directory = (dir_ / "uploads").string();
    options_.upload_body_limit_bytes = 8 << 20;
  }
  void TearDown() override {
    if (server_) server_->stop();
    fs::remove_all(dir_);
  }

  void start() {
    server_ = std::make_unique<HttpServer>(options_, [this](const HttpRequest& request) {
      Seen seen;
      seen.method = request.method;
      seen.path = request.path;
      seen.body = request.body;
      if (request.body_file != nullptr) {
        seen.had_file = true;
        seen.file_path = request.body_file->path;
        seen.file_bytes = request.body_file->bytes;
        seen.file_contents = read_whole(request.body_file->path);
      }
      std::lock_guard lock(mutex_);
      seen_.push_back(std::move(seen));
      return HttpResponse{200, "text/plain", "ok"};
    });
    ASSERT_TRUE(server_->start().is_ok());
  }

  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  fs::path uploads() const { return dir_ / "uploads"; }

  // Waits up to 10 s for the upload directory to be empty.
  bool uploads_become_empty() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (files_in(uploads()).empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  fs::path dir_;
  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

std::string pattern(size_t bytes) {
  std::string text(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) text[i] = static_cast<char>((i * 7919 + i / 4096) & 0xff);
  return text;
}

TEST_F(HttpUploadTest, AnUploadIsWrittenToAFileHandedOverAndRemovedOnceAnswered) {
  start();
  const std::string body = pattern(3 << 20);  // far over both in-memory limits
  HttpTestClient client(server_->port());
  const auto r = client.request("POST", "/collections/docs/snapshots/upload?wait=true", body,
                                {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(seen().size(), 1u);
  const Seen upload = seen()[0];
  EXPECT_EQ(upload.path, "/collections/docs/snapshots/upload");
  EXPECT_TRUE(upload.body.empty());
  ASSERT_TRUE(upload.had_file);
  EXPECT_EQ(upload.file_path.parent_path(), uploads());
  EXPECT_EQ(upload.file_bytes, body.size());
  EXPECT_TRUE(upload.file_contents == body) << "the file differs from what was sent";
  // Removed before the response was sent.
  EXPECT_EQ(files_in(uploads()), std::vector<std::string>{});

  // The connection serves the next request; other requests keep their limit
  // and their body in memory.
  EXPECT_EQ(client.request("POST", "/collections/docs/points/search", "{}").status, 200);
  EXPECT_EQ(seen().back().body, "{}");
  EXPECT_FALSE(seen().back().had_file);
  HttpTestClient other(server_->port());
  EXPECT_EQ(other.request("POST", "/collections/docs/points/search", body).status, 413);
  HttpTestClient third(server_->port());
  EXPECT_EQ(third.request("POST", "/collections/docs/snapshots/upload", "").status, 200);
  EXPECT_TRUE(seen().back().had_file);
  EXPECT_EQ(seen().back().file_bytes, 0u);
}

TEST_F(HttpUploadTest, AnImportBodyGoesToAFileTooWithinTheImportLimit) {
  start();
  const std::string body = pattern(100 << 10);  // over the body limit, under the import limit
  HttpTestClient client(server_->port());
  const auto r = client.request("POST", "/collections/docs/import", body);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(seen().back().had_file);
  EXPECT_TRUE(seen().back().file_contents == body);
  EXPECT_TRUE(seen().back().body.empty());
  EXPECT_EQ(files_in(uploads()), std::vector<std::string>{});
  HttpTestClient other(server_->port());
  const auto over = other.request("POST", "/collections/docs/import", pattern(200 << 10));
  EXPECT_EQ(over.status, 413);
  EXPECT_NE(over.body.find("import body exceeds the limit of 131072 bytes (--max-import-bytes)"),
            std::string::npos)
      << over.body;
  EXPECT_TRUE(uploads_become_empty());
}

TEST_F(HttpUploadTest, WithoutAnUploadDirectoryAnUploadIsAnyOtherRequest) {
  options_.upload_directory.clear();
  start();
  HttpTestClient client(server_->port());
  EXPECT_EQ(client.request("POST", "/collections/docs/snapshots/upload", "abc").status, 200);
  EXPECT_EQ(seen().back().body, "abc");
  EXPECT_FALSE(seen().back().had_file);
  HttpTestClient other(server_->port());
  const auto r = other.request("POST", "/collections/docs/snapshots/upload", pattern(1 << 20));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("request body exceeds the limit of 65536 bytes"), std::string::npos)
      << r.body;
  EXPECT_FALSE(fs::exists(uploads()));
}

TEST_F(HttpUploadTest, AnUploadOverItsLimitIs413AndLeavesNoFile) {
  options_.upload_body_limit_bytes = 1 << 20;
  start();
  {
    // Refused from its Content-Length, before a byte of the body is read.
    HttpTestClient client(server_->port());
    const auto r = client.request("POST", "/c/snapshots/upload", pattern(2 << 20));
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(
        r.body.find("snapshot upload exceeds the limit of 1048576 bytes (--max-upload-bytes)"),
        std::string::npos)
        << r.body;
  }
  {
    // Chunked, so only the bytes tell: the file grows to the limit, then goes.
    namespace http = boost::beast::http;
    boost::asio::io_context ioc;
    boost::beast::tcp_stream stream(ioc);
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  server_->port()));
    http::request<http::string_body> req(http::verb::post, "/c/snapshots/upload", 11);
    req.set(http::field::host, "127.0.0.1");
    req.body() = pattern(2 << 20);
    req.chunked(true);
    boost::beast::error_code ignored;
    http::write(stream, req, ignored);  // the server may stop reading at the limit
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 413u);
    EXPECT_NE(res.body().find("--max-upload-bytes"), std::string::npos) << res.body();
  }
  EXPECT_TRUE(uploads_become_empty()) << files_in(uploads()).size() << " files left";
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpUploadTest, AnUploadTheAdmitHookRefusesIsAnsweredUnreadAndWrittenNowhere) {
  std::atomic<int> asked{0};
  options_.admit_to_file = [&asked](const HttpRequest& head) -> std::optional<HttpResponse> {
    ++asked;
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(head.body_file, nullptr);
    if (head.headers.contains("api-key")) return std::nullopt;
    return error_response(401, "missing api-key");
  };
  start();
  HttpTestClient refused(server_->port());
  const auto r = refused.request("POST", "/c/snapshots/upload", pattern(2 << 20));
  EXPECT_EQ(r.status, 401);
  EXPECT_FALSE(r.keep_alive);  // its body was never read
  EXPECT_TRUE(seen().empty());
  EXPECT_TRUE(files_in(uploads()).empty());
  HttpTestClient admitted(server_->port());
  EXPECT_EQ(
      admitted.request("POST", "/c/snapshots/upload", pattern(1 << 20), {{"api-key", "k"}}).status,
      200);
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen()[0].file_bytes, 1u << 20);
  // Only uploads are asked about.
  EXPECT_EQ(admitted.request("POST", "/c/points/search", "{}").status, 200);
  EXPECT_EQ(asked.load(), 2);
}

TEST_F(HttpUploadTest, AnUploadWhoseClientGoesAwayMidwayLeavesNoFile) {
  start();
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  server_->port()));
    const std::string head =
        "POST /c/snapshots/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(head));
    boost::asio::write(socket, boost::asio::buffer(pattern(1 << 20)));
    // The partial file exists while the body is being received.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (files_in(uploads()).empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(files_in(uploads()).size(), 1u);
  }  // closed with 3 MiB unsent
  EXPECT_TRUE(uploads_become_empty());
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpUploadTest, AnUploadThatCannotBeWrittenIs507AndLeavesNoFile) {
  // A real write failure: past RLIMIT_FSIZE, write() fails with EFBIG (once
  // SIGXFSZ is ignored), as a full disk fails with ENOSPC.
  start();
  struct rlimit before {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = before;
  small.rlim_cur = 256 << 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  HttpTestClient client(server_->port());
  const auto r = client.request("POST", "/c/snapshots/upload", pattern(2 << 20));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &before), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_NE(r.body.find("the upload cannot be written to " + uploads().string()), std::string::npos)
      << r.body;
  EXPECT_TRUE(uploads_become_empty());
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpUploadTest, StartCreatesTheDirectoryAndRemovesUploadsAnEarlierProcessLeft) {
  fs::create_directories(uploads());
  std::ofstream(uploads() / "upload-1-0.part") << "half an upload";
  std::ofstream(uploads() / "notes.txt") << "not ours";
  start();
  EXPECT_EQ(files_in(uploads()), std::vector<std::string>{"notes.txt"});

  // A directory that cannot be created fails the start, naming it.
  std::ofstream(dir_ / "file") << "x";
  options_.upload_directory = (dir_ / "file" / "uploads").string();
  HttpServer bad(options_, [](const HttpRequest&) { return HttpResponse{}; });
  const core::Status status = bad.start();
  EXPECT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("upload directory"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace vesta::server
