#include "helixkit/Clustering/PixelClustering.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

void PixelClusterizer::Config::validate() const {
  if (connectivity != 4 && connectivity != 8) {
    throw std::invalid_argument("PixelClusterizer: connectivity (=" +
                                std::to_string(connectivity) +
                                ") must be 4 or 8");
  }
}

PixelClusterizer::PixelClusterizer(const Config& cfg) : m_cfg(cfg) {
  m_cfg.validate();
}

namespace {

// Modules per parallel work item. The output does not depend on it (nor on
// the thread count): clusters never span modules and chunks are merged in
// module order.
constexpr std::size_t kModulesPerChunk = 8;
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

constexpr unsigned kRadixBits = 11;
constexpr std::size_t kRadixBuckets = std::size_t{1} << kRadixBits;
constexpr std::uint64_t kRadixMask = kRadixBuckets - 1;
constexpr unsigned kRadixPasses = 6;  // 6 x 11 bits cover a 64-bit key

struct Keyed {
  std::uint64_t key;
  std::uint32_t index;
};

// Flipping the sign bit maps signed order onto unsigned order.
std::uint64_t moduleKey(std::int64_t m) {
  return static_cast<std::uint64_t>(m) ^ (std::uint64_t{1} << 63);
}

// (row, col) >= 0 packed so that unsigned order is (row, col) order.
std::uint64_t pixelKey(std::int32_t r, std::int32_t c) {
  return (static_cast<std::uint64_t>(r) << 32) | static_cast<std::uint32_t>(c);
}

struct Grouping {
  std::vector<std::uint32_t> order;  // pixel indices, grouped by module
  std::vector<std::size_t> start;  // module k is order[start[k]:start[k+1]]
};

/// Pixel indices grouped by ascending module id, input order kept within a
/// module. LSD radix sort (stable) of the ids minus the smallest one, over as
/// many 11-bit digits as the id range needs: dense ids (0..N) take one pass,
/// detector ids two or three.
Grouping groupByModule(std::span<const std::int64_t> module) {
  const std::size_t n = module.size();
  Grouping g;
  g.order.resize(n);
  g.start.push_back(0);
  if (std::is_sorted(module.begin(), module.end())) {
    std::iota(g.order.begin(), g.order.end(), 0u);
    for (std::size_t k = 1; k < n; ++k) {
      if (module[k] != module[k - 1]) {
        g.start.push_back(k);
      }
    }
    g.start.push_back(n);
    return g;
  }
  const auto [lo, hi] = std::minmax_element(module.begin(), module.end());
  const std::uint64_t base = moduleKey(*lo);
  const std::uint64_t range = moduleKey(*hi) - base;
  unsigned nPasses = 0;
  while (nPasses < kRadixPasses && (range >> (nPasses * kRadixBits)) != 0) {
    ++nPasses;
  }
  std::vector<Keyed> a(n);
  std::vector<Keyed> b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = {moduleKey(module[i]) - base, static_cast<std::uint32_t>(i)};
  }
  std::vector<std::size_t> start(kRadixBuckets);
  for (unsigned p = 0; p < nPasses; ++p) {
    const unsigned shift = p * kRadixBits;
    std::fill(start.begin(), start.end(), 0);
    for (const auto& e : a) {
      ++start[(e.key >> shift) & kRadixMask];
    }
    std::size_t sum = 0;
    for (auto& c : start) {
      const std::size_t count = c;
      c = sum;
      sum += count;
    }
    for (const auto& e : a) {
      b[start[(e.key >> shift) & kRadixMask]++] = e;
    }
    a.swap(b);
  }
  for (std::size_t k = 0; k < n; ++k) {
    g.order[k] = a[k].index;
    if (k > 0 && a[k].key != a[k - 1].key) {
      g.start.push_back(k);
    }
  }
  g.start.push_back(n);
  return g;
}

struct Run {
  std::int64_t row;
  std::int64_t c0;  // first column
  std::int64_t c1;  // last column
  std::uint32_t begin;  // [begin, end) into the module's sorted pixels
  std::uint32_t end;
};

