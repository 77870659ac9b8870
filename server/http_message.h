#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "core/cancellation.h"

namespace vesta::server {

// A request body kept in a file rather than in memory (a snapshot upload, as
// large as its collection); the file is removed when the last reference goes.
struct BodyFile {
  BodyFile(std::filesystem::path file, uint64_t size) : path(std::move(file)), bytes(size) {}
  BodyFile(const BodyFile&) = delete;
  BodyFile& operator=(const BodyFile&) = delete;
  ~BodyFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }

  std::filesystem::path path;
  uint64_t bytes = 0;
};

// A request as the handlers see it: no Beast types, so routing and handlers
// are testable without sockets. Header names are lower-case.
struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // target before '?', not percent-decoded
  std::string query;   // target after '?', may be empty
  std::map<std::string, std::string> headers;
  std::string body;
  // Set instead of `body` for a body the server wrote to a file as it arrived
  // (HttpServerOptions::upload_directory); null otherwise.
  std::shared_ptr<const BodyFile> body_file = nullptr;
  // Cancelled by the HTTP server when the client goes away while the request
  // is handled (its connection closed); null for requests made in-process.
  // Searches give up their waits for a lock or a batch, and graph writes their
  // wait for delivery, when it is cancelled.
  std::shared_ptr<const core::CancellationToken> cancel = nullptr;
};

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, the body is this file's contents (`file_bytes` of them), sent
  // from the file a piece at a time rather than held in `body` (snapshot
  // downloads). Should it be gone when the response is written, a 404.
  std::string file;
  uint64_t file_bytes = 0;

  uint64_t bytes() const { return file.empty() ? body.size() : file_bytes; }
};

}  // namespace vesta::server
