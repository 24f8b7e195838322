#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <vector>

namespace helixkit {

/// A k-d tree over N points in D dimensions (D chosen at run time), exact
/// nearest-neighbour and fixed-radius queries in squared Euclidean distance.
///
/// The points are copied once into tree order (N * D values of value_t), so a
/// leaf scan reads contiguous memory. Nodes split the dimension of largest
/// spread at the median. Queries prune a subtree only when its lower bound is
/// *strictly* larger than the current bound, so equal-distance ties are
/// always resolved by the lower original index, exactly as a brute-force
/// lexicographic (distance, index) ordering would.
template <typename value_t>
class KdTree {
 public:
  /// A (squared distance, original index) pair.
  struct Neighbor {
    value_t dist2;
    std::uint32_t index;
    bool operator<(const Neighbor& o) const {
      return dist2 < o.dist2 || (dist2 == o.dist2 && index < o.index);
    }
  };

  /// @param points row-major, size nPoints * dim
  /// @param dim number of dimensions (>= 1)
  /// @param leafSize maximum number of points in a leaf
  KdTree(std::span<const value_t> points, std::size_t dim,
         std::size_t leafSize = 16)
      : m_dim(dim), m_leafSize(std::max<std::size_t>(leafSize, 1)) {
    if (dim == 0) {
      throw std::invalid_argument("KdTree: dim must be >= 1");
    }
    if (points.size() % dim != 0) {
      throw std::invalid_argument("KdTree: points.size() must be a multiple of dim");
    }
    m_n = points.size() / dim;
    if (m_n >= std::numeric_limits<std::uint32_t>::max()) {
      throw std::invalid_argument("KdTree: too many points (>= 2^32)");
    }
    m_index.resize(m_n);
    std::iota(m_index.begin(), m_index.end(), 0u);
    if (m_n > 0) {
      m_nodes.reserve(2 * (m_n / m_leafSize + 1));
      build(points, 0, static_cast<std::uint32_t>(m_n));
    }
    m_points.resize(m_n * dim);
    for (std::size_t i = 0; i < m_n; ++i) {
      std::copy_n(points.data() + static_cast<std::size_t>(m_index[i]) * dim, dim,
                  m_points.data() + i * dim);
    }
  }

  std::size_t size() const { return m_n; }
  std::size_t dim() const { return m_dim; }
  /// Coordinates of the point at tree position `pos` (contiguous, dim values).
  const value_t* treePoint(std::size_t pos) const { return m_points.data() + pos * m_dim; }
  /// Original index of the point at tree position `pos`. Iterating queries in
  /// tree order keeps successive searches in cache.
  std::uint32_t originalIndex(std::size_t pos) const { return m_index[pos]; }

  /// The k nearest points of `query` (sorted by distance, then index),
  /// excluding the point with original index `exclude` (pass npos for none)
  /// and points farther than sqrt(maxDist2).
  /// @param out scratch/result buffer, resized to at most k
  void knn(const value_t* query, std::size_t k, std::uint32_t exclude,
           value_t maxDist2, std::vector<Neighbor>& out,
           std::vector<value_t>& offsets) const {
    out.clear();
    if (m_n == 0 || k == 0) {
      return;
    }
    offsets.assign(m_dim, value_t(0));
    KnnState st{query, k, exclude, maxDist2, out};
    knnRecurse(0, value_t(0), offsets.data(), st);
  }

  /// All points within sqrt(maxDist2) of `query` (d2 <= maxDist2), unsorted,
  /// excluding original index `exclude`.
  void radius(const value_t* query, value_t maxDist2, std::uint32_t exclude,
              std::vector<Neighbor>& out, std::vector<value_t>& offsets) const {
    out.clear();
    if (m_n == 0) {
      return;
    }
    offsets.assign(m_dim, value_t(0));
    radiusRecurse(0, value_t(0), offsets.data(), query, maxDist2, exclude, out);
  }

