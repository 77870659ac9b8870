#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/http_message.h"

namespace vesta::server {

// Structured access log: one JSON object per answered request, one per line:
//   {"ts":"2026-11-26T00:31:02.123Z","method":"POST","path":"/collections/docs/points/search",
//    "route":"/collections/{name}/points/search","status":200,"ms":0.42,"bytes_in":123,
//    "bytes_out":456}
// Never the body, the query string or a header (so never an API key).
// Thread-safe: lines are written whole.
class AccessLog {
 public:
  // "-" = standard error, "off" = nothing (returns null), else a file opened
  // for appending (created if missing).
  static core::Result<std::unique_ptr<AccessLog>> open(const std::string& target);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const HttpRequest& request, const HttpResponse& response, std::string_view route,
             double seconds);

 private:
  AccessLog(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
  std::FILE* file_;
  bool owned_;
  std::mutex mutex_;
};

}  // namespace vesta::server
