#include "core/byte_size.h"

#include <gtest/gtest.h>

namespace vesta::core {
namespace {

TEST(ByteSize, PlainNumbersAndBinarySuffixes) {
  EXPECT_EQ(parse_byte_size("0"), 0u);
  EXPECT_EQ(parse_byte_size("1024"), 1024u);
  EXPECT_EQ(parse_byte_size("64K"), size_t{64} << 10);
  EXPECT_EQ(parse_byte_size("64KiB"), size_t{64} << 10);
  EXPECT_EQ(parse_byte_size("512M"), size_t{512} << 20);
  EXPECT_EQ(parse_byte_size("1G"), size_t{1} << 30);
  EXPECT_EQ(parse_byte_size("2TiB"), size_t{2} << 40);
}

TEST(ByteSize, AnythingElseIsRefused) {
  for (const char* text :
       {"", "K", "1.5G", "-1", "1k", "1 G", "1GB", "1Gi", "12x", "1234567890123456", "4194305T"}) {
    EXPECT_FALSE(parse_byte_size(text).has_value()) << text;
  }
  EXPECT_EQ(parse_byte_size("4194304T"), size_t{1} << 62);  // the most
}

}  // namespace
}  // namespace vesta::core
