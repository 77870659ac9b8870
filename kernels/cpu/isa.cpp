#include "kernels/cpu/isa.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/float16.h"

namespace vesta::kernels {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "unknown";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_name(isa) == name) return isa;
  }
  return std::nullopt;
}

Isa detected_isa() {
  static const Isa kIsa = [] {
    __builtin_cpu_init();
    const bool f16c = core::cpu_has_f16c();
    if (f16c && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
      return Isa::kAvx512;
    }
    if (f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
    return Isa::kScalar;
  }();
  return kIsa;
}

Isa active_isa() {
  static const Isa kIsa = [] {
    const Isa best = detected_isa();
    const char* env = std::getenv("VESTA_CPU_ISA");
    if (env == nullptr || *env == '\0') return best;
    const std::optional<Isa> wanted = parse_isa(env);
    if (!wanted) {
      std::fprintf(stderr, "vesta: ignoring VESTA_CPU_ISA=%s (expected scalar, avx2 or avx512)\n",
                   env);
      return best;
    }
    if (*wanted > best) {
      std::fprintf(stderr, "vesta: VESTA_CPU_ISA=%s is not supported by this CPU; using %s\n", env,
                   isa_name(best).data());
      return best;
    }
    return *wanted;
  }();
  return kIsa;
}

std::span<const Isa> supported_isas() {
  static const std::vector<Isa> kIsas = [] {
    std::vector<Isa> out;
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (isa <= detected_isa()) out.push_back(isa);
    }
    return out;
  }();
  return kIsas;
}

}  // namespace vesta::kernels
