#include "helixkit/Seeding/HashingSeeder.hpp"

#include "helixkit/Seeding/AnnoyForest.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>

namespace helixkit {

namespace {

[[noreturn]] void fail(const std::string& msg) {
  throw std::invalid_argument("HashingSeeder: " + msg);
}

}  // namespace

std::vector<std::uint32_t> HashingSeeder::exactPhiNeighbours(
    std::span<const double> phi, std::span<const std::uint32_t> queries,
    std::size_t k) {
  const std::size_t n = phi.size();
  if (k < 1) {
    fail("k (=0) must be >= 1");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(phi[i])) {
      fail("phi[" + std::to_string(i) + "] is not finite");
    }
  }
  for (const auto q : queries) {
    if (q >= n) {
      fail("query index " + std::to_string(q) + " must be < " +
           std::to_string(n));
    }
  }
  const std::size_t kk = std::min(k, n);
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return phi[a] < phi[b];
  });
  std::vector<std::size_t> rank(n);
  for (std::size_t i = 0; i < n; ++i) {
    rank[order[i]] = i;
  }
  constexpr double twoPi = 2.0 * std::numbers::pi;
  std::vector<std::uint32_t> out;
  out.reserve(queries.size() * kk);
  for (const auto q : queries) {
    const std::size_t p = rank[q];
    const double c = phi[q];
    out.push_back(q);
    // left/right: number of steps taken to each side of p (circularly)
    std::size_t left = 0;
    std::size_t right = 0;
    while (left + right + 1 < kk) {
      const std::size_t li = (p + n - (left + 1) % n) % n;
      const std::size_t ri = (p + right + 1) % n;
      double dl = c - phi[order[li]];
      if (dl < 0) {
        dl += twoPi;
      }
      double dr = phi[order[ri]] - c;
      if (dr < 0) {
        dr += twoPi;
      }
      // Both sides can wrap past pi; the folded distance is the minimum.
      dl = std::min(dl, twoPi - dl);
      dr = std::min(dr, twoPi - dr);
      if (dl <= dr) {
        out.push_back(order[li]);
        ++left;
      } else {
        out.push_back(order[ri]);
        ++right;
      }
    }
  }
  return out;
}

HashingSeeder::Buckets HashingSeeder::buildBuckets(
    std::span<const std::uint32_t> neighbours,
    std::span<const std::int64_t> counts, std::span<const std::int64_t> cells,
    std::size_t nPoints) {
  if (counts.size() != cells.size()) {
    fail("counts (" + std::to_string(counts.size()) + ") and cells (" +
         std::to_string(cells.size()) + ") must have the same length");
  }
  std::vector<std::size_t> begin(counts.size() + 1, 0);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 0) {
      fail("counts must be >= 0");
    }
    if (cells[i] < 0) {
      fail("cells must be >= 0");
    }
    begin[i + 1] = begin[i] + static_cast<std::size_t>(counts[i]);
  }
  if (begin.back() != neighbours.size()) {
    fail("sum of counts (" + std::to_string(begin.back()) +
         ") must equal the number of neighbours (" +
         std::to_string(neighbours.size()) + ")");
  }
  for (const auto v : neighbours) {
    if (v >= nPoints) {
      fail("neighbour index " + std::to_string(v) + " must be < " +
           std::to_string(nPoints));
    }
  }
  std::vector<std::uint32_t> byCell(counts.size());
  std::iota(byCell.begin(), byCell.end(), 0U);
  std::stable_sort(byCell.begin(), byCell.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return cells[a] < cells[b]; });
  Buckets out;
  std::vector<std::uint32_t> stamp(nPoints, 0);
  std::uint32_t tag = 0;
  for (std::size_t g = 0; g < byCell.size();) {
    const std::int64_t cell = cells[byCell[g]];
    ++tag;
    const std::size_t first = out.indices.size();
    for (; g < byCell.size() && cells[byCell[g]] == cell; ++g) {
      const std::uint32_t q = byCell[g];
      for (std::size_t j = begin[q]; j < begin[q + 1]; ++j) {
        const std::uint32_t v = neighbours[j];
        if (stamp[v] != tag) {
          stamp[v] = tag;
          out.indices.push_back(v);
        }
      }
    }
    if (out.indices.size() == first) {
      continue;  // only empty neighbour lists: no bucket
    }
    std::sort(out.indices.begin() + static_cast<std::ptrdiff_t>(first),
              out.indices.end());
    out.offsets.push_back(out.indices.size());
    out.cells.push_back(cell);
  }
  return out;
}

