#include "persistence/base64.h"

#include <gtest/gtest.h>

#include <random>

#include "base64_encoder.h"
#include "test_seed.h"

namespace vesta::persistence {
namespace {

std::string decoded(std::string_view text) {
  core::Result<std::string> r = base64_decode(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? r.value() : "";
}

void expect_error(std::string_view text, const std::string& words) {
  core::Result<std::string> r = base64_decode(text);
  ASSERT_FALSE(r.is_ok()) << text;
  EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
}

TEST(Base64Decode, Rfc4648TestVectors) {
  EXPECT_EQ(decoded(""), "");
  EXPECT_EQ(decoded("Zg=="), "f");
  EXPECT_EQ(decoded("Zm8="), "fo");
  EXPECT_EQ(decoded("Zm9v"), "foo");
  EXPECT_EQ(decoded("Zm9vYg=="), "foob");
  EXPECT_EQ(decoded("Zm9vYmE="), "fooba");
  EXPECT_EQ(decoded("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decoded("+/+/"), "\xfb\xff\xbf");
}

TEST(Base64Decode, EveryRangeOfRandomBytesMatches) {
  std::mt19937_64 rng(testing::test_seed("Base64Decode.EveryRangeOfRandomBytesMatches"));
  for (size_t size : {0, 1, 2, 3, 4, 5, 31, 32, 33, 100, 1000}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string text = testing::base64_encode(bytes);
    ASSERT_EQ(base64_decoded_size(text).value(), size);
    EXPECT_EQ(decoded(text), bytes);
    for (int trial = 0; trial < 50 && size > 0; ++trial) {
      const size_t first = rng() % size;
      const size_t count = rng() % (size - first + 1);
      std::string out(count, '\0');
      ASSERT_TRUE(
          base64_decode_range(
              text, first, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()))
              .is_ok());
      EXPECT_EQ(out, bytes.substr(first, count)) << "size " << size << " range at " << first;
    }
  }
}

TEST(Base64Decode, MalformedTextIsAnErrorNamingTheOffset) {
  expect_error("Zm9", "base64 text of 3 characters is not a multiple of 4");
  expect_error("Zm9vY", "not a multiple of 4");
  expect_error("Zm9v!A==", "bad base64 character '!' at offset 4");
  expect_error("Zm9v\nYg=", "bad base64 character byte 0x0a at offset 4");
  expect_error("Zm9v-_==", "bad base64 character '-' at offset 4");  // URL-safe alphabet
  expect_error("Zg=a", "bad base64 character '=' at offset 2");
  expect_error("Zm==Zm9v", "bad base64 character '=' at offset 2");
  expect_error("Z===", "bad base64 padding at offset 1");
  expect_error("====", "bad base64 padding at offset 1");
}

}  // namespace
}  // namespace vesta::persistence
