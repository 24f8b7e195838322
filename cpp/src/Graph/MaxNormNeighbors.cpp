#include "helixkit/Graph/MaxNormNeighbors.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "helixkit/Graph/KdTree.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

namespace {

constexpr std::size_t kChunk = 256;

template <typename value_t>
using MaxTree = KdTree<value_t, KdMetric::eChebyshev>;

std::size_t rowsOf(std::size_t size, std::size_t dim, const char* name) {
  if (dim == 0) {
    throw std::invalid_argument(std::string("MaxNormNeighbors: ") + name +
                                " must have at least one column (dim = 0)");
  }
  if (size % dim != 0) {
    throw std::invalid_argument(std::string("MaxNormNeighbors: ") + name + " size (=" +
                                std::to_string(size) + ") is not a multiple of dim (=" +
                                std::to_string(dim) + ")");
  }
  return size / dim;
}

template <typename value_t>
void requireFinite(std::span<const value_t> values, const char* name) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw std::invalid_argument(std::string("MaxNormNeighbors: ") + name +
                                  " holds a non-finite value at flat index " +
                                  std::to_string(i));
    }
  }
}

/// The largest threshold t with (d within radius) <=> (d <= t) for every
/// computed distance d: radius itself, or the next value below it (strict).
template <typename value_t>
value_t threshold(value_t radius, bool strict) {
  return strict ? std::nextafter(radius, -std::numeric_limits<value_t>::infinity())
                : radius;
}

template <typename value_t>
void kthDistanceInto(const MaxTree<value_t>& tree, std::size_t k, unsigned nThreads,
                     std::vector<value_t>& out) {
  const std::size_t n = tree.size();
  out.assign(n, value_t(0));
  using Nb = typename MaxTree<value_t>::Neighbor;
  parallelChunks(n, kChunk, nThreads, [&](std::size_t, std::size_t begin, std::size_t end) {
    std::vector<Nb> best;
    best.reserve(k + 1);
    for (std::size_t p = begin; p < end; ++p) {
      // Tree order keeps successive queries in cache; the slot is the
      // original index, so the result does not depend on the threads.
      const std::uint32_t i = tree.originalIndex(p);
      tree.knn(tree.treePoint(p), k, i, std::numeric_limits<value_t>::infinity(), best);
      out[i] = best.back().dist2;
    }
  });
}

/// Order-preserving unsigned key of a finite float / double: ascending keys
/// are ascending values (-0 sorts before +0; they compare equal as values).
template <typename value_t>
using KeyOf = std::conditional_t<sizeof(value_t) == 4, std::uint32_t, std::uint64_t>;

template <typename value_t>
KeyOf<value_t> sortKey(value_t v) {
  using key_t = KeyOf<value_t>;
  key_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  constexpr key_t kSign = key_t(1) << (8 * sizeof(key_t) - 1);
  return (bits & kSign) ? key_t(~bits) : key_t(bits | kSign);
}

/// One coordinate sorted: values ascending, ties in original index order
/// (a stable LSD radix sort of the keys, 11 bits per pass; passes whose digit
/// is the same for every key are skipped).
template <typename value_t>
struct SortedAxis {
  std::vector<value_t> value;         // ascending
  std::vector<std::uint32_t> order;   // sorted position -> original index
  std::vector<std::uint32_t> rank;    // original index -> sorted position

  SortedAxis() = default;
  explicit SortedAxis(std::span<const value_t> x) {
    using key_t = KeyOf<value_t>;
    constexpr unsigned kBits = 11;
    constexpr std::size_t kBuckets = std::size_t(1) << kBits;
    constexpr unsigned kPasses = (8 * sizeof(key_t) + kBits - 1) / kBits;
    const std::size_t n = x.size();
    std::vector<key_t> key(n);
    std::vector<key_t> keyTmp(n);
    order.resize(n);
    std::vector<std::uint32_t> orderTmp(n);
    std::vector<std::uint32_t> hist(kPasses * kBuckets, 0);
    for (std::size_t i = 0; i < n; ++i) {
      key[i] = sortKey(x[i]);
      order[i] = static_cast<std::uint32_t>(i);
      for (unsigned p = 0; p < kPasses; ++p) {
        ++hist[p * kBuckets + ((key[i] >> (p * kBits)) & (kBuckets - 1))];
      }
    }
    for (unsigned p = 0; p < kPasses; ++p) {
      std::uint32_t* h = hist.data() + p * kBuckets;
      const key_t digit0 = n > 0 ? (key[0] >> (p * kBits)) & (kBuckets - 1) : 0;
      if (n == 0 || h[digit0] == n) {
        continue;  // every key has this digit: the pass would not move anything
      }
      std::uint32_t sum = 0;
      for (std::size_t b = 0; b < kBuckets; ++b) {
        const std::uint32_t c = h[b];
        h[b] = sum;
        sum += c;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t b = (key[i] >> (p * kBits)) & (kBuckets - 1);
        const std::uint32_t to = h[b]++;
        keyTmp[to] = key[i];
        orderTmp[to] = order[i];
      }
      key.swap(keyTmp);
      order.swap(orderTmp);
    }
    value.resize(n);
    rank.resize(n);
    for (std::size_t p = 0; p < n; ++p) {
      value[p] = x[order[p]];
      rank[order[p]] = static_cast<std::uint32_t>(p);
    }
  }
};