TripletSeeder::Seeds HashingSeeder::mergeSeeds(
    std::span<const TripletSeeder::Seeds> perBucket) {
  // Group the raw seeds by middle with a counting sort (stable: within a
  // middle they stay in bucket order), then de-duplicate each group by
  // (bottom, top). Groups are small (at most (maxSeedsPerSpM + 1) per bucket
  // holding the middle), so a linear scan over the group's distinct seeds
  // is the fast path; large groups sort instead. O(seeds + max middle).
  struct Raw {
    std::int64_t b, m, t;
    float zVertex, quality;
    std::size_t pos;  // first-appearance order over all buckets
  };
  std::size_t nRaw = 0;
  std::int64_t maxMiddle = -1;
  for (const auto& s : perBucket) {
    nRaw += s.size();
    for (std::size_t i = 0; i < 3 * s.size(); ++i) {
      if (s.triplets[i] < 0) {
        fail("mergeSeeds: space-point indices must be >= 0, got " +
             std::to_string(s.triplets[i]));
      }
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
      maxMiddle = std::max(maxMiddle, s.triplets[3 * i + 1]);
    }
  }
  TripletSeeder::Seeds out;
  if (nRaw == 0) {
    return out;
  }
  std::vector<Raw> raw;
  raw.reserve(nRaw);
  for (const auto& s : perBucket) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      raw.push_back({s.triplets[3 * i], s.triplets[3 * i + 1],
                     s.triplets[3 * i + 2], s.zVertex[i], s.quality[i],
                     raw.size()});
    }
  }
  // Group by middle, stable. Counting sort when the middle indices are
  // dense enough (the normal case: indices into one event's space points).
  const auto nMid = static_cast<std::uint64_t>(maxMiddle) + 1;
  if (nMid <= 8 * std::uint64_t{nRaw} + 4096) {
    std::vector<std::size_t> start(static_cast<std::size_t>(nMid) + 1, 0);
    for (const Raw& r : raw) {
      ++start[static_cast<std::size_t>(r.m) + 1];
    }
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<Raw> grouped(nRaw);
    for (const Raw& r : raw) {
      grouped[start[static_cast<std::size_t>(r.m)]++] = r;
    }
    raw.swap(grouped);
  } else {
    std::stable_sort(raw.begin(), raw.end(),
                     [](const Raw& x, const Raw& y) { return x.m < y.m; });
  }
  out.triplets.reserve(3 * nRaw);
  out.zVertex.reserve(nRaw);
  out.quality.reserve(nRaw);
  constexpr std::size_t kLinearGroup = 64;
  std::vector<Raw> group;
  for (std::size_t g0 = 0; g0 < nRaw;) {
    std::size_t g1 = g0 + 1;
    while (g1 < nRaw && raw[g1].m == raw[g0].m) {
      ++g1;
    }
    group.clear();
    if (g1 - g0 <= kLinearGroup) {
      for (std::size_t i = g0; i < g1; ++i) {
        const Raw& r = raw[i];
        auto it = std::find_if(group.begin(), group.end(), [&](const Raw& u) {
          return u.b == r.b && u.t == r.t;
        });
        if (it == group.end()) {
          group.push_back(r);
        } else {
          it->quality = std::max(it->quality, r.quality);
        }
      }
    } else {
      group.assign(raw.begin() + static_cast<std::ptrdiff_t>(g0),
                   raw.begin() + static_cast<std::ptrdiff_t>(g1));
      std::sort(group.begin(), group.end(), [](const Raw& x, const Raw& y) {
        if (x.b != y.b) return x.b < y.b;
        if (x.t != y.t) return x.t < y.t;
        return x.pos < y.pos;
      });
      std::size_t w = 0;
      for (std::size_t i = 0; i < group.size(); ++i) {
        if (w > 0 && group[w - 1].b == group[i].b &&
            group[w - 1].t == group[i].t) {
          group[w - 1].quality = std::max(group[w - 1].quality, group[i].quality);
        } else {
          group[w++] = group[i];
        }
      }
      group.resize(w);
      std::sort(group.begin(), group.end(),
                [](const Raw& x, const Raw& y) { return x.pos < y.pos; });
    }
    for (const Raw& r : group) {
      out.triplets.insert(out.triplets.end(), {r.b, r.m, r.t});
      out.zVertex.push_back(r.zVertex);
      out.quality.push_back(r.quality);
    }
    g0 = g1;
  }
  return out;
}

