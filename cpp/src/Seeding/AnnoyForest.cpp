#include "helixkit/Seeding/AnnoyForest.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

namespace {

[[noreturn]] void fail(const std::string& msg) {
  throw std::invalid_argument("AnnoyForest: " + msg);
}

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// splitmix64 (Steele, Lea, Flood 2014): one add and a mix per draw, enough
/// for choosing split items; each tree has its own stream.
class SplitMix64 {
 public:
  SplitMix64(std::uint64_t seed, std::uint64_t stream)
      : m_state(mix64(seed ^ mix64(stream + 0x632BE59BD9B4E019ULL))) {}
  std::uint64_t next() {
    m_state += 0x9E3779B97F4A7C15ULL;
    return mix64(m_state);
  }
  /// Uniform in [0, m) for 1 <= m < 2^32 (multiply-shift; the bias of at
  /// most m / 2^32 does not matter here).
  std::uint32_t below(std::uint64_t m) {
    return static_cast<std::uint32_t>(((next() >> 32) * m) >> 32);
  }
  bool coin() { return (next() >> 63) != 0; }

 private:
  std::uint64_t m_state;
};

/// The dimension as a compile-time constant (2-D and 3-D embeddings, whose
/// loops then unroll) or a run-time value (everything else).
template <std::size_t kDim>
struct FixedDim {
  using Fixed = void;
  static constexpr std::size_t size() { return kDim; }
};
struct AnyDim {
  std::size_t n;
  std::size_t size() const { return n; }
};

template <typename dim_t>
float dist2(const float* a, const float* b, dim_t dim) {
  float s = 0;
  for (std::size_t j = 0; j < dim.size(); ++j) {
    const float e = a[j] - b[j];
    s += e * e;
  }
  return s;
}

/// v·x + b for a plane stored as (v, b).
template <typename dim_t>
float margin(const float* plane, const float* x, dim_t dim) {
  float s = plane[dim.size()];
  for (std::size_t j = 0; j < dim.size(); ++j) {
    s += plane[j] * x[j];
  }
  return s;
}

/// Stable LSD radix sort of keys by their high 32 bits (the squared
/// distance), 8 bits per pass, skipping digits that all keys share.
/// @param tmp scratch of at least n keys
void radixSortHigh(std::uint64_t* keys, std::uint64_t* tmp, std::size_t n) {
  std::array<std::array<std::uint32_t, 256>, 4> count{};
  for (std::size_t i = 0; i < n; ++i) {
    const auto d = static_cast<std::uint32_t>(keys[i] >> 32);
    ++count[0][d & 255U];
    ++count[1][(d >> 8) & 255U];
    ++count[2][(d >> 16) & 255U];
    ++count[3][d >> 24];
  }
  std::uint64_t* src = keys;
  std::uint64_t* dst = tmp;
  for (std::size_t pass = 0; pass < 4; ++pass) {
    const std::size_t shift = 32 + 8 * pass;
    auto& c = count[pass];
    if (c[(src[0] >> shift) & 255U] == n) {
      continue;
    }
    std::uint32_t sum = 0;
    for (auto& bin : c) {
      const std::uint32_t here = bin;
      bin = sum;
      sum += here;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t key = src[i];
      dst[c[(key >> shift) & 255U]++] = key;
    }
    std::swap(src, dst);
  }
  if (src != keys) {
    std::copy_n(src, n, keys);
  }
}

/// Sort keys (squared distance bits << 32 | index) ascending: radix passes
/// on the distance bits (non-negative floats order like their bit
/// patterns), then an insertion sort that only has to order equal distances
/// by index. About 3x faster than std::sort on 100-250 keys, whose
/// comparisons are coin flips for the branch predictor.
/// @param tmp scratch of at least n keys
void sortKeys(std::uint64_t* keys, std::uint64_t* tmp, std::size_t n) {
  if (n > 16) {
    radixSortHigh(keys, tmp, n);
  }
  for (std::size_t i = 1; i < n; ++i) {
    const std::uint64_t key = keys[i];
    std::size_t j = i;
    for (; j > 0 && keys[j - 1] > key; --j) {
      keys[j] = keys[j - 1];
    }
    keys[j] = key;
  }
}

/// Order-preserving map of floats to integers: a < b iff
/// orderedBits(a) < orderedBits(b) (and -0 just below +0). Heap entries
/// are then plain integers, compared without any float logic.
std::uint32_t orderedBits(float f) {
  const auto u = std::bit_cast<std::uint32_t>(f);
  return u ^ ((0U - (u >> 31)) | 0x80000000U);
}
float fromOrderedBits(std::uint32_t v) {
  return std::bit_cast<float>(v ^ (((v >> 31) - 1U) | 0x80000000U));
}
std::uint64_t heapEntry(float priority, std::uint32_t node) {
  return (std::uint64_t{orderedBits(priority)} << 32) | node;
}

/// Per-thread query buffers, sized on first use and reused across queries.
struct QueryScratch {
  /// Max-heap of (orderedBits(priority) << 32 | node).
  std::vector<std::uint64_t> heap;
  std::vector<std::uint64_t> keys;
  std::vector<std::uint64_t> sortTmp;
  /// stamp[i] == epoch: item i is already a candidate of the current query.
  std::vector<std::uint32_t> stamp;
  std::uint32_t epoch = 0;
};

/// Split attempts before falling back to a random balanced split (Annoy: 3).
constexpr int kSplitAttempts = 3;

}  // namespace

