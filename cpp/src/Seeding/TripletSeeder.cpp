#include "helixkit/Seeding/TripletSeeder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

#include "helixkit/Utilities/CpuFeatures.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
// AVX2 forms of the doublet pre-filter and of the short-list rank sort,
// compiled for AVX2 alone and chosen at run time when the CPU has it; the rest
// of the file stays baseline x86-64.
#define HELIXKIT_SEEDING_AVX2 1
#include <immintrin.h>
#endif

namespace helixkit {

namespace {

template <typename value_t>
std::string str(value_t v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

/// Bounds that keep every validated grid computable (memory and time).
constexpr std::int32_t kMaxPhiNeighbors = 100000;
constexpr std::int32_t kMaxPhiBinsCap = 1000000;
constexpr std::size_t kMaxZBins = 100000;
constexpr std::uint64_t kMaxGridBins = 4000000;
constexpr std::uint64_t kMaxNeighbourLookups = 100000000;

[[noreturn]] void fail(const std::string& field, const std::string& value,
                       const std::string& rule) {
  throw std::invalid_argument("TripletSeeder: " + field + " (=" + value +
                              ") " + rule);
}

float orDefault(float v, float fallback) {
  return std::isnan(v) ? fallback : v;
}

/// Quantities derived once from the configuration (ACTS DerivedConfig).
struct Derived {
  float deltaRMinTop = 0;
  float deltaRMaxTop = 0;
  float deltaRMinBottom = 0;
  float deltaRMaxBottom = 0;
  float filterDeltaRMin = 0;
  float minHelixDiameter2 = 0;
  float sigmapT2perRadius = 0;
  float multipleScattering2 = 0;

  explicit Derived(const TripletSeeder::Config& c) {
    deltaRMinTop = orDefault(c.deltaRMinTop, c.deltaRMin);
    deltaRMaxTop = orDefault(c.deltaRMaxTop, c.deltaRMax);
    deltaRMinBottom = orDefault(c.deltaRMinBottom, c.deltaRMin);
    deltaRMaxBottom = orDefault(c.deltaRMaxBottom, c.deltaRMax);
    filterDeltaRMin = orDefault(c.filterDeltaRMin, c.deltaRMin);
    // Highland formula in the RPP2018 form used by ACTS (q = 1, beta = 1).
    const double t = std::sqrt(static_cast<double>(c.radLengthPerSeed));
    const auto highland = static_cast<float>(
        13.6 * UnitConstants::MeV * t * (1.0 + 0.038 * 2 * std::log(t)));
    const float maxScatteringAngle = highland / c.minPt;
    const float pTPerHelixRadius = c.bFieldZ;
    const float d = c.minPt * 2 / pTPerHelixRadius;
    minHelixDiameter2 = d * d * c.helixCutTolerance;
    const float pT2perRadius =
        (highland / pTPerHelixRadius) * (highland / pTPerHelixRadius);
    sigmapT2perRadius =
        pT2perRadius * (2 * c.sigmaScattering) * (2 * c.sigmaScattering);
    multipleScattering2 = maxScatteringAngle * maxScatteringAngle *
                          c.sigmaScattering * c.sigmaScattering;
  }
};

std::int32_t computePhiBins(const TripletSeeder::Config& c) {
  const float minHelixRadius = c.minPt / c.bFieldZ;
  if (minHelixRadius < c.rMax * 0.5f) {
    fail("minPt", str(c.minPt),
         "gives a minimum helix radius minPt/bFieldZ (=" + str(minHelixRadius) +
             " mm) below rMax/2 (=" + str(c.rMax * 0.5f) +
             " mm); raise minPt or lower rMax");
  }
  const auto angle = [&](float radius) {
    const float a = 2 * minHelixRadius / radius;
    return std::atan(1.f / std::sqrt(a * a - 1.f));
  };
  const float outerAngle = angle(c.rMax);
  float innerAngle = 0;
  float rInner = c.rMax;
  if (c.rMax > c.deltaRMax) {
    rInner = c.rMax - c.deltaRMax;
    innerAngle = angle(rInner);
  }
  const float sinInner = std::min(1.f, c.impactMax / rInner);
  const float sinOuter = std::min(1.f, c.impactMax / c.rMax);
  const float deltaAngleWithMaxD0 =
      std::abs(std::asin(sinInner) - std::asin(sinOuter));
  const float deltaPhi = (outerAngle - innerAngle + deltaAngleWithMaxD0) /
                         static_cast<float>(c.phiBinDeflectionCoverage);
  if (!(deltaPhi > 0.f)) {
    fail("phiBinDeflectionCoverage", str(c.phiBinDeflectionCoverage),
         "with this minPt/rMax/deltaRMax/impactMax gives a phi bin width <= "
         "0");
  }
  const double bins = std::ceil(2 * std::numbers::pi / deltaPhi);
  return static_cast<std::int32_t>(
      std::min(bins, static_cast<double>(c.maxPhiBins)));
}

std::vector<double> computeZEdges(const TripletSeeder::Config& c) {
  std::vector<double> edges;
  if (!c.zBinEdges.empty()) {
    edges.assign(c.zBinEdges.begin(), c.zBinEdges.end());
    return edges;
  }
  // Same float arithmetic as ACTS's CylindricalSpacePointGrid.
  const float zBinSize = c.cotThetaMax * c.deltaRMax;
  const float zBins = std::max(1.f, std::floor((c.zMax - c.zMin) / zBinSize));
  const int n = static_cast<int>(zBins);
  edges.reserve(static_cast<std::size_t>(n) + 1);
  for (int bin = 0; bin <= n; ++bin) {
    edges.push_back(static_cast<double>(
        c.zMin + static_cast<float>(bin) * ((c.zMax - c.zMin) / zBins)));
  }
  return edges;
}

/// Space points of one seeding call, sorted by (phi bin, z bin, r).
struct Grid {
  std::int32_t nPhi = 1;
  std::int32_t nZTot = 3;  // including under- and overflow bins
  std::vector<std::uint32_t> binBegin;  // size nBins + 1
  std::vector<float> x, y, z, r, varR, varZ;
  std::vector<std::uint32_t> orig;  // index in the caller's arrays
  std::vector<std::uint32_t> bin;   // grid bin of each sorted point
};

/// Grids of at least this many points are ordered by radix sort.
constexpr std::size_t kRadixMinPoints = 1024;

/// Stable LSD radix sort of `items` by key[item] (32-bit unsigned), three
/// passes of 11/11/10 bits; `tmp` is scratch of the same size.
void radixSortByKey(std::vector<std::uint32_t>& items,
                    const std::vector<std::uint32_t>& key,
                    std::vector<std::uint32_t>& tmp) {
  constexpr int kBits[3] = {11, 11, 10};
  std::vector<std::uint32_t> count(2049);
  int shift = 0;
  for (const int bits : kBits) {
    const std::uint32_t mask = (1u << bits) - 1;
    std::fill(count.begin(), count.end(), 0u);
    for (const std::uint32_t it : items) {
      ++count[((key[it] >> shift) & mask) + 1];
    }
    std::partial_sum(count.begin(), count.end(), count.begin());
    for (const std::uint32_t it : items) {
      tmp[count[(key[it] >> shift) & mask]++] = it;
    }
    items.swap(tmp);
    shift += bits;
  }
}

Grid buildGrid(const TripletSeeder::Config& cfg, std::int32_t nPhi,
               const std::vector<double>& zEdges,
               const TripletSeeder::SpacePoints& sps,
               std::span<const std::uint32_t> subset, bool all) {
  Grid g;
  g.nPhi = nPhi;
  g.nZTot = static_cast<std::int32_t>(zEdges.size()) + 1;
  const std::size_t nBins =
      static_cast<std::size_t>(g.nPhi) * static_cast<std::size_t>(g.nZTot);
  const std::size_t nIn = all ? sps.size() : subset.size();
  std::vector<std::uint32_t> keyBin;
  std::vector<std::uint32_t> keyIdx;
  std::vector<float> keyR;
  keyBin.reserve(nIn);
  keyIdx.reserve(nIn);
  keyR.reserve(nIn);
  const double phiMin = -static_cast<double>(std::numbers::pi_v<float>);
  const double phiWidth =
      (static_cast<double>(std::numbers::pi_v<float>) - phiMin) / g.nPhi;
  for (std::size_t k = 0; k < nIn; ++k) {
    const std::uint32_t i = all ? static_cast<std::uint32_t>(k) : subset[k];
    const double xd = sps.x[i];
    const double yd = sps.y[i];
    const auto r = static_cast<float>(std::sqrt(xd * xd + yd * yd));
    // ACTS's single r bin is [rMin, rMax) with rMax in the overflow bin.
    if (r < cfg.rMin || r >= cfg.rMax) {
      continue;
    }
    const double phi = std::atan2(yd, xd);
    auto phiBin = static_cast<std::int64_t>(std::floor((phi - phiMin) / phiWidth));
    phiBin = std::clamp<std::int64_t>(phiBin, 0, g.nPhi - 1);
    const auto zBin = static_cast<std::int64_t>(
        std::upper_bound(zEdges.begin(), zEdges.end(),
                         static_cast<double>(sps.z[i])) -
        zEdges.begin());
    keyBin.push_back(static_cast<std::uint32_t>(phiBin * g.nZTot + zBin));
    keyIdx.push_back(i);
    keyR.push_back(r);
  }
  const std::size_t n = keyBin.size();
  // Order by (bin, r, input index).
  g.binBegin.assign(nBins + 1, 0);
  for (const auto b : keyBin) {
    ++g.binBegin[b + 1];
  }
  std::partial_sum(g.binBegin.begin(), g.binBegin.end(), g.binBegin.begin());
  std::vector<std::uint32_t> order(n);
  if (n >= kRadixMinPoints) {
    // Stable LSD radix sort by the bits of r (r >= 0: the unsigned bit
    // pattern is monotonic) from input-index order, then a stable counting
    // sort by bin: no comparisons, no mispredicted branches.
    std::vector<std::uint32_t> byIndex(n);
    std::iota(byIndex.begin(), byIndex.end(), 0u);
    if (!std::is_sorted(keyIdx.begin(), keyIdx.end())) {
      std::sort(byIndex.begin(), byIndex.end(),
                [&](std::uint32_t a, std::uint32_t c) { return keyIdx[a] < keyIdx[c]; });
    }
    std::vector<std::uint32_t> rBits(n);
    for (std::size_t k = 0; k < n; ++k) {
      std::memcpy(&rBits[k], &keyR[k], sizeof(float));
    }
    radixSortByKey(byIndex, rBits, order);
    std::vector<std::uint32_t> fill(g.binBegin.begin(), g.binBegin.end() - 1);
    for (const std::uint32_t k : byIndex) {
      order[fill[keyBin[k]]++] = k;
    }
  } else {
    std::vector<std::uint32_t> fill(g.binBegin.begin(), g.binBegin.end() - 1);
    for (std::size_t k = 0; k < n; ++k) {
      order[fill[keyBin[k]]++] = static_cast<std::uint32_t>(k);
    }
    for (std::size_t b = 0; b < nBins; ++b) {
      std::sort(order.begin() + g.binBegin[b], order.begin() + g.binBegin[b + 1],
                [&](std::uint32_t a, std::uint32_t c) {
                  return keyR[a] < keyR[c] ||
                         (keyR[a] == keyR[c] && keyIdx[a] < keyIdx[c]);
                });
    }
  }
  g.x.resize(n);
  g.y.resize(n);
  g.z.resize(n);
  g.r.resize(n);
  g.varR.resize(n);
  g.varZ.resize(n);
  g.orig.resize(n);
  g.bin.resize(n);
  for (std::size_t p = 0; p < n; ++p) {
    const std::uint32_t k = order[p];
    const std::uint32_t i = keyIdx[k];
    g.x[p] = sps.x[i];
    g.y[p] = sps.y[i];
    g.z[p] = sps.z[i];
    g.r[p] = keyR[k];
    g.varR[p] = sps.varianceR[i];
    g.varZ[p] = sps.varianceZ[i];
    g.orig[p] = i;
    g.bin[p] = keyBin[k];
  }
  return g;
}

/// Neighbour bins of every (phi, z) bin, as ACTS's GridBinFinder returns
/// them: phi closed (wrapping), z open (under/overflow bins included).
struct Neighbours {
  std::vector<std::uint32_t> topBegin, top, bottomBegin, bottom;
};

void collectNeighbours(
    const Grid& g, std::int32_t numPhiNeighbors,
    const std::vector<std::pair<std::int32_t, std::int32_t>>& zNeighbors,
    std::vector<std::uint32_t>& begin, std::vector<std::uint32_t>& out) {
  const std::int32_t nZ = g.nZTot - 2;
  const std::size_t nBins = static_cast<std::size_t>(g.nPhi) *
                            static_cast<std::size_t>(g.nZTot);
  begin.assign(nBins + 1, 0);
  out.clear();
  std::vector<std::int32_t> phis;
  for (std::int32_t p = 0; p < g.nPhi; ++p) {
    phis.clear();
    if (2 * static_cast<std::int64_t>(numPhiNeighbors) + 1 >= g.nPhi) {
      for (std::int32_t q = 0; q < g.nPhi; ++q) {
        phis.push_back(q);
      }
    } else {
      for (std::int32_t d = -numPhiNeighbors; d <= numPhiNeighbors; ++d) {
        phis.push_back(((p + d) % g.nPhi + g.nPhi) % g.nPhi);
      }
    }
    for (std::int32_t zb = 0; zb < g.nZTot; ++zb) {
      const std::size_t b = static_cast<std::size_t>(p) * g.nZTot + zb;
      begin[b] = static_cast<std::uint32_t>(out.size());
      if (zb >= 1 && zb <= nZ) {
        std::pair<std::int32_t, std::int32_t> off{-1, 1};
        if (!zNeighbors.empty()) {
          off = zNeighbors[static_cast<std::size_t>(zb - 1)];
        }
        const std::int32_t lo = std::clamp(zb + off.first, 0, nZ + 1);
        const std::int32_t hi = std::clamp(zb + off.second, 0, nZ + 1);
        for (const std::int32_t q : phis) {
          for (std::int32_t zz = lo; zz <= hi; ++zz) {
            const auto nb = static_cast<std::uint32_t>(q * g.nZTot + zz);
            // Empty bins (often the z under/overflow ones) hold no doublets;
            // leaving them out keeps the order of those found.
            if (g.binBegin[nb] != g.binBegin[nb + 1]) {
              out.push_back(nb);
            }
          }
        }
      }
    }
  }
  begin[nBins] = static_cast<std::uint32_t>(out.size());
}

struct Doublet {
  std::uint32_t pos;
  float cotTheta;
  float iDeltaR;
  float er;
  float u;
  float v;
};

struct TopCandidate {
  std::uint32_t pos;
  float curvature;
  float impact;
};

struct Candidate {
  std::uint32_t bottom;
  std::uint32_t top;
  float weight;
  float zOrigin;
  std::uint32_t seq;
};

/// Keeps the best `capacity` candidates by weight (ties: earlier first), as
/// ACTS's CandidatesForMiddleSp does, but with a deterministic tie order.
class BoundedCandidates {
 public:
  void reset(std::uint32_t capacity) {
    m_cap = capacity;
    m_heap.clear();
  }
  std::size_t size() const { return m_heap.size(); }
  void push(const Candidate& c) {
    if (m_cap == 0) {
      return;
    }
    if (m_heap.size() < m_cap) {
      m_heap.push_back(c);
      std::push_heap(m_heap.begin(), m_heap.end(), better);
      return;
    }
    // The front is the worst kept candidate; a tie keeps the earlier one.
    if (c.weight <= m_heap.front().weight) {
      return;
    }
    std::pop_heap(m_heap.begin(), m_heap.end(), better);
    m_heap.back() = c;
    std::push_heap(m_heap.begin(), m_heap.end(), better);
  }
  /// Best first.
  void sorted(std::vector<Candidate>& out) {
    std::sort(m_heap.begin(), m_heap.end(), better);
    out.insert(out.end(), m_heap.begin(), m_heap.end());
  }

 private:
  static bool better(const Candidate& a, const Candidate& b) {
    return a.weight > b.weight || (a.weight == b.weight && a.seq < b.seq);
  }
  std::uint32_t m_cap = 0;
  std::vector<Candidate> m_heap;
};

/// Sort doublets by cot(theta), ties in discovery order. A bucket sort over
/// the cot(theta) range followed by a stable insertion sort: the bucket map is
/// monotonic, so the order equals that of a stable comparison sort, at O(n)
/// expected cost (a comparison sort here was a quarter of the run time).
/// Lists of at most this many doublets are sorted by rank.
constexpr std::size_t kRankSortMax = 32;

#if defined(HELIXKIT_SEEDING_AVX2)
/// rank(i) of rankSort for all i, eight comparisons at a time; `cot` is
/// padded with NaN to a multiple of 8.
__attribute__((target("avx2"))) void ranksAvx2(const float* cot, std::size_t n,
                                                std::size_t nPad8,
                                                std::uint32_t* rank) {
  for (std::size_t i = 0; i < n; ++i) {
    const __m256 vc = _mm256_set1_ps(cot[i]);
    const __m256i vi = _mm256_set1_epi32(static_cast<int>(i));
    __m256i vj = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i count = _mm256_setzero_si256();
    for (std::size_t j = 0; j < nPad8; j += 8) {
      const __m256 cj = _mm256_load_ps(cot + j);
      const __m256 tieBefore =
          _mm256_and_ps(_mm256_cmp_ps(cj, vc, _CMP_EQ_OQ),
                        _mm256_castsi256_ps(_mm256_cmpgt_epi32(vi, vj)));
      count = _mm256_sub_epi32(
          count, _mm256_castps_si256(_mm256_or_ps(
                     _mm256_cmp_ps(cj, vc, _CMP_LT_OQ), tieBefore)));
      vj = _mm256_add_epi32(vj, _mm256_set1_epi32(8));
    }
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(count),
                                _mm256_extracti128_si256(count, 1));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
    rank[i] = static_cast<std::uint32_t>(_mm_cvtsi128_si32(sum));
  }
}
#endif

/// Stable sort of a short list by cot(theta) without data-dependent
/// branches: rank(i) = #{j : c_j < c_i} + #{j < i : c_j == c_i}, counted four
/// comparisons at a time with SSE2, or eight with AVX2 when `avx2` (a
/// comparison sort of short random lists is dominated by mispredicted
/// branches).
void rankSort(std::vector<Doublet>& d, std::vector<Doublet>& tmp, bool avx2) {
  const std::size_t n = d.size();
  alignas(32) float cot[kRankSortMax + 8];
  for (std::size_t i = 0; i < n; ++i) {
    cot[i] = d[i].cotTheta;
  }
  const std::size_t nPad = (n + 3) & ~std::size_t{3};
  const std::size_t nPad8 = (n + 7) & ~std::size_t{7};
  for (std::size_t i = n; i < nPad8; ++i) {
    cot[i] = std::numeric_limits<float>::quiet_NaN();  // compares false
  }
  tmp.resize(n);
#if defined(HELIXKIT_SEEDING_AVX2)
  if (avx2) {
    std::uint32_t rank[kRankSortMax];
    ranksAvx2(cot, n, nPad8, rank);
    for (std::size_t i = 0; i < n; ++i) {
      tmp[rank[i]] = d[i];
    }
    d.swap(tmp);
    return;
  }
#else
  (void)avx2;
  (void)nPad8;
#endif
  for (std::size_t i = 0; i < n; ++i) {
    const float c = cot[i];
    std::uint32_t rank = 0;
#if defined(__SSE2__)
    const __m128 vc = _mm_set1_ps(c);
    const __m128i vi = _mm_set1_epi32(static_cast<int>(i));
    __m128i vj = _mm_setr_epi32(0, 1, 2, 3);
    __m128i count = _mm_setzero_si128();
    for (std::size_t j = 0; j < nPad; j += 4) {
      const __m128 cj = _mm_load_ps(cot + j);
      const __m128 tieBefore = _mm_and_ps(
          _mm_cmpeq_ps(cj, vc), _mm_castsi128_ps(_mm_cmplt_epi32(vj, vi)));
      // A true lane is all ones (-1): subtracting counts it.
      count = _mm_sub_epi32(
          count, _mm_castps_si128(_mm_or_ps(_mm_cmplt_ps(cj, vc), tieBefore)));
      vj = _mm_add_epi32(vj, _mm_set1_epi32(4));
    }
    count = _mm_add_epi32(count, _mm_shuffle_epi32(count, 0x4e));
    count = _mm_add_epi32(count, _mm_shuffle_epi32(count, 0xb1));
    rank = static_cast<std::uint32_t>(_mm_cvtsi128_si32(count));
#else
    for (std::size_t j = 0; j < n; ++j) {
      rank += static_cast<std::uint32_t>((cot[j] < c) | ((cot[j] == c) & (j < i)));
    }
#endif
    tmp[rank] = d[i];
  }
  d.swap(tmp);
}

void sortByCotTheta(std::vector<Doublet>& d, std::vector<std::uint32_t>& bucket,
                    std::vector<std::uint32_t>& start,
                    std::vector<Doublet>& tmp, bool avx2) {
  const std::size_t n = d.size();
  if (n < 2) {
    return;
  }
  if (n <= kRankSortMax) {
    rankSort(d, tmp, avx2);
    return;
  }
  float lo = d[0].cotTheta;
  float hi = d[0].cotTheta;
  for (const auto& x : d) {
    lo = std::min(lo, x.cotTheta);
    hi = std::max(hi, x.cotTheta);
  }
  const float scale = static_cast<float>(n) / (hi - lo);
  if (!(hi > lo) || !std::isfinite(scale)) {
    std::stable_sort(d.begin(), d.end(), [](const Doublet& a, const Doublet& b) {
      return a.cotTheta < b.cotTheta;
    });
    return;
  }
  bucket.resize(n);
  start.assign(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = std::min(
        static_cast<std::size_t>((d[i].cotTheta - lo) * scale), n - 1);
    bucket[i] = static_cast<std::uint32_t>(b);
    ++start[b + 1];
  }
  for (std::size_t b = 0; b < n; ++b) {
    start[b + 1] += start[b];
  }
  tmp.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    tmp[start[bucket[i]]++] = d[i];
  }
  // Stable insertion sort; elements only move inside their bucket.
  for (std::size_t i = 1; i < n; ++i) {
    if (!(tmp[i].cotTheta < tmp[i - 1].cotTheta)) {
      continue;
    }
    const Doublet x = tmp[i];
    std::size_t j = i;
    while (j > 0 && x.cotTheta < tmp[j - 1].cotTheta) {
      tmp[j] = tmp[j - 1];
      --j;
    }
    tmp[j] = x;
  }
  d.swap(tmp);
}

/// std::partition_point for the short r-sorted bins searched once per
/// middle space point and neighbour bin: both ends are tested first, then
/// the halving steps run without data-dependent branches (conditional moves).
template <typename Pred>
const float* partitionPoint(const float* first, const float* last, Pred pred) {
  // Most windows start at the bin's first point or end at its last one.
  if (first == last || !pred(*first)) {
    return first;
  }
  if (pred(*(last - 1))) {
    return last;
  }
  std::size_t len = static_cast<std::size_t>(last - first);
  while (len > 1) {
    const std::size_t half = len / 2;
    first = pred(first[half - 1]) ? first + half : first;
    len -= half;
  }
  return (len == 1 && pred(*first)) ? first + 1 : first;
}

/// The cuts of the doublet pre-filter, for one middle space point.
struct PreselectCuts {
  float rM, zM, collMin, collMax, dZMin, dZMax, cotMax;
};

#if defined(HELIXKIT_SEEDING_AVX2)
/// For every 8-bit mask, the positions of its set bits packed into bytes,
/// lowest first (unused bytes 0): the shuffle that compacts 8 lanes.
constexpr std::array<std::uint64_t, 256> makeCompactTable() {
  std::array<std::uint64_t, 256> table{};
  for (unsigned mask = 0; mask < 256; ++mask) {
    std::uint64_t lanes = 0;
    unsigned k = 0;
    for (unsigned bit = 0; bit < 8; ++bit) {
      if ((mask >> bit) & 1u) {
        lanes |= static_cast<std::uint64_t>(bit) << (8 * k++);
      }
    }
    table[mask] = lanes;
  }
  return table;
}
constexpr std::array<std::uint64_t, 256> kCompactTable = makeCompactTable();

/// The pre-filter on all n candidates, eight at a time (the last group
/// with masked loads): the same float operations per candidate as the SSE2
/// and scalar forms (no FMA), so the same survivors. Writes up to 7 entries
/// past the survivors (`pass` needs 8 slots of slack); returns their number.
template <bool isBottom>
__attribute__((target("avx2,popcnt"))) std::uint32_t preselectAvx2(
    const float* r, const float* z, std::uint32_t n, std::uint32_t offset,
    const PreselectCuts& c, std::uint32_t* pass) {
  const __m256 vrM = _mm256_set1_ps(c.rM);
  const __m256 vzM = _mm256_set1_ps(c.zM);
  const __m256 vCollMin = _mm256_set1_ps(c.collMin);
  const __m256 vCollMax = _mm256_set1_ps(c.collMax);
  const __m256 vdZMin = _mm256_set1_ps(c.dZMin);
  const __m256 vdZMax = _mm256_set1_ps(c.dZMax);
  const __m256 vCot = _mm256_set1_ps(c.cotMax);
  const __m256 vNegCot = _mm256_set1_ps(-c.cotMax);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  std::uint32_t nPass = 0;
  for (std::uint32_t j = 0; j < n; j += 8) {
    __m256 rc;
    __m256 zc;
    unsigned valid = 0xffu;
    if (j + 8 <= n) {
      rc = _mm256_loadu_ps(r + j);
      zc = _mm256_loadu_ps(z + j);
    } else {  // the last n % 8: lanes past the end are not read
      const __m256i load = _mm256_cmpgt_epi32(
          _mm256_set1_epi32(static_cast<int>(n - j)), lane);
      rc = _mm256_maskload_ps(r + j, load);
      zc = _mm256_maskload_ps(z + j, load);
      valid = (1u << (n - j)) - 1u;
    }
    const __m256 deltaR = isBottom ? _mm256_sub_ps(vrM, rc) : _mm256_sub_ps(rc, vrM);
    const __m256 deltaZ = isBottom ? _mm256_sub_ps(vzM, zc) : _mm256_sub_ps(zc, vzM);
    const __m256 zOriginTimesDeltaR =
        _mm256_sub_ps(_mm256_mul_ps(vzM, deltaR), _mm256_mul_ps(vrM, deltaZ));
    __m256 ok = _mm256_and_ps(_mm256_cmp_ps(deltaZ, vdZMin, _CMP_GE_OQ),
                              _mm256_cmp_ps(deltaZ, vdZMax, _CMP_LE_OQ));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(zOriginTimesDeltaR,
                                         _mm256_mul_ps(vCollMin, deltaR), _CMP_GE_OQ));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(zOriginTimesDeltaR,
                                         _mm256_mul_ps(vCollMax, deltaR), _CMP_LE_OQ));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(deltaZ, _mm256_mul_ps(vNegCot, deltaR), _CMP_GE_OQ));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(deltaZ, _mm256_mul_ps(vCot, deltaR), _CMP_LE_OQ));
    const auto mask = static_cast<unsigned>(_mm256_movemask_ps(ok)) & valid;
    // Compact the survivors' positions with one lane permutation.
    const __m256i positions =
        _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(offset + j)), lane);
    const __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(
        static_cast<long long>(kCompactTable[mask])));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pass + nPass),
                        _mm256_permutevar8x32_epi32(positions, perm));
    nPass += static_cast<std::uint32_t>(__builtin_popcount(mask));
  }
  return nPass;
}

