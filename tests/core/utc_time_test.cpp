#include "core/utc_time.h"

#include <gtest/gtest.h>

namespace vesta::core {
namespace {

TEST(UtcTime, FormatsInUtcWholeSecondsOrMilliseconds) {
  // 2026-11-26T03:05:09.123Z
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795662309123));
  EXPECT_EQ(utc_time(t, "%Y-%m-%dT%H:%M:%SZ"), "2026-11-26T03:05:09Z");
  EXPECT_EQ(utc_time(t, "%Y-%m-%d-%H-%M-%S"), "2026-11-26-03-05-09");
  EXPECT_EQ(utc_time_ms(t), "2026-11-26T03:05:09.123Z");
  // Just before a whole second: never rounded up into the next one.
  const auto late =
      std::chrono::system_clock::time_point(std::chrono::microseconds(1795662309999900));
  EXPECT_EQ(utc_time_ms(late), "2026-11-26T03:05:09.999Z");
  EXPECT_EQ(utc_time_ms(std::chrono::system_clock::time_point()), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace vesta::core
