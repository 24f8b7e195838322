#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Clustering/Dbscan.hpp"
#include "helixkit/Graph/NeighborGraph.hpp"

using namespace helixkit;

namespace {
std::vector<double> lattice(std::size_t n, std::size_t dim, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> u(0, 3);
  std::vector<double> x(n * dim);
  for (auto& v : x) {
    v = u(gen);
  }
  return x;
}
double dist2(const std::vector<double>& x, std::size_t dim, std::size_t a, std::size_t b) {
  double s = 0;
  for (std::size_t d = 0; d < dim; ++d) {
    const double e = x[a * dim + d] - x[b * dim + d];
    s += e * e;
  }
  return s;
}
}  // namespace

HK_TEST(knnMatchesBruteForceWithTies) {
  const std::size_t n = 200, dim = 5, k = 6;
  const auto x = lattice(n, dim, 1);
  NeighborGraph::Config cfg;
  cfg.k = k;
  for (unsigned threads : {1u, 3u}) {
    cfg.nThreads = threads;
    const auto e = NeighborGraph::knn<double>(x, {}, dim, cfg);
    HK_CHECK(e.size() == n * k);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(i));
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return dist2(x, dim, i, a) < dist2(x, dim, i, b);
      });
      for (std::size_t j = 0; j < k; ++j) {
        HK_CHECK(e.source()[i * k + j] == static_cast<std::int64_t>(order[j]));
        HK_CHECK(e.target()[i * k + j] == static_cast<std::int64_t>(i));
      }
    }
  }
}

HK_TEST(radiusMatchesBruteForce) {
  const std::size_t n = 150, dim = 3;
  const auto x = lattice(n, dim, 2);
  NeighborGraph::Config cfg;
  cfg.radius = 1.5;
  const auto e = NeighborGraph::radius<double>(x, {}, dim, cfg);
  std::size_t expected = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      expected += (i != j && dist2(x, dim, i, j) <= 2.25);
    }
  }
  HK_CHECK(e.size() == expected);
}

HK_TEST(dbscanSeparatesTwoBlobsAndNoise) {
  // two tight blobs of 10 points and one isolated point
  std::vector<float> x;
  for (int i = 0; i < 10; ++i) {
    x.insert(x.end(), {0.01f * static_cast<float>(i), 0.0f});
  }
  for (int i = 0; i < 10; ++i) {
    x.insert(x.end(), {5.0f + 0.01f * static_cast<float>(i), 5.0f});
  }
  x.insert(x.end(), {-9.0f, 9.0f});
  Dbscan::Config cfg;
  cfg.epsilon = 0.05;
  cfg.minPoints = 3;
  const auto labels = Dbscan(cfg).cluster<float>(x, 2);
  HK_CHECK(labels.size() == 21);
  HK_CHECK(labels[0] == 0 && labels[9] == 0);
  HK_CHECK(labels[10] == 1 && labels[19] == 1);
  HK_CHECK(labels[20] == -1);
}

HK_TEST(invalidConfigsThrow) {
  Dbscan::Config cfg;
  cfg.epsilon = -1.0;
  HK_CHECK_THROWS(Dbscan{cfg}, std::invalid_argument);
  NeighborGraph::Config g;
  g.k = 0;
  std::vector<double> x(10, 0.0);
  HK_CHECK_THROWS(NeighborGraph::knn<double>(x, {}, 2, g), std::invalid_argument);
  g.k = 5;  // only 4 candidates among 5 points without self-loops
  HK_CHECK_THROWS(NeighborGraph::knn<double>(x, {}, 2, g), std::invalid_argument);
}

HK_TEST_MAIN()
