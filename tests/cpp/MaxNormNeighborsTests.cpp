#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Graph/KdTree.hpp"
#include "helixkit/Graph/MaxNormNeighbors.hpp"

using namespace helixkit;

namespace {
std::vector<double> gaussian(std::size_t n, std::size_t dim, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> x(n * dim);
  for (auto& v : x) {
    v = g(gen);
  }
  return x;
}
// Coarse values: many exact ties in the max-norm distances.
std::vector<double> lattice(std::size_t n, std::size_t dim, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> u(0, 4);
  std::vector<double> x(n * dim);
  for (auto& v : x) {
    v = 0.5 * u(gen);
  }
  return x;
}
double maxDist(const std::vector<double>& x, std::size_t dim, std::size_t a, std::size_t b) {
  double s = 0;
  for (std::size_t d = 0; d < dim; ++d) {
    s = std::max(s, std::abs(x[a * dim + d] - x[b * dim + d]));
  }
  return s;
}
std::vector<double> bruteKth(const std::vector<double>& x, std::size_t dim, std::size_t k) {
  const std::size_t n = x.size() / dim;
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> d;
    for (std::size_t j = 0; j < n; ++j) {
      if (j != i) {
        d.push_back(maxDist(x, dim, i, j));
      }
    }
    std::nth_element(d.begin(), d.begin() + static_cast<long>(k - 1), d.end());
    out[i] = d[k - 1];
  }
  return out;
}
std::vector<std::uint32_t> bruteCount(const std::vector<double>& x, std::size_t dim,
                                      const std::vector<double>& r, bool strict) {
  const std::size_t n = x.size() / dim;
  std::vector<std::uint32_t> out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double d = maxDist(x, dim, i, j);
      if (j != i && (strict ? d < r[i] : d <= r[i])) {
        ++out[i];
      }
    }
  }
  return out;
}
}  // namespace

HK_TEST(chebyshevKnnMatchesBruteForce) {
  for (std::size_t dim : {1u, 2u, 5u, 16u, 20u}) {
    for (int tied = 0; tied < 2; ++tied) {
      const std::size_t n = 300;
      const auto x = tied ? lattice(n, dim, 3) : gaussian(n, dim, 3);
      MaxNormNeighbors::Config cfg;
      cfg.k = 4;
      cfg.leafSize = 8;
      const auto want = bruteKth(x, dim, cfg.k);
      for (unsigned threads : {1u, 3u}) {
        cfg.nThreads = threads;
        const auto got = MaxNormNeighbors::kthDistance<double>(x, dim, cfg);
        HK_CHECK(got == want);
      }
    }
  }
}

HK_TEST(chebyshevFloatTreeMatchesBruteForce) {
  // float uses the AVX2 leaf scan where the CPU has it.
  const std::size_t n = 500, dim = 7, k = 3;
  const auto xd = gaussian(n, dim, 9);
  std::vector<float> x(xd.begin(), xd.end());
  const KdTree<float, KdMetric::eChebyshev> tree(x, dim, 16, 1);
  std::vector<KdTree<float, KdMetric::eChebyshev>::Neighbor> best;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<float> d;
    for (std::size_t j = 0; j < n; ++j) {
      float s = 0;
      for (std::size_t c = 0; c < dim; ++c) {
        s = std::max(s, std::abs(x[j * dim + c] - x[i * dim + c]));
      }
      if (j != i) {
        d.push_back(s);
      }
    }
    std::sort(d.begin(), d.end());
    tree.knn(x.data() + i * dim, k, static_cast<std::uint32_t>(i),
             std::numeric_limits<float>::infinity(), best);
    HK_CHECK(best.size() == k);
    for (std::size_t j = 0; j < k; ++j) {
      HK_CHECK(best[j].dist2 == d[j]);
    }
  }
}

HK_TEST(countWithinStrictAndInclusive) {
  for (std::size_t dim : {1u, 3u, 9u}) {
    const std::size_t n = 400;
    const auto x = lattice(n, dim, 5);
    // Radii that coincide with lattice distances: strict and <= differ.
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = 0.5 * static_cast<double>(i % 4);
    }
    MaxNormNeighbors::Config cfg;
    for (bool strict : {true, false}) {
      cfg.strict = strict;
      const auto want = bruteCount(x, dim, r, strict);
      for (unsigned threads : {1u, 4u}) {
        cfg.nThreads = threads;
        HK_CHECK(MaxNormNeighbors::countWithin<double>(x, dim, r, cfg) == want);
      }
    }
  }
}