  /// Number of points within sqrt(maxDist2) of `query`, counting stops early
  /// once `stopAt` is reached (the return value is then stopAt).
  std::size_t countWithin(const value_t* query, value_t maxDist2,
                          std::size_t stopAt, std::vector<value_t>& offsets) const {
    if (m_n == 0 || stopAt == 0) {
      return 0;
    }
    offsets.assign(m_dim, value_t(0));
    std::size_t count = 0;
    countRecurse(0, value_t(0), offsets.data(), query, maxDist2, stopAt, count);
    return count;
  }

  static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();

 private:
  struct Node {
    std::uint32_t begin;
    std::uint32_t end;
    std::int32_t left;   // -1 for a leaf
    std::int32_t right;
    std::uint32_t splitDim;
    value_t split;
  };

  struct KnnState {
    const value_t* query;
    std::size_t k;
    std::uint32_t exclude;
    value_t bound;  // current pruning bound (squared)
    std::vector<Neighbor>& best;
  };

  std::int32_t build(std::span<const value_t> pts, std::uint32_t begin,
                     std::uint32_t end) {
    const auto nodeId = static_cast<std::int32_t>(m_nodes.size());
    m_nodes.push_back(Node{begin, end, -1, -1, 0, value_t(0)});
    if (end - begin <= m_leafSize) {
      return nodeId;
    }
    // Split the dimension of largest spread at the median.
    std::size_t bestDim = 0;
    value_t bestSpread = value_t(-1);
    for (std::size_t d = 0; d < m_dim; ++d) {
      value_t lo = std::numeric_limits<value_t>::max();
      value_t hi = std::numeric_limits<value_t>::lowest();
      for (std::uint32_t i = begin; i < end; ++i) {
        const value_t v = pts[static_cast<std::size_t>(m_index[i]) * m_dim + d];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      if (hi - lo > bestSpread) {
        bestSpread = hi - lo;
        bestDim = d;
      }
    }
    if (bestSpread <= value_t(0)) {
      return nodeId;  // all points identical: keep as one leaf
    }
    const std::uint32_t mid = begin + (end - begin) / 2;
    auto key = [&](std::uint32_t idx) {
      return pts[static_cast<std::size_t>(idx) * m_dim + bestDim];
    };
    std::nth_element(m_index.begin() + begin, m_index.begin() + mid,
                     m_index.begin() + end,
                     [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
    const value_t split = key(m_index[mid]);
    const std::int32_t left = build(pts, begin, mid);
    const std::int32_t right = build(pts, mid, end);
    Node& node = m_nodes[static_cast<std::size_t>(nodeId)];
    node.left = left;
    node.right = right;
    node.splitDim = static_cast<std::uint32_t>(bestDim);
    node.split = split;
    return nodeId;
  }

  // Squared distance with early exit once it exceeds `bound`.
  value_t dist2(const value_t* a, const value_t* b, value_t bound) const {
    value_t s = 0;
    std::size_t d = 0;
    for (; d + 4 <= m_dim; d += 4) {
      const value_t e0 = a[d] - b[d];
      const value_t e1 = a[d + 1] - b[d + 1];
      const value_t e2 = a[d + 2] - b[d + 2];
      const value_t e3 = a[d + 3] - b[d + 3];
      s += e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3;
      if (s > bound) {
        return s;
      }
    }
    for (; d < m_dim; ++d) {
      const value_t e = a[d] - b[d];
      s += e * e;
    }
    return s;
  }

  void knnRecurse(std::int32_t nodeId, value_t minDist2, value_t* off,
                  KnnState& st) const {
    const Node& node = m_nodes[static_cast<std::size_t>(nodeId)];
    if (node.left < 0) {
      for (std::uint32_t i = node.begin; i < node.end; ++i) {
        const std::uint32_t idx = m_index[i];
        if (idx == st.exclude) {
          continue;
        }
        const value_t d2 = dist2(st.query, m_points.data() + std::size_t(i) * m_dim,
                                 st.bound);
        if (d2 > st.bound) {
          continue;
        }
        const Neighbor cand{d2, idx};
        auto& best = st.best;
        if (best.size() == st.k) {
          if (!(cand < best.back())) {
            continue;
          }
          best.pop_back();
        }
        best.insert(std::upper_bound(best.begin(), best.end(), cand), cand);
        if (best.size() == st.k) {
          st.bound = std::min(st.bound, best.back().dist2);
        }
      }
      return;
    }
    const std::size_t d = node.splitDim;
    const value_t diff = st.query[d] - node.split;
    const std::int32_t nearChild = diff < 0 ? node.left : node.right;
    const std::int32_t farChild = diff < 0 ? node.right : node.left;
    knnRecurse(nearChild, minDist2, off, st);
    const value_t old = off[d];
    const value_t farDist2 = minDist2 - old * old + diff * diff;
    if (farDist2 <= st.bound) {
      off[d] = diff;
      knnRecurse(farChild, farDist2, off, st);
      off[d] = old;
    }
  }

  void radiusRecurse(std::int32_t nodeId, value_t minDist2, value_t* off,
                     const value_t* q, value_t r2, std::uint32_t exclude,
                     std::vector<Neighbor>& out) const {
    const Node& node = m_nodes[static_cast<std::size_t>(nodeId)];
    if (node.left < 0) {
      for (std::uint32_t i = node.begin; i < node.end; ++i) {
        const value_t d2 = dist2(q, m_points.data() + std::size_t(i) * m_dim, r2);
        if (d2 <= r2 && m_index[i] != exclude) {
          out.push_back(Neighbor{d2, m_index[i]});
        }
      }
      return;
    }
    const std::size_t d = node.splitDim;
    const value_t diff = q[d] - node.split;
    const std::int32_t nearChild = diff < 0 ? node.left : node.right;
    const std::int32_t farChild = diff < 0 ? node.right : node.left;
    radiusRecurse(nearChild, minDist2, off, q, r2, exclude, out);
    const value_t old = off[d];
    const value_t farDist2 = minDist2 - old * old + diff * diff;
    if (farDist2 <= r2) {
      off[d] = diff;
      radiusRecurse(farChild, farDist2, off, q, r2, exclude, out);
      off[d] = old;
    }
  }

  void countRecurse(std::int32_t nodeId, value_t minDist2, value_t* off,
                    const value_t* q, value_t r2, std::size_t stopAt,
                    std::size_t& count) const {
    const Node& node = m_nodes[static_cast<std::size_t>(nodeId)];
    if (node.left < 0) {
      for (std::uint32_t i = node.begin; i < node.end; ++i) {
        if (dist2(q, m_points.data() + std::size_t(i) * m_dim, r2) <= r2 &&
            ++count >= stopAt) {
          return;
        }
      }
      return;
    }
    const std::size_t d = node.splitDim;
    const value_t diff = q[d] - node.split;
    const std::int32_t nearChild = diff < 0 ? node.left : node.right;
    const std::int32_t farChild = diff < 0 ? node.right : node.left;
    countRecurse(nearChild, minDist2, off, q, r2, stopAt, count);
    if (count >= stopAt) {
      return;
    }
    const value_t old = off[d];
    const value_t farDist2 = minDist2 - old * old + diff * diff;
    if (farDist2 <= r2) {
      off[d] = diff;
      countRecurse(farChild, farDist2, off, q, r2, stopAt, count);
      off[d] = old;
    }
  }

  std::size_t m_dim;
  std::size_t m_leafSize;
  std::size_t m_n = 0;
  std::vector<value_t> m_points;        // tree order
  std::vector<std::uint32_t> m_index;   // tree position -> original index
  std::vector<Node> m_nodes;
};

}  // namespace helixkit
