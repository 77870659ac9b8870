#include "core/utc_time.h"

#include <cstdio>
#include <ctime>

namespace vesta::core {

std::string utc_time(std::chrono::system_clock::time_point t, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[64];
  const size_t n = std::strftime(text, sizeof(text), format, &parts);
  return std::string(text, n);
}

std::string utc_time_ms(std::chrono::system_clock::time_point t) {
  // to_time_t may round; the whole seconds are taken by truncation instead.
  const auto since_epoch = t.time_since_epoch();
  const auto whole = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - whole);
  std::string out = utc_time(std::chrono::system_clock::time_point(whole), "%Y-%m-%dT%H:%M:%S");
  char tail[8];
  std::snprintf(tail, sizeof(tail), ".%03dZ", static_cast<int>(millis.count()));
  return out + tail;
}

}  // namespace vesta::core