#endif

/// One seed before the final ordering pass.
struct SeedRecord {
  std::uint32_t middleOrig;
  std::uint32_t bottom;  // original indices
  std::uint32_t middle;
  std::uint32_t top;
  float zOrigin;
  float weight;
  std::uint8_t quality;
};

constexpr std::uint32_t kNoBin = std::numeric_limits<std::uint32_t>::max();

/// Per-thread scratch space for the middle space-point loop.
#if defined(HELIXKIT_SEEDING_AVX2)
/// Tops per middle point from which the AVX2 triplet sweep is used (measured:
/// 32 is as fast as always at 50k space points and 5 % faster at 5k).
constexpr std::size_t kSweepMinTops = 32;

/// The tops of one middle point as columns (for the AVX2 triplet sweep),
/// padded with 8 entries past the last top.
struct TopColumns {
  std::vector<float> cot, er, iDeltaR, u, v;
  std::vector<std::uint32_t> pos;

  void fill(const std::vector<Doublet>& tops) {
    const std::size_t n = tops.size() + 8;
    for (auto* c : {&cot, &er, &iDeltaR, &u, &v}) {
      c->assign(n, 0.f);
    }
    pos.assign(n, 0u);
    for (std::size_t i = 0; i < tops.size(); ++i) {
      cot[i] = tops[i].cotTheta;
      er[i] = tops[i].er;
      iDeltaR[i] = tops[i].iDeltaR;
      u[i] = tops[i].u;
      v[i] = tops[i].v;
      pos[i] = tops[i].pos;
    }
  }
};

