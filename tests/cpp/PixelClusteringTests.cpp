#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Clustering/PixelClustering.hpp"

using namespace helixkit;

namespace {

struct Pixels {
  std::vector<std::int64_t> module;
  std::vector<std::int32_t> row;
  std::vector<std::int32_t> col;
  std::vector<double> charge;

  void add(std::int64_t m, std::int32_t r, std::int32_t c, double q = 1.0) {
    module.push_back(m);
    row.push_back(r);
    col.push_back(c);
    charge.push_back(q);
  }
};

PixelClusterizer::Clusters run(const Pixels& p, unsigned connectivity = 8,
                               unsigned nThreads = 1) {
  PixelClusterizer::Config cfg;
  cfg.connectivity = connectivity;
  cfg.nThreads = nThreads;
  return PixelClusterizer(cfg).cluster<double>(p.module, p.row, p.col,
                                               p.charge);
}

/// Reference: flood fill on the pixel set (quadratic, tiny inputs only),
/// returns for every pixel the smallest index of its component.
std::vector<std::size_t> bruteForceRoots(const Pixels& p, unsigned connectivity) {
  const std::size_t n = p.module.size();
  std::vector<std::size_t> root(n, n);
  for (std::size_t s = 0; s < n; ++s) {
    if (root[s] != n) {
      continue;
    }
    std::vector<std::size_t> stack{s};
    root[s] = s;
    while (!stack.empty()) {
      const std::size_t a = stack.back();
      stack.pop_back();
      for (std::size_t b = 0; b < n; ++b) {
        if (root[b] != n || p.module[a] != p.module[b]) {
          continue;
        }
        const int dr = std::abs(p.row[a] - p.row[b]);
        const int dc = std::abs(p.col[a] - p.col[b]);
        const bool touch = connectivity == 8 ? std::max(dr, dc) == 1 : dr + dc == 1;
        if (touch) {
          root[b] = s;
          stack.push_back(b);
        }
      }
    }
  }
  return root;
}

bool samePartition(const std::vector<std::int32_t>& labels,
                   const std::vector<std::size_t>& roots) {
  const std::size_t n = labels.size();
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      if ((labels[a] == labels[b]) != (roots[a] == roots[b])) {
        return false;
      }
    }
  }
  return true;
}

bool throwsMentioning(const Pixels& p, const std::string& what) {
  try {
    run(p);
  } catch (const std::invalid_argument& e) {
    return std::string(e.what()).find(what) != std::string::npos;
  }
  return false;
}

}  // namespace

HK_TEST(lShapeIsOneClusterWithChargeCentroid) {
  // An L: (2,3) (3,3) (4,3) (4,4) (4,5), given out of order.
  Pixels p;
  p.add(7, 4, 5, 1.0);
  p.add(7, 2, 3, 2.0);
  p.add(7, 4, 3, 1.0);
  p.add(7, 3, 3, 1.0);
  p.add(7, 4, 4, 3.0);
  for (unsigned conn : {4u, 8u}) {
    const auto c = run(p, conn);
    HK_CHECK(c.nClusters() == 1);
    HK_CHECK(std::all_of(c.labels.begin(), c.labels.end(),
                         [](std::int32_t l) { return l == 0; }));
    HK_CHECK(c.module[0] == 7);
    HK_CHECK(c.size[0] == 5);
    HK_CHECK(c.sizeRow[0] == 3);
    HK_CHECK(c.sizeCol[0] == 3);
    HK_CHECK_CLOSE(c.charge[0], 8.0, 1e-12);
    HK_CHECK_CLOSE(c.row[0], (4.0 + 4.0 + 4.0 + 3.0 + 12.0) / 8.0, 1e-12);
    HK_CHECK_CLOSE(c.col[0], (5.0 + 6.0 + 3.0 + 3.0 + 12.0) / 8.0, 1e-12);
  }
}

