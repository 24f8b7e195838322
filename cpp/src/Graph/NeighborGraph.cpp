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
  const KdTree<value_t> tree(points, dim, cfg.leafSize, cfg.nThreads);
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
  out.resize(total);
  std::int64_t* source = out.source();
  std::int64_t* target = out.target();
  std::size_t e = 0;
  for (std::size_t i = 0; i < shape.nQuery; ++i) {
    for (std::size_t j = 0; j < cnt[i]; ++j, ++e) {
      source[e] = nbr[i * k + j];
      target[e] = static_cast<std::int64_t>(i);
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
  const KdTree<value_t> tree(points, dim, cfg.leafSize, cfg.nThreads);
  const auto r2 = static_cast<value_t>(cfg.radius * cfg.radius);
  const value_t* q0 = shape.self ? points.data() : query.data();
  const bool dropSelf = shape.self && !cfg.loop;
  // Queries run in chunks of consecutive positions; self-graphs use tree
  // positions (cache locality). Each chunk keeps its sorted neighbours, then
  // they are scattered to the rows of their original query index.
  struct Part {
    std::vector<std::uint32_t> count;  // per position of the chunk
    std::vector<std::uint32_t> source;
    std::vector<value_t> dist2;
  };
  const std::size_t nChunks = (shape.nQuery + kChunk - 1) / kChunk;
  std::vector<Part> parts(nChunks);
  std::vector<std::size_t> rowBegin(shape.nQuery + 1, 0);
  using Nb = typename KdTree<value_t>::Neighbor;
  parallelChunks(shape.nQuery, kChunk, cfg.nThreads,
                 [&](std::size_t c, std::size_t begin, std::size_t end) {
                   std::vector<Nb> found;
                   Part& part = parts[c];
                   part.count.reserve(end - begin);
                   for (std::size_t p = begin; p < end; ++p) {
                     const std::size_t i = shape.self ? tree.originalIndex(p) : p;
                     const value_t* qp = shape.self ? tree.treePoint(p) : q0 + i * dim;
                     tree.radius(qp, r2, excludeFor<value_t>(dropSelf, i), found);
                     std::size_t keep = found.size();
                     if (cfg.maxNeighbors > 0 && keep > cfg.maxNeighbors) {
                       keep = cfg.maxNeighbors;
                       std::partial_sort(found.begin(),
                                         found.begin() + static_cast<std::ptrdiff_t>(keep),
                                         found.end());
                     } else {
                       std::sort(found.begin(), found.end());
                     }
                     part.count.push_back(static_cast<std::uint32_t>(keep));
                     rowBegin[i + 1] = keep;
                     for (std::size_t j = 0; j < keep; ++j) {
                       part.source.push_back(found[j].index);
                       part.dist2.push_back(found[j].dist2);
                     }
                   }
                 });
  for (std::size_t i = 0; i < shape.nQuery; ++i) {
    rowBegin[i + 1] += rowBegin[i];
  }
  const std::size_t total = rowBegin[shape.nQuery];
  NeighborEdges<value_t> out;
  out.resize(total);
  std::int64_t* source = out.source();
  std::int64_t* target = out.target();
  parallelChunks(nChunks, 1, cfg.nThreads, [&](std::size_t c, std::size_t, std::size_t) {
    Part& part = parts[c];
    std::size_t e = 0;
    for (std::size_t k = 0; k < part.count.size(); ++k) {
      const std::size_t p = c * kChunk + k;
      const std::size_t i = shape.self ? tree.originalIndex(p) : p;
      std::size_t row = rowBegin[i];
      for (std::uint32_t j = 0; j < part.count[k]; ++j, ++e, ++row) {
        source[row] = part.source[e];
        target[row] = static_cast<std::int64_t>(i);
        out.distance[row] = std::sqrt(part.dist2[e]);
      }
    }
    std::vector<std::uint32_t>().swap(part.count);
    std::vector<std::uint32_t>().swap(part.source);
    std::vector<value_t>().swap(part.dist2);
  });
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
