#pragma once

// A minimal, dependency-free test harness for ctest: each test executable
// registers cases with HK_TEST and returns non-zero if any check fails.
// (GoogleTest is not available on every machine we build on, and we never
// fetch it at configure time.)

#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hktest {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

inline int& failures() {
  static int n = 0;
  return n;
}

struct Register {
  Register(const char* name, std::function<void()> fn) {
    registry().push_back({name, std::move(fn)});
  }
};

inline int runAll() {
  int failedCases = 0;
  for (const auto& c : registry()) {
    const int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::printf("  exception: %s\n", e.what());
      ++failures();
    }
    const bool ok = failures() == before;
    std::printf("[%s] %s\n", ok ? "  OK  " : " FAIL ", c.name);
    failedCases += ok ? 0 : 1;
  }
  std::printf("%zu cases, %d failed\n", registry().size(), failedCases);
  return failedCases == 0 ? 0 : 1;
}

}  // namespace hktest

#define HK_CONCAT2(a, b) a##b
#define HK_CONCAT(a, b) HK_CONCAT2(a, b)
#define HK_TEST(name)                                              \
  static void name();                                              \
  static hktest::Register HK_CONCAT(reg_, name)(#name, &name);     \
  static void name()

#define HK_CHECK(cond)                                                   \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++hktest::failures();                                              \
    }                                                                    \
  } while (0)

#define HK_CHECK_CLOSE(a, b, tol)                                           \
  do {                                                                      \
    const double hk_a = (a), hk_b = (b);                                    \
    if (!(std::abs(hk_a - hk_b) <= (tol))) {                                \
      std::printf("  %s:%d: %s=%g vs %s=%g (tol %g)\n", __FILE__, __LINE__, \
                  #a, hk_a, #b, hk_b, static_cast<double>(tol));            \
      ++hktest::failures();                                                 \
    }                                                                       \
  } while (0)

#define HK_CHECK_THROWS(stmt, exc_t)                                          \
  do {                                                                        \
    bool hk_thrown = false;                                                   \
    try {                                                                     \
      stmt;                                                                   \
    } catch (const exc_t&) {                                                  \
      hk_thrown = true;                                                       \
    }                                                                         \
    if (!hk_thrown) {                                                         \
      std::printf("  %s:%d: %s did not throw %s\n", __FILE__, __LINE__, #stmt, \
                  #exc_t);                                                    \
      ++hktest::failures();                                                   \
    }                                                                         \
  } while (0)

#define HK_TEST_MAIN() \
  int main() { return hktest::runAll(); }
