#pragma once

#include <cstdlib>
#include <cstring>

namespace helixkit {

/// Whether kernels may take their AVX2 paths (compiled for AVX2 alone with
/// the target attribute and chosen at run time; the library stays baseline
/// x86-64): the CPU has AVX2 and POPCNT, and the environment variable
/// HELIXKIT_SIMD is not "sse2" (which forces the baseline paths, e.g. for
/// tests that compare the two). Decided once per process.
inline bool useAvx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool use = [] {
    __builtin_cpu_init();
    const char* env = std::getenv("HELIXKIT_SIMD");
    const bool forbidden = env != nullptr && std::strcmp(env, "sse2") == 0;
    return !forbidden && __builtin_cpu_supports("avx2") != 0 &&
           __builtin_cpu_supports("popcnt") != 0;
  }();
  return use;
#else
  return false;
#endif
}

}  // namespace helixkit