HashingSeeder::HashingSeeder(const TripletSeeder::Config& cfg)
    : m_seeder(cfg) {}

std::vector<std::span<const std::uint32_t>> HashingSeeder::bucketViews(
    const Buckets& buckets) {
  if (buckets.offsets.size() != buckets.cells.size() + 1 ||
      buckets.offsets.front() != 0 ||
      buckets.offsets.back() != buckets.indices.size()) {
    fail("buckets: offsets must have one entry more than cells, start at 0 "
         "and end at the number of indices");
  }
  std::vector<std::span<const std::uint32_t>> views;
  views.reserve(buckets.size());
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    if (buckets.offsets[b + 1] < buckets.offsets[b]) {
      fail("buckets: offsets must be non-decreasing");
    }
    views.emplace_back(buckets.indices.data() + buckets.offsets[b],
                       buckets.offsets[b + 1] - buckets.offsets[b]);
  }
  return views;
}

void HashingSeeder::BucketConfig::validate() const {
  const auto atLeast = [](const char* name, std::size_t v, std::size_t lo) {
    if (v < lo) {
      fail(std::string("BucketConfig: ") + name + " (=" + std::to_string(v) +
           ") must be >= " + std::to_string(lo));
    }
  };
  atLeast("bucketSize", bucketSize, 1);
  atLeast("phiBins", phiBins, 1);
  if (searchK == 0) {
    fail("BucketConfig: searchK (=0) must be -1 (Annoy's default) or >= 1");
  }
  if (!(std::isfinite(layerRMin) && std::isfinite(layerRMax) &&
        std::isfinite(layerZMax))) {
    fail("BucketConfig: layerRMin, layerRMax and layerZMax must be finite");
  }
  if (!(0 <= layerRMin && layerRMin <= layerRMax)) {
    fail("BucketConfig: layerRMin (=" + std::to_string(layerRMin) +
         ") must be >= 0 and <= layerRMax (=" + std::to_string(layerRMax) +
         ")");
  }
  if (!(layerZMax > 0)) {
    fail("BucketConfig: layerZMax (=" + std::to_string(layerZMax) +
         ") must be > 0");
  }
}

namespace {

void checkSpacePoints(const TripletSeeder::SpacePoints& sps) {
  const std::size_t n = sps.x.size();
  if (sps.y.size() != n || sps.z.size() != n) {
    fail("x, y and z must have the same length (" + std::to_string(n) + ", " +
         std::to_string(sps.y.size()) + ", " + std::to_string(sps.z.size()) +
         ")");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::isfinite(sps.x[i]) && std::isfinite(sps.y[i]) &&
          std::isfinite(sps.z[i]))) {
      fail("space point " + std::to_string(i) + " is not finite");
    }
  }
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

}  // namespace

std::vector<std::uint32_t> HashingSeeder::queryLayer(
    const TripletSeeder::SpacePoints& sps, const BucketConfig& cfg) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < sps.x.size(); ++i) {
    const float r = std::hypot(sps.x[i], sps.y[i]);
    if (r >= cfg.layerRMin && r <= cfg.layerRMax &&
        std::abs(sps.z[i]) <= cfg.layerZMax) {
      out.push_back(static_cast<std::uint32_t>(i));
    }
  }
  return out;
}

