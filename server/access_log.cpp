#include "server/access_log.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/utc_time.h"

namespace vesta::server {
namespace {

std::string utc_now() { return core::utc_time_ms(std::chrono::system_clock::now()); }

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
                               {"bytes_out", response.bytes()}};
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

}  // namespace vesta::server
