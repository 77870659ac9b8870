#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/status.h"

namespace vesta::core {

// IEEE 754 binary16 conversions. The scalar functions are exact (round to
// nearest, ties to even, subnormals included) and need no special CPU; the
// span functions use F16C when the CPU has it and give bit-identical results.

// Largest finite float16 value.
inline constexpr float kFloat16Max = 65504.0f;

uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);

// Converts `in` to float16 into `out` (same length).
void floats_to_halves(std::span<const float> in, std::span<uint16_t> out);
// Converts `in` to float32 into `out` (same length).
void halves_to_floats(std::span<const uint16_t> in, std::span<float> out);

// Ok when every value is finite and |value| <= kFloat16Max; otherwise an
// InvalidArgument naming `what` (e.g. "vector of point 7") and the first bad
// position and value.
Status check_float16_range(std::span<const float> values, std::string_view what);

// True when this CPU converts with F16C (the span functions use it).
bool cpu_has_f16c();

}  // namespace vesta::core