std::vector<float> HashingSeeder::embedding(
    const TripletSeeder::SpacePoints& sps, BucketConfig::Metric metric) {
  const std::size_t n = sps.x.size();
  const std::size_t dim = metric == BucketConfig::Metric::Phi ? 2 : 3;
  std::vector<float> out(n * dim);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = sps.x[i];
    const double y = sps.y[i];
    const double phi = std::atan2(y, x);
    out[dim * i] = static_cast<float>(std::cos(phi));
    out[dim * i + 1] = static_cast<float>(std::sin(phi));
    if (dim == 3) {
      // eta of the position seen from the origin; r = 0 clamped to 1 um
      const double r = std::max(std::hypot(x, y), 1e-3);
      out[dim * i + 2] = static_cast<float>(std::asinh(sps.z[i] / r));
    }
  }
  return out;
}

std::vector<std::int64_t> HashingSeeder::queryCells(
    const TripletSeeder::SpacePoints& sps,
    std::span<const std::uint32_t> queries, const BucketConfig& cfg) {
  constexpr double pi = std::numbers::pi;
  const auto nPhi = static_cast<std::int64_t>(cfg.phiBins);
  const auto nZ = static_cast<std::int64_t>(cfg.zBins);
  std::vector<std::int64_t> cells(queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const std::uint32_t q = queries[i];
    const double phi = std::atan2(double{sps.y[q]}, double{sps.x[q]});
    auto pb = static_cast<std::int64_t>(
        std::floor((phi + pi) * (static_cast<double>(cfg.phiBins) / (2 * pi))));
    pb = std::clamp<std::int64_t>(pb, 0, nPhi - 1);  // phi = pi: last bin
    if (nZ == 0) {
      cells[i] = pb;
      continue;
    }
    const double zMax = cfg.layerZMax;
    const double zf = (double{sps.z[q]} + zMax) / (2 * zMax);
    const auto zb = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::floor(zf * static_cast<double>(nZ))), 0,
        nZ - 1);
    cells[i] = pb * nZ + zb;
  }
  return cells;
}

HashingSeeder::Buckets HashingSeeder::annoyBuckets(
    const TripletSeeder::SpacePoints& sps, const BucketConfig& cfg,
    std::span<const std::uint32_t> queries, unsigned nThreads,
    BucketTiming* timing) {
  cfg.validate();
  checkSpacePoints(sps);
  const std::size_t n = sps.x.size();
  std::vector<std::uint32_t> layer;
  if (queries.empty()) {
    layer = queryLayer(sps, cfg);
    queries = layer;
  } else {
    std::vector<std::uint8_t> seen(n, 0);
    for (const auto q : queries) {
      if (q >= n) {
        fail("query index " + std::to_string(q) + " must be < " +
             std::to_string(n));
      }
      if (seen[q]++) {
        fail("query index " + std::to_string(q) + " is repeated");
      }
    }
  }
  BucketTiming t;
  if (queries.empty()) {
    if (timing != nullptr) {
      *timing = t;
    }
    return Buckets{};
  }
  auto t0 = std::chrono::steady_clock::now();
  const std::size_t dim = cfg.metric == BucketConfig::Metric::Phi ? 2 : 3;
  AnnoyForest::Config fc;
  fc.nTrees = cfg.trees();
  fc.seed = cfg.seed;
  fc.leafSize = cfg.leafSize;
  const AnnoyForest forest(embedding(sps, cfg.metric), dim, fc, nThreads);
  t.train = secondsSince(t0);
  t0 = std::chrono::steady_clock::now();
  const std::size_t k = std::min(cfg.bucketSize, n);
  // Buckets need the neighbour sets only: no per-query sort.
  const std::vector<std::uint32_t> nn =
      forest.queryItems(queries, k, cfg.searchK, nThreads, false);
  t.query = secondsSince(t0);
  t0 = std::chrono::steady_clock::now();
  const std::vector<std::int64_t> counts(queries.size(),
                                         static_cast<std::int64_t>(k));
  Buckets b = buildBuckets(nn, counts, queryCells(sps, queries, cfg), n);
  t.buckets = secondsSince(t0);
  if (timing != nullptr) {
    *timing = t;
  }
  return b;
}

TripletSeeder::Seeds HashingSeeder::createSeeds(
    const TripletSeeder::SpacePoints& sps, const Buckets& buckets,
    unsigned nThreads) const {
  const auto views = bucketViews(buckets);
  return mergeSeeds(m_seeder.createSeedsInBuckets(sps, views, nThreads));
}

}  // namespace helixkit
