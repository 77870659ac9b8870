#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace vesta::kernels {

// The instruction sets the CPU kernels are built for. Each kernel file carries
// its own target attribute, so one binary runs on any x86-64 CPU and picks the
// best path at run time.
enum class Isa {
  kScalar,  // portable C++; float16 through a lookup table
  kAvx2,    // AVX2 + FMA + F16C
  kAvx512,  // AVX-512 F/BW/VL + F16C
};

std::string_view isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);  // "scalar", "avx2", "avx512"

// The best instruction set this CPU supports.
Isa detected_isa();

// The instruction set the kernels use by default: detected_isa(), or the one
// named by the environment variable VESTA_CPU_ISA when it is set and this CPU
// supports it (read once).
Isa active_isa();

// Every instruction set this CPU can run, from kScalar up (tests cover each).
std::span<const Isa> supported_isas();

}  // namespace vesta::kernels
