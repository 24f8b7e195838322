#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <thread>
#include <utility>
#include <type_traits>
#include <vector>

#include "helixkit/Utilities/CpuFeatures.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
// AVX2 leaf scans for float, compiled for AVX2 alone and chosen at run time;
// everything else stays baseline x86-64.
#define HELIXKIT_KDTREE_AVX2 1
#include <immintrin.h>
#endif

namespace helixkit {

/// Distance of a KdTree. The tree's "dist2" values are squared Euclidean
/// distances for eEuclidean and plain max-norm (Chebyshev) distances,
/// max_d |p_d - q_d|, for eChebyshev.
enum class KdMetric { eEuclidean, eChebyshev };

namespace detail {
/// 16-byte SIMD vectors (GCC/Clang vector extensions: SSE2 on x86-64, NEON
/// on AArch64), the baseline every supported target has.
template <typename value_t>
struct Simd16;
template <>
struct Simd16<float> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Simd16<double> {
  typedef double type __attribute__((vector_size(16)));
};

#if defined(HELIXKIT_KDTREE_AVX2)
/// Squared distances from q of the m points of a column-major leaf block
/// (column stride `stride`, m rounded up to 8 is readable), eight points at
/// a time, each summed over the dimensions in order (the same float
/// operations as the SSE2 scan; no FMA); written to acc (32-byte aligned).
/// Returns the smallest of them.
/// With `chebyshev`, the max-norm distances instead (max of |difference|).
template <bool chebyshev = false>
__attribute__((target("avx2"))) inline float blockDist2Avx2(
    const float* col, std::size_t stride, std::size_t m, const float* q,
    std::size_t dim, float* acc) {
  __m256 smallest = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  // |e| clears the sign bit.
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (std::size_t i = 0; i < m; i += 8) {
    const float* c = col + i;
    __m256 e = _mm256_sub_ps(_mm256_loadu_ps(c), _mm256_set1_ps(q[0]));
    __m256 sum;
    if constexpr (chebyshev) {
      sum = _mm256_and_ps(e, absMask);
    } else {
      sum = _mm256_mul_ps(e, e);
    }
    for (std::size_t d = 1; d < dim; ++d) {
      e = _mm256_sub_ps(_mm256_loadu_ps(c + d * stride), _mm256_set1_ps(q[d]));
      if constexpr (chebyshev) {
        sum = _mm256_max_ps(sum, _mm256_and_ps(e, absMask));
      } else {
        sum = _mm256_add_ps(sum, _mm256_mul_ps(e, e));
      }
    }
    _mm256_store_ps(acc + i, sum);
    smallest = _mm256_min_ps(smallest, sum);
  }
  __m128 low = _mm_min_ps(_mm256_castps256_ps128(smallest),
                          _mm256_extractf128_ps(smallest, 1));
  low = _mm_min_ps(low, _mm_movehl_ps(low, low));
  low = _mm_min_ss(low, _mm_shuffle_ps(low, low, 1));
  return _mm_cvtss_f32(low);
}
#endif
}  // namespace detail

/// A k-d tree over N points in D dimensions (D chosen at run time), exact
/// nearest-neighbour and fixed-radius queries in squared Euclidean distance
/// (metric_v = eEuclidean) or in max-norm distance (eChebyshev; there the
/// "dist2" values and bounds are max_d |p_d - q_d|, not squared).
///
/// Layout: nodes split the dimension of largest spread at the median; every
/// node keeps its tight bounding box, and the points of a leaf are stored
/// column by column (all x of the leaf, then all y, ...), so one leaf scan is
/// a short loop over points per dimension that the compiler vectorises. The
/// searches are instantiated for D = 1 ... kMaxStaticDim as compile-time
/// constants, with a run-time-D fallback above.
///
/// Exactness: a point distance and a box lower bound are both summed over the
/// dimensions in the same order, and each box term is never larger than the
/// matching point term after rounding, so the bound never exceeds the
/// computed distance of any point inside the box. Subtrees are pruned only
/// when the bound is *strictly* larger than the current search bound, so
/// equal-distance ties are always resolved by the lower original index,
/// exactly as a brute-force lexicographic (distance, index) ordering would.
/// With the max-norm a box term is also never larger than the matching point
/// term, and a maximum has no summation order: the bound is exact.
template <typename value_t, KdMetric metric_v = KdMetric::eEuclidean>
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

