#include "helixkit/Graph/NeighborGraph.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "helixkit/Graph/KdTree.hpp"
#include "helixkit/Utilities/CpuFeatures.hpp"
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

/// Exact kNN by scanning every point: the points as columns (all x, then all
/// y, ...; padded to a multiple of 8 with +inf, never the minimum) in tiles that stay in
/// cache while a chunk of queries scans them. A squared distance is summed
/// over the dimensions in order with the k-d tree's own vector code (SSE2, or
/// AVX2 for float), and candidates are taken in index order with the tree's
/// rule (distance <= bound, then (distance, index) below the k-th), so the
/// neighbours and distances equal the tree's bit for bit.
template <typename value_t>
class BruteForceKnn {
 public:
  using Nb = typename KdTree<value_t>::Neighbor;
  static constexpr std::size_t kTile = 1024;  // points per tile (a multiple of 8)
  using Vec = typename detail::Simd16<value_t>::type;
  static constexpr std::size_t kWidth = sizeof(Vec) / sizeof(value_t);

  BruteForceKnn(std::span<const value_t> points, std::size_t dim)
      : m_dim(dim), m_n(points.size() / dim), m_stride((m_n + 7) / 8 * 8) {
    m_columns.assign(m_dim * m_stride, std::numeric_limits<value_t>::infinity());
    for (std::size_t i = 0; i < m_n; ++i) {
      for (std::size_t d = 0; d < m_dim; ++d) {
        m_columns[d * m_stride + i] = points[i * m_dim + d];
      }
    }
#if defined(HELIXKIT_KDTREE_AVX2)
    m_avx2 = std::is_same_v<value_t, float> && useAvx2();
#endif
  }

  /// The k nearest (at most, within maxDist2) of each query of [begin, end)
  /// (query q at q0 + q * dim), sorted by (distance, index), into best[q - begin].
  void run(const value_t* q0, std::size_t begin, std::size_t end, std::size_t k,
           bool dropSelf, value_t maxDist2, std::vector<std::vector<Nb>>& best) const {
    const std::size_t nq = end - begin;
    best.resize(nq);
    std::vector<value_t> bound(nq, maxDist2);
    for (auto& b : best) {
      b.clear();
      b.reserve(k + 1);
    }
    alignas(32) value_t acc[kGroup][kTile];
    value_t lowest[kGroup];
    for (std::size_t t0 = 0; t0 < m_n; t0 += kTile) {
      const std::size_t m = std::min(kTile, m_n - t0);
      for (std::size_t j0 = 0; j0 < nq; j0 += kGroup) {
        const std::size_t g = std::min(kGroup, nq - j0);
        const value_t* q[kGroup];
        for (std::size_t l = 0; l < kGroup; ++l) {  // short groups repeat their last query
          q[l] = q0 + (begin + j0 + std::min(l, g - 1)) * m_dim;
        }
        distances(t0, m, q, acc, lowest);
        for (std::size_t l = 0; l < g; ++l) {
          const std::size_t j = j0 + l;
          if (!(lowest[l] <= bound[j])) {
            continue;
          }
          const std::size_t qi = begin + j;
          const std::uint32_t exclude =
              dropSelf ? static_cast<std::uint32_t>(qi) : KdTree<value_t>::npos;
          select(acc[l], t0, m, k, exclude, bound[j], best[j]);
        }
      }
    }
  }

  /// Queries scanned together against one tile (each point column value
  /// loaded once for all of them; independent sums hide the add latency).
  static constexpr std::size_t kGroup = 4;

 private:
  /// acc[l][0, m) = squared distances of points t0 ... t0 + m - 1 from q[l],
  /// lowest[l] their minimum, for the kGroup queries q.
  void distances(std::size_t t0, std::size_t m, const value_t* const* q,
                 value_t (*acc)[kTile], value_t* lowest) const {
    const value_t* col = m_columns.data() + t0;
#if defined(HELIXKIT_KDTREE_AVX2)
    if constexpr (std::is_same_v<value_t, float>) {
      if (m_avx2) {
        distances4Avx2(col, m_stride, m, q, m_dim, acc, lowest);
        return;
      }
    }
#endif
    for (std::size_t l = 0; l < kGroup; ++l) {
      lowest[l] = distances1(col, m, q[l], acc[l]);
    }
  }

#if defined(HELIXKIT_KDTREE_AVX2)
  /// The AVX2 scan of kGroup = 4 queries, eight points per step: for each
  /// query and point the tree's blockDist2Avx2 sum (difference, square, add,
  /// dimension by dimension, no FMA), the same float operations.
  __attribute__((target("avx2"))) static void distances4Avx2(
      const float* col, std::size_t stride, std::size_t m, const float* const* q,
      std::size_t dim, float (*acc)[kTile], float* lowest) {
    const float inf = std::numeric_limits<float>::infinity();
    __m256 s0 = _mm256_set1_ps(inf), s1 = s0, s2 = s0, s3 = s0;
    for (std::size_t i = 0; i < m; i += 8) {
      const float* c = col + i;
      __m256 p = _mm256_loadu_ps(c);
      __m256 e0 = _mm256_sub_ps(p, _mm256_set1_ps(q[0][0]));
      __m256 e1 = _mm256_sub_ps(p, _mm256_set1_ps(q[1][0]));
      __m256 e2 = _mm256_sub_ps(p, _mm256_set1_ps(q[2][0]));
      __m256 e3 = _mm256_sub_ps(p, _mm256_set1_ps(q[3][0]));
      __m256 a0 = _mm256_mul_ps(e0, e0), a1 = _mm256_mul_ps(e1, e1);
      __m256 a2 = _mm256_mul_ps(e2, e2), a3 = _mm256_mul_ps(e3, e3);
      for (std::size_t d = 1; d < dim; ++d) {
        p = _mm256_loadu_ps(c + d * stride);
        e0 = _mm256_sub_ps(p, _mm256_set1_ps(q[0][d]));
        e1 = _mm256_sub_ps(p, _mm256_set1_ps(q[1][d]));
        e2 = _mm256_sub_ps(p, _mm256_set1_ps(q[2][d]));
        e3 = _mm256_sub_ps(p, _mm256_set1_ps(q[3][d]));
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(e0, e0));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(e1, e1));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(e2, e2));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(e3, e3));
      }
      _mm256_store_ps(acc[0] + i, a0);
      _mm256_store_ps(acc[1] + i, a1);
      _mm256_store_ps(acc[2] + i, a2);
      _mm256_store_ps(acc[3] + i, a3);
      // (min_ps returns its second operand for a NaN: the running minimum)
      s0 = _mm256_min_ps(a0, s0);
      s1 = _mm256_min_ps(a1, s1);
      s2 = _mm256_min_ps(a2, s2);
      s3 = _mm256_min_ps(a3, s3);
    }
    const __m256 sv[4] = {s0, s1, s2, s3};
    for (std::size_t l = 0; l < 4; ++l) {
      alignas(32) float v[8];
      _mm256_store_ps(v, sv[l]);
      float lo = v[0];
      for (std::size_t j = 1; j < 8; ++j) {
        lo = std::min(lo, v[j]);
      }
      lowest[l] = lo;
    }
  }