struct AnnoyForest::Impl {
  /// A set of items still to split: items[begin, end) of its tree, node
  /// `node`, and the node's own random stream. Every node has its own
  /// stream (children's seeded from the parent's), so a tree depends only
  /// on (seed, tree index), not on the order in which nodes are split.
  struct Task {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t node = 0;
    SplitMix64 rng{0, 0};
  };

  /// One tree under construction: its nodes (breadth-first, local indices),
  /// their planes and its item order; plus the build scratch.
  struct Tree {
    std::vector<Node> nodes;
    std::vector<float> planes;
    std::vector<std::uint32_t> items;
    /// Coordinates of items[i] at coords[i * dim]: moved with the items,
    /// so the points of a set are contiguous (cache-local random draws).
    std::vector<float> coords;
    /// Sets to split, first in first out (tasks[head..] pending).
    std::vector<Task> tasks;
    /// Split output: left side from the front, right side from the back.
    std::vector<std::uint32_t> sorted;
    std::vector<float> sortedCoords;
    /// Centroids, [lane][p or q][dim].
    std::vector<float> centroids;
    /// weight[c] = 1 / (c + 1) for c >= 1: the weight of a centroid's
    /// (c + 1)-th member; weight[0] = 0 (no move).
    std::vector<float> weight;
  };

  /// Sets refined together: their two-means steps are interleaved, which
  /// hides the latency of each set's step-to-step dependency chain.
  static constexpr std::size_t kLanes = 4;

  template <typename dim_t>
  struct Builder {
    const AnnoyForest& forest;
    dim_t dim;
    std::uint32_t treeIndex;
    Tree& tree;

    /// Coordinates of the item at position pos of the tree's item order.
    const float* at(std::size_t pos) const {
      return tree.coords.data() + pos * dim.size();
    }

    /// New node for items[begin, end): a leaf if small enough, else a task.
    std::uint32_t addNode(std::size_t begin, std::size_t end,
                          std::uint64_t seed, std::uint64_t stream) {
      const auto node = static_cast<std::uint32_t>(tree.nodes.size());
      if (end - begin <= forest.m_leafSize) {
        tree.nodes.push_back({static_cast<std::uint32_t>(begin),
                              static_cast<std::uint32_t>(end), treeIndex});
      } else {
        tree.nodes.push_back({0, 0, kInternal});
        tree.tasks.push_back({begin, end, node, SplitMix64(seed, stream)});
      }
      tree.planes.resize(tree.planes.size() + dim.size() + 1, 0.0f);
      return node;
    }

