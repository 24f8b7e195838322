#include "helixkit/Clustering/Dbscan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "helixkit/Graph/KdTree.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

void Dbscan::Config::validate() const {
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
    throw std::invalid_argument("Dbscan: epsilon (=" + std::to_string(epsilon) +
                                ") must be finite and > 0");
  }
  if (minPoints < 1) {
    throw std::invalid_argument("Dbscan: minPoints (=0) must be >= 1");
  }
}

Dbscan::Dbscan(const Config& cfg) : m_cfg(cfg) { m_cfg.validate(); }

namespace {

constexpr std::size_t kChunk = 512;

std::uint32_t findRoot(std::vector<std::uint32_t>& parent, std::uint32_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

void unite(std::vector<std::uint32_t>& parent, std::uint32_t a, std::uint32_t b) {
  a = findRoot(parent, a);
  b = findRoot(parent, b);
  if (a == b) {
    return;
  }
  // Keep the smaller index as root: the root is then the lowest core index.
  if (a < b) {
    parent[b] = a;
  } else {
    parent[a] = b;
  }
}

/// From core flags, core-core links and per-border candidate lists, build
/// sklearn-numbered labels.
std::vector<std::int32_t> finishLabels(
    std::size_t n, const std::vector<std::uint8_t>& core,
    std::vector<std::uint32_t>& parent,
    const std::vector<std::pair<std::uint32_t, std::uint32_t>>& links,
    const std::vector<std::pair<std::uint32_t, std::uint32_t>>& borderLinks) {
  for (const auto& [a, b] : links) {
    unite(parent, a, b);
  }
  std::vector<std::int32_t> labels(n, -1);
  std::int32_t next = 0;
  for (std::size_t i = 0; i < n; ++i) {  // ascending: root = lowest core index
    if (!core[i]) {
      continue;
    }
    const std::uint32_t r = findRoot(parent, static_cast<std::uint32_t>(i));
    if (r == i) {
      labels[i] = next++;
    } else {
      labels[i] = labels[r];
    }
  }
  // borderLinks: (border point, core neighbour)
  for (const auto& [b, c] : borderLinks) {
    const std::int32_t l = labels[c];
    if (labels[b] < 0 || l < labels[b]) {
      labels[b] = l;
    }
  }
  return labels;
}

}  // namespace

template <typename value_t>
std::vector<std::int32_t> Dbscan::cluster(std::span<const value_t> points,
                                          std::size_t dim) const {
  if (dim == 0 || points.size() % dim != 0) {
    throw std::invalid_argument("Dbscan: points size must be a multiple of dim >= 1");
  }
  const std::size_t n = points.size() / dim;
  if (n == 0) {
    return {};
  }
  const KdTree<value_t> tree(points, dim, 32, m_cfg.nThreads);
  const auto eps2 = static_cast<value_t>(m_cfg.epsilon * m_cfg.epsilon);
  const std::size_t minPts = m_cfg.minPoints;

  // One radius search per point: neighbour lists (self excluded) per chunk,
  // then core flags from the counts, then core-core and border links from
  // the stored lists (no second search).
  struct Part {
    std::vector<std::uint32_t> offsets;  // per tree position of the chunk, into nbrs
    std::vector<std::uint32_t> nbrs;
  };
  const std::size_t nChunks = (n + kChunk - 1) / kChunk;
  std::vector<Part> parts(nChunks);
  std::vector<std::uint8_t> core(n, 0);
  using Nb = typename KdTree<value_t>::Neighbor;
  parallelChunks(n, kChunk, m_cfg.nThreads,
                 [&](std::size_t c, std::size_t begin, std::size_t end) {
                   std::vector<Nb> found;
                   Part& part = parts[c];
                   part.offsets.reserve(end - begin + 1);
                   part.offsets.push_back(0);
                   for (std::size_t p = begin; p < end; ++p) {
                     // Tree order: successive searches stay in cache.
                     const std::uint32_t i = tree.originalIndex(p);
                     tree.radius(tree.treePoint(p), eps2, i, found);
                     core[i] = found.size() + 1 >= minPts;
                     for (const auto& nb : found) {
                       part.nbrs.push_back(nb.index);
                     }
                     part.offsets.push_back(static_cast<std::uint32_t>(part.nbrs.size()));
                   }
                 });
  using Link = std::pair<std::uint32_t, std::uint32_t>;
  std::vector<Link> links;
  std::vector<Link> border;
  for (std::size_t c = 0; c < nChunks; ++c) {
    const Part& part = parts[c];
    for (std::size_t k = 0; k + 1 < part.offsets.size(); ++k) {
      const std::uint32_t i = tree.originalIndex(c * kChunk + k);
      for (auto e = part.offsets[k]; e < part.offsets[k + 1]; ++e) {
        const std::uint32_t j = part.nbrs[e];
        if (!core[j]) {
          continue;
        }
        if (core[i]) {
          if (j > i) {
            links.emplace_back(i, j);
          }
        } else {
          border.emplace_back(i, j);
        }
      }
    }
  }
  std::vector<std::uint32_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0u);
  return finishLabels(n, core, parent, links, border);
}

