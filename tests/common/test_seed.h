#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace vesta::testing {

// A fresh seed per run, printed so a failure can be replayed with
// VESTA_TEST_SEED=<seed>.
inline uint64_t test_seed(const char* test_name) {
  uint64_t seed;
  if (const char* env = std::getenv("VESTA_TEST_SEED"); env != nullptr && *env != '\0') {
    seed = std::stoull(env);
  } else {
    seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  }
  std::printf("[ seed     ] %s: VESTA_TEST_SEED=%llu\n", test_name,
              static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace vesta::testing
