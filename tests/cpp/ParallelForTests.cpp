#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

using namespace helixkit;

HK_TEST(parallelForVisitsEveryIndexOnce) {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    std::vector<int> hits(1000, 0);
    parallelFor(hits.size(), threads, [&](std::size_t i) { hits[i] += 1; }, 7);
    HK_CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
  }
}

HK_TEST(parallelCollectIsThreadCountInvariant) {
  auto run = [](unsigned threads) {
    return parallelCollect<std::int64_t>(
        10007, 13, threads,
        [](std::size_t b, std::size_t e, std::vector<std::int64_t>& out) {
          for (std::size_t i = b; i < e; ++i) {
            for (std::size_t k = 0; k < i % 4; ++k) {
              out.push_back(static_cast<std::int64_t>(i * 4 + k));
            }
          }
        });
  };
  const auto ref = run(1);
  HK_CHECK(std::is_sorted(ref.begin(), ref.end()));
  for (unsigned threads : {2u, 4u, 16u}) {
    HK_CHECK(run(threads) == ref);
  }
}

HK_TEST(parallelChunksRethrowsWorkerExceptions) {
  HK_CHECK_THROWS(parallelFor(
                      100, 4,
                      [](std::size_t i) {
                        if (i == 42) {
                          throw std::invalid_argument("boom");
                        }
                      },
                      1),
                  std::invalid_argument);
}

HK_TEST(emptyRangeIsANoOp) {
  int calls = 0;
  parallelFor(0, 4, [&](std::size_t) { ++calls; });
  HK_CHECK(calls == 0);
  HK_CHECK(parallelCollect<int>(0, 8, 4, [](std::size_t, std::size_t,
                                            std::vector<int>&) {})
               .empty());
}

HK_TEST(unitsFollowActs) {
  namespace u = UnitConstants;
  // 1 GeV transverse momentum in 2 T bends with a radius of ~1668 mm.
  HK_CHECK_CLOSE(1.0 * u::GeV / (2.0 * u::T), 1667.82, 0.01);
  HK_CHECK_CLOSE(u::MeV, 1e-3, 1e-15);
  HK_CHECK_CLOSE(u::cm, 10.0, 1e-12);
  HK_CHECK(resolveThreads(0) >= 1u);
  HK_CHECK(resolveThreads(3) == 3u);
}

HK_TEST_MAIN()
