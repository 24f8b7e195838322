#include "helixkit/Graph/MaxNormNeighbors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

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

/// Counts in one dimension: a sorted copy and two binary searches per point.
/// The distance of sorted value s to x is computed as |s - x| in the same
/// arithmetic as the tree, and it is monotonic in s on each side of x, so
/// the counted set is exactly the tree's.
template <typename value_t>
void countWithin1D(std::span<const value_t> x, std::span<const value_t> radius, bool strict,
                   unsigned nThreads, std::vector<std::uint32_t>& out) {
  const std::size_t n = x.size();
  std::vector<value_t> sorted(x.begin(), x.end());
  std::sort(sorted.begin(), sorted.end());
  out.assign(n, 0);
  parallelChunks(n, kChunk, nThreads, [&](std::size_t, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const value_t xi = x[i];
      const value_t t = threshold(radius[i], strict);
      if (t < value_t(0)) {
        continue;  // strict and radius 0: nothing, not even x itself
      }
      const auto mid = std::lower_bound(sorted.begin(), sorted.end(), xi);
      const auto lo = std::partition_point(
          sorted.begin(), mid, [&](value_t s) { return std::abs(s - xi) > t; });
      const auto hi = std::partition_point(
          mid, sorted.end(), [&](value_t s) { return std::abs(s - xi) <= t; });
      out[i] = static_cast<std::uint32_t>(hi - lo - 1);  // minus the point itself
    }
  });
}

template <typename value_t>
void countWithinTree(std::span<const value_t> points, std::size_t dim,
                     std::span<const value_t> radius, const MaxNormNeighbors::Config& cfg,
                     std::vector<std::uint32_t>& out) {
  const std::size_t n = radius.size();
  if (dim == 1) {
    countWithin1D(points, radius, cfg.strict, cfg.nThreads, out);
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
  const std::size_t dj = dx + dy;
  std::vector<value_t> joint(n * dj);
  for (std::size_t i = 0; i < n; ++i) {
    std::copy_n(x.data() + i * dx, dx, joint.data() + i * dj);
    std::copy_n(y.data() + i * dy, dy, joint.data() + i * dj + dx);
  }
  KsgCounts<value_t> out;
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