    /// Two-means on the sets of `lanes` tasks at once: each starts from two
    /// distinct random items of its set, then takes twoMeansSteps steps;
    /// each step moves the nearer centroid towards one random item,
    /// c <- c + (x - c) / (n_c + 1), i.e. (c n_c + x) / (n_c + 1). Both
    /// centroids are updated every step, one with weight 0, so there is no
    /// unpredictable branch; an equidistant item moves neither. Writes the
    /// plane half-way between the centroids to the task's node.
    /// @return per lane, false if its centroids coincide (no usable normal)
    template <std::size_t lanes>
    std::array<bool, lanes> twoMeans(const std::array<Task*, lanes>& task,
                                     float* c) {
      const std::size_t d = dim.size();
      const float* weight = tree.weight.data();
      std::array<std::size_t, lanes> count{};
      std::array<std::size_t, lanes> np{};
      std::array<std::size_t, lanes> nq{};
      for (std::size_t l = 0; l < lanes; ++l) {
        Task& t = *task[l];
        count[l] = t.end - t.begin;
        const std::uint32_t i = t.rng.below(count[l]);
        std::uint32_t j = t.rng.below(count[l] - 1);
        j += j >= i ? 1U : 0U;
        std::copy_n(at(t.begin + i), d, c + 2 * l * d);
        std::copy_n(at(t.begin + j), d, c + (2 * l + 1) * d);
        np[l] = 1;
        nq[l] = 1;
      }
      for (std::size_t step = 0; step < forest.m_cfg.twoMeansSteps; ++step) {
        for (std::size_t l = 0; l < lanes; ++l) {
          Task& t = *task[l];
          float* p = c + 2 * l * d;
          float* q = p + d;
          const float* x = at(t.begin + t.rng.below(count[l]));
          const float dp = dist2(p, x, dim);
          const float dq = dist2(q, x, dim);
          // Masks instead of ?: so that the compiler cannot turn the
          // selection into a branch; weight[0] = 0 leaves a centroid as is.
          const std::size_t toP = dp < dq;
          const std::size_t toQ = dq < dp;
          const float wp = weight[np[l] & (0 - toP)];
          const float wq = weight[nq[l] & (0 - toQ)];
          for (std::size_t k = 0; k < d; ++k) {
            p[k] += (x[k] - p[k]) * wp;
            q[k] += (x[k] - q[k]) * wq;
          }
          np[l] += toP;
          nq[l] += toQ;
        }
      }
      std::array<bool, lanes> ok{};
      for (std::size_t l = 0; l < lanes; ++l) {
        const float* p = c + 2 * l * d;
        const float* q = p + d;
        float* plane = tree.planes.data() + task[l]->node * (d + 1);
        float norm2 = 0;
        for (std::size_t k = 0; k < d; ++k) {
          plane[k] = p[k] - q[k];
          norm2 += plane[k] * plane[k];
        }
        // Also rejects inf/NaN from coordinates near the float range limits.
        ok[l] = norm2 > 0 && std::isfinite(norm2);
        if (!ok[l]) {
          continue;
        }
        const float inv = 1 / std::sqrt(norm2);
        float b = 0;
        for (std::size_t k = 0; k < d; ++k) {
          plane[k] *= inv;
          b -= plane[k] * (p[k] + q[k]) / 2;
        }
        plane[d] = b;
      }
      return ok;
    }

    /// Centroid storage for `lanes` lanes: on the stack for a fixed
    /// dimension (so it can live in registers), else the tree's scratch.
    template <std::size_t lanes>
    std::array<bool, lanes> twoMeansAny(const std::array<Task*, lanes>& task) {
      if constexpr (requires { typename dim_t::Fixed; }) {
        std::array<float, 2 * lanes * dim_t::size()> c;
        return twoMeans<lanes>(task, c.data());
      } else {
        tree.centroids.resize(2 * lanes * dim.size());
        return twoMeans<lanes>(task, tree.centroids.data());
      }
    }

