#include "core/float16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "test_seed.h"

namespace vesta::core {
namespace {

// Round-to-nearest-even through float64: the float16 nearest to x, found by
// comparing distances to the two neighbouring finite halves.
uint16_t reference_float_to_half(float x) {
  if (std::isnan(x)) return 0x7e00;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= 65520.0) return sign | 0x7c00;
  uint16_t best = 0;
  for (uint16_t lo = 0, hi = 0x7bff; lo <= hi;) {  // largest half <= a
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    if (half_to_float(mid) <= a) {
      best = mid;
      lo = static_cast<uint16_t>(mid + 1);
    } else {
      if (mid == 0) break;
      hi = static_cast<uint16_t>(mid - 1);
    }
  }
  if (best == 0x7bff) return sign | best;  // a < 65520 rounds to the max finite
  const double below = half_to_float(best);
  const double above = half_to_float(static_cast<uint16_t>(best + 1));
  uint16_t pick;
  if (a - below < above - a) {
    pick = best;
  } else if (a - below > above - a) {
    pick = static_cast<uint16_t>(best + 1);
  } else {
    pick = (best & 1) == 0 ? best : static_cast<uint16_t>(best + 1);
  }
  return sign | pick;
}

TEST(Float16, EveryBitPatternRoundTripsExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = half_to_float(bits);
    const bool is_nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0;
    if (is_nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << h;
    } else {
      ASSERT_EQ(float_to_half(f), bits) << "pattern " << h << " value " << f;
    }
  }
}

TEST(Float16, SpanConversionsAgreeWithScalarForEveryHalf) {
  if (!cpu_has_f16c())
    GTEST_SKIP() << "this CPU has no F16C; the span functions are the scalar ones";
  std::vector<uint16_t> halves(65536);
  for (uint32_t h = 0; h < 65536; ++h) halves[h] = static_cast<uint16_t>(h);
  std::vector<float> floats(65536);
  halves_to_floats(halves, floats);
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(std::bit_cast<uint32_t>(floats[h]), std::bit_cast<uint32_t>(half_to_float(halves[h])))
        << "half " << h;
  }
}

TEST(Float16, SpanConversionsAgreeWithScalarAroundEveryRoundingBoundary) {
  if (!cpu_has_f16c())
    GTEST_SKIP() << "this CPU has no F16C; the span functions are the scalar ones";
  std::mt19937_64 rng(testing::test_seed("Float16.Boundaries"));
  std::vector<float> inputs;
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // every finite positive half and its successor
    const float lo = half_to_float(static_cast<uint16_t>(h));
    const float hi = h + 1 < 0x7c00 ? half_to_float(static_cast<uint16_t>(h + 1)) : 65520.0f;
    const float mid = static_cast<float>((static_cast<double>(lo) + hi) / 2);
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), lo}) {
      inputs.push_back(x);
      inputs.push_back(-x);
    }
  }
  for (int i = 0; i < 200000; ++i)
    inputs.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  std::vector<uint16_t> got(inputs.size());
  floats_to_halves(inputs, got);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (std::isnan(inputs[i])) {
      ASSERT_TRUE(std::isnan(half_to_float(got[i])));
      ASSERT_EQ(got[i], float_to_half(inputs[i])) << "NaN payload, input " << i;
      continue;
    }
    ASSERT_EQ(got[i], float_to_half(inputs[i])) << "input " << inputs[i];
  }
}

TEST(Float16, ScalarRoundingMatchesFloat64Reference) {
  std::mt19937_64 rng(testing::test_seed("Float16.Reference"));
  std::uniform_real_distribution<float> exponent(-26.0f, 16.5f);
  for (int i = 0; i < 100000; ++i) {
    const float x = std::exp2(exponent(rng)) * (rng() % 2 ? 1.0f : -1.0f);
    ASSERT_EQ(float_to_half(x), reference_float_to_half(x)) << "x = " << x;
  }
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // exact halfway points are ties to even
    const double lo = half_to_float(static_cast<uint16_t>(h));
    const double hi = half_to_float(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);
    ASSERT_EQ(float_to_half(mid), reference_float_to_half(mid)) << "h = " << h;
  }
}

TEST(Float16, OverflowSubnormalsAndSignedZero) {
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.99f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(-65520.0f), 0xfc00);
  EXPECT_EQ(float_to_half(1e10f), 0x7c00);
  EXPECT_EQ(float_to_half(std::exp2(-24.0f)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::exp2(-25.0f)), 0x0000);  // halfway to 0: ties to even
  EXPECT_EQ(float_to_half(std::exp2(-25.0f) * 1.01f), 0x0001);
  EXPECT_EQ(float_to_half(std::exp2(-14.0f)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
}

TEST(Float16, RangeCheckAcceptsTheLimitsAndNamesWhatIsWrong) {
  EXPECT_TRUE(check_float16_range(std::vector<float>{65504.0f, -65504.0f, 0.0f}, "v").is_ok());
  const std::vector<std::pair<float, std::string>> bad = {{NAN, "NaN"},
                                                          {INFINITY, "+Inf"},
                                                          {-INFINITY, "-Inf"},
                                                          {65504.01f, "outside the float16 range"},
                                                          {-65505.0f, "outside the float16 range"}};
  for (const auto& [value, words] : bad) {
    const Status s = check_float16_range(std::vector<float>{1.0f, value}, "vector of point 7");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("vector of point 7"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("position 1"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(words), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace vesta::core