/// The length of the leading run of offsets 1, 2, ... m for which `within`
/// holds (it must hold for a prefix only): an exponential, then a binary
/// search.
template <typename pred_t>
std::size_t gallop(std::size_t m, pred_t&& within) {
  std::size_t good = 0;  // within(good) holds (trivially for 0)
  std::size_t step = 1;
  while (step <= m && within(step)) {
    good = step;
    step *= 2;
  }
  // within(good) holds, within(good + len) fails (or is beyond m); a
  // branch-free binary search between them.
  std::size_t len = std::min(step, m + 1) - good;
  while (len > 1) {
    const std::size_t half = len / 2;
    good = within(good + half) ? good + half : good;
    len -= half;
  }
  return good;
}

/// Number of sorted values other than position p itself with
/// |value - value[p]| <= t. |s - x| is monotonic in s on each side of x
/// (rounding is), so the counted set is the one of a full scan with the
/// same test.
template <typename value_t>
std::uint32_t countAround(const value_t* s, std::size_t n, std::size_t p, value_t t) {
  const value_t x = s[p];
  const std::size_t left = gallop(p, [&](std::size_t o) { return std::abs(s[p - o] - x) <= t; });
  const std::size_t right =
      gallop(n - 1 - p, [&](std::size_t o) { return std::abs(s[p + o] - x) <= t; });
  return static_cast<std::uint32_t>(left + right);
}

/// Counts of countWithin1D on an already sorted axis, for radius per
/// original index; queries run in sorted order (the searches stay in cache).
template <typename value_t>
void countSorted(const SortedAxis<value_t>& axis, std::span<const value_t> radius,
                 bool strict, unsigned nThreads, std::vector<std::uint32_t>& out) {
  const std::size_t n = axis.value.size();
  out.assign(n, 0);
  parallelChunks(n, 4 * kChunk, nThreads,
                 [&](std::size_t, std::size_t begin, std::size_t end) {
                   for (std::size_t p = begin; p < end; ++p) {
                     const std::uint32_t i = axis.order[p];
                     const value_t t = threshold(radius[i], strict);
                     if (t < value_t(0)) {
                       continue;  // strict and radius 0: nothing
                     }
                     out[i] = countAround(axis.value.data(), n, p, t);
                   }
                 });
}