#endif

  /// acc[0, m) = squared distances from q (the tree's SSE2 sums); their minimum.
  value_t distances1(const value_t* col, std::size_t m, const value_t* q, value_t* acc) const {
    Vec smallest;
    for (std::size_t l = 0; l < kWidth; ++l) {
      smallest[l] = std::numeric_limits<value_t>::infinity();
    }
    for (std::size_t i = 0; i < m; i += kWidth) {
      const value_t* c = col + i;
      Vec e = load(c) - q[0];
      Vec sum = e * e;
      for (std::size_t d = 1; d < m_dim; ++d) {
        e = load(c + d * m_stride) - q[d];
        sum += e * e;
      }
      std::memcpy(acc + i, &sum, sizeof(Vec));
      smallest = sum < smallest ? sum : smallest;
    }
    value_t lowest = smallest[0];
    for (std::size_t l = 1; l < kWidth; ++l) {
      lowest = std::min(lowest, smallest[l]);
    }
    return lowest;
  }

  static Vec load(const value_t* p) {
    Vec v;
    std::memcpy(&v, p, sizeof(Vec));
    return v;
  }

  static void select(const value_t* acc, std::size_t t0, std::size_t m, std::size_t k,
                     std::uint32_t exclude, value_t& bound, std::vector<Nb>& best) {
    for (std::size_t i = 0; i < m; ++i) {
      const value_t d2 = acc[i];
      if (!(d2 <= bound)) {
        continue;
      }
      const auto idx = static_cast<std::uint32_t>(t0 + i);
      if (idx == exclude) {
        continue;
      }
      KdTree<value_t>::offer(best, k, Nb{d2, idx}, bound);
    }
  }

  std::size_t m_dim;
  std::size_t m_n;
  std::size_t m_stride;
  std::vector<value_t> m_columns;
  bool m_avx2 = false;
};

/// The edges of per-query slots of k (cnt[i] of them used), grouped by query.
template <typename value_t>
NeighborEdges<value_t> assembleKnn(std::size_t nQuery, std::size_t k,
                                   const std::vector<std::uint32_t>& nbr,
                                   const std::vector<value_t>& d2,
                                   const std::vector<std::uint32_t>& cnt) {
  std::size_t total = 0;
  for (auto c : cnt) {
    total += c;
  }
  NeighborEdges<value_t> out;
  out.resize(total);
  std::int64_t* source = out.source();
  std::int64_t* target = out.target();
  std::size_t e = 0;
  for (std::size_t i = 0; i < nQuery; ++i) {
    for (std::size_t j = 0; j < cnt[i]; ++j, ++e) {
      source[e] = nbr[i * k + j];
      target[e] = static_cast<std::int64_t>(i);
      out.distance[e] = std::sqrt(d2[i * k + j]);
    }
  }
  return out;
}

bool useBruteForce(const NeighborGraph::Config& cfg, std::size_t dim) {
  using A = NeighborGraph::Config::Algorithm;
  if (cfg.algorithm == A::eBruteForce) {
    return true;
  }
  return cfg.algorithm == A::eAuto && dim >= NeighborGraph::kBruteForceMinDim;
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
  if (useBruteForce(cfg, dim)) {
    const BruteForceKnn<value_t> brute(points, dim);
    parallelChunks(shape.nQuery, kChunk, cfg.nThreads,
                   [&](std::size_t, std::size_t begin, std::size_t end) {
                     std::vector<std::vector<Nb>> best;
                     brute.run(q0, begin, end, k, dropSelf, maxDist2, best);
                     for (std::size_t i = begin; i < end; ++i) {
                       const auto& b = best[i - begin];
                       cnt[i] = static_cast<std::uint32_t>(b.size());
                       for (std::size_t j = 0; j < b.size(); ++j) {
                         nbr[i * k + j] = b[j].index;
                         d2[i * k + j] = b[j].dist2;
                       }
                     }
                   });
    return assembleKnn<value_t>(shape.nQuery, k, nbr, d2, cnt);
  }
  const KdTree<value_t> tree(points, dim, cfg.leafSize, cfg.nThreads);
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
  return assembleKnn<value_t>(shape.nQuery, k, nbr, d2, cnt);
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