HK_TEST(ksgCountsMatchBruteForce) {
  const std::size_t n = 350, dx = 3, dy = 2;
  const auto x = gaussian(n, dx, 11);
  auto y = gaussian(n, dy, 12);
  for (std::size_t i = 0; i < n; ++i) {
    y[i * dy] += x[i * dx];  // dependent
  }
  std::vector<double> joint(n * (dx + dy));
  for (std::size_t i = 0; i < n; ++i) {
    std::copy_n(x.begin() + static_cast<long>(i * dx), dx,
                joint.begin() + static_cast<long>(i * (dx + dy)));
    std::copy_n(y.begin() + static_cast<long>(i * dy), dy,
                joint.begin() + static_cast<long>(i * (dx + dy) + dx));
  }
  MaxNormNeighbors::Config cfg;
  cfg.k = 3;
  const auto r = bruteKth(joint, dx + dy, cfg.k);
  const auto nx = bruteCount(x, dx, r, true);
  const auto ny = bruteCount(y, dy, r, true);
  for (unsigned threads : {1u, 2u, 5u}) {
    cfg.nThreads = threads;
    const auto got = MaxNormNeighbors::ksg<double>(x, dx, y, dy, cfg);
    HK_CHECK(got.radius == r);
    HK_CHECK(got.nx == nx);
    HK_CHECK(got.ny == ny);
  }
}

// The 1 + 1-D path (sorted axes, rank-space grid) against brute force:
// continuous, heavily tied, duplicated and signed-zero data, tiny and
// larger N, several k, float and double, any thread count.
template <typename value_t>
void checkKsg1D(const std::vector<double>& xd, const std::vector<double>& yd, std::size_t k) {
  const std::size_t n = xd.size();
  std::vector<value_t> x(xd.begin(), xd.end()), y(yd.begin(), yd.end());
  // Brute force in value_t arithmetic, as the searches compute it.
  std::vector<value_t> r(n);
  std::vector<std::uint32_t> nx(n, 0), ny(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<value_t> d;
    for (std::size_t j = 0; j < n; ++j) {
      if (j != i) {
        d.push_back(std::max(std::abs(x[j] - x[i]), std::abs(y[j] - y[i])));
      }
    }
    std::nth_element(d.begin(), d.begin() + static_cast<long>(k - 1), d.end());
    r[i] = d[k - 1];
    for (std::size_t j = 0; j < n; ++j) {
      if (j != i) {
        nx[i] += std::abs(x[j] - x[i]) < r[i];
        ny[i] += std::abs(y[j] - y[i]) < r[i];
      }
    }
  }
  MaxNormNeighbors::Config cfg;
  cfg.k = k;
  for (unsigned threads : {1u, 2u, 3u}) {
    cfg.nThreads = threads;
    const auto got = MaxNormNeighbors::ksg<value_t>(x, 1, y, 1, cfg);
    HK_CHECK(got.radius == r);
    HK_CHECK(got.nx == nx);
    HK_CHECK(got.ny == ny);
    HK_CHECK(MaxNormNeighbors::countWithin<value_t>(x, 1, r, cfg) == nx);
  }
}

HK_TEST(ksg1DMatchesBruteForce) {
  for (std::size_t n : {2u, 4u, 5u, 17u, 300u, 2500u}) {
    for (std::size_t k : {1u, 3u, 7u}) {
      if (k >= n) {
        continue;
      }
      const auto g = gaussian(2 * n, 1, static_cast<unsigned>(n + k));
      std::vector<double> x(g.begin(), g.begin() + static_cast<long>(n));
      std::vector<double> y(g.begin() + static_cast<long>(n), g.end());
      for (std::size_t i = 0; i < n; ++i) {
        y[i] = 0.6 * x[i] + 0.8 * y[i];
      }
      checkKsg1D<double>(x, y, k);
      checkKsg1D<float>(x, y, k);
      const auto lx = lattice(n, 1, 7);
      const auto ly = lattice(n, 1, 8);
      checkKsg1D<double>(lx, ly, k);
      checkKsg1D<float>(lx, ly, k);
      // Duplicated points, signed zeros, one coordinate nearly constant.
      std::vector<double> dx(n), dy(n);
      for (std::size_t i = 0; i < n; ++i) {
        dx[i] = (i % 3 == 0) ? ((i % 2) ? -0.0 : 0.0) : x[i / 2];
        dy[i] = (i % 5 == 0) ? 1.0 : 1.0 + 1e-300 * static_cast<double>(i % 2);
      }
      checkKsg1D<double>(dx, dy, k);
      checkKsg1D<double>(x, dy, k);
    }
  }
}

HK_TEST(invalidInputThrows) {
  MaxNormNeighbors::Config cfg;
  const std::vector<double> x = {0.0, 1.0, 2.0};
  cfg.k = 3;
  HK_CHECK_THROWS(MaxNormNeighbors::kthDistance<double>(x, 1, cfg), std::invalid_argument);
  cfg.k = 0;
  HK_CHECK_THROWS(cfg.validate(), std::invalid_argument);
  cfg.k = 1;
  const std::vector<double> bad = {0.0, std::nan(""), 2.0};
  HK_CHECK_THROWS(MaxNormNeighbors::kthDistance<double>(bad, 1, cfg), std::invalid_argument);
  const std::vector<double> r = {1.0, -1.0, 1.0};
  HK_CHECK_THROWS(MaxNormNeighbors::countWithin<double>(x, 1, r, cfg), std::invalid_argument);
  const std::vector<double> y = {0.0, 1.0};
  HK_CHECK_THROWS(MaxNormNeighbors::ksg<double>(x, 1, y, 1, cfg), std::invalid_argument);
}

HK_TEST_MAIN()