struct Stats {
  std::int64_t module = 0;
  std::int32_t size = 0;
  std::int32_t minRow = std::numeric_limits<std::int32_t>::max();
  std::int32_t maxRow = -1;
  std::int32_t minCol = std::numeric_limits<std::int32_t>::max();
  std::int32_t maxCol = -1;
  double q = 0.0;
  double qRow = 0.0;
  double qCol = 0.0;
  double sumRow = 0.0;
  double sumCol = 0.0;
};

struct ChunkOut {
  std::vector<Stats> clusters;
  // Smallest input index that repeats an earlier pixel, and that pixel.
  std::size_t duplicate = kNone;
  std::size_t duplicateOf = kNone;
};

std::uint32_t findRoot(std::vector<std::uint32_t>& parent, std::uint32_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

// The smaller root wins: a component's root is then its first run in
// (row, col) order, which holds the cluster's smallest pixel.
void unite(std::vector<std::uint32_t>& parent, std::uint32_t a,
           std::uint32_t b) {
  a = findRoot(parent, a);
  b = findRoot(parent, b);
  if (a < b) {
    parent[b] = a;
  } else if (b < a) {
    parent[a] = b;
  }
}

/// A fired pixel of the module being clustered.
struct Pixel {
  std::uint64_t key;  // pixelKey(row, col)
  std::uint32_t index;  // into the input arrays
  double q;
};

/// Scratch buffers reused over the modules of one chunk.
struct Scratch {
  std::vector<Pixel> pixels;
  std::vector<Pixel> sorted;
  std::vector<std::uint32_t> rowStart;
  std::vector<std::uint32_t> rowNext;
  std::vector<Run> runs;
  std::vector<std::uint32_t> parent;
  std::vector<std::uint32_t> runCluster;
};

bool pixelLess(const Pixel& a, const Pixel& b) {
  return a.key < b.key || (a.key == b.key && a.index < b.index);
}

/// Sort `px` by (row, col, input index). Modules are small and their rows
/// few, so a counting sort by row (stable: indices ascend on input) and an
/// insertion sort by column within each row beat a comparison sort; a module
/// with a row range much larger than its pixel count, or a crowded row,
/// falls back to std::sort.
void sortPixels(std::vector<Pixel>& px, std::int32_t minRow,
                std::int32_t maxRow, Scratch& s) {
  const std::size_t m = px.size();
  const auto range = static_cast<std::size_t>(maxRow - minRow) + 1;
  if (range > 4 * m + 256) {
    std::sort(px.begin(), px.end(), pixelLess);
    return;
  }
  auto& start = s.rowStart;
  start.assign(range + 1, 0);
  for (const auto& p : px) {
    ++start[static_cast<std::size_t>(static_cast<std::int32_t>(p.key >> 32) -
                                     minRow) +
            1];
  }
  for (std::size_t r = 0; r < range; ++r) {
    start[r + 1] += start[r];
  }
  auto& out = s.sorted;
  out.resize(m);
  auto& next = s.rowNext;
  next.assign(start.begin(), start.end() - 1);
  for (const auto& p : px) {
    const auto r = static_cast<std::size_t>(
        static_cast<std::int32_t>(p.key >> 32) - minRow);
    out[next[r]++] = p;
  }
  for (std::size_t r = 0; r < range; ++r) {
    const auto b = out.begin() + start[r];
    const auto e = out.begin() + start[r + 1];
    if (e - b > 32) {
      std::sort(b, e, pixelLess);
      continue;
    }
    for (auto it = b; it < e; ++it) {  // insertion sort, stable
      const Pixel p = *it;
      auto j = it;
      while (j > b && (j - 1)->key > p.key) {
        *j = *(j - 1);
        --j;
      }
      *j = p;
    }
  }
  px.swap(out);
}

/// Cluster one module, whose pixels are `seg` (input indices, ascending).
/// Appends its clusters to `out.clusters`; overwrites `seg` with the pixels
/// in (row, col) order and writes their chunk-local cluster indices into
/// `local`, position by position.
template <typename value_t>
void clusterModule(std::span<std::uint32_t> seg, std::span<std::int32_t> local,
                   std::int64_t moduleId, std::span<const std::int32_t> row,
                   std::span<const std::int32_t> col,
                   std::span<const value_t> charge, std::int64_t reach,
                   Scratch& s, ChunkOut& out) {
  const std::size_t m = seg.size();
  auto& px = s.pixels;
  px.resize(m);
  std::int32_t minRow = std::numeric_limits<std::int32_t>::max();
  std::int32_t maxRow = 0;
  bool sorted = true;
  for (std::size_t k = 0; k < m; ++k) {
    const std::uint32_t i = seg[k];
    minRow = std::min(minRow, row[i]);
    maxRow = std::max(maxRow, row[i]);
    px[k] = {pixelKey(row[i], col[i]), i, static_cast<double>(charge[i])};
    sorted = sorted && (k == 0 || px[k - 1].key <= px[k].key);
  }
  if (!sorted) {
    sortPixels(px, minRow, maxRow, s);
  }
  bool duplicate = false;
  for (std::size_t k = 1; k < m; ++k) {
    if (px[k].key == px[k - 1].key) {
      duplicate = true;
      if (px[k].index < out.duplicate) {
        out.duplicate = px[k].index;
        out.duplicateOf = px[k - 1].index;
      }
    }
  }
  if (duplicate) {
    return;  // the call fails; the runs below assume distinct pixels
  }

  // Horizontal runs of consecutive columns, in (row, col) order.
  auto& runs = s.runs;
  runs.clear();
  for (std::size_t k = 0; k < m; ++k) {
    const auto r = static_cast<std::int64_t>(px[k].key >> 32);
    const auto c = static_cast<std::int64_t>(px[k].key & 0xffffffffu);
    const auto kk = static_cast<std::uint32_t>(k);
    if (!runs.empty() && runs.back().row == r && runs.back().c1 + 1 == c) {
      runs.back().c1 = c;
      runs.back().end = kk + 1;
    } else {
      runs.push_back({r, c, c, kk, kk + 1});
    }
  }
  const std::size_t nRuns = runs.size();
  auto& parent = s.parent;
  parent.resize(nRuns);
  std::iota(parent.begin(), parent.end(), 0u);

  // Link each run to the runs of the previous row it touches. Both rows are
  // sorted by column, so one forward pointer into the previous row suffices:
  // a run ending before the current one starts (minus the diagonal reach)
  // cannot touch any later run of the current row either.
  std::size_t prevBegin = 0;
  std::size_t prevEnd = 0;
  for (std::size_t k = 0; k < nRuns;) {
    const std::int64_t r = runs[k].row;
    std::size_t rowEnd = k;
    while (rowEnd < nRuns && runs[rowEnd].row == r) {
      ++rowEnd;
    }
    if (prevEnd > prevBegin && runs[prevBegin].row == r - 1) {
      std::size_t j = prevBegin;
      for (std::size_t c = k; c < rowEnd; ++c) {
        while (j < prevEnd && runs[j].c1 + reach < runs[c].c0) {
          ++j;
        }
        for (std::size_t t = j; t < prevEnd && runs[t].c0 <= runs[c].c1 + reach;
             ++t) {
          unite(parent, static_cast<std::uint32_t>(t),
                static_cast<std::uint32_t>(c));
        }
      }
    }
    prevBegin = k;
    prevEnd = rowEnd;
    k = rowEnd;
  }

  auto& runCluster = s.runCluster;
  runCluster.resize(nRuns);
  for (std::size_t k = 0; k < nRuns; ++k) {
    const std::uint32_t root = findRoot(parent, static_cast<std::uint32_t>(k));
    if (root == k) {
      runCluster[k] = static_cast<std::uint32_t>(out.clusters.size());
      out.clusters.emplace_back();
      out.clusters.back().module = moduleId;
    } else {
      runCluster[k] = runCluster[root];  // root < k: already numbered
    }
    Stats& st = out.clusters[runCluster[k]];
    const Run& run = runs[k];
    const auto rr = static_cast<std::int32_t>(run.row);
    st.minRow = std::min(st.minRow, rr);
    st.maxRow = std::max(st.maxRow, rr);
    st.minCol = std::min(st.minCol, static_cast<std::int32_t>(run.c0));
    st.maxCol = std::max(st.maxCol, static_cast<std::int32_t>(run.c1));
    st.size += static_cast<std::int32_t>(run.end - run.begin);
    const auto label = static_cast<std::int32_t>(runCluster[k]);
    double q = 0.0;
    double qc = 0.0;
    double c = static_cast<double>(run.c0);
    for (std::uint32_t p = run.begin; p < run.end; ++p, c += 1.0) {
      q += px[p].q;
      qc += px[p].q * c;
      seg[p] = px[p].index;
      local[p] = label;
    }
    const auto len = static_cast<double>(run.end - run.begin);
    st.q += q;
    st.qRow += q * static_cast<double>(run.row);
    st.qCol += qc;
    st.sumRow += static_cast<double>(run.row) * len;
    st.sumCol += len * (static_cast<double>(run.c0) + static_cast<double>(run.c1)) / 2.0;
  }
}

template <typename value_t>
void checkInputs(std::span<const std::int64_t> module,
                 std::span<const std::int32_t> row,
                 std::span<const std::int32_t> col,
                 std::span<const value_t> charge, unsigned nThreads) {
  const std::size_t n = module.size();
  if (row.size() != n || col.size() != n || charge.size() != n) {
    throw std::invalid_argument(
        "PixelClusterizer: module, row, col and charge must have the same "
        "length, got " +
        std::to_string(n) + ", " + std::to_string(row.size()) + ", " +
        std::to_string(col.size()) + ", " + std::to_string(charge.size()));
  }
  if (n >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::invalid_argument("PixelClusterizer: number of pixels (=" +
                                std::to_string(n) + ") must be < 2^31 - 1");
  }
  // In parallel chunks; the smallest bad index is reported, as a serial
  // loop would.
  constexpr std::size_t kCheckChunk = 1 << 16;
  std::vector<std::size_t> firstBad((n + kCheckChunk - 1) / kCheckChunk, kNone);
  parallelChunks(n, kCheckChunk, nThreads,
                 [&](std::size_t c, std::size_t begin, std::size_t end) {
                   for (std::size_t i = begin; i < end; ++i) {
                     const auto q = static_cast<double>(charge[i]);
                     if (row[i] < 0 || col[i] < 0 ||
                         !(std::isfinite(q) && q >= 0.0)) {
                       firstBad[c] = i;
                       return;
                     }
                   }
                 });
  const auto bad = std::find_if(firstBad.begin(), firstBad.end(),
                                [](std::size_t i) { return i != kNone; });
  if (bad == firstBad.end()) {
    return;
  }
  const std::size_t i = *bad;
  if (row[i] < 0) {
    throw std::invalid_argument("PixelClusterizer: row[" + std::to_string(i) +
                                "] (=" + std::to_string(row[i]) +
                                ") must be >= 0");
  }
  if (col[i] < 0) {
    throw std::invalid_argument("PixelClusterizer: col[" + std::to_string(i) +
                                "] (=" + std::to_string(col[i]) +
                                ") must be >= 0");
  }
  std::ostringstream os;
  os << "PixelClusterizer: charge[" << i << "] (=" << static_cast<double>(charge[i])
     << ") must be finite and >= 0";
  throw std::invalid_argument(os.str());
}

}  // namespace