HK_TEST(diagonalTouchMergesWith8AndSplitsWith4) {
  Pixels p;
  p.add(0, 5, 5);
  p.add(0, 6, 6);  // corner of (5,5)
  p.add(0, 7, 5);  // corner of (6,6)
  p.add(0, 4, 6);  // corner of (5,5), above-right
  const auto c8 = run(p, 8);
  HK_CHECK(c8.nClusters() == 1);
  const auto c4 = run(p, 4);
  HK_CHECK(c4.nClusters() == 4);
  // Numbered by the smallest (row, col) pixel: (4,6) (5,5) (6,6) (7,5).
  HK_CHECK(c4.labels[3] == 0);
  HK_CHECK(c4.labels[0] == 1);
  HK_CHECK(c4.labels[1] == 2);
  HK_CHECK(c4.labels[2] == 3);
  HK_CHECK_CLOSE(c4.row[0], 4.0, 0.0);
  HK_CHECK_CLOSE(c4.col[0], 6.0, 0.0);
}

HK_TEST(uShapeJoinsTwoRunsThroughALaterRow) {
  // Two vertical arms that only meet in the bottom row: the root is the left
  // arm's top pixel, the right arm is renumbered into it.
  Pixels p;
  for (std::int32_t r = 0; r < 4; ++r) {
    p.add(1, r, 0);
    p.add(1, r, 4);
  }
  for (std::int32_t c = 1; c < 4; ++c) {
    p.add(1, 3, c);
  }
  p.add(1, 0, 2);  // isolated between the arms
  const auto c = run(p, 4);
  HK_CHECK(c.nClusters() == 2);
  HK_CHECK(c.size[0] == 11);
  HK_CHECK(c.size[1] == 1);
  HK_CHECK(c.labels.back() == 1);
  HK_CHECK(c.sizeRow[0] == 4 && c.sizeCol[0] == 5);
}

HK_TEST(modulesAreSeparateAndOrderedById) {
  // The same pixel in three modules: never merged; clusters ordered by id,
  // including negative and huge ids.
  Pixels p;
  const std::vector<std::int64_t> ids{std::int64_t{1} << 40, -3, 17};
  for (const auto m : ids) {
    p.add(m, 0, 0, 1.0);
    p.add(m, 0, 1, 3.0);
  }
  const auto c = run(p);
  HK_CHECK(c.nClusters() == 3);
  HK_CHECK(c.module[0] == -3 && c.module[1] == 17 &&
           c.module[2] == (std::int64_t{1} << 40));
  HK_CHECK(c.labels[0] == 2 && c.labels[1] == 2);
  HK_CHECK(c.labels[2] == 0 && c.labels[4] == 1);
  HK_CHECK_CLOSE(c.col[1], 0.75, 1e-12);
  HK_CHECK(c.sizeRow[1] == 1 && c.sizeCol[1] == 2);
}

HK_TEST(zeroChargeClusterGetsGeometricCentroid) {
  Pixels p;
  p.add(0, 2, 2, 0.0);
  p.add(0, 2, 3, 0.0);
  p.add(0, 3, 3, 0.0);
  const auto c = run(p);
  HK_CHECK(c.nClusters() == 1);
  HK_CHECK_CLOSE(c.charge[0], 0.0, 0.0);
  HK_CHECK_CLOSE(c.row[0], 7.0 / 3.0, 1e-12);
  HK_CHECK_CLOSE(c.col[0], 8.0 / 3.0, 1e-12);
}