  static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();

  /// Offer `cand` to the k best so far (`best`, sorted by (distance, index)): kept if
  /// fewer than k are held or it precedes the k-th; once k are held, `bound` shrinks to
  /// the k-th distance. The rule of every kNN search here (tree and brute force alike).
  static void offer(std::vector<Neighbor>& best, std::size_t k, const Neighbor& cand,
                    value_t& bound) {
    if (best.size() == k) {
      if (!(cand < best.back())) {
        return;
      }
      best.pop_back();
    }
    best.insert(std::upper_bound(best.begin(), best.end(), cand), cand);
    if (best.size() == k) {
      bound = std::min(bound, best.back().dist2);
    }
  }
  static constexpr bool kChebyshev = metric_v == KdMetric::eChebyshev;
  /// Dimensions up to this get a compile-time specialised search (17: a
  /// 16-dimensional latent space plus one variable, the joint space of
  /// layer proficiency).
  static constexpr std::size_t kMaxStaticDim = 17;

  /// @param points row-major, size nPoints * dim
  /// @param dim number of dimensions (>= 1)
  /// @param leafSize maximum number of points in a leaf (leaves of identical
  ///        points may be larger)
  /// @param nThreads threads for the build (0 = all cores); the tree does
  ///        not depend on it
  KdTree(std::span<const value_t> points, std::size_t dim, std::size_t leafSize = 32,
         unsigned nThreads = 1)
      : m_dim(dim), m_leafSize(std::max<std::size_t>(leafSize, 1)) {
#if defined(HELIXKIT_KDTREE_AVX2)
    m_avx2 = std::is_same_v<value_t, float> && useAvx2();
#endif
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
      m_boxDim = (dim + kPad - 1) / kPad * kPad;
      Subtree tree;
      const std::size_t maxNodes = 2 * (2 * m_n / m_leafSize + 1);
      tree.nodes.reserve(maxNodes);
      tree.lo.reserve(maxNodes * m_boxDim);
      tree.hi.reserve(maxNodes * m_boxDim);
      unsigned depth = 0;
      for (unsigned t = resolveThreads(nThreads); t > 1; t = (t + 1) / 2) {
        ++depth;
      }
      m_keys.resize(m_n);
      build(points, 0, static_cast<std::uint32_t>(m_n), depth, tree);
      std::vector<std::pair<value_t, std::uint32_t>>().swap(m_keys);
      m_nodes = std::move(tree.nodes);
      m_lo = std::move(tree.lo);
      m_hi = std::move(tree.hi);
    }
    m_points.resize(m_n * dim);
    for (std::size_t i = 0; i < m_n; ++i) {
      std::copy_n(points.data() + static_cast<std::size_t>(m_index[i]) * dim, dim,
                  m_points.data() + i * dim);
    }
    // Leaf columns, each padded to a multiple of kWidth points; pads sit at
    // infinity, so their distances are infinite and they are never reported.
    std::size_t padded = 0;
    for (Node& node : m_nodes) {
      if (node.left < 0) {
        node.column = static_cast<std::uint32_t>(padded);
        padded += paddedCount(node);
      }
    }
    if (padded >= std::numeric_limits<std::uint32_t>::max()) {
      throw std::invalid_argument("KdTree: too many points (padded leaves >= 2^32)");
    }
    m_columns.assign(padded * dim, std::numeric_limits<value_t>::infinity());
    for (const Node& node : m_nodes) {
      if (node.left >= 0) {
        continue;
      }
      const std::size_t count = node.end - node.begin;
      const std::size_t stride = paddedCount(node);
      value_t* block = m_columns.data() + std::size_t(node.column) * dim;
      for (std::size_t i = 0; i < count; ++i) {
        const value_t* p = m_points.data() + (node.begin + i) * dim;
        for (std::size_t d = 0; d < dim; ++d) {
          block[d * stride + i] = p[d];
        }
      }
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
  /// and points with squared distance > maxDist2.
  /// @param out result buffer, resized to at most k (reserve k + 1 to avoid
  ///        reallocations across queries)
  void knn(const value_t* query, std::size_t k, std::uint32_t exclude,
           value_t maxDist2, std::vector<Neighbor>& out) const {
    out.clear();
    if (m_n == 0 || k == 0) {
      return;
    }
    withDim([&](auto dimTag) {
      constexpr std::size_t kD = decltype(dimTag)::value;
      withPadded<kD>(query, [&](const value_t* q) {
        KnnState st{q, k, exclude, maxDist2, out};
        if (!boxVisible<kD>(boxDist2<kD>(0, q), st.bound)) {
          return;
        }
#if defined(HELIXKIT_KDTREE_AVX2)
        if constexpr (kD > 0 && std::is_same_v<value_t, float>) {
          if (m_avx2) {
            knnNodeAvx2<kD>(0, st);
            return;
          }
        }
#endif
        knnNode<kD>(0, st);
      });
    });
  }

  /// All points with squared distance <= maxDist2 of `query`, unsorted,
  /// excluding original index `exclude`; appended to `out` after clearing it.
  void radius(const value_t* query, value_t maxDist2, std::uint32_t exclude,
              std::vector<Neighbor>& out) const {
    out.clear();
    if (m_n == 0) {
      return;
    }
    withDim([&](auto dimTag) {
      constexpr std::size_t kD = decltype(dimTag)::value;
      withPadded<kD>(query, [&](const value_t* q) {
        if (!boxVisible<kD>(boxDist2<kD>(0, q), maxDist2)) {
          return;
        }
#if defined(HELIXKIT_KDTREE_AVX2)
        if constexpr (kD > 0 && std::is_same_v<value_t, float>) {
          if (m_avx2) {
            radiusNodeAvx2<kD>(0, q, maxDist2, exclude, out);
            return;
          }
        }
#endif
        radiusNode<kD>(0, q, maxDist2, exclude, out);
      });
    });
  }

  /// Number of points with squared distance <= maxDist2 of `query`; counting
  /// stops early once `stopAt` is reached (the return value is then stopAt).
  std::size_t countWithin(const value_t* query, value_t maxDist2,
                          std::size_t stopAt) const {
    if (m_n == 0 || stopAt == 0) {
      return 0;
    }
    std::size_t count = 0;
    withDim([&](auto dimTag) {
      constexpr std::size_t kD = decltype(dimTag)::value;
      withPadded<kD>(query, [&](const value_t* q) {
        if (boxVisible<kD>(boxDist2<kD>(0, q), maxDist2)) {
          countNode<kD>(0, q, maxDist2, stopAt, count);
        }
      });
    });
    return std::min(count, stopAt);
  }

 private:
  struct Node {
    std::uint32_t begin;
    std::uint32_t end;
    std::int32_t left;  // -1 for a leaf
    std::int32_t right;
    std::uint32_t column;  // leaves: first padded slot in m_columns / dim
  };

  struct KnnState {
    const value_t* query;
    std::size_t k;
    std::uint32_t exclude;
    value_t bound;  // current pruning bound (squared)
    std::vector<Neighbor>& best;
  };

  /// Points per vectorised leaf-scan block (leaves larger than this are
  /// scanned in several blocks).
  static constexpr std::size_t kBlock = 64;
  /// Values per SIMD vector (16 bytes: SSE2 / NEON, the portable baseline).
  static constexpr std::size_t kWidth = 16 / sizeof(value_t);
  /// Leaf columns are padded to this many points (32 bytes: whole AVX2
  /// vectors for the run-time AVX2 scan).
  static constexpr std::size_t kPad = 32 / sizeof(value_t);
  using Vec = typename detail::Simd16<value_t>::type;
  static_assert(kBlock % kWidth == 0);
  /// Subtrees smaller than this are built on one thread.
  static constexpr std::size_t kParallelBuildMin = 8192;

  static Vec load(const value_t* p) {
    Vec v;
    std::memcpy(&v, p, sizeof(Vec));
    return v;
  }
  static void store(value_t* p, Vec v) { std::memcpy(p, &v, sizeof(Vec)); }
  static Vec vmax(Vec a, Vec b) { return a > b ? a : b; }
  /// Bit l set when p[l] <= bound, for the kWidth values at p.
  static unsigned lanesAtMost(const value_t* p, value_t bound) {
#if defined(__SSE2__)
    if constexpr (std::is_same_v<value_t, float>) {
      return static_cast<unsigned>(
          _mm_movemask_ps(_mm_cmple_ps(_mm_loadu_ps(p), _mm_set1_ps(bound))));
    } else {
      return static_cast<unsigned>(
          _mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(p), _mm_set1_pd(bound))));
    }
#else
    unsigned bits = 0;
    for (std::size_t l = 0; l < kWidth; ++l) {
      bits |= static_cast<unsigned>(p[l] <= bound) << l;
    }
    return bits;
#endif
  }
  static Vec vmin(Vec a, Vec b) { return a < b ? a : b; }

  std::size_t paddedCount(const Node& node) const {
    return (node.end - node.begin + kPad - 1) / kPad * kPad;
  }
  /// Query coordinates padded with zeros to a multiple of kWidth (static D).
  template <std::size_t kD>
  struct PaddedQuery {
    /// Values the SSE2 box distance reads (a multiple of kWidth) ...
    static constexpr std::size_t kSize = (kD + kWidth - 1) / kWidth * kWidth;
    /// ... and the AVX2 one (a multiple of kPad, as the boxes).
    static constexpr std::size_t kSizePad = (kD + kPad - 1) / kPad * kPad;
    alignas(32) value_t v[kSizePad > 0 ? kSizePad : 1] = {};
    explicit PaddedQuery(const value_t* q) { std::copy_n(q, kD, v); }
  };

  template <std::size_t kD>
  using DimTag = std::integral_constant<std::size_t, kD>;

  /// Call fn(DimTag<D>) with D the compile-time dimension, or DimTag<0> for
  /// the run-time fallback.
  template <typename fn_t>
  void withDim(fn_t&& fn) const {
    switch (m_dim) {
      case 1: return fn(DimTag<1>{});
      case 2: return fn(DimTag<2>{});
      case 3: return fn(DimTag<3>{});
      case 4: return fn(DimTag<4>{});
      case 5: return fn(DimTag<5>{});
      case 6: return fn(DimTag<6>{});
      case 7: return fn(DimTag<7>{});
      case 8: return fn(DimTag<8>{});
      case 9: return fn(DimTag<9>{});
      case 10: return fn(DimTag<10>{});
      case 11: return fn(DimTag<11>{});
      case 12: return fn(DimTag<12>{});
      case 13: return fn(DimTag<13>{});
      case 14: return fn(DimTag<14>{});
      case 15: return fn(DimTag<15>{});
      case 16: return fn(DimTag<16>{});
      case 17: return fn(DimTag<17>{});
      default: return fn(DimTag<0>{});
    }
  }

  /// fn(q) with q padded for a static D, or the query itself otherwise.
  template <std::size_t kD, typename fn_t>
  static void withPadded(const value_t* query, fn_t&& fn) {
    if constexpr (kD > 0) {
      const PaddedQuery<kD> padded(query);
      fn(padded.v);
    } else {
      fn(query);
    }
  }

  template <std::size_t kD>
  std::size_t dims() const {
    if constexpr (kD > 0) {
      return kD;
    } else {
      return m_dim;
    }
  }

  /// Nodes and boxes of one subtree, numbered in pre-order from 0.
  struct Subtree {
    std::vector<Node> nodes;
    std::vector<value_t> lo;
    std::vector<value_t> hi;
  };

  /// Build the subtree of tree positions [begin, end) into `out` (appended,
  /// pre-order). The two halves of a node are built on two threads while
  /// `parallelDepth` > 0; the result does not depend on it.
  /// @return the id of the subtree root in `out`
  std::int32_t build(std::span<const value_t> pts, std::uint32_t begin, std::uint32_t end,
                     unsigned parallelDepth, Subtree& out) {
    const auto nodeId = static_cast<std::int32_t>(out.nodes.size());
    out.nodes.push_back(Node{begin, end, -1, -1, 0});
    // Tight bounding box (one pass over the rows); its widest side is the
    // split dimension. Padding lanes get an infinite box, at distance 0 from
    // any query.
    const std::size_t box = out.lo.size();
    out.lo.resize(box + m_boxDim, -std::numeric_limits<value_t>::infinity());
    out.hi.resize(box + m_boxDim, std::numeric_limits<value_t>::infinity());
    value_t* lo = out.lo.data() + box;
    value_t* hi = out.hi.data() + box;
    std::fill_n(lo, m_dim, std::numeric_limits<value_t>::max());
    std::fill_n(hi, m_dim, std::numeric_limits<value_t>::lowest());
    for (std::uint32_t i = begin; i < end; ++i) {
      const value_t* p = pts.data() + static_cast<std::size_t>(m_index[i]) * m_dim;
      for (std::size_t d = 0; d < m_dim; ++d) {
        lo[d] = std::min(lo[d], p[d]);
        hi[d] = std::max(hi[d], p[d]);
      }
    }
    std::size_t bestDim = 0;
    value_t bestSpread = value_t(-1);
    for (std::size_t d = 0; d < m_dim; ++d) {
      if (hi[d] - lo[d] > bestSpread) {
        bestSpread = hi[d] - lo[d];
        bestDim = d;
      }
    }
    if (end - begin <= m_leafSize || bestSpread <= value_t(0)) {
      return nodeId;  // small enough, or all points identical: one leaf
    }
    // Median split on contiguous (key, index) pairs; the range of m_keys is
    // this subtree's own, so parallel halves never share one.
    const std::uint32_t mid = begin + (end - begin) / 2;
    for (std::uint32_t i = begin; i < end; ++i) {
      m_keys[i] = {pts[static_cast<std::size_t>(m_index[i]) * m_dim + bestDim], m_index[i]};
    }
    std::nth_element(m_keys.begin() + begin, m_keys.begin() + mid, m_keys.begin() + end,
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::uint32_t i = begin; i < end; ++i) {
      m_index[i] = m_keys[i].second;
    }
    std::int32_t left = 0;
    std::int32_t right = 0;
    if (parallelDepth > 0 && end - begin >= kParallelBuildMin) {
      Subtree upper;
      std::exception_ptr error;
      std::thread worker([&]() {
        try {
          build(pts, mid, end, parallelDepth - 1, upper);
        } catch (...) {
          error = std::current_exception();
        }
      });
      try {
        left = build(pts, begin, mid, parallelDepth - 1, out);
      } catch (...) {
        worker.join();
        throw;
      }
      worker.join();
      if (error) {
        std::rethrow_exception(error);
      }
      const auto base = static_cast<std::int32_t>(out.nodes.size());
      for (Node node : upper.nodes) {
        if (node.left >= 0) {
          node.left += base;
          node.right += base;
        }
        out.nodes.push_back(node);
      }
      out.lo.insert(out.lo.end(), upper.lo.begin(), upper.lo.end());
      out.hi.insert(out.hi.end(), upper.hi.begin(), upper.hi.end());
      right = base;
    } else {
      left = build(pts, begin, mid, 0, out);
      right = build(pts, mid, end, 0, out);
    }
    Node& node = out.nodes[static_cast<std::size_t>(nodeId)];
    node.left = left;
    node.right = right;
    return nodeId;
  }

  /// Squared distance from q to the box of node `id` (0 inside). With a
  /// static D, q must be padded (PaddedQuery) and the sum runs over kWidth
  /// interleaved lanes; the summation order then differs from a point
  /// distance's, which boxVisible() allows for.
  template <std::size_t kD>
  [[gnu::always_inline]] value_t boxDist2(std::int32_t id, const value_t* q) const {
    const value_t* lo = m_lo.data() + static_cast<std::size_t>(id) * m_boxDim;
    const value_t* hi = m_hi.data() + static_cast<std::size_t>(id) * m_boxDim;
    if constexpr (kD > 0) {
      Vec part = {};
      const Vec zero = {};
      for (std::size_t d = 0; d < PaddedQuery<kD>::kSize; d += kWidth) {
        const Vec qv = load(q + d);
        const Vec t = vmax(vmax(load(lo + d) - qv, qv - load(hi + d)), zero);
        if constexpr (kChebyshev) {
          part = vmax(part, t);
        } else {
          part += t * t;
        }
      }
      value_t s = 0;
      for (std::size_t l = 0; l < kWidth; ++l) {
        if constexpr (kChebyshev) {
          s = std::max(s, part[l]);
        } else {
          s += part[l];
        }
      }
      return s;
    } else {
      value_t s = 0;
      for (std::size_t d = 0; d < m_dim; ++d) {
        const value_t t = std::max(std::max(lo[d] - q[d], q[d] - hi[d]), value_t(0));
        if constexpr (kChebyshev) {
          s = std::max(s, t);
        } else {
          s += t * t;
        }
      }
      return s;
    }
  }