    /// Partition the task's items by its node's plane (Annoy's rules), or
    /// try again; then queue its children.
    /// @param planeOk whether the first attempt's two-means gave a plane
    void split(Task& t, bool planeOk) {
      const std::size_t d = dim.size();
      const std::size_t count = t.end - t.begin;
      std::uint32_t* sorted = tree.sorted.data();
      float* sortedCoords = tree.sortedCoords.data();
      std::size_t nLeft = 0;
      bool accepted = false;
      for (int attempt = 0; attempt < kSplitAttempts && !accepted; ++attempt) {
        if (attempt > 0) {
          planeOk = twoMeansAny<1>({&t})[0];
        }
        if (!planeOk) {
          continue;
        }
        const float* plane = tree.planes.data() + t.node * (d + 1);
        // Branch-free partition into `sorted`: every item is written to the
        // next free slot of both sides and only its side's cursor advances
        // (free slots only, so nothing placed is overwritten).
        nLeft = 0;
        std::size_t nRight = 0;
        for (std::size_t pos = t.begin; pos < t.end; ++pos) {
          const float* x = at(pos);
          const float m = margin(plane, x, dim);
          bool right = m > 0;
          // Exactly on the plane (or NaN): a random side. One test on |m|,
          // so the unpredictable sign of m never decides a branch.
          if (!(std::fabs(m) > 0)) [[unlikely]] {
            right = t.rng.coin();
          }
          const std::size_t l = nLeft;
          const std::size_t r = count - 1 - nRight;
          sorted[l] = tree.items[pos];
          sorted[r] = tree.items[pos];
          for (std::size_t k = 0; k < d; ++k) {
            sortedCoords[l * d + k] = x[k];
            sortedCoords[r * d + k] = x[k];
          }
          const std::size_t toRight = right;
          nLeft += 1 - toRight;
          nRight += toRight;
        }
        // Annoy's rule: retry splits with more than 95% on one side; keep
        // the last one unless it is emptier than 99/1 (which bounds the
        // depth).
        const std::size_t larger = std::max(nLeft, nRight);
        accepted = larger * 20 < count * 19 ||
                   (attempt + 1 == kSplitAttempts && larger < count &&
                    larger * 100 <= count * 99);
      }
      std::size_t mid = 0;
      if (accepted) {
        std::copy_n(sorted, count, tree.items.data() + t.begin);
        std::copy_n(sortedCoords, count * d, tree.coords.data() + t.begin * d);
        mid = t.begin + nLeft;
      } else {
        // Identical points or repeated bad draws: random halves, and a zero
        // plane so that a query sees both children at margin 0.
        std::fill_n(tree.planes.data() + t.node * (d + 1), d + 1, 0.0f);
        float* coords = tree.coords.data();
        for (std::size_t pos = t.end - 1; pos > t.begin; --pos) {
          const std::size_t other = t.begin + t.rng.below(pos - t.begin + 1);
          std::swap(tree.items[pos], tree.items[other]);
          std::swap_ranges(coords + pos * d, coords + (pos + 1) * d,
                           coords + other * d);
        }
        mid = t.begin + count / 2;
      }
      const std::uint64_t childSeed = t.rng.next();
      const std::uint32_t lo = addNode(t.begin, mid, childSeed, 0);
      const std::uint32_t hi = addNode(mid, t.end, childSeed, 1);
      tree.nodes[t.node].lo = lo;
      tree.nodes[t.node].hi = hi;
    }

    void build(std::uint64_t seed) {
      addNode(0, forest.m_size, seed, treeIndex);
      std::size_t head = 0;
      while (head < tree.tasks.size()) {
        // Copies: split() appends to tree.tasks.
        if (tree.tasks.size() - head >= kLanes) {
          std::array<Task, kLanes> group;
          std::array<Task*, kLanes> ptr;
          for (std::size_t l = 0; l < kLanes; ++l) {
            group[l] = tree.tasks[head + l];
            ptr[l] = &group[l];
          }
          head += kLanes;
          const auto ok = twoMeansAny<kLanes>(ptr);
          for (std::size_t l = 0; l < kLanes; ++l) {
            split(group[l], ok[l]);
          }
        } else {
          Task t = tree.tasks[head++];
          split(t, twoMeansAny<1>({&t})[0]);
        }
      }
    }
  };

