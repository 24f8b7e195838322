#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace helixkit {

/// Per-point neighbour counts of the Kraskov-Stoegbauer-Grassberger mutual
/// information estimator 1 (PRE 69, 066138, 2004).
template <typename value_t>
struct KsgCounts {
  /// Max-norm distance from each point to its k-th nearest other point in the
  /// joint space (x, y); input units.
  std::vector<value_t> radius;
  /// Other points strictly (or, without `strict`, at most) within `radius`
  /// in the x space alone ...
  std::vector<std::uint32_t> nx;
  /// ... and in the y space alone.
  std::vector<std::uint32_t> ny;
};

/// Max-norm (Chebyshev) neighbour searches on a k-d tree, counts only: the
/// k-th-neighbour distance of every point and the number of points within a
/// per-point radius, without edge lists. Identical for any thread count.
class MaxNormNeighbors {
 public:
  struct Config {
    /// Neighbour rank of the distance (k-th nearest other point, >= 1).
    std::size_t k = 3;
    /// Count points with distance < radius (true, as KSG needs) or
    /// <= radius (false).
    bool strict = true;
    /// Worker threads; 0 means all hardware threads.
    unsigned nThreads = 0;
    /// Points per k-d tree leaf.
    std::size_t leafSize = 16;
    /// @throws std::invalid_argument naming the offending field
    void validate() const;
  };

  /// Max-norm distance from each of the nPoints rows of `points`
  /// (row-major, nPoints x dim) to its k-th nearest *other* row.
  /// @throws std::invalid_argument if k >= nPoints, or on NaN / infinite
  ///         coordinates
  template <typename value_t>
  static std::vector<value_t> kthDistance(std::span<const value_t> points,
                                          std::size_t dim, const Config& cfg);

  /// For each row i of `points`, the number of other rows j != i with
  /// max-norm distance < radius[i] (strict) or <= radius[i].
  /// @param radius one finite, non-negative value per row; input units
  template <typename value_t>
  static std::vector<std::uint32_t> countWithin(std::span<const value_t> points,
                                                std::size_t dim,
                                                std::span<const value_t> radius,
                                                const Config& cfg);

  /// The KSG estimator-1 counts of the pairs (x_i, y_i): the k-th-neighbour
  /// max-norm distance in the joint space, and the marginal counts within it.
  /// @param x row-major, nPoints x dx
  /// @param y row-major, nPoints x dy (same nPoints)
  template <typename value_t>
  static KsgCounts<value_t> ksg(std::span<const value_t> x, std::size_t dx,
                                std::span<const value_t> y, std::size_t dy,
                                const Config& cfg);
};

}  // namespace helixkit