#if defined(HELIXKIT_KDTREE_AVX2)
  /// boxDist2 for float and a static D with eight dimensions per step (q
  /// padded with PaddedQuery, boxes to kPad); any summation order is
  /// allowed by boxVisible().
  template <std::size_t kD>
  [[gnu::always_inline]] __attribute__((target("avx2"))) inline float boxDist2Avx2(
      std::int32_t id, const float* q) const {
    const float* lo = m_lo.data() + static_cast<std::size_t>(id) * m_boxDim;
    const float* hi = m_hi.data() + static_cast<std::size_t>(id) * m_boxDim;
    __m256 part = _mm256_setzero_ps();
    for (std::size_t d = 0; d < PaddedQuery<kD>::kSizePad; d += 8) {
      const __m256 qv = _mm256_load_ps(q + d);
      const __m256 t = _mm256_max_ps(
          _mm256_max_ps(_mm256_sub_ps(_mm256_loadu_ps(lo + d), qv),
                        _mm256_sub_ps(qv, _mm256_loadu_ps(hi + d))),
          _mm256_setzero_ps());
      if constexpr (kChebyshev) {
        part = _mm256_max_ps(part, t);
      } else {
        part = _mm256_add_ps(part, _mm256_mul_ps(t, t));
      }
    }
    if constexpr (kChebyshev) {
      __m128 top = _mm_max_ps(_mm256_castps256_ps128(part), _mm256_extractf128_ps(part, 1));
      top = _mm_max_ps(top, _mm_movehl_ps(top, top));
      top = _mm_max_ss(top, _mm_shuffle_ps(top, top, 1));
      return _mm_cvtss_f32(top);
    } else {
      __m128 sum = _mm_add_ps(_mm256_castps256_ps128(part), _mm256_extractf128_ps(part, 1));
      sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
      sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
      return _mm_cvtss_f32(sum);
    }
  }

  /// radiusNode compiled for AVX2 (box distances eight dimensions at a
  /// time); float and a static D only.
  template <std::size_t kD>
  __attribute__((target("avx2"))) void radiusNodeAvx2(
      std::int32_t id, const float* q, float r2, std::uint32_t exclude,
      std::vector<Neighbor>& out) const {
    const Node& node = m_nodes[static_cast<std::size_t>(id)];
    if (node.left < 0) {
      radiusLeaf<kD>(node, q, r2, exclude, out);
      return;
    }
    if (boxVisible<kD>(boxDist2Avx2<kD>(node.left, q), r2)) {
      radiusNodeAvx2<kD>(node.left, q, r2, exclude, out);
    }
    if (boxVisible<kD>(boxDist2Avx2<kD>(node.right, q), r2)) {
      radiusNodeAvx2<kD>(node.right, q, r2, exclude, out);
    }
  }

  /// knnNode compiled for AVX2; float and a static D only.
  template <std::size_t kD>
  __attribute__((target("avx2"))) void knnNodeAvx2(std::int32_t id, KnnState& st) const {
    const Node& node = m_nodes[static_cast<std::size_t>(id)];
    if (node.left < 0) {
      knnLeaf<kD>(node, st);
      return;
    }
    std::int32_t first = node.left;
    std::int32_t second = node.right;
    float dFirst = boxDist2Avx2<kD>(first, st.query);
    float dSecond = boxDist2Avx2<kD>(second, st.query);
    if (dSecond < dFirst) {
      std::swap(first, second);
      std::swap(dFirst, dSecond);
    }
    if (boxVisible<kD>(dFirst, st.bound)) {
      knnNodeAvx2<kD>(first, st);
    }
    if (boxVisible<kD>(dSecond, st.bound)) {
      knnNodeAvx2<kD>(second, st);
    }
  }
