#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace helixkit {

/// Connected-component clustering of fired pixels, per module (the ACTS
/// `Clusterization` step).
///
/// - Two fired pixels of the same module belong to the same cluster if they
///   are linked by a chain of neighbours: with 4-connectivity neighbours
///   share an edge, with 8-connectivity an edge or a corner.
/// - Pixels are addressed by (module, row, column); pixel centres sit at
///   integer coordinates, so centroids are in pixel units.
/// - Clusters are numbered 0, 1, ... in the order of (module id, then the
///   smallest (row, column) pixel of the cluster): within a module this is
///   the raster order of `scipy.ndimage.label`.
/// - No dense image is built: the pixels of a module are sorted by
///   (row, column) and horizontal runs are linked to the runs of the previous
///   row by a two-pointer sweep, so the cost is O(n log n) in the number of
///   fired pixels and independent of the module size.
/// The result is independent of the thread count.
class PixelClusterizer {
 public:
  struct Config {
    /// Pixel neighbourhood: 4 (shared edge) or 8 (shared edge or corner).
    unsigned connectivity = 8;
    /// Worker threads; 0 means all hardware threads.
    unsigned nThreads = 0;
    /// @throws std::invalid_argument naming the offending field and value
    void validate() const;
  };

  /// Per-pixel cluster index and per-cluster properties, clusters in the
  /// order described above.
  struct Clusters {
    /// Cluster index of every input pixel, in input order.
    std::vector<std::int32_t> labels;
    /// Module id of each cluster.
    std::vector<std::int64_t> module;
    /// Number of pixels of each cluster.
    std::vector<std::int32_t> size;
    /// Extent in rows (max - min + 1), in pixels.
    std::vector<std::int32_t> sizeRow;
    /// Extent in columns (max - min + 1), in pixels.
    std::vector<std::int32_t> sizeCol;
    /// Sum of the pixel charges, in the units of the input charge.
    std::vector<double> charge;
    /// Charge-weighted mean row, in pixel units (the unweighted mean if the
    /// cluster's total charge is zero).
    std::vector<double> row;
    /// Charge-weighted mean column, in pixel units (the unweighted mean if
    /// the cluster's total charge is zero).
    std::vector<double> col;

    std::size_t nClusters() const { return module.size(); }
  };

  explicit PixelClusterizer(const Config& cfg);

  /// @param module module id of each fired pixel
  /// @param row row index of each fired pixel, >= 0
  /// @param col column index of each fired pixel, >= 0
  /// @param charge charge of each fired pixel, finite and >= 0 (any unit)
  /// @return labels of the pixels and the properties of the clusters
  /// @throws std::invalid_argument on inputs of different lengths, a
  ///   negative row or column, a non-finite or negative charge, or a
  ///   duplicate pixel (same module, row and column), naming the pixel index
  template <typename value_t>
  Clusters cluster(std::span<const std::int64_t> module,
                   std::span<const std::int32_t> row,
                   std::span<const std::int32_t> col,
                   std::span<const value_t> charge) const;

  const Config& config() const { return m_cfg; }

 private:
  Config m_cfg;
};

}  // namespace helixkit
