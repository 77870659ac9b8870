#include "core/float16.h"

#include <cpuid.h>
#include <immintrin.h>

#include <bit>
#include <cmath>
#include <string>

namespace vesta::core {

uint16_t float_to_half(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // Inf or NaN: keep NaN quiet and non-zero.
    const uint32_t mantissa = abs > 0x7f800000u ? (0x200u | ((abs >> 13) & 0x3ffu)) : 0u;
    return static_cast<uint16_t>(sign | 0x7c00u | mantissa);
  }
  if (abs >= 0x477ff000u) {  // >= 65520 rounds to infinity.
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (abs < 0x38800000u) {  // Below the smallest normal half (2^-14): subnormal or zero.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25 rounds to zero
    // Value = m * 2^(e-150) with m the 24-bit significand; the half subnormal
    // unit is 2^-24, so shift right by (126 - e) and round to nearest even.
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;
    uint32_t half = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits.
  uint32_t half = ((abs - 0x38000000u) >> 13);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into exponent
  return static_cast<uint16_t>(sign | half);
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exp == 0x1fu) {  // Inf, or NaN made quiet as F16C does.
    out = sign | 0x7f800000u | (mantissa << 13) | (mantissa != 0 ? 0x400000u : 0u);
  } else if (exp != 0) {
    out = sign | ((exp + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;
  } else {  // Subnormal: normalise.
    uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    out = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(out);
}

bool cpu_has_f16c() {
  // CPUID leaf 1, ECX: bit 27 OSXSAVE, bit 28 AVX, bit 29 F16C; and the OS
  // must save the YMM state (XCR0 bits 1 and 2).
  static const bool kHasF16c = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    constexpr unsigned kNeeded = (1u << 27) | (1u << 28) | (1u << 29);
    if ((ecx & kNeeded) != kNeeded) return false;
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & 0x6u) == 0x6u;
  }();
  return kHasF16c;
}

namespace {

__attribute__((target("avx,f16c"))) void floats_to_halves_f16c(const float* in, uint16_t* out,
                                                               size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < n; ++i) out[i] = float_to_half(in[i]);
}

__attribute__((target("avx,f16c"))) void halves_to_floats_f16c(const uint16_t* in, float* out,
                                                               size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = half_to_float(in[i]);
}

}  // namespace

void floats_to_halves(std::span<const float> in, std::span<uint16_t> out) {
  VESTA_CHECK(in.size() == out.size()) << in.size() << " floats into " << out.size() << " halves";
  if (cpu_has_f16c()) {
    floats_to_halves_f16c(in.data(), out.data(), in.size());
    return;
  }
  for (size_t i = 0; i < in.size(); ++i) out[i] = float_to_half(in[i]);
}

void halves_to_floats(std::span<const uint16_t> in, std::span<float> out) {
  VESTA_CHECK(in.size() == out.size()) << in.size() << " halves into " << out.size() << " floats";
  if (cpu_has_f16c()) {
    halves_to_floats_f16c(in.data(), out.data(), in.size());
    return;
  }
  for (size_t i = 0; i < in.size(); ++i) out[i] = half_to_float(in[i]);
}

Status check_float16_range(std::span<const float> values, std::string_view what) {
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (!std::isfinite(v) || std::fabs(v) > kFloat16Max) {
      std::string message(what);
      message += ": value at position " + std::to_string(i) + " is ";
      if (std::isnan(v)) {
        message += "NaN";
      } else if (std::isinf(v)) {
        message += v > 0 ? "+Inf" : "-Inf";
      } else {
        message += std::to_string(v) + ", outside the float16 range [-65504, 65504]";
      }
      return invalid_argument(std::move(message));
    }
  }
  return Status::ok();
}

}  // namespace vesta::core