HK_TEST(randomModulesMatchFloodFillAndAreThreadInvariant) {
  std::mt19937 gen(29);
  Pixels p;
  std::set<std::tuple<std::int64_t, std::int32_t, std::int32_t>> seen;
  std::uniform_int_distribution<std::int64_t> mod(0, 40);
  std::uniform_int_distribution<std::int32_t> rc(0, 11);
  std::uniform_real_distribution<double> q(0.1, 5.0);
  while (p.module.size() < 900) {
    const auto m = mod(gen) * 1000003;  // sparse ids: several radix passes
    const auto r = rc(gen);
    const auto c = rc(gen);
    if (seen.insert({m, r, c}).second) {
      p.add(m, r, c, q(gen));
    }
  }
  for (unsigned conn : {4u, 8u}) {
    const auto ref = run(p, conn, 1);
    HK_CHECK(samePartition(ref.labels, bruteForceRoots(p, conn)));
    // Sizes add up, numbering follows (module, smallest pixel).
    std::int64_t total = 0;
    for (const auto s : ref.size) {
      total += s;
    }
    HK_CHECK(total == static_cast<std::int64_t>(p.module.size()));
    HK_CHECK(std::is_sorted(ref.module.begin(), ref.module.end()));
    for (unsigned threads : {2u, 3u, 0u}) {
      const auto c = run(p, conn, threads);
      HK_CHECK(c.labels == ref.labels);
      HK_CHECK(c.module == ref.module);
      HK_CHECK(c.size == ref.size);
      HK_CHECK(c.sizeRow == ref.sizeRow && c.sizeCol == ref.sizeCol);
      HK_CHECK(c.charge == ref.charge);  // bit-identical
      HK_CHECK(c.row == ref.row && c.col == ref.col);
    }
  }
}

HK_TEST(allSortPathsGiveTheSameClusters) {
  // Module 0: rows 10^9 apart (comparison sort); module 1: one crowded row
  // (comparison sort within the row); module 2: a small dense patch (counting
  // sort by row). Shuffled, then presented already sorted (no sort at all).
  std::mt19937 gen(4);
  Pixels p;
  for (std::int32_t c = 0; c < 20; ++c) {
    p.add(0, c % 2 == 0 ? 0 : 1'000'000'000, c / 2, 1.0 + c);
  }
  for (std::int32_t c = 0; c < 150; ++c) {
    if (c % 7 != 3) {
      p.add(1, 5, c, 0.5 * c);
    }
  }
  for (std::int32_t r = 0; r < 10; ++r) {
    for (std::int32_t c = 0; c < 10; ++c) {
      if ((r * 7 + c * 3) % 5 != 0) {
        p.add(2, r, c, 1.0 + r);
      }
    }
  }
  std::vector<std::size_t> perm(p.module.size());
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::shuffle(perm.begin(), perm.end(), gen);
  Pixels shuffled;
  for (const auto i : perm) {
    shuffled.add(p.module[i], p.row[i], p.col[i], p.charge[i]);
  }
  std::vector<std::size_t> sortedOrder = perm;
  std::sort(sortedOrder.begin(), sortedOrder.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(p.module[a], p.row[a], p.col[a]) <
           std::tie(p.module[b], p.row[b], p.col[b]);
  });
  Pixels sorted;
  for (const auto i : sortedOrder) {
    sorted.add(p.module[i], p.row[i], p.col[i], p.charge[i]);
  }
  for (unsigned conn : {4u, 8u}) {
    const auto a = run(shuffled, conn);
    const auto b = run(sorted, conn);
    HK_CHECK(samePartition(a.labels, bruteForceRoots(shuffled, conn)));
    HK_CHECK(a.module == b.module && a.size == b.size);
    HK_CHECK(a.sizeRow == b.sizeRow && a.sizeCol == b.sizeCol);
    for (std::size_t k = 0; k < a.nClusters(); ++k) {
      HK_CHECK_CLOSE(a.charge[k], b.charge[k], 1e-9);
      HK_CHECK_CLOSE(a.row[k], b.row[k], 1e-6);
      HK_CHECK_CLOSE(a.col[k], b.col[k], 1e-9);
    }
    // the same pixel gets the same cluster index in both orders
    std::vector<std::int32_t> byPixelA(p.module.size());
    std::vector<std::int32_t> byPixelB(p.module.size());
    for (std::size_t k = 0; k < perm.size(); ++k) {
      byPixelA[perm[k]] = a.labels[k];
      byPixelB[sortedOrder[k]] = b.labels[k];
    }
    HK_CHECK(byPixelA == byPixelB);
  }
  // module 0: one run per row; module 1: a gap at every 7th column
  const auto c = run(sorted, 8);
  HK_CHECK(std::count(c.module.begin(), c.module.end(), 0) == 2);
  HK_CHECK(std::count(c.module.begin(), c.module.end(), 1) == 22);
  HK_CHECK(c.sizeCol[0] == 10 && c.sizeRow[0] == 1);
}