#endif

  /// Whether a box at computed squared distance `lb` may hold a point whose
  /// computed squared distance is <= bound. Every term of `lb` is at most the
  /// matching term of a point in the box (rounding is monotonic); only the
  /// summation orders differ, which changes a sum of D non-negative terms by
  /// a relative (D - 1) * epsilon at most, so a 4 (D + 1) epsilon margin makes
  /// the test conservative.
  template <std::size_t kD>
  bool boxVisible(value_t lb, value_t bound) const {
    const value_t shrink =
        value_t(1) - value_t(4 * (dims<kD>() + 1)) * std::numeric_limits<value_t>::epsilon();
    return lb * shrink <= bound;
  }

  /// For consecutive blocks of at most kBlock points of leaf `node`, call
  /// fn(firstTreePosition, dist2, m) if the block's smallest squared distance
  /// is <= bound; dist2[i] is the squared distance of the point at tree
  /// position firstTreePosition + i, summed over the dimensions in order.
  /// Stops early when fn returns false. `bound` is read before each block.
  template <std::size_t kD, typename fn_t>
  [[gnu::always_inline]] void scanLeaf(const Node& node, const value_t* q,
                                       const value_t& bound, fn_t&& fn) const {
    const std::size_t dim = dims<kD>();
    const std::size_t count = node.end - node.begin;
    const std::size_t stride = paddedCount(node);
    const value_t* block = m_columns.data() + std::size_t(node.column) * dim;
    alignas(32) value_t acc[kBlock];
    for (std::size_t i0 = 0; i0 < count; i0 += kBlock) {
      const std::size_t m = std::min(kBlock, count - i0);
#if defined(HELIXKIT_KDTREE_AVX2)
      if constexpr (std::is_same_v<value_t, float>) {
        if (m_avx2) {
          const value_t lowest =
              detail::blockDist2Avx2<kChebyshev>(block + i0, stride, m, q, dim, acc);
          if (lowest <= bound && !fn(node.begin + i0, acc, m)) {
            return;
          }
          continue;
        }
      }
#endif
      Vec smallest = load(block + i0) - q[0];
      if constexpr (kChebyshev) {
        smallest = vmax(smallest, -smallest);
      } else {
        smallest = smallest * smallest;
      }
      for (std::size_t i = 0; i < m; i += kWidth) {
        const value_t* col = block + i0 + i;
        Vec e = load(col) - q[0];
        Vec sum;
        if constexpr (kChebyshev) {
          sum = vmax(e, -e);
        } else {
          sum = e * e;
        }
        for (std::size_t d = 1; d < dim; ++d) {
          e = load(col + d * stride) - q[d];
          if constexpr (kChebyshev) {
            sum = vmax(sum, vmax(e, -e));
          } else {
            sum += e * e;
          }
        }
        store(acc + i, sum);
        smallest = vmin(smallest, sum);
      }
      value_t lowest = smallest[0];
      for (std::size_t l = 1; l < kWidth; ++l) {
        lowest = std::min(lowest, smallest[l]);
      }
      if (lowest <= bound && !fn(node.begin + i0, acc, m)) {
        return;
      }
    }
  }

  template <std::size_t kD>
  void knnLeaf(const Node& node, KnnState& st) const {
    scanLeaf<kD>(node, st.query, st.bound, [&](std::size_t pos0, const value_t* acc, std::size_t m) {
      auto& best = st.best;
      // Most points of a scanned block are beyond the bound: find the
      // others with one comparison per kWidth points (acc is padded to a
      // multiple of kWidth), then treat them in order as before.
      for (std::size_t i0 = 0; i0 < m; i0 += kWidth) {
        unsigned bits = lanesAtMost(acc + i0, st.bound);
        while (bits != 0) {
          const std::size_t i = i0 + static_cast<std::size_t>(__builtin_ctz(bits));
          bits &= bits - 1;
          if (i >= m) {
            break;
          }
          if (acc[i] > st.bound) {
            continue;  // the bound tightened since the mask was taken
          }
          const std::uint32_t idx = m_index[pos0 + i];
          if (idx == st.exclude) {
            continue;
          }
          offer(best, st.k, Neighbor{acc[i], idx}, st.bound);
        }
      }
      return true;
    });
  }

  template <std::size_t kD>
  void knnNode(std::int32_t id, KnnState& st) const {
    const Node& node = m_nodes[static_cast<std::size_t>(id)];
    if (node.left < 0) {
      knnLeaf<kD>(node, st);
      return;
    }
    std::int32_t first = node.left;
    std::int32_t second = node.right;
    value_t dFirst = boxDist2<kD>(first, st.query);
    value_t dSecond = boxDist2<kD>(second, st.query);
    if (dSecond < dFirst) {
      std::swap(first, second);
      std::swap(dFirst, dSecond);
    }
    if (boxVisible<kD>(dFirst, st.bound)) {
      knnNode<kD>(first, st);
    }
    if (boxVisible<kD>(dSecond, st.bound)) {
      knnNode<kD>(second, st);
    }
  }

  template <std::size_t kD>
  void radiusLeaf(const Node& node, const value_t* q, value_t r2, std::uint32_t exclude,
                  std::vector<Neighbor>& out) const {
    scanLeaf<kD>(node, q, r2, [&](std::size_t pos0, const value_t* acc, std::size_t m) {
      for (std::size_t i = 0; i < m; ++i) {
        if (acc[i] <= r2) {
          const std::uint32_t idx = m_index[pos0 + i];
          if (idx != exclude) {
            out.push_back(Neighbor{acc[i], idx});
          }
        }
      }
      return true;
    });
  }

  template <std::size_t kD>
  void radiusNode(std::int32_t id, const value_t* q, value_t r2, std::uint32_t exclude,
                  std::vector<Neighbor>& out) const {
    const Node& node = m_nodes[static_cast<std::size_t>(id)];
    if (node.left < 0) {
      radiusLeaf<kD>(node, q, r2, exclude, out);
      return;
    }
    if (boxVisible<kD>(boxDist2<kD>(node.left, q), r2)) {
      radiusNode<kD>(node.left, q, r2, exclude, out);
    }
    if (boxVisible<kD>(boxDist2<kD>(node.right, q), r2)) {
      radiusNode<kD>(node.right, q, r2, exclude, out);
    }
  }

  template <std::size_t kD>
  void countNode(std::int32_t id, const value_t* q, value_t r2, std::size_t stopAt,
                 std::size_t& count) const {
    const Node& node = m_nodes[static_cast<std::size_t>(id)];
    if constexpr (kChebyshev) {
      // The whole box within the radius: every point is, with no scan. Each
      // point's |p - q| in a dimension is at most the larger of the box
      // sides' (same subtraction, rounding is monotonic), so this is exact.
      if (boxFarthest<kD>(id, q) <= r2) {
        count += node.end - node.begin;
        return;
      }
    }
    if (node.left < 0) {
      scanLeaf<kD>(node, q, r2, [&](std::size_t, const value_t* acc, std::size_t m) {
        for (std::size_t i = 0; i < m; ++i) {
          count += acc[i] <= r2;
        }
        return count < stopAt;
      });
      return;
    }
    if (boxVisible<kD>(boxDist2<kD>(node.left, q), r2)) {
      countNode<kD>(node.left, q, r2, stopAt, count);
      if (count >= stopAt) {
        return;
      }
    }
    if (boxVisible<kD>(boxDist2<kD>(node.right, q), r2)) {
      countNode<kD>(node.right, q, r2, stopAt, count);
    }
  }

  /// Max-norm distance from q to the farthest corner of the box of node
  /// `id` (real dimensions only).
  template <std::size_t kD>
  value_t boxFarthest(std::int32_t id, const value_t* q) const {
    const value_t* lo = m_lo.data() + static_cast<std::size_t>(id) * m_boxDim;
    const value_t* hi = m_hi.data() + static_cast<std::size_t>(id) * m_boxDim;
    value_t s = 0;
    for (std::size_t d = 0; d < dims<kD>(); ++d) {
      s = std::max(s, std::max(q[d] - lo[d], hi[d] - q[d]));
    }
    return s;
  }

  std::size_t m_dim;
  std::size_t m_boxDim = 0;  // dim rounded up to a multiple of kPad
  std::size_t m_leafSize;
  std::size_t m_n = 0;
  bool m_avx2 = false;  // float leaf scans with AVX2
  std::vector<value_t> m_points;       // tree order, row-major
  std::vector<value_t> m_columns;      // tree order, column-major per leaf
  std::vector<value_t> m_lo;           // per node, m_boxDim values
  std::vector<value_t> m_hi;
  std::vector<std::uint32_t> m_index;  // tree position -> original index
  std::vector<Node> m_nodes;
  std::vector<std::pair<value_t, std::uint32_t>> m_keys;  // build scratch
};

}  // namespace helixkit
