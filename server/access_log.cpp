#include "server/access_log.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

namespace vesta::server {
namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return text;
}

}  // namespace

core::Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& target) {
  if (target == "off") return std::unique_ptr<AccessLog>();
  if (target == "-") return std::unique_ptr<AccessLog>(new AccessLog(stderr, false));
  std::FILE* file = std::fopen(target.c_str(), "a");
  if (file == nullptr) {
    return core::invalid_argument("cannot open access log '" + target +
                                  "': " + std::strerror(errno));
  }
  return std::unique_ptr<AccessLog>(new AccessLog(file, true));
}

AccessLog::~AccessLog() {
  if (owned_) std::fclose(file_);
}

void AccessLog::write(const HttpRequest& request, const HttpResponse& response,
                      std::string_view route, double seconds) {
  const nlohmann::json line = {{"ts", utc_now()},
                               {"method", request.method},
                               {"path", request.path},
                               {"route", route},
                               {"status", response.status},
                               {"ms", std::round(seconds * 1e6) / 1e3},
                               {"bytes_in", request.body.size()},
                               {"bytes_out", response.body.size()}};
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

}  // namespace vesta::server