HK_TEST(floatChargeGivesTheSameClusters) {
  Pixels p;
  p.add(3, 0, 0, 1.5);
  p.add(3, 1, 1, 2.5);
  p.add(3, 9, 9, 1.0);
  const std::vector<float> qf(p.charge.begin(), p.charge.end());
  PixelClusterizer::Config cfg;
  const auto c = PixelClusterizer(cfg).cluster<float>(p.module, p.row, p.col, qf);
  const auto d = run(p);
  HK_CHECK(c.labels == d.labels);
  HK_CHECK(c.charge == d.charge);
}

HK_TEST(emptyInputGivesNoClusters) {
  const Pixels p;
  const auto c = run(p);
  HK_CHECK(c.labels.empty());
  HK_CHECK(c.nClusters() == 0);
}

HK_TEST(validationErrorsNameTheFieldAndValue) {
  PixelClusterizer::Config cfg;
  cfg.connectivity = 6;
  HK_CHECK_THROWS(PixelClusterizer{cfg}, std::invalid_argument);
  try {
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    HK_CHECK(std::string(e.what()).find("connectivity (=6)") != std::string::npos);
  }

  Pixels good;
  good.add(0, 0, 0);
  good.add(0, 0, 1);
  good.add(1, 4, 4);

  Pixels p = good;
  p.row[1] = -1;
  HK_CHECK(throwsMentioning(p, "row[1] (=-1) must be >= 0"));
  p = good;
  p.col[2] = -7;
  HK_CHECK(throwsMentioning(p, "col[2] (=-7)"));
  p = good;
  p.charge[0] = std::numeric_limits<double>::quiet_NaN();
  HK_CHECK(throwsMentioning(p, "charge[0] (=nan) must be finite and >= 0"));
  p = good;
  p.charge[2] = std::numeric_limits<double>::infinity();
  HK_CHECK(throwsMentioning(p, "charge[2] (=inf)"));
  p = good;
  p.charge[1] = -0.5;
  HK_CHECK(throwsMentioning(p, "charge[1] (=-0.5)"));
  p = good;
  p.add(1, 9, 9);
  p.add(0, 0, 1);  // repeats pixel 1
  p.add(1, 4, 4);  // repeats pixel 2
  HK_CHECK(throwsMentioning(p, "pixel 4 (module 0, row 0, col 1) duplicates pixel 1"));
  p = good;
  p.charge.pop_back();
  HK_CHECK(throwsMentioning(p, "same length"));
}

HK_TEST(firstBadPixelIsReportedForAnyThreadCount) {
  // Bad values in several validation chunks and duplicates in several
  // modules: the smallest index is named, whatever the thread count.
  Pixels p;
  for (std::int32_t i = 0; i < 300'000; ++i) {
    p.add(i / 100, (i % 100) / 10, i % 10, 1.0);
  }
  Pixels bad = p;
  bad.row[250'000] = -2;
  bad.charge[150'000] = -1.0;
  bad.col[200'000] = -3;
  Pixels dup = p;
  dup.col[290'001] = 0;  // repeats 290'000
  dup.col[120'001] = 0;  // repeats 120'000
  dup.row[120'011] = 0;  // repeats 120'000 and 120'001
  dup.col[120'011] = 0;
  for (unsigned threads : {1u, 3u}) {
    PixelClusterizer::Config cfg;
    cfg.nThreads = threads;
    const PixelClusterizer clusterizer(cfg);
    std::string msg;
    try {
      clusterizer.cluster<double>(bad.module, bad.row, bad.col, bad.charge);
    } catch (const std::invalid_argument& e) {
      msg = e.what();
    }
    HK_CHECK(msg.find("charge[150000] (=-1)") != std::string::npos);
    msg.clear();
    try {
      clusterizer.cluster<double>(dup.module, dup.row, dup.col, dup.charge);
    } catch (const std::invalid_argument& e) {
      msg = e.what();
    }
    HK_CHECK(msg.find("pixel 120001 (module 1200, row 0, col 0) duplicates pixel 120000") !=
             std::string::npos);
  }
}

HK_TEST_MAIN()