  template <typename dim_t>
  static void buildTree(const AnnoyForest& forest, std::size_t t, dim_t dim,
                        Tree& tree) {
    const std::size_t n = forest.m_size;
    tree.items.resize(n);
    std::iota(tree.items.begin(), tree.items.end(), 0U);
    tree.coords = forest.m_points;
    tree.sorted.resize(n);
    tree.sortedCoords.resize(n * dim.size());
    tree.weight.resize(forest.m_cfg.twoMeansSteps + 2);
    for (std::size_t c = 1; c < tree.weight.size(); ++c) {
      tree.weight[c] = 1.0f / static_cast<float>(c + 1);
    }
    // A tree has fewer than 2n / (leaf size / 2) nodes unless splits are
    // very unbalanced; reserving avoids most regrowth.
    const std::size_t guess =
        4 * n / std::max<std::size_t>(forest.m_leafSize, 1) + 1;
    tree.nodes.reserve(guess);
    tree.planes.reserve(guess * (dim.size() + 1));
    tree.tasks.reserve(guess / 2 + 1);
    Builder<dim_t>{forest, dim, static_cast<std::uint32_t>(t), tree}.build(
        forest.m_cfg.seed);
  }

  template <typename dim_t>
  static void build(AnnoyForest& forest, dim_t dim, unsigned nThreads) {
    const std::size_t nTrees = forest.m_cfg.nTrees;
    std::vector<Tree> trees(nTrees);
    if (forest.m_size > 0) {
      parallelFor(
          nTrees, nThreads,
          [&](std::size_t t) { buildTree(forest, t, dim, trees[t]); }, 1);
    }
    std::size_t total = 0;
    for (const auto& tree : trees) {
      total += tree.nodes.size();
    }
    if (total >= kInternal) {
      fail("the forest would have " + std::to_string(total) +
           " nodes, more than 2^32 - 1");
    }
    const std::size_t stride = dim.size() + 1;
    forest.m_nodes.reserve(total);
    forest.m_planes.reserve(total * stride);
    forest.m_items.reserve(nTrees * forest.m_size);
    for (std::size_t t = 0; t < nTrees; ++t) {
      auto& tree = trees[t];
      if (tree.nodes.empty()) {
        continue;
      }
      const auto base = static_cast<std::uint32_t>(forest.m_nodes.size());
      forest.m_roots.push_back(base);
      for (auto node : tree.nodes) {
        if (node.tree == kInternal) {
          node.lo += base;
          node.hi += base;
        }
        forest.m_nodes.push_back(node);
      }
      forest.m_planes.insert(forest.m_planes.end(), tree.planes.begin(),
                             tree.planes.end());
      forest.m_items.insert(forest.m_items.end(), tree.items.begin(),
                            tree.items.end());
      std::vector<Node>().swap(tree.nodes);  // release as we go
      std::vector<float>().swap(tree.planes);
      std::vector<std::uint32_t>().swap(tree.items);
    }
  }