/// k-th-neighbour max-norm distances of the pairs (x_i, y_i), both 1-D, on a
/// grid in rank space: G x G cells, columns holding equal numbers of points
/// by x rank and rows by y rank, a few points per cell. A query scans square
/// rings of cells around its own until the nearest unscanned ring is no
/// closer than its k-th distance so far. The ring bounds are differences of
/// actual coordinates, never larger than the computed distance of any point
/// beyond them (rounding is monotonic); the k-th smallest distance is unique,
/// so the result equals the tree's and brute force's bit for bit.
template <typename value_t>
void kthDistance2D(const SortedAxis<value_t>& ax, const SortedAxis<value_t>& ay,
                   std::size_t k, unsigned nThreads, std::vector<value_t>& out) {
  const std::size_t n = ax.value.size();
  out.assign(n, value_t(0));
  // About (k + 1) / 2 points per cell (measured: 0.25 to 1 times k + 1 run
  // alike at N = 1e5, 2 (k + 1) is slower).
  const double perCell = 0.5 * static_cast<double>(k + 1);
  const auto g = static_cast<std::size_t>(std::clamp(
      std::floor(std::sqrt(static_cast<double>(n) / perCell)), 1.0, 65535.0));
  // Cell column of sorted position p: floor(p * g / n); its first position
  // ceil(c * n / g).
  const auto cellOf = [&](std::uint32_t pos) {
    return static_cast<std::uint32_t>(std::uint64_t(pos) * g / n);
  };
  const auto firstPos = [&](std::size_t c) {
    return static_cast<std::size_t>((std::uint64_t(c) * n + g - 1) / g);
  };
  std::vector<value_t> colLo(g), colHi(g), rowLo(g), rowHi(g);
  for (std::size_t c = 0; c < g; ++c) {
    colLo[c] = ax.value[firstPos(c)];
    colHi[c] = ax.value[firstPos(c + 1) - 1];
    rowLo[c] = ay.value[firstPos(c)];
    rowHi[c] = ay.value[firstPos(c + 1) - 1];
  }
  // Points cell by cell (cell = row * g + column), each cell in x order.
  std::vector<std::uint32_t> start(g * g + 1, 0);
  std::vector<std::uint32_t> cell(n);
  for (std::size_t p = 0; p < n; ++p) {
    const std::uint32_t i = ax.order[p];
    cell[p] = cellOf(ay.rank[i]) * static_cast<std::uint32_t>(g) + cellOf(static_cast<std::uint32_t>(p));
    ++start[cell[p] + 1];
  }
  for (std::size_t c = 0; c < g * g; ++c) {
    start[c + 1] += start[c];
  }
  struct Pt {
    value_t x;
    value_t y;
  };
  std::vector<Pt> pts(n);
  std::vector<std::uint32_t> orig(n);
  {
    std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
    for (std::size_t p = 0; p < n; ++p) {
      const std::uint32_t i = ax.order[p];
      const std::uint32_t to = fill[cell[p]]++;
      pts[to] = Pt{ax.value[p], ay.value[ay.rank[i]]};
      orig[to] = i;
    }
  }
  std::vector<std::uint32_t>().swap(cell);
  const value_t inf = std::numeric_limits<value_t>::infinity();
  const auto gi = static_cast<std::ptrdiff_t>(g);
  parallelChunks(g * g, 64, nThreads, [&](std::size_t, std::size_t cBegin, std::size_t cEnd) {
    std::vector<value_t> best(k);
    for (std::size_t c = cBegin; c < cEnd; ++c) {
      const auto cy = static_cast<std::ptrdiff_t>(c / g);
      const auto cx = static_cast<std::ptrdiff_t>(c % g);
      for (std::uint32_t q = start[c]; q < start[c + 1]; ++q) {
        const value_t qx = pts[q].x;
        const value_t qy = pts[q].y;
        std::fill(best.begin(), best.end(), inf);
        value_t kth = inf;
        const auto offer = [&](std::uint32_t from, std::uint32_t to) {
          for (std::uint32_t j = from; j < to; ++j) {
            const value_t d = std::max(std::abs(pts[j].x - qx), std::abs(pts[j].y - qy));
            if (d < kth) {
              std::size_t s = k - 1;
              while (s > 0 && best[s - 1] > d) {
                best[s] = best[s - 1];
                --s;
              }
              best[s] = d;
              kth = best[k - 1];
            }
          }
        };
        offer(start[c], q);
        offer(q + 1, start[c + 1]);
        for (std::ptrdiff_t r = 1;; ++r) {
          const std::ptrdiff_t x0 = cx - r;
          const std::ptrdiff_t x1 = cx + r;
          const std::ptrdiff_t y0 = cy - r;
          const std::ptrdiff_t y1 = cy + r;
          const value_t gx0 = x0 >= 0 ? qx - colHi[static_cast<std::size_t>(x0)] : inf;
          const value_t gx1 = x1 < gi ? colLo[static_cast<std::size_t>(x1)] - qx : inf;
          const value_t gy0 = y0 >= 0 ? qy - rowHi[static_cast<std::size_t>(y0)] : inf;
          const value_t gy1 = y1 < gi ? rowLo[static_cast<std::size_t>(y1)] - qy : inf;
          // Every point of ring r and beyond is at least this far.
          if (std::min(std::min(gx0, gx1), std::min(gy0, gy1)) >= kth) {
            break;  // (all four infinite only once k points were seen: k < n)
          }
          const auto xa = static_cast<std::size_t>(std::max<std::ptrdiff_t>(x0, 0));
          const auto xb = static_cast<std::size_t>(std::min<std::ptrdiff_t>(x1, gi - 1));
          if (gy0 < kth) {
            const std::size_t row = static_cast<std::size_t>(y0) * g;
            offer(start[row + xa], start[row + xb + 1]);
          }
          if (gy1 < kth) {
            const std::size_t row = static_cast<std::size_t>(y1) * g;
            offer(start[row + xa], start[row + xb + 1]);
          }
          if (!(std::min(gx0, gx1) < kth)) {
            continue;  // neither side column is near enough
          }
          // Only the rows whose gap to qy is below kth, a contiguous range
          // around the query's row cy (rows sorted): binary searches instead
          // of a test per row, which made the search quadratic in the ring
          // when one coordinate is dense (a saturated activation: the k-th
          // distance spans many columns). The rows skipped are those the
          // test below would reject, so the offers are the same.
          const auto yFirst = std::max<std::ptrdiff_t>(y0 + 1, 0);
          const auto yLast = std::min<std::ptrdiff_t>(y1 - 1, gi - 1);
          const auto ya = static_cast<std::size_t>(
              std::partition_point(rowHi.begin() + yFirst, rowHi.begin() + cy,
                                   [&](value_t hi) {
                                     return !(std::max(qy - hi, value_t(0)) < kth);
                                   }) -
              rowHi.begin());
          const auto yb = static_cast<std::size_t>(
              std::partition_point(rowLo.begin() + cy + 1, rowLo.begin() + yLast + 1,
                                   [&](value_t lo) {
                                     return std::max(lo - qy, value_t(0)) < kth;
                                   }) -
              rowLo.begin() - 1);
          for (int side = 0; side < 2; ++side) {
            const value_t gap = side == 0 ? gx0 : gx1;
            if (!(gap < kth)) {
              continue;
            }
            const auto col = static_cast<std::size_t>(side == 0 ? x0 : x1);
            for (std::size_t y = ya; y <= yb; ++y) {
              const value_t gy = std::max(
                  std::max(rowLo[y] - qy, qy - rowHi[y]), value_t(0));
              if (gy < kth) {
                offer(start[y * g + col], start[y * g + col + 1]);
              }
            }
          }
        }
        out[orig[q]] = kth;
      }
    }
  });
}