template <typename value_t>
PixelClusterizer::Clusters PixelClusterizer::cluster(
    std::span<const std::int64_t> module, std::span<const std::int32_t> row,
    std::span<const std::int32_t> col, std::span<const value_t> charge) const {
  checkInputs(module, row, col, charge, m_cfg.nThreads);
  const std::size_t n = module.size();
  Clusters res;
  res.labels.assign(n, 0);
  if (n == 0) {
    return res;
  }

  Grouping grouping = groupByModule(module);
  std::vector<std::uint32_t>& order = grouping.order;
  const std::vector<std::size_t>& moduleStart = grouping.start;
  const std::size_t nModules = moduleStart.size() - 1;

  const std::int64_t reach = m_cfg.connectivity == 8 ? 1 : 0;
  const std::size_t nChunks =
      (nModules + kModulesPerChunk - 1) / kModulesPerChunk;
  std::vector<ChunkOut> parts(nChunks);
  std::vector<std::int32_t> local(n);
  const std::span<std::uint32_t> ord(order);
  const std::span<std::int32_t> loc(local);
  parallelChunks(nModules, kModulesPerChunk, m_cfg.nThreads,
                 [&](std::size_t c, std::size_t begin, std::size_t end) {
                   Scratch scratch;
                   for (std::size_t mod = begin; mod < end; ++mod) {
                     const std::size_t b = moduleStart[mod];
                     const std::size_t len = moduleStart[mod + 1] - b;
                     clusterModule<value_t>(ord.subspan(b, len),
                                            loc.subspan(b, len),
                                            module[order[b]], row, col,
                                            charge, reach, scratch, parts[c]);
                   }
                 });

  std::size_t duplicate = kNone;
  std::size_t duplicateOf = kNone;
  for (const auto& p : parts) {
    if (p.duplicate < duplicate) {
      duplicate = p.duplicate;
      duplicateOf = p.duplicateOf;
    }
  }
  if (duplicate != kNone) {
    throw std::invalid_argument(
        "PixelClusterizer: pixel " + std::to_string(duplicate) + " (module " +
        std::to_string(module[duplicate]) + ", row " +
        std::to_string(row[duplicate]) + ", col " +
        std::to_string(col[duplicate]) + ") duplicates pixel " +
        std::to_string(duplicateOf) + "; pixels must be unique");
  }

  // Chunk-local cluster indices -> global ones (chunks in module order),
  // scattered back to input order.
  std::vector<std::size_t> offset(nChunks + 1, 0);
  for (std::size_t c = 0; c < nChunks; ++c) {
    offset[c + 1] = offset[c] + parts[c].clusters.size();
  }
  std::int32_t* labels = res.labels.data();
  parallelFor(
      nChunks, m_cfg.nThreads,
      [&](std::size_t c) {
        const auto off = static_cast<std::int32_t>(offset[c]);
        const std::size_t b = moduleStart[c * kModulesPerChunk];
        const std::size_t e =
            moduleStart[std::min(nModules, (c + 1) * kModulesPerChunk)];
        for (std::size_t k = b; k < e; ++k) {
          labels[order[k]] = local[k] + off;
        }
      },
      1);

  const std::size_t nClusters = offset[nChunks];
  res.module.resize(nClusters);
  res.size.resize(nClusters);
  res.sizeRow.resize(nClusters);
  res.sizeCol.resize(nClusters);
  res.charge.resize(nClusters);
  res.row.resize(nClusters);
  res.col.resize(nClusters);
  std::size_t k = 0;
  for (const auto& p : parts) {
    for (const Stats& st : p.clusters) {
      res.module[k] = st.module;
      res.size[k] = st.size;
      res.sizeRow[k] = st.maxRow - st.minRow + 1;
      res.sizeCol[k] = st.maxCol - st.minCol + 1;
      res.charge[k] = st.q;
      if (st.q > 0.0) {
        res.row[k] = st.qRow / st.q;
        res.col[k] = st.qCol / st.q;
      } else {
        res.row[k] = st.sumRow / static_cast<double>(st.size);
        res.col[k] = st.sumCol / static_cast<double>(st.size);
      }
      ++k;
    }
  }
  return res;
}

template PixelClusterizer::Clusters PixelClusterizer::cluster<float>(
    std::span<const std::int64_t>, std::span<const std::int32_t>,
    std::span<const std::int32_t>, std::span<const float>) const;
template PixelClusterizer::Clusters PixelClusterizer::cluster<double>(
    std::span<const std::int64_t>, std::span<const std::int32_t>,
    std::span<const std::int32_t>, std::span<const double>) const;

}  // namespace helixkit