  /// Answer items[begin, end) into out (min(k, n) per query).
  template <typename dim_t>
  static void query(const AnnoyForest& forest,
                    std::span<const std::uint32_t> items, std::size_t k,
                    std::size_t searchK, bool sorted, dim_t dim,
                    QueryScratch& s, std::uint32_t* out) {
    const std::size_t n = forest.m_size;
    const std::size_t kk = std::min(k, n);
    const std::size_t stride = dim.size() + 1;
    const Node* nodes = forest.m_nodes.data();
    const float* planes = forest.m_planes.data();
    const std::uint32_t* leafItems = forest.m_items.data();
    const float* points = forest.m_points.data();
    if (s.stamp.size() != n) {
      s.stamp.assign(n, 0);
      s.epoch = 0;
    }
    constexpr float kInf = std::numeric_limits<float>::infinity();
    for (const std::uint32_t item : items) {
      const float* x = points + std::size_t{item} * dim.size();
      if (++s.epoch == 0) {  // wrapped: old stamps could collide
        std::fill(s.stamp.begin(), s.stamp.end(), 0U);
        s.epoch = 1;
      }
      auto& heap = s.heap;
      auto& keys = s.keys;
      heap.clear();
      for (const std::uint32_t root : forest.m_roots) {
        heap.push_back(heapEntry(kInf, root));
      }
      std::make_heap(heap.begin(), heap.end());
      // keys[0, nKeys): distinct candidates as (squared distance bits << 32
      // | index). Non-negative floats order like their bit patterns, so one
      // integer sort orders by (distance, index).
      std::size_t nKeys = 0;
      std::size_t nSeen = 0;
      while (!heap.empty() && (nSeen < searchK || nKeys < kk)) {
        std::pop_heap(heap.begin(), heap.end());
        const std::uint64_t top = heap.back();
        const float d = fromOrderedBits(static_cast<std::uint32_t>(top >> 32));
        const auto index = static_cast<std::uint32_t>(top);
        heap.pop_back();
        const Node& node = nodes[index];
        if (node.tree != kInternal) {
          const std::uint32_t* leaf = leafItems + node.tree * n;
          if (keys.size() < nKeys + (node.hi - node.lo)) {
            keys.resize(2 * (nKeys + (node.hi - node.lo)));
          }
          // Branch-free de-duplication: every item is written, only new
          // ones advance the cursor.
          for (std::uint32_t pos = node.lo; pos < node.hi; ++pos) {
            const std::uint32_t c = leaf[pos];
            const bool fresh = s.stamp[c] != s.epoch;
            s.stamp[c] = s.epoch;
            const float d2 =
                dist2(x, points + std::size_t{c} * dim.size(), dim);
            keys[nKeys] =
                (std::uint64_t{std::bit_cast<std::uint32_t>(d2)} << 32) | c;
            nKeys += static_cast<std::size_t>(fresh);
          }
          nSeen += node.hi - node.lo;
        } else {
          const float m = margin(planes + std::size_t{index} * stride, x, dim);
          heap.push_back(heapEntry(std::min(d, m), node.hi));
          std::push_heap(heap.begin(), heap.end());
          heap.push_back(heapEntry(std::min(d, -m), node.lo));
          std::push_heap(heap.begin(), heap.end());
        }
      }
      if (s.sortTmp.size() < nKeys) {
        s.sortTmp.resize(keys.size());
      }
      // Unsorted output: selecting the k nearest is enough (keys are
      // unique, so the set equals the sorted prefix). Sorted output with
      // many more candidates than wanted (small k, large searchK): select
      // first, sort only the k nearest.
      if (!sorted) {
        if (nKeys > kk) {
          std::nth_element(keys.data(), keys.data() + kk, keys.data() + nKeys);
        }
        for (std::size_t i = 0; i < kk; ++i) {
          *out++ = static_cast<std::uint32_t>(keys[i]);
        }
        continue;
      }
      if (nKeys > 4 * kk) {
        std::nth_element(keys.data(), keys.data() + kk, keys.data() + nKeys);
        nKeys = kk;
      }
      sortKeys(keys.data(), s.sortTmp.data(), nKeys);
      for (std::size_t i = 0; i < kk; ++i) {
        *out++ = static_cast<std::uint32_t>(keys[i]);
      }
    }
  }