template <typename value_t>
void countWithinTree(std::span<const value_t> points, std::size_t dim,
                     std::span<const value_t> radius, const MaxNormNeighbors::Config& cfg,
                     std::vector<std::uint32_t>& out) {
  const std::size_t n = radius.size();
  if (dim == 1) {
    countSorted(SortedAxis<value_t>(points), radius, cfg.strict, cfg.nThreads, out);
    return;
  }
  const MaxTree<value_t> tree(points, dim, cfg.leafSize, cfg.nThreads);
  out.assign(n, 0);
  parallelChunks(n, kChunk, cfg.nThreads, [&](std::size_t, std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      const std::uint32_t i = tree.originalIndex(p);
      const value_t t = threshold(radius[i], cfg.strict);
      if (t < value_t(0)) {
        continue;
      }
      const std::size_t c =
          tree.countWithin(tree.treePoint(p), t, std::numeric_limits<std::size_t>::max());
      out[i] = static_cast<std::uint32_t>(c - 1);  // the point itself is at 0 <= t
    }
  });
}

}  // namespace

void MaxNormNeighbors::Config::validate() const {
  if (k < 1) {
    throw std::invalid_argument("MaxNormNeighbors: k (=" + std::to_string(k) +
                                ") must be >= 1");
  }
  if (leafSize < 1) {
    throw std::invalid_argument("MaxNormNeighbors: leafSize (=" + std::to_string(leafSize) +
                                ") must be >= 1");
  }
}

template <typename value_t>
std::vector<value_t> MaxNormNeighbors::kthDistance(std::span<const value_t> points,
                                                   std::size_t dim, const Config& cfg) {
  cfg.validate();
  const std::size_t n = rowsOf(points.size(), dim, "points");
  if (cfg.k >= n) {
    throw std::invalid_argument("MaxNormNeighbors: k (=" + std::to_string(cfg.k) +
                                ") must be smaller than the number of points (=" +
                                std::to_string(n) + ")");
  }
  requireFinite(points, "points");
  const MaxTree<value_t> tree(points, dim, cfg.leafSize, cfg.nThreads);
  std::vector<value_t> out;
  kthDistanceInto(tree, cfg.k, cfg.nThreads, out);
  return out;
}