/// Per-bottom inputs of the sweep.
struct SweepBottom {
  float cotB, er, iDeltaR, u, v;
  float sigmaSquaredPtDependent, scatteringInRegion2;
  float rM, varianceRM, varianceZM, minHelixDiameter2, impactMax;
};

/// MiddleProcessor::triplets eight tops at a time: the same float operations
/// per (bottom, top) pair in the same order (no FMA: the target has none), so
/// the same candidates, the same order and the same next offset.
__attribute__((target("avx2"))) std::size_t sweepAvx2(const TopColumns& tc, std::size_t nTops,
                                                      std::size_t offset, const SweepBottom& b,
                                                      TopCandidate* out, std::size_t& nOut) {
  const __m256 cotB = _mm256_set1_ps(b.cotB);
  const __m256 erB = _mm256_set1_ps(b.er);
  const __m256 idrB = _mm256_set1_ps(b.iDeltaR);
  const __m256 uB = _mm256_set1_ps(b.u);
  const __m256 vB = _mm256_set1_ps(b.v);
  const __m256 sigPt = _mm256_set1_ps(b.sigmaSquaredPtDependent);
  const __m256 scat = _mm256_set1_ps(b.scatteringInRegion2);
  const __m256 rM = _mm256_set1_ps(b.rM);
  const __m256 varRM = _mm256_set1_ps(b.varianceRM);
  const __m256 varZM = _mm256_set1_ps(b.varianceZM);
  const __m256 minHD2 = _mm256_set1_ps(b.minHelixDiameter2);
  const __m256 impMax = _mm256_set1_ps(b.impactMax);
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 two = _mm256_set1_ps(2.f);
  const __m256 zero = _mm256_setzero_ps();
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  alignas(32) float curv[8];
  alignas(32) float imp[8];
  std::size_t newOffset = offset;
  nOut = 0;
  for (std::size_t t = offset; t < nTops; t += 8) {
    const __m256 cotT = _mm256_loadu_ps(tc.cot.data() + t);
    // error2 = top.er + b.er + 2 * (cotB * cotT * varRM + varZM) * b.iDeltaR * top.iDeltaR
    __m256 e = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(cotB, cotT), varRM), varZM);
    e = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(two, e), idrB),
                      _mm256_loadu_ps(tc.iDeltaR.data() + t));
    const __m256 error2 = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(tc.er.data() + t), erB), e);
    const __m256 dc = _mm256_sub_ps(cotB, cotT);
    const __m256 dc2 = _mm256_mul_ps(dc, dc);
    const __m256 fail1 = _mm256_cmp_ps(dc2, _mm256_add_ps(error2, scat), _CMP_GT_OQ);
    const __m256 lt = _mm256_cmp_ps(cotB, cotT, _CMP_LT_OQ);
    const __m256 dU = _mm256_sub_ps(_mm256_loadu_ps(tc.u.data() + t), uB);
    const __m256 a = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(tc.v.data() + t), vB), dU);
    const __m256 s2 = _mm256_add_ps(one, _mm256_mul_ps(a, a));
    const __m256 bb = _mm256_sub_ps(vB, _mm256_mul_ps(a, uB));
    const __m256 b2 = _mm256_mul_ps(bb, bb);
    // lanes that reach the helix tests: passed the first cut, dU != 0, pT >= minPt
    const __m256 tail = _mm256_andnot_ps(
        _mm256_or_ps(fail1, _mm256_or_ps(_mm256_cmp_ps(dU, zero, _CMP_EQ_OQ),
                                         _mm256_cmp_ps(s2, _mm256_mul_ps(b2, minHD2),
                                                       _CMP_LT_OQ))),
        _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
    const __m256 p2 = _mm256_mul_ps(_mm256_div_ps(b2, s2), sigPt);
    const __m256 fail3 =
        _mm256_and_ps(tail, _mm256_cmp_ps(dc2, _mm256_add_ps(error2, p2), _CMP_GT_OQ));
    const __m256 im =
        _mm256_and_ps(_mm256_mul_ps(_mm256_sub_ps(a, _mm256_mul_ps(bb, rM)), rM), absMask);
    const __m256 accept = _mm256_andnot_ps(
        _mm256_or_ps(fail3, _mm256_cmp_ps(im, impMax, _CMP_GT_OQ)), tail);
    const std::size_t left = nTops - t;
    const int valid = left >= 8 ? 0xff : (1 << left) - 1;
    const int brk = _mm256_movemask_ps(_mm256_and_ps(_mm256_or_ps(fail1, fail3), lt)) & valid;
    const int keep = brk != 0 ? (1 << __builtin_ctz(static_cast<unsigned>(brk))) - 1 : 0xff;
    int acc = _mm256_movemask_ps(accept) & valid & keep;
    const int offNext = _mm256_movemask_ps(_mm256_andnot_ps(lt, fail1)) & valid & keep;
    const int offHere = _mm256_movemask_ps(_mm256_andnot_ps(lt, fail3)) & valid & keep;
    if (acc != 0) {
      _mm256_store_ps(curv, _mm256_div_ps(bb, _mm256_sqrt_ps(s2)));
      _mm256_store_ps(imp, im);
      while (acc != 0) {
        const int k = __builtin_ctz(static_cast<unsigned>(acc));
        out[nOut++] = {tc.pos[t + static_cast<std::size_t>(k)], curv[k], imp[k]};
        acc &= acc - 1;
      }
    }
    const int off = offNext | offHere;
    if (off != 0) {
      const int k = 31 - __builtin_clz(static_cast<unsigned>(off));
      newOffset = t + static_cast<std::size_t>(k) + static_cast<std::size_t>((offNext >> k) & 1);
    }
    if (brk != 0) {
      break;
    }
  }
  return newOffset;
}
#endif

