#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace helixkit {

/// Edges of a neighbour graph in torch_geometric's "source_to_target" layout:
/// `source[e]` is the neighbour, `target[e]` the query point. Edges are
/// grouped by target in ascending order; within a target, neighbours are
/// sorted by (distance, index). Identical for any thread count.
template <typename value_t>
struct NeighborEdges {
  /// The (2, E) edge index, row-major: E sources, then E targets (the layout
  /// of a torch_geometric edge_index, handed to Python without a copy).
  std::vector<std::int64_t> index;
  std::vector<value_t> distance;  ///< Euclidean distance, same units as the points

  std::size_t size() const { return distance.size(); }
  /// Resize to `e` edges (contents of a growing index are rearranged only by
  /// the caller, which fills it after resizing).
  void resize(std::size_t e) {
    index.resize(2 * e);
    distance.resize(e);
  }
  std::int64_t* source() { return index.data(); }
  std::int64_t* target() { return index.data() + size(); }
  std::span<const std::int64_t> source() const { return {index.data(), size()}; }
  std::span<const std::int64_t> target() const { return {index.data() + size(), size()}; }
};

/// Exact k-nearest-neighbour and fixed-radius graphs on a k-d tree (kNN also
/// by brute force in high dimension).
class NeighborGraph {
 public:
  /// eAuto's brute-force threshold (measured: docs/graph.md).
  static constexpr std::size_t kBruteForceMinDim = 16;
  struct Config {
    /// Number of neighbours per query point (kNN only).
    std::size_t k = 16;
    /// Search radius (radius graph), or the maximum edge length of a kNN
    /// graph; <= 0 or infinity means unlimited for kNN. Input units.
    double radius = 0.0;
    /// Radius graph: keep at most this many *nearest* neighbours per query
    /// point; 0 means unlimited.
    std::size_t maxNeighbors = 0;
    /// Include self-loops (i, i) in self-graphs.
    bool loop = false;
    /// Worker threads; 0 means all hardware threads.
    unsigned nThreads = 0;
    /// Points per k-d tree leaf.
    std::size_t leafSize = 32;
    /// kNN search: a k-d tree, a blocked brute-force scan of every point, or
    /// eAuto (brute force from kBruteForceMinDim dimensions, where the tree
    /// prunes too little to pay for its traversal). Both give the same
    /// neighbours and the same distances, bit for bit.
    enum class Algorithm { eAuto, eKdTree, eBruteForce };
    Algorithm algorithm = Algorithm::eAuto;
    /// @throws std::invalid_argument naming the offending field
    void validate(bool isRadius) const;
  };

  /// kNN graph of `points` (nPoints x dim, row-major) with itself
  /// (`query` empty) or of `query` points among `points`.
  template <typename value_t>
  static NeighborEdges<value_t> knn(std::span<const value_t> points,
                                    std::span<const value_t> query,
                                    std::size_t dim, const Config& cfg);

  /// Radius graph (all pairs with distance <= radius), same conventions.
  template <typename value_t>
  static NeighborEdges<value_t> radius(std::span<const value_t> points,
                                       std::span<const value_t> query,
                                       std::size_t dim, const Config& cfg);
};

}  // namespace helixkit
