#include "helixkit/Graph/NeighborGraph.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "helixkit/Graph/KdTree.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

void NeighborGraph::Config::validate(bool isRadius) const {
  if (isRadius) {
    if (!(radius > 0.0) || !std::isfinite(radius)) {
      throw std::invalid_argument("NeighborGraph: radius (=" + std::to_string(radius) +
                                  ") must be finite and > 0");
    }
  } else if (k == 0) {
    throw std::invalid_argument("NeighborGraph: k (=0) must be >= 1");
  }
  if (leafSize == 0) {
    throw std::invalid_argument("NeighborGraph: leafSize must be >= 1");
  }
}

namespace {

constexpr std::size_t kChunk = 256;

struct Shape {
  std::size_t nPoints;
  std::size_t nQuery;
  bool self;
};

template <typename value_t>
Shape checkShape(std::span<const value_t> points,
                          std::span<const value_t> query, std::size_t dim) {
  if (dim == 0) {
    throw std::invalid_argument("NeighborGraph: dim must be >= 1");
  }
  if (points.size() % dim != 0 || query.size() % dim != 0) {
    throw std::invalid_argument("NeighborGraph: array sizes must be multiples of dim");
  }
  const bool self = query.empty();
  const std::size_t n = points.size() / dim;
  return {n, self ? n : query.size() / dim, self};
}

/// The original index a query must not find (itself, in loop-free self-graphs).
template <typename value_t>
std::uint32_t excludeFor(bool dropSelf, std::size_t i) {
  return dropSelf ? static_cast<std::uint32_t>(i) : KdTree<value_t>::npos;
}

}  // namespace

template <typename value_t>
NeighborEdges<value_t> NeighborGraph::knn(std::span<const value_t> points,
                                          std::span<const value_t> query,
                                          std::size_t dim, const Config& cfg) {
  cfg.validate(false);
  const auto shape = checkShape(points, query, dim);
  const bool dropSelf = shape.self && !cfg.loop;
  const std::size_t available =
      dropSelf ? shape.nPoints - std::min<std::size_t>(shape.nPoints, 1) : shape.nPoints;
  if (cfg.k > available) {
    throw std::invalid_argument("NeighborGraph: k (=" + std::to_string(cfg.k) +
                                ") exceeds the number of candidate neighbours (" +
                                std::to_string(available) + ")");
  }
  const KdTree<value_t> tree(points, dim, cfg.leafSize);
  const value_t maxDist2 =
      (cfg.radius > 0.0 && std::isfinite(cfg.radius))
          ? static_cast<value_t>(cfg.radius * cfg.radius)
          : std::numeric_limits<value_t>::infinity();
  const std::size_t k = cfg.k;
  const value_t* q0 = shape.self ? points.data() : query.data();
  // Fixed-size slots per query: thread-count invariant without a merge.
  std::vector<std::uint32_t> nbr(shape.nQuery * k);
  std::vector<value_t> d2(shape.nQuery * k);
  std::vector<std::uint32_t> cnt(shape.nQuery);
  using Nb = typename KdTree<value_t>::Neighbor;
  parallelChunks(shape.nQuery, kChunk, cfg.nThreads,
                 [&](std::size_t, std::size_t begin, std::size_t end) {
                   std::vector<Nb> best;
                   best.reserve(k + 1);
                   for (std::size_t p = begin; p < end; ++p) {
                     // Self-graphs query in tree order (cache locality); the
                     // result slot is still the original index.
                     const std::size_t i = shape.self ? tree.originalIndex(p) : p;
                     const value_t* qp = shape.self ? tree.treePoint(p) : q0 + i * dim;
                     const auto exclude = excludeFor<value_t>(dropSelf, i);
                     tree.knn(qp, k, exclude, maxDist2, best);
                     cnt[i] = static_cast<std::uint32_t>(best.size());
                     for (std::size_t j = 0; j < best.size(); ++j) {
                       nbr[i * k + j] = best[j].index;
                       d2[i * k + j] = best[j].dist2;
                     }
                   }
                 });
  std::size_t total = 0;
  for (auto c : cnt) {
    total += c;
  }
  NeighborEdges<value_t> out;
  out.source.resize(total);
  out.target.resize(total);
  out.distance.resize(total);
  std::size_t e = 0;
  for (std::size_t i = 0; i < shape.nQuery; ++i) {
    for (std::size_t j = 0; j < cnt[i]; ++j, ++e) {
      out.source[e] = nbr[i * k + j];
      out.target[e] = static_cast<std::int64_t>(i);
      out.distance[e] = std::sqrt(d2[i * k + j]);
    }
  }
  return out;
}

template <typename value_t>
NeighborEdges<value_t> NeighborGraph::radius(std::span<const value_t> points,
                                             std::span<const value_t> query,
                                             std::size_t dim, const Config& cfg) {
  cfg.validate(true);
  const auto shape = checkShape(points, query, dim);
  const KdTree<value_t> tree(points, dim, cfg.leafSize);
  const auto r2 = static_cast<value_t>(cfg.radius * cfg.radius);
  const value_t* q0 = shape.self ? points.data() : query.data();
  struct Edge {
    std::uint32_t target;
    std::uint32_t source;
    value_t dist2;
  };
  using Nb = typename KdTree<value_t>::Neighbor;
  auto edges = parallelCollect<Edge>(
      shape.nQuery, kChunk, cfg.nThreads,
      [&](std::size_t begin, std::size_t end, std::vector<Edge>& part) {
        std::vector<Nb> found;
        for (std::size_t i = begin; i < end; ++i) {
          const auto exclude = excludeFor<value_t>(shape.self && !cfg.loop, i);
          tree.radius(q0 + i * dim, r2, exclude, found);
          std::size_t keep = found.size();
          if (cfg.maxNeighbors > 0 && keep > cfg.maxNeighbors) {
            keep = cfg.maxNeighbors;
            std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(keep),
                              found.end());
          } else {
            std::sort(found.begin(), found.end());
          }
          for (std::size_t j = 0; j < keep; ++j) {
            part.push_back(Edge{static_cast<std::uint32_t>(i), found[j].index, found[j].dist2});
          }
        }
      });
  NeighborEdges<value_t> out;
  out.source.resize(edges.size());
  out.target.resize(edges.size());
  out.distance.resize(edges.size());
  for (std::size_t e = 0; e < edges.size(); ++e) {
    out.source[e] = edges[e].source;
    out.target[e] = edges[e].target;
    out.distance[e] = std::sqrt(edges[e].dist2);
  }
  return out;
}

template NeighborEdges<float> NeighborGraph::knn<float>(std::span<const float>,
                                                        std::span<const float>,
                                                        std::size_t, const Config&);
template NeighborEdges<double> NeighborGraph::knn<double>(std::span<const double>,
                                                          std::span<const double>,
                                                          std::size_t, const Config&);
template NeighborEdges<float> NeighborGraph::radius<float>(std::span<const float>,
                                                           std::span<const float>,
                                                           std::size_t, const Config&);
template NeighborEdges<double> NeighborGraph::radius<double>(std::span<const double>,
                                                             std::span<const double>,
                                                             std::size_t, const Config&);

}  // namespace helixkit