struct Scratch {
  /// r windows (first, end positions) of the last middle searched, per
  /// neighbour bin, for tops [0] and bottoms [1]; winBin = its grid bin.
  std::uint32_t winBin[2] = {kNoBin, kNoBin};
  std::vector<std::uint32_t> winLo[2], winHi[2];
  std::vector<Doublet> tops, bottoms, tmp;
  std::vector<std::uint32_t> bucket, start, pass;
  std::vector<TopCandidate> cands;  // the first nCands are valid
  std::size_t nCands = 0;
  std::vector<std::uint32_t> candOrder;
  std::vector<float> compatibleR;
  BoundedCandidates normal, quality;
  std::vector<Candidate> sorted;
  std::vector<std::uint8_t> sortedQuality;
#if defined(HELIXKIT_SEEDING_AVX2)
  TopColumns topColumns;
#endif
};

class MiddleProcessor {
 public:
  MiddleProcessor(const TripletSeeder::Config& cfg, const Derived& d,
                  const Grid& g, const Neighbours& nb)
      : m_cfg(cfg), m_d(d), m_g(g), m_nb(nb) {
#if defined(HELIXKIT_SEEDING_AVX2)
    m_avx2 = useAvx2();
#endif
  }

  void process(std::uint32_t m, Scratch& s,
               std::vector<SeedRecord>& out) const {
    const float zM = m_g.z[m];
    const float rM = m_g.r[m];

    collectDoublets<false>(m, m_nb.topBegin, m_nb.top, s, s.tops);
    if (s.tops.empty()) {
      return;
    }

    float rMaxSeedConf = 0;
    if (m_cfg.seedConfirmation) {
      const auto& range = region(zM);
      const std::size_t nTopSeedConf =
          rM > range.rMaxSeedConf ? range.nTopForLargeR : range.nTopForSmallR;
      rMaxSeedConf = range.rMaxSeedConf;
      if (s.tops.size() < nTopSeedConf) {
        return;
      }
    }

    collectDoublets<true>(m, m_nb.bottomBegin, m_nb.bottom, s, s.bottoms);
    if (s.bottoms.empty()) {
      return;
    }

    sortByCotTheta(s.tops, s.bucket, s.start, s.tmp, m_avx2);
    sortByCotTheta(s.bottoms, s.bucket, s.start, s.tmp, m_avx2);

    const bool conf = m_cfg.seedConfirmation;
    s.normal.reset(conf ? m_cfg.maxSeedsPerSpMConf : m_cfg.maxSeedsPerSpM + 1);
    s.quality.reset(conf ? m_cfg.maxQualitySeedsPerSpMConf : 0);
    std::uint32_t seq = 0;

    std::size_t topOffset = 0;
    const std::size_t nTops = s.tops.size();
    if (s.cands.size() < nTops) {
      s.cands.resize(nTops);  // a bottom has at most one candidate per top
    }
#if defined(HELIXKIT_SEEDING_AVX2)
    // (short top lists: the scalar sweep, which stops after a couple of tops
    // per bottom, is faster than filling the columns and a vector pass)
    const bool sweep = m_avx2 && s.tops.size() >= kSweepMinTops;
    if (sweep) {
      s.topColumns.fill(s.tops);
    }
#endif
    for (const Doublet& b : s.bottoms) {
      if (topOffset >= nTops) {
        break;
      }
#if defined(HELIXKIT_SEEDING_AVX2)
      if (sweep) {
        const BottomTerms bt = bottomTerms(b);
        const SweepBottom sb{b.cotTheta, b.er, b.iDeltaR, b.u, b.v,
                             bt.sigmaSquaredPtDependent, bt.scatteringInRegion2,
                             rM, m_g.varR[m], m_g.varZ[m], m_d.minHelixDiameter2,
                             m_cfg.impactMax};
        topOffset = sweepAvx2(s.topColumns, nTops, topOffset, sb, s.cands.data(), s.nCands);
      } else {
        topOffset = triplets(m, b, s.tops.data(), nTops, topOffset, s.cands.data(), s.nCands);
      }
#else
      topOffset = triplets(m, b, s.tops.data(), nTops, topOffset,
                           s.cands.data(), s.nCands);
#endif
      filter(m, b, rMaxSeedConf, s, seq);
    }

    // Second stage (ACTS filterTripletsMiddleFixed): quality seeds first.
    s.sorted.clear();
    s.quality.sorted(s.sorted);
    const std::size_t nQuality = s.sorted.size();
    s.normal.sorted(s.sorted);
    std::size_t nKeep = s.sorted.size();
    if (!conf && nKeep > m_cfg.maxSeedsPerSpM) {
      nKeep = static_cast<std::size_t>(m_cfg.maxSeedsPerSpM) + 1;
    }
    const std::uint32_t mo = m_g.orig[m];
    for (std::size_t k = 0; k < nKeep; ++k) {
      const Candidate& c = s.sorted[k];
      out.push_back({mo, m_g.orig[c.bottom], mo, m_g.orig[c.top], c.zOrigin,
                     c.weight, static_cast<std::uint8_t>(k < nQuality)});
    }
  }