template <typename value_t>
std::vector<std::int32_t> Dbscan::clusterGraph(std::span<const std::int64_t> offsets,
                                               std::span<const std::int64_t> neighbors,
                                               std::span<const value_t> distances) const {
  if (offsets.empty()) {
    throw std::invalid_argument("Dbscan: offsets must have nPoints + 1 entries");
  }
  if (neighbors.size() != distances.size()) {
    throw std::invalid_argument("Dbscan: neighbors and distances differ in length");
  }
  const std::size_t n = offsets.size() - 1;
  if (offsets[0] != 0 || static_cast<std::size_t>(offsets[n]) != neighbors.size()) {
    throw std::invalid_argument("Dbscan: offsets must start at 0 and end at len(neighbors)");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (offsets[i + 1] < offsets[i]) {
      throw std::invalid_argument("Dbscan: offsets must be non-decreasing");
    }
  }
  for (const auto j : neighbors) {
    if (j < 0 || static_cast<std::size_t>(j) >= n) {
      throw std::invalid_argument("Dbscan: neighbor index out of range");
    }
  }
  const auto eps = static_cast<value_t>(m_cfg.epsilon);
  std::vector<std::uint8_t> core(n, 0);
  parallelFor(n, m_cfg.nThreads, [&](std::size_t i) {
    std::size_t count = 1;  // itself
    for (auto e = offsets[i]; e < offsets[i + 1]; ++e) {
      count += distances[static_cast<std::size_t>(e)] <= eps;
    }
    core[i] = count >= m_cfg.minPoints;
  }, 1024);
  using Link = std::pair<std::uint32_t, std::uint32_t>;
  std::vector<Link> links;
  std::vector<Link> border;
  for (std::size_t i = 0; i < n; ++i) {
    const auto ii = static_cast<std::uint32_t>(i);
    for (auto e = offsets[i]; e < offsets[i + 1]; ++e) {
      const auto ee = static_cast<std::size_t>(e);
      if (distances[ee] > eps) {
        continue;
      }
      const auto j = static_cast<std::uint32_t>(neighbors[ee]);
      if (!core[j]) {
        continue;
      }
      if (core[i]) {
        if (j != ii) {
          links.emplace_back(ii, j);
        }
      } else {
        border.emplace_back(ii, j);
      }
    }
  }
  std::vector<std::uint32_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0u);
  return finishLabels(n, core, parent, links, border);
}

template std::vector<std::int32_t> Dbscan::cluster<float>(std::span<const float>,
                                                          std::size_t) const;
template std::vector<std::int32_t> Dbscan::cluster<double>(std::span<const double>,
                                                           std::size_t) const;
template std::vector<std::int32_t> Dbscan::clusterGraph<float>(
    std::span<const std::int64_t>, std::span<const std::int64_t>,
    std::span<const float>) const;
template std::vector<std::int32_t> Dbscan::clusterGraph<double>(
    std::span<const std::int64_t>, std::span<const std::int64_t>,
    std::span<const double>) const;

}  // namespace helixkit