template <typename value_t>
std::vector<std::uint32_t> MaxNormNeighbors::countWithin(std::span<const value_t> points,
                                                         std::size_t dim,
                                                         std::span<const value_t> radius,
                                                         const Config& cfg) {
  cfg.validate();
  const std::size_t n = rowsOf(points.size(), dim, "points");
  if (radius.size() != n) {
    throw std::invalid_argument("MaxNormNeighbors: radius has " +
                                std::to_string(radius.size()) + " values for " +
                                std::to_string(n) + " points");
  }
  requireFinite(points, "points");
  for (std::size_t i = 0; i < n; ++i) {
    if (!(radius[i] >= value_t(0)) || !std::isfinite(radius[i])) {
      throw std::invalid_argument("MaxNormNeighbors: radius[" + std::to_string(i) + "] (=" +
                                  std::to_string(radius[i]) +
                                  ") must be finite and >= 0");
    }
  }
  std::vector<std::uint32_t> out;
  if (n > 0) {
    countWithinTree(points, dim, radius, cfg, out);
  }
  return out;
}

template <typename value_t>
KsgCounts<value_t> MaxNormNeighbors::ksg(std::span<const value_t> x, std::size_t dx,
                                         std::span<const value_t> y, std::size_t dy,
                                         const Config& cfg) {
  cfg.validate();
  const std::size_t n = rowsOf(x.size(), dx, "x");
  const std::size_t ny = rowsOf(y.size(), dy, "y");
  if (n != ny) {
    throw std::invalid_argument("MaxNormNeighbors: x has " + std::to_string(n) +
                                " rows but y has " + std::to_string(ny));
  }
  if (cfg.k >= n) {
    throw std::invalid_argument("MaxNormNeighbors: k (=" + std::to_string(cfg.k) +
                                ") must be smaller than the number of points (=" +
                                std::to_string(n) + ")");
  }
  requireFinite(x, "x");
  requireFinite(y, "y");
  KsgCounts<value_t> out;
  if (dx == 1 && dy == 1) {
    // Both 1-D: sort each coordinate once; a rank-space grid for the joint
    // k-th distances, searches around each point's sorted position for the
    // counts.
    SortedAxis<value_t> axes[2];
    parallelChunks(2, 1, cfg.nThreads, [&](std::size_t, std::size_t b, std::size_t) {
      axes[b] = SortedAxis<value_t>(b == 0 ? x : y);
    });
    kthDistance2D(axes[0], axes[1], cfg.k, cfg.nThreads, out.radius);
    countSorted(axes[0], std::span<const value_t>(out.radius), cfg.strict, cfg.nThreads,
                out.nx);
    countSorted(axes[1], std::span<const value_t>(out.radius), cfg.strict, cfg.nThreads,
                out.ny);
    return out;
  }
  const std::size_t dj = dx + dy;
  std::vector<value_t> joint(n * dj);
  for (std::size_t i = 0; i < n; ++i) {
    std::copy_n(x.data() + i * dx, dx, joint.data() + i * dj);
    std::copy_n(y.data() + i * dy, dy, joint.data() + i * dj + dx);
  }
  {
    const MaxTree<value_t> tree(std::span<const value_t>(joint), dj, cfg.leafSize,
                                cfg.nThreads);
    kthDistanceInto(tree, cfg.k, cfg.nThreads, out.radius);
  }
  std::vector<value_t>().swap(joint);
  countWithinTree(x, dx, std::span<const value_t>(out.radius), cfg, out.nx);
  countWithinTree(y, dy, std::span<const value_t>(out.radius), cfg, out.ny);
  return out;
}

template std::vector<float> MaxNormNeighbors::kthDistance<float>(std::span<const float>,
                                                                 std::size_t, const Config&);
template std::vector<double> MaxNormNeighbors::kthDistance<double>(std::span<const double>,
                                                                   std::size_t,
                                                                   const Config&);
template std::vector<std::uint32_t> MaxNormNeighbors::countWithin<float>(
    std::span<const float>, std::size_t, std::span<const float>, const Config&);
template std::vector<std::uint32_t> MaxNormNeighbors::countWithin<double>(
    std::span<const double>, std::size_t, std::span<const double>, const Config&);
template KsgCounts<float> MaxNormNeighbors::ksg<float>(std::span<const float>, std::size_t,
                                                       std::span<const float>, std::size_t,
                                                       const Config&);
template KsgCounts<double> MaxNormNeighbors::ksg<double>(std::span<const double>,
                                                         std::size_t,
                                                         std::span<const double>,
                                                         std::size_t, const Config&);

}  // namespace helixkit