 private:
  const TripletSeeder::Config& m_cfg;
  const Derived& m_d;
  const Grid& m_g;
  const Neighbours& m_nb;
  bool m_avx2 = false;

  const SeedConfirmationRange& region(float z) const {
    const auto& central = m_cfg.centralSeedConfirmationRange;
    const bool forward = z > central.zMaxSeedConf || z < central.zMinSeedConf;
    return forward ? m_cfg.forwardSeedConfirmationRange : central;
  }

  /// The cheap doublet cuts (deltaZ range, collision region, cot theta) on
  /// the n candidates at r[0..n), z[0..n): writes the positions
  /// `offset + j` of the survivors, in order, to `pass` and returns their
  /// number. Four candidates at a time with SSE2 where available; the float
  /// operations are the same as in the scalar form, so are the results.
  template <bool isBottom>
  std::uint32_t preselect(const float* r, const float* z, std::uint32_t n,
                          std::uint32_t offset, float rM, float zM,
                          std::uint32_t* pass) const {
    const float collMin = m_cfg.collisionRegionMin;
    const float collMax = m_cfg.collisionRegionMax;
    const float dZMin = m_cfg.deltaZMin;
    const float dZMax = m_cfg.deltaZMax;
    const float cotMax = m_cfg.interactionPointCut
                             ? std::numeric_limits<float>::infinity()
                             : m_cfg.cotThetaMax;
    std::uint32_t nPass = 0;
    std::uint32_t j = 0;
#if defined(HELIXKIT_SEEDING_AVX2)
    if (m_avx2) {
      const PreselectCuts cuts{rM, zM, collMin, collMax, dZMin, dZMax, cotMax};
      return preselectAvx2<isBottom>(r, z, n, offset, cuts, pass);
    }
#endif
#if defined(__SSE2__)
    const __m128 vrM = _mm_set1_ps(rM);
    const __m128 vzM = _mm_set1_ps(zM);
    const __m128 vCollMin = _mm_set1_ps(collMin);
    const __m128 vCollMax = _mm_set1_ps(collMax);
    const __m128 vdZMin = _mm_set1_ps(dZMin);
    const __m128 vdZMax = _mm_set1_ps(dZMax);
    const __m128 vCot = _mm_set1_ps(cotMax);
    const __m128 vNegCot = _mm_set1_ps(-cotMax);
    for (; j + 4 <= n; j += 4) {
      const __m128 rc = _mm_loadu_ps(r + j);
      const __m128 zc = _mm_loadu_ps(z + j);
      const __m128 deltaR = isBottom ? _mm_sub_ps(vrM, rc) : _mm_sub_ps(rc, vrM);
      const __m128 deltaZ = isBottom ? _mm_sub_ps(vzM, zc) : _mm_sub_ps(zc, vzM);
      const __m128 zOriginTimesDeltaR =
          _mm_sub_ps(_mm_mul_ps(vzM, deltaR), _mm_mul_ps(vrM, deltaZ));
      __m128 ok = _mm_and_ps(_mm_cmpge_ps(deltaZ, vdZMin), _mm_cmple_ps(deltaZ, vdZMax));
      ok = _mm_and_ps(ok, _mm_cmpge_ps(zOriginTimesDeltaR, _mm_mul_ps(vCollMin, deltaR)));
      ok = _mm_and_ps(ok, _mm_cmple_ps(zOriginTimesDeltaR, _mm_mul_ps(vCollMax, deltaR)));
      ok = _mm_and_ps(ok, _mm_cmpge_ps(deltaZ, _mm_mul_ps(vNegCot, deltaR)));
      ok = _mm_and_ps(ok, _mm_cmple_ps(deltaZ, _mm_mul_ps(vCot, deltaR)));
      // Branch-free compaction: the survivors are few and unpredictable.
      const auto bits = static_cast<std::uint32_t>(_mm_movemask_ps(ok));
      const std::uint32_t base = offset + j;
      pass[nPass] = base;
      nPass += bits & 1u;
      pass[nPass] = base + 1;
      nPass += (bits >> 1) & 1u;
      pass[nPass] = base + 2;
      nPass += (bits >> 2) & 1u;
      pass[nPass] = base + 3;
      nPass += bits >> 3;
    }
#endif
    for (; j < n; ++j) {
      const float deltaR = isBottom ? rM - r[j] : r[j] - rM;
      const float deltaZ = isBottom ? zM - z[j] : z[j] - zM;
      const float zOriginTimesDeltaR = zM * deltaR - rM * deltaZ;
      const bool ok = (deltaZ >= dZMin) & (deltaZ <= dZMax) &
                      (zOriginTimesDeltaR >= collMin * deltaR) &
                      (zOriginTimesDeltaR <= collMax * deltaR) &
                      (deltaZ >= -cotMax * deltaR) & (deltaZ <= cotMax * deltaR);
      pass[nPass] = offset + j;
      nPass += static_cast<std::uint32_t>(ok);
    }
    return nPass;
  }

  /// All compatible doublets of middle m with the points of its neighbour
  /// bins (ACTS DoubletSeedFinder). The cheap cuts (deltaZ, collision region,
  /// cot theta) run first as a branch-free filter over the r window of each
  /// bin; the survivors get the full treatment.
  template <bool isBottom>
  void collectDoublets(std::uint32_t m, const std::vector<std::uint32_t>& begin,
                       const std::vector<std::uint32_t>& bins, Scratch& s,
                       std::vector<Doublet>& out) const {
    out.clear();
    const float xM = m_g.x[m];
    const float yM = m_g.y[m];
    const float zM = m_g.z[m];
    const float rM = m_g.r[m];
    const float uIP = -1.f / rM;
    const float cosPhiM = -xM * uIP;
    const float sinPhiM = -yM * uIP;
    const float uIP2 = uIP * uIP;
    const float dRMin = isBottom ? m_d.deltaRMinBottom : m_d.deltaRMinTop;
    const float dRMax = isBottom ? m_d.deltaRMaxBottom : m_d.deltaRMaxTop;
    const float* r = m_g.r.data();
    const float* z = m_g.z.data();
    const std::uint32_t bin = m_g.bin[m];
    // The deltaR window, with the exact float expressions ACTS uses. Both
    // ends only move up with rM (float subtraction is monotonic), and
    // successive middles of one bin come in ascending r: so the windows of
    // the previous middle of the same bin are advanced instead of searched.
    const auto below = [&](float v) {
      return isBottom ? rM - v > dRMax : v - rM < dRMin;
    };
    const auto inside = [&](float v) {
      return isBottom ? rM - v >= dRMin : v - rM <= dRMax;
    };
    auto& winLo = s.winLo[isBottom];
    auto& winHi = s.winHi[isBottom];
    const bool cached = s.winBin[isBottom] == bin;
    if (!cached) {
      s.winBin[isBottom] = bin;
      winLo.resize(begin[bin + 1] - begin[bin]);
      winHi.resize(begin[bin + 1] - begin[bin]);
    }
    for (std::uint32_t k = begin[bin]; k < begin[bin + 1]; ++k) {
      const std::uint32_t ob = bins[k];
      const float* b0 = r + m_g.binBegin[ob];
      const float* b1 = r + m_g.binBegin[ob + 1];
      const float* lo = nullptr;
      const float* hi = nullptr;
      const std::uint32_t slot = k - begin[bin];
      if (cached) {
        lo = r + winLo[slot];
        while (lo < b1 && below(*lo)) {
          ++lo;
        }
        hi = std::max(lo, r + winHi[slot]);
        while (hi < b1 && inside(*hi)) {
          ++hi;
        }
      } else {
        lo = partitionPoint(b0, b1, below);
        hi = partitionPoint(lo, b1, inside);
      }
      winLo[slot] = static_cast<std::uint32_t>(lo - r);
      winHi[slot] = static_cast<std::uint32_t>(hi - r);
      const auto i0 = static_cast<std::uint32_t>(lo - r);
      const auto i1 = static_cast<std::uint32_t>(hi - r);
      const std::uint32_t nCand = i1 - i0;
      if (s.pass.size() < nCand + 8) {
        s.pass.resize(nCand + 8);  // the AVX2 filter writes up to 7 past
      }
      const std::uint32_t nPass = preselect<isBottom>(
          r + i0, z + i0, nCand, i0, rM, zM, s.pass.data());
      // Room for every survivor; trimmed after (no capacity check per push).
      const std::size_t base = out.size();
      out.resize(base + nPass);
      Doublet* dst = out.data() + base;
      std::size_t nOut = 0;
      for (std::uint32_t j = 0; j < nPass; ++j) {
        const std::uint32_t o = s.pass[j];
        const float deltaR = isBottom ? rM - r[o] : r[o] - rM;
        const float deltaZ = isBottom ? zM - z[o] : z[o] - zM;
        nOut += doublet<isBottom>(m, o, deltaR, deltaZ, xM, yM, rM, cosPhiM,
                                  sinPhiM, uIP, uIP2, dst + nOut);
      }
      out.resize(base + nOut);
    }
  }