  template <typename dim_t>
  static void queryAll(const AnnoyForest& forest,
                       std::span<const std::uint32_t> items, std::size_t k,
                       std::size_t searchK, bool sorted, dim_t dim,
                       unsigned nThreads, std::uint32_t* out) {
    constexpr std::size_t kChunk = 32;
    const std::size_t kk = std::min(k, forest.m_size);
    const std::size_t nChunks = (items.size() + kChunk - 1) / kChunk;
    // One scratch per worker, never per query: a chunk borrows a free one.
    // At most min(threads, chunks) chunks run at once, so one is free.
    std::vector<QueryScratch> pool(std::min<std::size_t>(
        resolveThreads(nThreads), std::max<std::size_t>(nChunks, 1)));
    std::vector<std::size_t> free(pool.size());
    std::iota(free.begin(), free.end(), std::size_t{0});
    std::mutex mutex;
    parallelChunks(items.size(), kChunk, nThreads,
                   [&](std::size_t, std::size_t begin, std::size_t end) {
                     std::size_t slot = 0;
                     {
                       std::lock_guard<std::mutex> lock(mutex);
                       slot = free.back();
                       free.pop_back();
                     }
                     query(forest, items.subspan(begin, end - begin), k,
                           searchK, sorted, dim, pool[slot], out + begin * kk);
                     std::lock_guard<std::mutex> lock(mutex);
                     free.push_back(slot);
                   });
  }
};

void AnnoyForest::Config::validate() const {
  if (nTrees == 0) {
    throw std::invalid_argument("AnnoyForest: nTrees (=0) must be >= 1");
  }
}

AnnoyForest::AnnoyForest(std::span<const float> points, std::size_t dim,
                         const Config& cfg, unsigned nThreads)
    : m_cfg(cfg), m_dim(dim) {
  m_cfg.validate();
  if (dim == 0) {
    fail("dim (=0) must be >= 1");
  }
  if (points.size() % dim != 0) {
    fail("points size (=" + std::to_string(points.size()) +
         ") must be a multiple of dim (=" + std::to_string(dim) + ")");
  }
  m_size = points.size() / dim;
  constexpr std::size_t kMaxItems = 0xFFFFFFFFu;
  if (m_size > kMaxItems) {
    fail("points has " + std::to_string(m_size) +
         " rows, more than 2^32 - 1");
  }
  if (m_size > 0 && m_cfg.nTrees > kMaxItems / m_size) {
    fail("nTrees (=" + std::to_string(m_cfg.nTrees) + ") × n (=" +
         std::to_string(m_size) + ") must be <= 2^32 - 1");
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i])) {
      fail("points must be finite, row " + std::to_string(i / dim) +
           " column " + std::to_string(i % dim) + " is not");
    }
  }
  m_leafSize = m_cfg.leafSize == 0 ? autoLeafSize(dim) : m_cfg.leafSize;
  m_points.assign(points.begin(), points.end());
  switch (dim) {
    case 2:
      Impl::build(*this, FixedDim<2>{}, nThreads);
      break;
    case 3:
      Impl::build(*this, FixedDim<3>{}, nThreads);
      break;
    default:
      Impl::build(*this, AnyDim{dim}, nThreads);
  }
}

std::vector<std::uint32_t> AnnoyForest::queryItems(
    std::span<const std::uint32_t> items, std::size_t k, std::int64_t searchK,
    unsigned nThreads, bool sorted) const {
  if (k == 0) {
    fail("k (=0) must be >= 1");
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i] >= m_size) {
      fail("items[" + std::to_string(i) + "] (=" + std::to_string(items[i]) +
           ") must be < the number of points (=" + std::to_string(m_size) +
           ")");
    }
  }
  const std::size_t kk = std::min(k, m_size);
  std::vector<std::uint32_t> out(items.size() * kk);
  if (out.empty()) {
    return out;
  }
  // Annoy's default, saturated (k may exceed n by far).
  const std::size_t sk =
      searchK > 0 ? static_cast<std::size_t>(searchK)
      : k > std::numeric_limits<std::size_t>::max() / m_cfg.nTrees
          ? std::numeric_limits<std::size_t>::max()
          : m_cfg.nTrees * k;
  switch (m_dim) {
    case 2:
      Impl::queryAll(*this, items, k, sk, sorted, FixedDim<2>{}, nThreads, out.data());
      break;
    case 3:
      Impl::queryAll(*this, items, k, sk, sorted, FixedDim<3>{}, nThreads, out.data());
      break;
    default:
      Impl::queryAll(*this, items, k, sk, sorted, AnyDim{m_dim}, nThreads, out.data());
  }
  return out;
}

}  // namespace helixkit
