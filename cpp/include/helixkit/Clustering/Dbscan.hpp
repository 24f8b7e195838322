#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace helixkit {

/// Density-based clustering (DBSCAN) with scikit-learn's semantics.
///
/// - The neighbourhood of a point includes the point itself; a point is a
///   core point if its eps-neighbourhood (distance <= eps) has at least
///   minPoints members.
/// - Clusters are the connected components of core points (two core points
///   are linked if within eps); they are numbered 0, 1, ... in the order of
///   their lowest core-point index (as sklearn's scan numbers them).
/// - A non-core point within eps of a core point is a border point and takes
///   the *lowest* cluster label among its core neighbours. This is exactly
///   what sklearn's sequential expansion produces, since it grows cluster 0
///   completely before it starts cluster 1. Other points are noise (-1).
/// The result is independent of the thread count.
class Dbscan {
 public:
  struct Config {
    /// Neighbourhood radius, in the units of the input coordinates.
    double epsilon = 0.1;
    /// Minimum neighbourhood size (itself included) that makes a core point.
    std::uint32_t minPoints = 5;
    /// Worker threads; 0 means all hardware threads.
    unsigned nThreads = 0;
    /// @throws std::invalid_argument naming the offending field and value
    void validate() const;
  };

  explicit Dbscan(const Config& cfg);

  /// @param points row-major, size nPoints * dim
  /// @return one label per point, -1 for noise
  template <typename value_t>
  std::vector<std::int32_t> cluster(std::span<const value_t> points,
                                    std::size_t dim) const;

  /// Re-cluster from a precomputed neighbour graph (CSR by point: neighbours
  /// of i are `neighbors[offsets[i]:offsets[i+1]]` with their distances,
  /// self excluded), built once at a radius >= epsilon. Linear in the number
  /// of edges; used for fast (eps, minPoints) scans.
  template <typename value_t>
  std::vector<std::int32_t> clusterGraph(std::span<const std::int64_t> offsets,
                                         std::span<const std::int64_t> neighbors,
                                         std::span<const value_t> distances) const;

  const Config& config() const { return m_cfg; }

 private:
  Config m_cfg;
};

}  // namespace helixkit