  /// The doublet cuts that need the transverse frame of the middle point.
  template <bool isBottom>
  bool doublet(std::uint32_t m, std::uint32_t o, float deltaR, float deltaZ,
               float xM, float yM, float rM, float cosPhiM, float sinPhiM,
               float uIP, float uIP2, Doublet* out) const {
    if (o == m) {
      return false;  // only reachable with deltaRMin == 0
    }
    const float deltaX = m_g.x[o] - xM;
    const float deltaY = m_g.y[o] - yM;
    const float xNewFrame = deltaX * cosPhiM + deltaY * sinPhiM;
    const float yNewFrame = deltaY * cosPhiM - deltaX * sinPhiM;
    const float deltaR2 = deltaX * deltaX + deltaY * deltaY;
    if (!(deltaR2 > 0.f)) {
      return false;  // coincident in the transverse plane: no direction
    }
    const float iDeltaR2 = 1.f / deltaR2;
    const float uT = xNewFrame * iDeltaR2;
    const float vT = yNewFrame * iDeltaR2;
    if (m_cfg.interactionPointCut) {
      const float impactMax = isBottom ? -m_cfg.impactMax : m_cfg.impactMax;
      // Straight-line approximation of the doublet's distance to the beam.
      if (std::abs(rM * yNewFrame) > impactMax * xNewFrame) {
        const float vIPAbs = impactMax * uIP2;
        const float vIP = yNewFrame > 0 ? -vIPAbs : vIPAbs;
        const float aCoef = (vT - vIP) / (uT - uIP);
        const float bCoef = vIP - aCoef * uIP;
        if (bCoef * bCoef * m_d.minHelixDiameter2 > 1 + aCoef * aCoef) {
          return false;
        }
      }
      if (deltaZ < -m_cfg.cotThetaMax * deltaR ||
          deltaZ > m_cfg.cotThetaMax * deltaR) {
        return false;
      }
    }
    const float iDeltaR = std::sqrt(iDeltaR2);
    const float cotTheta = deltaZ * iDeltaR;
    const float er = iDeltaR2 * ((m_g.varZ[m] + m_g.varZ[o]) +
                                 cotTheta * cotTheta * (m_g.varR[m] + m_g.varR[o]));
    *out = {o, cotTheta, iDeltaR, er, uT, vT};
    return true;
  }

  /// Per-bottom constants of the triplet sweep.
  struct BottomTerms {
    float cotThetaB, sigmaSquaredPtDependent, scatteringInRegion2;
  };

  BottomTerms bottomTerms(const Doublet& b) const {
    const float iSinTheta2 = 1 + b.cotTheta * b.cotTheta;
    return {b.cotTheta, iSinTheta2 * m_d.sigmapT2perRadius,
            m_d.multipleScattering2 * iSinTheta2};
  }

  /// What the sweep does with a top that passed the first compatibility test
  /// (scattering in the region): the helix tests. Appends the candidate when
  /// accepted; returns 0 to go on, 1 to stop the sweep (break), 2 when the
  /// sweep's next start moves to this top.
  int tripletTail(const Doublet& b, const Doublet& top, const BottomTerms& bt,
                  float error2, float deltaCotTheta2, float rM,
                  TopCandidate* out, std::size_t& nOut) const {
    const float dU = top.u - b.u;
    if (dU == 0) {
      return 0;
    }
    const float A = (top.v - b.v) / dU;
    const float S2 = 1 + A * A;
    const float B = b.v - A * b.u;
    const float B2 = B * B;
    if (S2 < B2 * m_d.minHelixDiameter2) {
      return 0;  // pT below minPt
    }
    const float iHelixDiameter2 = B2 / S2;
    const float p2scatterSigma = iHelixDiameter2 * bt.sigmaSquaredPtDependent;
    if (deltaCotTheta2 > error2 + p2scatterSigma) {
      return bt.cotThetaB < top.cotTheta ? 1 : 2;
    }
    const float im = std::abs((A - B * rM) * rM);
    if (im > m_cfg.impactMax) {
      return 0;
    }
    out[nOut++] = {top.pos, B / std::sqrt(S2), im};
    return 0;
  }

  /// Tops compatible with one bottom; returns the new first top to try for
  /// the next (larger cot theta) bottom, as ACTS's sortedByCotTheta mode.
  std::size_t triplets(std::uint32_t m, const Doublet& b, const Doublet* tops,
                       std::size_t nTops, std::size_t offset,
                       TopCandidate* out, std::size_t& nOut) const {
    const float rM = m_g.r[m];
    const float varianceRM = m_g.varR[m];
    const float varianceZM = m_g.varZ[m];
    const BottomTerms bt = bottomTerms(b);
    const float cotThetaB = bt.cotThetaB;
    std::size_t newOffset = offset;
    nOut = 0;
    for (std::size_t t = offset; t < nTops; ++t) {
      const Doublet& top = tops[t];
      const float cotThetaT = top.cotTheta;
      const float error2 =
          top.er + b.er +
          2 * (cotThetaB * cotThetaT * varianceRM + varianceZM) * b.iDeltaR *
              top.iDeltaR;
      const float deltaCotTheta = cotThetaB - cotThetaT;
      const float deltaCotTheta2 = deltaCotTheta * deltaCotTheta;
      if (deltaCotTheta2 > error2 + bt.scatteringInRegion2) {
        if (cotThetaB < cotThetaT) {
          break;
        }
        newOffset = t + 1;
        continue;
      }
      const int next = tripletTail(b, top, bt, error2, deltaCotTheta2, rM, out, nOut);
      if (next == 1) {
        break;
      }
      if (next == 2) {
        newOffset = t;
      }
    }
    return newOffset;
  }


  float topR(std::uint32_t t, std::uint32_t m) const {
    if (m_cfg.useDeltaRinsteadOfTopRadius) {
      const float dr = m_g.r[t] - m_g.r[m];
      const float dz = m_g.z[t] - m_g.z[m];
      return std::sqrt(dr * dr + dz * dz);
    }
    return m_g.r[t];
  }

  /// First filter stage for one (middle, bottom) pair (ACTS
  /// BroadTripletSeedFilter::filterTripletTopCandidates). The SP-quality
  /// vote is applied in the final pass only, see TripletSeeder::run.
  void filter(std::uint32_t m, const Doublet& b, float rMaxSeedConf,
              Scratch& s, std::uint32_t& seq) const {
    const bool conf = m_cfg.seedConfirmation;
    const float rB = m_g.r[b.pos];
    std::size_t minCompatibleTops = 2;
    if (!conf || rB > rMaxSeedConf) {
      minCompatibleTops = 1;
    }
    if (conf && s.quality.size() > 0) {
      ++minCompatibleTops;
    }
    const TopCandidate* cands = s.cands.data();
    const std::size_t nCands = s.nCands;
    if (nCands < minCompatibleTops) {
      return;
    }
    const float zM = m_g.z[m];
    const float rM = m_g.r[m];
    const float zOrigin = zM - rM * b.cotTheta;

    const SeedConfirmationRange* range = nullptr;
    std::int64_t nTopSeedConf = 0;
    if (conf) {
      range = &region(m_g.z[b.pos]);
      nTopSeedConf =
          rB > range->rMaxSeedConf ? range->nTopForLargeR : range->nTopForSmallR;
    }

    s.candOrder.resize(nCands);
    std::iota(s.candOrder.begin(), s.candOrder.end(), 0u);
    std::sort(s.candOrder.begin(), s.candOrder.end(),
              [&](std::uint32_t a, std::uint32_t c) {
                return cands[a].curvature < cands[c].curvature ||
                       (cands[a].curvature == cands[c].curvature && a < c);
              });

    bool haveBestLow = false;
    float weightMax = std::numeric_limits<float>::lowest();
    std::uint32_t bestLowTop = 0;
    std::size_t beginComp = 0;
    for (const std::uint32_t ti : s.candOrder) {
      const TopCandidate& tc = cands[ti];
      s.compatibleR.clear();
      const float lower = tc.curvature - m_cfg.deltaInvHelixDiameter;
      const float upper = tc.curvature + m_cfg.deltaInvHelixDiameter;
      const float currentTopR = topR(tc.pos, m);
      float weight = -tc.impact * m_cfg.impactWeightFactor;
      for (std::size_t j = beginComp; j < s.candOrder.size(); ++j) {
        const std::uint32_t oi = s.candOrder[j];
        if (oi == ti) {
          continue;
        }
        const float oc = cands[oi].curvature;
        if (oc < lower) {
          beginComp = j + 1;
          continue;
        }
        if (oc > upper) {
          break;
        }
        const float otherTopR = topR(cands[oi].pos, m);
        if (std::abs(currentTopR - otherTopR) < m_d.filterDeltaRMin) {
          continue;
        }
        bool newCompSeed = true;
        for (const float previous : s.compatibleR) {
          if (std::abs(previous - otherTopR) < m_d.filterDeltaRMin) {
            newCompSeed = false;
            break;
          }
        }
        if (newCompSeed) {
          s.compatibleR.push_back(otherTopR);
          weight += m_cfg.compatSeedWeight;
        }
        if (s.compatibleR.size() >= m_cfg.compatSeedLimit) {
          break;
        }
      }
      if (static_cast<float>(s.compatibleR.size()) > m_cfg.numSeedIncrement) {
        weight += m_cfg.seedWeightIncrement;
      }
      if (m_cfg.absDeltaEtaWeightFactor > 0 &&
          tc.impact > m_cfg.absDeltaEtaMinImpact) {
        const float etaSeed = std::asinh(b.cotTheta);
        const float etaPCA = std::asinh(zOrigin / tc.impact);
        weight -= m_cfg.absDeltaEtaWeightFactor * std::abs(etaSeed - etaPCA);
      }
      if (conf) {
        const std::int64_t deltaSeedConf =
            static_cast<std::int64_t>(s.compatibleR.size()) + 1 - nTopSeedConf;
        if (deltaSeedConf < 0 ||
            (s.quality.size() != 0 && deltaSeedConf == 0)) {
          continue;
        }
        const bool seedRangeCuts = rB < range->seedConfMinBottomRadius ||
                                   std::abs(zOrigin) > range->seedConfMaxZOrigin;
        if (seedRangeCuts && deltaSeedConf == 0 &&
            tc.impact > range->minImpactSeedConf) {
          continue;
        }
        weight += -(std::abs(zOrigin) * m_cfg.zOriginWeightFactor) +
                  m_cfg.compatSeedWeight;
        if (deltaSeedConf > 0) {
          s.quality.push({b.pos, tc.pos, weight, zOrigin, seq++});
        } else if (weight > weightMax) {
          weightMax = weight;
          bestLowTop = tc.pos;
          haveBestLow = true;
        }
      } else {
        s.normal.push({b.pos, tc.pos, weight, zOrigin, seq++});
      }
    }
    if (conf && haveBestLow && s.quality.size() == 0) {
      s.normal.push({b.pos, bestLowTop, weightMax, zOrigin, seq++});
    }
  }
};

}  // namespace

