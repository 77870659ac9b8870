#pragma once

#include <chrono>
#include <string>

namespace vesta::core {

// `t` in UTC, formatted by strftime's `format` (whole seconds), e.g.
// "%Y-%m-%dT%H:%M:%SZ" gives "2026-11-26T03:05:09Z".
std::string utc_time(std::chrono::system_clock::time_point t, const char* format);

// `t` in UTC to the millisecond, "2026-11-26T03:05:09.123Z" (log lines).
std::string utc_time_ms(std::chrono::system_clock::time_point t);

}  // namespace vesta::core