void TripletSeeder::Config::validate() const {
  const auto finite = [](const char* name, float v) {
    if (!std::isfinite(v)) {
      fail(name, str(v), "must be finite");
    }
  };
  finite("bFieldZ", bFieldZ);
  if (!(bFieldZ > 0.f)) {
    fail("bFieldZ", str(bFieldZ), "must be > 0 (native units: 2 * units.T)");
  }
  if (bFieldZ > 0.01f) {
    fail("bFieldZ", str(bFieldZ),
         "looks like Tesla; multiply by units.T (2 T = 2 * units.T)");
  }
  finite("minPt", minPt);
  if (!(minPt > 0.f)) {
    fail("minPt", str(minPt), "must be > 0 GeV");
  }
  finite("cotThetaMax", cotThetaMax);
  if (!(cotThetaMax > 0.f)) {
    fail("cotThetaMax", str(cotThetaMax), "must be > 0");
  }
  finite("impactMax", impactMax);
  if (!(impactMax >= 0.f)) {
    fail("impactMax", str(impactMax), "must be >= 0 mm");
  }
  finite("deltaRMin", deltaRMin);
  finite("deltaRMax", deltaRMax);
  if (!(deltaRMin >= 0.f)) {
    fail("deltaRMin", str(deltaRMin), "must be >= 0 mm");
  }
  if (!(deltaRMax > deltaRMin)) {
    fail("deltaRMax", str(deltaRMax),
         "must exceed deltaRMin (=" + str(deltaRMin) + " mm)");
  }
  const auto optionalPair = [&](const char* minName, float mn,
                                const char* maxName, float mx) {
    if (std::isinf(mn)) {
      fail(minName, str(mn), "must be finite or NaN (NaN = use deltaRMin)");
    }
    if (std::isinf(mx)) {
      fail(maxName, str(mx), "must be finite or NaN (NaN = use deltaRMax)");
    }
    const float lo = orDefault(mn, deltaRMin);
    const float hi = orDefault(mx, deltaRMax);
    if (!(lo >= 0.f)) {
      fail(minName, str(lo), "must be >= 0 mm");
    }
    if (!(hi > lo)) {
      fail(maxName, str(hi),
           std::string("must exceed ") + minName + " (=" + str(lo) + " mm)");
    }
  };
  optionalPair("deltaRMinTop", deltaRMinTop, "deltaRMaxTop", deltaRMaxTop);
  optionalPair("deltaRMinBottom", deltaRMinBottom, "deltaRMaxBottom",
               deltaRMaxBottom);
  finite("rMin", rMin);
  finite("rMax", rMax);
  if (!(rMin >= 0.f)) {
    fail("rMin", str(rMin), "must be >= 0 mm");
  }
  if (!(rMax > rMin)) {
    fail("rMax", str(rMax), "must exceed rMin (=" + str(rMin) + " mm)");
  }
  finite("zMin", zMin);
  finite("zMax", zMax);
  if (!(zMax > zMin)) {
    fail("zMax", str(zMax), "must exceed zMin (=" + str(zMin) + " mm)");
  }
  if (phiBinDeflectionCoverage < 1) {
    fail("phiBinDeflectionCoverage", str(phiBinDeflectionCoverage),
         "must be >= 1");
  }
  if (maxPhiBins < 1) {
    fail("maxPhiBins", str(maxPhiBins), "must be >= 1");
  }
  if (numPhiNeighbors < 0) {
    fail("numPhiNeighbors", str(numPhiNeighbors), "must be >= 0");
  }
  if (numPhiNeighbors > kMaxPhiNeighbors) {
    fail("numPhiNeighbors", str(numPhiNeighbors),
         "must be <= " + str(kMaxPhiNeighbors) +
             " (more than the phi bins covers the full circle anyway)");
  }
  if (maxPhiBins > kMaxPhiBinsCap) {
    fail("maxPhiBins", str(maxPhiBins),
         "must be <= " + str(kMaxPhiBinsCap));
  }
  std::size_t nZ = 0;
  if (!zBinEdges.empty()) {
    if (zBinEdges.size() < 2) {
      fail("zBinEdges", "size " + str(zBinEdges.size()),
           "must hold at least 2 edges (or be empty)");
    }
    for (std::size_t i = 0; i < zBinEdges.size(); ++i) {
      if (!std::isfinite(zBinEdges[i]) ||
          (i > 0 && !(zBinEdges[i] > zBinEdges[i - 1]))) {
        fail("zBinEdges", "[" + str(i) + "]=" + str(zBinEdges[i]),
             "must be finite and strictly increasing");
      }
    }
    nZ = zBinEdges.size() - 1;
    if (nZ > kMaxZBins) {
      fail("zBinEdges", "size " + str(zBinEdges.size()),
           "must hold at most " + str(kMaxZBins + 1) + " edges");
    }
  } else {
    // The grid's z edges are computed in float (as in ACTS): the span and the
    // bin count must be finite there, and the count is bounded before any
    // integer conversion.
    const float zSpan = zMax - zMin;
    if (!std::isfinite(zSpan)) {
      fail("zMax", str(zMax),
           "minus zMin (=" + str(zMin) + " mm) overflows float; keep |zMin|, "
           "|zMax| below 1e38 mm");
    }
    const float zBinSize = cotThetaMax * deltaRMax;
    const double nZd = std::max(
        1.0, std::floor(static_cast<double>(zSpan / zBinSize)));
    if (!(nZd <= static_cast<double>(kMaxZBins))) {
      fail("zMax", str(zMax),
           "with zMin (=" + str(zMin) + " mm) and cotThetaMax*deltaRMax (=" +
               str(zBinSize) + " mm) gives more than " + str(kMaxZBins) +
               " equidistant z bins; set zBinEdges");
    }
    nZ = static_cast<std::size_t>(nZd);
  }
  const auto neighbours =
      [&](const char* name,
          const std::vector<std::pair<std::int32_t, std::int32_t>>& v) {
        if (v.empty()) {
          return;
        }
        if (v.size() != nZ) {
          fail(name, "size " + str(v.size()),
               "must have one (low, high) pair per z bin (" + str(nZ) + ")");
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (v[i].first > v[i].second) {
            fail(name, "[" + str(i) + "]=(" + str(v[i].first) + ", " +
                           str(v[i].second) + ")",
                 "must have low <= high");
          }
        }
      };
  neighbours("zBinNeighborsTop", zBinNeighborsTop);
  neighbours("zBinNeighborsBottom", zBinNeighborsBottom);
  for (const auto b : zBinsCustomLooping) {
    if (b < 1 || b > nZ) {
      fail("zBinsCustomLooping", str(b),
           "entries must be 1-based z bins in [1, " + str(nZ) + "]");
    }
  }
  finite("rMinMiddle", rMinMiddle);
  finite("rMaxMiddle", rMaxMiddle);
  if (!(rMaxMiddle >= rMinMiddle)) {
    fail("rMaxMiddle", str(rMaxMiddle),
         "must be >= rMinMiddle (=" + str(rMinMiddle) + " mm)");
  }
  if (!rRangeMiddleSP.empty()) {
    if (rRangeMiddleSP.size() != nZ) {
      fail("rRangeMiddleSP", "size " + str(rRangeMiddleSP.size()),
           "must have one (rMin, rMax) pair per z bin (" + str(nZ) + ")");
    }
    for (std::size_t i = 0; i < rRangeMiddleSP.size(); ++i) {
      const auto& [lo, hi] = rRangeMiddleSP[i];
      if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo) {
        fail("rRangeMiddleSP",
             "[" + str(i) + "]=(" + str(lo) + ", " + str(hi) + ")",
             "must be finite with rMin <= rMax");
      }
    }
  }
  finite("deltaRMiddleMinSPRange", deltaRMiddleMinSPRange);
  finite("deltaRMiddleMaxSPRange", deltaRMiddleMaxSPRange);
  if (std::isnan(deltaZMin) || std::isnan(deltaZMax) ||
      !(deltaZMax >= deltaZMin)) {
    fail("deltaZMax", str(deltaZMax),
         "must be >= deltaZMin (=" + str(deltaZMin) + " mm), no NaN");
  }
  finite("collisionRegionMin", collisionRegionMin);
  finite("collisionRegionMax", collisionRegionMax);
  if (!(collisionRegionMax > collisionRegionMin)) {
    fail("collisionRegionMax", str(collisionRegionMax),
         "must exceed collisionRegionMin (=" + str(collisionRegionMin) +
             " mm)");
  }
  finite("helixCutTolerance", helixCutTolerance);
  if (!(helixCutTolerance > 0.f)) {
    fail("helixCutTolerance", str(helixCutTolerance), "must be > 0");
  }
  finite("sigmaScattering", sigmaScattering);
  if (!(sigmaScattering >= 0.f)) {
    fail("sigmaScattering", str(sigmaScattering), "must be >= 0");
  }
  finite("radLengthPerSeed", radLengthPerSeed);
  if (!(radLengthPerSeed > 0.f)) {
    fail("radLengthPerSeed", str(radLengthPerSeed), "must be > 0");
  }
  finite("deltaInvHelixDiameter", deltaInvHelixDiameter);
  if (!(deltaInvHelixDiameter >= 0.f)) {
    fail("deltaInvHelixDiameter", str(deltaInvHelixDiameter),
         "must be >= 0 1/mm");
  }
  if (std::isinf(filterDeltaRMin) || filterDeltaRMin < 0.f) {
    fail("filterDeltaRMin", str(filterDeltaRMin),
         "must be >= 0 mm or NaN (NaN = use deltaRMin)");
  }
  finite("compatSeedWeight", compatSeedWeight);
  finite("impactWeightFactor", impactWeightFactor);
  finite("zOriginWeightFactor", zOriginWeightFactor);
  finite("seedWeightIncrement", seedWeightIncrement);
  if (std::isnan(numSeedIncrement)) {
    fail("numSeedIncrement", str(numSeedIncrement), "must not be NaN");
  }
  finite("absDeltaEtaWeightFactor", absDeltaEtaWeightFactor);
  finite("absDeltaEtaMinImpact", absDeltaEtaMinImpact);
  if (maxSeedsPerSpM > 1000000u) {
    fail("maxSeedsPerSpM", str(maxSeedsPerSpM), "must be <= 1000000");
  }
  // The helix-radius and phi-bin rules (ACTS's grid sanity checks).
  const std::int32_t nPhi = computePhiBins(*this);
  // Grid bins are addressed with 32-bit keys and every bin gets a neighbour
  // list: bound both the bin count and the neighbour-lookup work, so that a
  // config that validates cannot exhaust memory or run for minutes.
  const std::uint64_t nBins =
      static_cast<std::uint64_t>(nPhi) * static_cast<std::uint64_t>(nZ + 2);
  if (nBins > kMaxGridBins) {
    fail("phiBinDeflectionCoverage", str(phiBinDeflectionCoverage),
         "with the z binning gives a grid of " + str(nPhi) + " phi x " +
             str(nZ) + " z bins (=" + str(nBins) + " bins), more than " +
             str(kMaxGridBins) +
             "; lower phiBinDeflectionCoverage or maxPhiBins, or use fewer z "
             "bins (zBinEdges, cotThetaMax, deltaRMax, zMin/zMax)");
  }
  const std::uint64_t phiSpan = std::min<std::uint64_t>(
      2 * static_cast<std::uint64_t>(numPhiNeighbors) + 1,
      static_cast<std::uint64_t>(nPhi));
  if (nBins * phiSpan > kMaxNeighbourLookups) {
    fail("numPhiNeighbors", str(numPhiNeighbors),
         "with " + str(nPhi) + " phi bins and " + str(nZ) +
             " z bins needs " + str(nBins * phiSpan) +
             " neighbour-bin lookups, more than " + str(kMaxNeighbourLookups) +
             "; lower numPhiNeighbors or the number of bins");
  }
}

TripletSeeder::TripletSeeder(const Config& cfg) : m_cfg(cfg) {
  m_cfg.validate();
  m_nPhiBins = computePhiBins(m_cfg);
  m_zEdges = computeZEdges(m_cfg);
}

void TripletSeeder::checkInput(const SpacePoints& sps) const {
  const std::size_t n = sps.x.size();
  const auto len = [&](const char* name, std::span<const float> s) {
    if (s.size() != n) {
      throw std::invalid_argument(std::string("TripletSeeder: ") + name +
                                  " has length " + str(s.size()) +
                                  ", expected " + str(n) + " like x");
    }
  };
  len("y", sps.y);
  len("z", sps.z);
  len("varianceR", sps.varianceR);
  len("varianceZ", sps.varianceZ);
  if (n >= std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("TripletSeeder: x has " + str(n) +
                                " space points, at most 2^32-2 supported");
  }
  const auto check = [&](const char* name, std::span<const float> s,
                         bool variance) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(s[i]) || (variance && s[i] < 0.f)) {
        throw std::invalid_argument(
            std::string("TripletSeeder: ") + name + "[" + str(i) + "] (=" +
            str(s[i]) + ") must be finite" + (variance ? " and >= 0" : ""));
      }
    }
  };
  check("x", sps.x, false);
  check("y", sps.y, false);
  check("z", sps.z, false);
  check("varianceR", sps.varianceR, true);
  check("varianceZ", sps.varianceZ, true);
}

namespace {
void checkSubset(std::span<const std::uint32_t> subset, std::size_t n) {
  std::vector<std::uint32_t> sorted(subset.begin(), subset.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] >= n) {
      throw std::invalid_argument("TripletSeeder: subset index (=" +
                                  str(sorted[i]) + ") must be < " + str(n));
    }
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      throw std::invalid_argument("TripletSeeder: subset index (=" +
                                  str(sorted[i]) + ") must not repeat");
    }
  }
}
}  // namespace

TripletSeeder::Seeds TripletSeeder::createSeeds(const SpacePoints& sps,
                                                unsigned nThreads) const {
  checkInput(sps);
  return run(sps, {}, true, nThreads);
}

TripletSeeder::Seeds TripletSeeder::createSeeds(
    const SpacePoints& sps, std::span<const std::uint32_t> subset,
    unsigned nThreads) const {
  checkInput(sps);
  checkSubset(subset, sps.size());
  return run(sps, subset, false, nThreads);
}

std::vector<TripletSeeder::Seeds> TripletSeeder::createSeedsInBuckets(
    const SpacePoints& sps,
    std::span<const std::span<const std::uint32_t>> buckets,
    unsigned nThreads) const {
  checkInput(sps);
  for (const auto& b : buckets) {
    checkSubset(b, sps.size());
  }
  std::vector<Seeds> out(buckets.size());
  parallelFor(
      buckets.size(), nThreads,
      [&](std::size_t i) { out[i] = run(sps, buckets[i], false, 1); }, 1);
  return out;
}

TripletSeeder::Seeds TripletSeeder::run(const SpacePoints& sps,
                                        std::span<const std::uint32_t> subset,
                                        bool all, unsigned nThreads) const {
  const Derived derived(m_cfg);
  const Grid grid = buildGrid(m_cfg, m_nPhiBins, m_zEdges, sps, subset, all);
  Neighbours nb;
  collectNeighbours(grid, m_cfg.numPhiNeighbors, m_cfg.zBinNeighborsTop,
                    nb.topBegin, nb.top);
  collectNeighbours(grid, m_cfg.numPhiNeighbors, m_cfg.zBinNeighborsBottom,
                    nb.bottomBegin, nb.bottom);

  // Middle candidates, in grid order (good locality).
  const std::size_t n = grid.r.size();
  const std::int32_t nZ = grid.nZTot - 2;
  std::vector<std::uint8_t> zIsMiddle(static_cast<std::size_t>(grid.nZTot), 0);
  if (m_cfg.zBinsCustomLooping.empty()) {
    std::fill(zIsMiddle.begin() + 1, zIsMiddle.begin() + 1 + nZ, 1);
  } else {
    for (const auto b : m_cfg.zBinsCustomLooping) {
      zIsMiddle[b] = 1;
    }
  }
  float varMin = 0;
  float varMax = 0;
  if (m_cfg.useVariableMiddleSPRange && n > 0) {
    const auto [lo, hi] = std::minmax_element(grid.r.begin(), grid.r.end());
    varMin = std::floor(*lo / 2) * 2 + m_cfg.deltaRMiddleMinSPRange;
    varMax = std::floor(*hi / 2) * 2 - m_cfg.deltaRMiddleMaxSPRange;
  }
  std::vector<std::uint32_t> middles;
  middles.reserve(n);
  for (std::uint32_t p = 0; p < n; ++p) {
    const auto zb = static_cast<std::int32_t>(grid.bin[p] %
                                              static_cast<std::uint32_t>(grid.nZTot));
    if (!zIsMiddle[static_cast<std::size_t>(zb)]) {
      continue;
    }
    float lo = m_cfg.rMinMiddle;
    float hi = m_cfg.rMaxMiddle;
    if (m_cfg.useVariableMiddleSPRange) {
      lo = varMin;
      hi = varMax;
    } else if (!m_cfg.rRangeMiddleSP.empty()) {
      std::tie(lo, hi) = m_cfg.rRangeMiddleSP[static_cast<std::size_t>(zb - 1)];
    }
    if (grid.r[p] < lo || grid.r[p] > hi) {
      continue;
    }
    middles.push_back(p);
  }

  const MiddleProcessor proc(m_cfg, derived, grid, nb);
  std::vector<SeedRecord> records = parallelCollect<SeedRecord>(
      middles.size(), 32, nThreads,
      [&](std::size_t begin, std::size_t end, std::vector<SeedRecord>& out) {
        // One scratch per thread, kept between chunks and calls (a fresh
        // one per chunk spent ~5 % of the run in allocations). The cached r
        // windows belong to the previous middle of this call only.
        Scratch scratch;
        scratch.winBin[0] = scratch.winBin[1] = kNoBin;
        for (std::size_t k = begin; k < end; ++k) {
          proc.process(middles[k], scratch, out);
        }
      });
  // Documented order: by middle input index, then filter rank.
  std::stable_sort(records.begin(), records.end(),
                   [](const SeedRecord& a, const SeedRecord& b) {
                     return a.middleOrig < b.middleOrig;
                   });

  Seeds seeds;
  seeds.triplets.reserve(3 * records.size());
  seeds.zVertex.reserve(records.size());
  seeds.quality.reserve(records.size());
  const auto emit = [&](const SeedRecord& s) {
    seeds.triplets.push_back(s.bottom);
    seeds.triplets.push_back(s.middle);
    seeds.triplets.push_back(s.top);
    seeds.zVertex.push_back(s.zOrigin);
    seeds.quality.push_back(s.weight);
  };
  if (!m_cfg.seedConfirmation) {
    for (const auto& s : records) {
      emit(s);
    }
    return seeds;
  }
  // Seed confirmation: ACTS's second filter stage with the space-point
  // quality vote. ACTS runs it in its grid-loop order; here it runs over
  // middle space points in ascending input index so that the result does not
  // depend on threads or on the grid traversal.
  std::vector<float> best(sps.size(), std::numeric_limits<float>::lowest());
  for (std::size_t g0 = 0; g0 < records.size();) {
    std::size_t g1 = g0;
    std::size_t nQuality = 0;
    while (g1 < records.size() &&
           records[g1].middleOrig == records[g0].middleOrig) {
      nQuality += records[g1].quality;
      ++g1;
    }
    std::size_t maxSeeds = g1 - g0;
    if (maxSeeds > m_cfg.maxSeedsPerSpM) {
      maxSeeds = static_cast<std::size_t>(m_cfg.maxSeedsPerSpM) + 1;
    }
    std::size_t kept = 0;
    for (std::size_t k = g0; k < g1 && kept < maxSeeds; ++k) {
      const SeedRecord& s = records[k];
      if (nQuality > 0 && !s.quality) {
        continue;
      }
      if (s.weight < best[s.bottom] && s.weight < best[s.middle] &&
          s.weight < best[s.top]) {
        continue;
      }
      for (const auto i : {s.bottom, s.middle, s.top}) {
        best[i] = std::max(best[i], s.weight);
      }
      emit(s);
      ++kept;
    }
    g0 = g1;
  }
  return seeds;
}

}  // namespace helixkit
