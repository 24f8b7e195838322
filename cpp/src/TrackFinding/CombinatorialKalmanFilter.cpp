#include "helixkit/TrackFinding/CombinatorialKalmanFilter.hpp"

#include "helixkit/Propagation/HelixPropagator.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#include "../Fitting/KalmanMath.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <numbers>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace helixkit {

namespace {

using namespace detail;  // NOLINT(google-build-using-namespace)

constexpr double kPi = std::numbers::pi;
constexpr double kMinPath = 1e-4;  // [mm] a surface is not its own next one
constexpr double kModuleStep = 100.0;  // [mm] the farthest module from its layer

std::string num(double v) { return std::to_string(v); }

std::string indexText(std::size_t i) {
  std::string s(1, '[');
  s += std::to_string(i);
  s += ']';
  return s;
}

[[noreturn]] void fail(const std::string& where, const std::string& field,
                       double value, const char* rule) {
  throw std::invalid_argument(where + ": " + field + " (=" + num(value) +
                              ") " + rule);
}

/// Node of the per-seed branch tree: a measurement, outlier or hole state.
struct Node {
  std::int32_t parent = -1;
  std::int8_t type = 0;  // 0 measurement, 1 outlier, 2 hole
  std::int64_t meas = -1;
  double chi2 = 0.0;  // the measurement's (or outlier's) filter chi2
};

/// One live branch: its current state (after the surface's material, in
/// the orientation of the pass), the filtered state at its last
/// measurement, and its counters.
struct Branch {
  std::int32_t tip = -1;
  /// The navigation surface last reached (not the next one again).
  std::int64_t layer = -1;
  const Surface* surface = nullptr;
  BoundVector x{};
  BoundMatrix p{};
  FreeVector f{};
  const Surface* sm = nullptr;
  BoundVector xm{};
  BoundMatrix pm{};
  std::int32_t nMeas = 0;
  std::int32_t nOutliers = 0;
  std::int32_t nHoles = 0;
  std::int32_t nConsecutiveHoles = 0;
  std::int32_t dims = 0;
  std::uint32_t nSteps = 0;
  /// Seed measurements still to be reached (1, 2: middle, top; 3: none).
  std::uint32_t seedNext = 3;
  /// The inward pass ends at the point of closest approach to the beam.
  bool inward = false;
  double chi2 = 0.0;
  double path = 0.0;
  double pathLimit = 0.0;
};

/// Quality order: more (measurements - holes - outliers), then lower chi2,
/// then the earlier tip (a total order: results do not depend on sorting).
bool better(const Branch& a, const Branch& b) {
  const int qa = a.nMeas - a.nHoles - a.nOutliers;
  const int qb = b.nMeas - b.nHoles - b.nOutliers;
  if (qa != qb) {
    return qa > qb;
  }
  if (a.chi2 != b.chi2) {
    return a.chi2 < b.chi2;
  }
  return a.tip < b.tip;
}

/// Reverse the direction of travel: the same helix run backwards is the
/// helix of the opposite charge with the opposite direction; local
/// positions are unchanged, phi -> phi + pi, theta -> pi - theta,
/// q/p -> -q/p (Jacobian diag(1, 1, 1, -1, -1)).
void flip(BoundVector& x, BoundMatrix& p) {
  x[eBoundPhi] = wrapPhi(x[eBoundPhi] + kPi);
  x[eBoundTheta] = kPi - x[eBoundTheta];
  x[eBoundQOverP] = -x[eBoundQOverP];
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t c = 0; c < eBoundSize; ++c) {
      const bool sr = r >= eBoundTheta;
      const bool sc = c >= eBoundTheta;
      if (sr != sc) {
        p(r, c) = -p(r, c);
      }
    }
  }
}

double transverseMomentum(const BoundVector& x) {
  return std::abs(std::sin(x[eBoundTheta]) / x[eBoundQOverP]);
}

/// Highland scattering noise of surface s at free state f added to p.
void addScattering(BoundMatrix& p, const Surface& s, const FreeVector& f,
                   double qop, double mass) {
  if (!(s.thicknessX0 > 0.0) || qop == 0.0) {
    return;
  }
  const double xx0 = pathX0(s, f);
  const double mom = 1.0 / std::abs(qop);
  const double th0 = highlandTheta0(xx0, mom, norm2(mom, mass));
  const double sth = norm2(f[eFreeDir0], f[eFreeDir1]);
  p(eBoundPhi, eBoundPhi) += th0 * th0 / (sth * sth);
  p(eBoundTheta, eBoundTheta) += th0 * th0;
}

bool fullCircle(const Surface& s, std::size_t coord, double period) {
  return s.bounds[2 * coord] <= -0.5 * period * (1.0 - 1e-12) &&
         s.bounds[2 * coord + 1] >= 0.5 * period * (1.0 - 1e-12);
}

/// Next-surface search over a SurfaceSet: z-aligned disks and planes
/// sorted in z (the path to them is linear in z), z-aligned cylinders with
/// a lower bound on the path from the radial distance, and any other
/// surface by direct intersection.
class Navigator {
 public:
  /// @param navigable the surfaces to navigate (empty: all)
  Navigator(const SurfaceSet& set, const std::vector<std::uint8_t>& navigable) : m_set(set) {
    for (std::size_t i = 0; i < set.size(); ++i) {
      const Surface& s = set[i];
      if (!navigable.empty() && navigable[i] == 0) {
        continue;
      }
      if (s.type == SurfaceType::eLine) {
        continue;
      }
      if (!s.zAligned()) {
        m_other.push_back(i);
      } else if (s.type == SurfaceType::eCylinder) {
        m_cylinders.push_back(i);
      } else {
        m_disks.push_back(i);
      }
    }
    std::sort(m_disks.begin(), m_disks.end(), [&](std::size_t a, std::size_t b) {
      return set[a].center[2] < set[b].center[2] ||
             (set[a].center[2] == set[b].center[2] && a < b);
    });
    m_diskZ.reserve(m_disks.size());
    for (const auto i : m_disks) {
      m_diskZ.push_back(set[i].center[2]);
    }
    std::sort(m_cylinders.begin(), m_cylinders.end(), [&](std::size_t a, std::size_t b) {
      return set[a].radius < set[b].radius || (set[a].radius == set[b].radius && a < b);
    });
    m_onAxis = true;
    for (const auto i : m_cylinders) {
      m_cylR.push_back(set[i].radius);
      m_onAxis &= set[i].center[0] == 0.0 && set[i].center[1] == 0.0;
    }
  }

  struct Hit {
    std::size_t surface = 0;
    double path = 0.0;
  };

  /// The first surface crossed inside its bounds with minPath < s < maxPath
  /// (surface `unbounded`, if any, counts wherever it is crossed).
  std::optional<Hit> next(const HelixPropagator& prop, const FreeVector& f,
                          double maxPath, std::int64_t exclude,
                          std::int64_t unbounded = -1) const {
    auto within = [&](std::size_t i, double path) {
      return static_cast<std::int64_t>(i) == unbounded || inside(prop, m_set[i], f, path);
    };
    double best = maxPath;
    std::optional<Hit> hit;
    const double z = f[eFreePos2];
    const double tz = f[eFreeDir2];
    auto tryDisk = [&](std::size_t k) {
      // @return false once the disks are beyond the best path
      const std::size_t i = m_disks[k];
      const double s = (m_diskZ[k] - z) / tz;
      if (s >= best) {
        return false;
      }
      if (s <= kMinPath || static_cast<std::int64_t>(i) == exclude) {
        return true;
      }
      if (within(i, s)) {
        best = s;
        hit = Hit{i, s};
        return false;
      }
      return true;
    };
    const double sinTheta = norm2(f[eFreeDir0], f[eFreeDir1]);
    const double w = f[eFreeQOverP] * prop.bFieldZ();
    auto tryCylinder = [&](std::size_t i) {
      if (static_cast<std::int64_t>(i) == exclude) {
        return;
      }
      const auto s = prop.intersect(m_set[i], f, kMinPath, false);
      if (s && *s < best && within(i, *s)) {
        best = *s;
        hit = Hit{i, *s};
      }
    };
    if (m_onAxis) {
      // Cylinders around the z axis, by radius: the transverse path to radius
      // R is at least |R - rho| in the direction the radius moves now, and at
      // least the way to the turning radius and back otherwise. The bounds
      // grow away from rho, so each direction stops at the first bound
      // beyond the best path.
      const double px = f[eFreePos0];
      const double py = f[eFreePos1];
      const double rho = norm2(px, py);
      const double vr = px * f[eFreeDir0] + py * f[eFreeDir1];
      double rMin = 0.0;
      double rMax = std::numeric_limits<double>::infinity();
      if (std::abs(w) > 1e-9) {
        const double d = norm2(px + f[eFreeDir1] / w, py - f[eFreeDir0] / w);
        const double rh = sinTheta / std::abs(w);
        rMin = std::abs(d - rh);
        rMax = d + rh;
      }
      const auto split = static_cast<std::size_t>(
          std::upper_bound(m_cylR.begin(), m_cylR.end(), rho) - m_cylR.begin());
      auto outward = [&](bool direct) {
        for (std::size_t k = split; k < m_cylR.size(); ++k) {
          const double r = m_cylR[k];
          if (r > rMax) {
            break;
          }
          const double lb = direct ? r - rho : (rho - rMin) + (r - rMin);
          if (lb >= best * sinTheta) {
            break;
          }
          tryCylinder(m_cylinders[k]);
        }
      };
      auto inward = [&](bool direct) {
        for (std::size_t k = split; k > 0; --k) {
          const double r = m_cylR[k - 1];
          if (r < rMin) {
            break;
          }
          const double lb = direct ? rho - r : (rMax - rho) + (rMax - r);
          if (lb >= best * sinTheta) {
            break;
          }
          tryCylinder(m_cylinders[k - 1]);
        }
      };
      if (vr >= 0.0) {
        outward(true);
        inward(false);
      } else {
        inward(true);
        outward(false);
      }
    } else {
      for (const auto i : m_cylinders) {
        const Surface& c = m_set[i];
        const double px = f[eFreePos0] - c.center[0];
        const double py = f[eFreePos1] - c.center[1];
        if (std::abs(c.radius - norm2(px, py)) >= best * sinTheta) {
          continue;
        }
        tryCylinder(i);
      }
    }
    // Disks after the cylinders: the best path found there bounds the disk scan
    // (a barrel track would otherwise test every disk out to its path limit).
    if (tz > 0.0) {
      auto it = std::upper_bound(m_diskZ.begin(), m_diskZ.end(), z);
      for (auto k = static_cast<std::size_t>(it - m_diskZ.begin());
           k < m_disks.size() && tryDisk(k); ++k) {
      }
    } else if (tz < 0.0) {
      auto it = std::lower_bound(m_diskZ.begin(), m_diskZ.end(), z);
      for (auto k = static_cast<std::size_t>(it - m_diskZ.begin()); k > 0 && tryDisk(k - 1);
           --k) {
      }
    }
    for (const auto i : m_other) {
      if (static_cast<std::int64_t>(i) == exclude) {
        continue;
      }
      const auto s = prop.intersect(m_set[i], f, kMinPath);
      if (s && *s < best && within(i, *s)) {
        best = *s;
        hit = Hit{i, *s};
      }
    }
    return hit;
  }

 private:
  static bool inside(const HelixPropagator& prop, const Surface& s,
                     const FreeVector& f, double path) {
    if (s.type == SurfaceType::eCylinder && s.zAligned() &&
        fullCircle(s, 0, s.period(0))) {
      // z is linear in the path: no trigonometry for a full cylinder.
      const double zl = f[eFreePos2] + f[eFreeDir2] * path - s.center[2];
      return zl >= s.bounds[2] && zl <= s.bounds[3];
    }
    if (s.type == SurfaceType::eDisk && s.zAligned() && fullCircle(s, 1, s.period(1))) {
      // only the radius is bounded: no azimuth (atan2) needed
      const FreeVector g = prop.advance(f, path, nullptr);
      const double r = norm2(g[eFreePos0] - s.center[0], g[eFreePos1] - s.center[1]);
      return r >= s.bounds[0] && r <= s.bounds[1];
    }
    const FreeVector g = prop.advance(f, path, nullptr);
    const auto loc = s.globalToLocal({g[eFreePos0], g[eFreePos1], g[eFreePos2]},
                                     {g[eFreeDir0], g[eFreeDir1], g[eFreeDir2]});
    return s.inside(loc[0], loc[1]);
  }

  const SurfaceSet& m_set;
  std::vector<std::size_t> m_disks;
  std::vector<double> m_diskZ;
  std::vector<std::size_t> m_cylinders;
  std::vector<double> m_cylR;
  bool m_onAxis = true;
  std::vector<std::size_t> m_other;
};

/// Measurements grouped per surface and sorted in the surface's azimuthal
/// local coordinate (cylinder loc0 = R phi, disk loc1 = phi; plane loc0).
struct MeasurementIndex {
  std::vector<std::int64_t> offsets;  // per surface, into order / key
  std::vector<std::int64_t> order;
  std::vector<double> key;
  /// The other layer coordinate, in key order (NaN where it is not
  /// measured and so must not reject: a strip's loc1 without layers).
  std::vector<double> other;
  std::vector<double> maxVar;  // per surface: max var0, max var1
  std::vector<double> offsetRange;  // per surface: min, max layer offset
  std::vector<std::uint8_t> keyCoord;
  /// Surfaces that measurements are searched on (all if no layers given),
  /// and the material-only ones among them.
  std::vector<std::uint8_t> navigable;
  std::vector<std::uint8_t> passive;
  bool layered = false;

  /// The navigation surface of measurement i.
  static std::size_t layerOf(const CombinatorialKalmanFilter::Measurements& m, std::size_t i) {
    return static_cast<std::size_t>(m.layer.empty() ? m.surfaceId[i] : m.layer[i]);
  }
  /// Measurement i's coordinates on its navigation surface.
  static const double* layerCoords(const CombinatorialKalmanFilter::Measurements& m,
                                   std::size_t i) {
    return m.layer.empty() ? &m.local[2 * i] : &m.layerLocal[2 * i];
  }

  MeasurementIndex(const SurfaceSet& set,
                   const CombinatorialKalmanFilter::Measurements& m) {
    const std::size_t nS = set.size();
    const std::size_t nM = m.surfaceId.size();
    layered = !m.layer.empty();
    keyCoord.resize(nS);
    for (std::size_t s = 0; s < nS; ++s) {
      keyCoord[s] = set[s].type == SurfaceType::eDisk ? 1 : 0;
    }
    offsets.assign(nS + 1, 0);
    maxVar.assign(2 * nS, 0.0);
    offsetRange.assign(2 * nS, 0.0);
    if (layered) {
      navigable.assign(nS, 0);
    }
    passive.assign(nS, 0);
    for (const auto s : m.passive) {
      passive[static_cast<std::size_t>(s)] = 1;
      if (layered) {
        navigable[static_cast<std::size_t>(s)] = 1;
      }
    }
    for (std::size_t i = 0; i < nM; ++i) {
      const auto s = layerOf(m, i);
      ++offsets[s + 1];
      if (!layered) {
        maxVar[2 * s] = std::max(maxVar[2 * s], m.cov[3 * i]);
        maxVar[2 * s + 1] = std::max(maxVar[2 * s + 1], m.cov[3 * i + 1]);
        continue;
      }
      // The module's axes need not be the layer's: either variance may lie
      // along either layer coordinate (a disk's phi is an angle).
      navigable[s] = 1;
      if (!m.layerVar.empty()) {
        maxVar[2 * s] = std::max(maxVar[2 * s], m.layerVar[2 * i]);
        maxVar[2 * s + 1] = std::max(maxVar[2 * s + 1], m.layerVar[2 * i + 1]);
      } else {
        const double v = std::max(m.cov[3 * i], m.cov[3 * i + 1]);
        const bool disk = set[s].type == SurfaceType::eDisk;
        const double r = std::max(m.layerLocal[2 * i], 1e-3);
        maxVar[2 * s] = std::max(maxVar[2 * s], v);
        maxVar[2 * s + 1] = std::max(maxVar[2 * s + 1], disk ? v / (r * r) : v);
      }
      const double d = m.layerOffset[i];
      const bool first = offsets[s + 1] == 1;
      offsetRange[2 * s] = first ? d : std::min(offsetRange[2 * s], d);
      offsetRange[2 * s + 1] = first ? d : std::max(offsetRange[2 * s + 1], d);
    }
    std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
    order.resize(nM);
    std::vector<std::int64_t> fill(offsets.begin(), offsets.end() - 1);
    for (std::size_t i = 0; i < nM; ++i) {
      const auto s = layerOf(m, i);
      order[static_cast<std::size_t>(fill[s]++)] = static_cast<std::int64_t>(i);
    }
    key.resize(nM);
    other.resize(nM);
    for (std::size_t s = 0; s < nS; ++s) {
      const auto b = order.begin() + offsets[s];
      const auto e = order.begin() + offsets[s + 1];
      const std::size_t c = keyCoord[s];
      std::sort(b, e, [&](std::int64_t x, std::int64_t y) {
        const double kx = layerCoords(m, static_cast<std::size_t>(x))[c];
        const double ky = layerCoords(m, static_cast<std::size_t>(y))[c];
        return kx < ky || (kx == ky && x < y);
      });
      for (auto it = b; it != e; ++it) {
        const auto i = static_cast<std::size_t>(*it);
        const auto k = static_cast<std::size_t>(it - order.begin());
        key[k] = layerCoords(m, i)[c];
        const bool measured = layered || m.mask.empty() || (m.mask[i] & (1 << (1 - c))) != 0;
        other[k] = measured ? layerCoords(m, i)[1 - c]
                            : std::numeric_limits<double>::quiet_NaN();
      }
    }
  }

  /// Call fn(measurement) for the measurements of surface s whose key lies
  /// in [lo, hi] (cyclic with the given period; 0 = not cyclic).
  template <typename fn_t>
  void visit(std::size_t s, double lo, double hi, double period,
             fn_t&& fn) const {
    visitBox(s, lo, hi, period, 0.0, std::numeric_limits<double>::infinity(), 0.0,
             std::forward<fn_t>(fn));
  }
  /// As visit, and only those whose other coordinate is within halfO of midO
  /// (cyclic with periodO; an unmeasured one always is): a sequential scan
  /// of the key-ordered coordinates, no look-up per rejected measurement.
  template <typename fn_t>
  void visitBox(std::size_t s, double lo, double hi, double period, double midO,
                double halfO, double periodO, fn_t&& fn) const {
    const auto b = key.begin() + offsets[s];
    const auto e = key.begin() + offsets[s + 1];
    auto range = [&](double a, double z) {
      auto i0 = std::lower_bound(b, e, a);
      const auto i1 = std::upper_bound(i0, e, z);
      auto k = static_cast<std::size_t>(i0 - key.begin());
      const auto k1 = static_cast<std::size_t>(i1 - key.begin());
      if (periodO > 0.0) {
        for (; k != k1; ++k) {
          if (!(std::abs(std::remainder(other[k] - midO, periodO)) > halfO)) {
            fn(order[k]);
          }
        }
        return;
      }
      for (; k != k1; ++k) {
        if (!(std::abs(other[k] - midO) > halfO)) {
          fn(order[k]);
        }
      }
    };
    if (period > 0.0) {
      if (hi - lo >= period) {
        range(-std::numeric_limits<double>::infinity(),
              std::numeric_limits<double>::infinity());
        return;
      }
      const double half = 0.5 * period;
      const double shift = lo - std::remainder(lo, period);
      lo -= shift;
      hi -= shift;
      if (hi > half) {
        range(lo, half);
        range(-half, hi - period);
      } else if (lo < -half) {
        range(lo + period, half);
        range(-half, hi);
      } else {
        range(lo, hi);
      }
      return;
    }
    range(lo, hi);
  }
};

struct SeedResult {
  CkfSeedStatus status = CkfSeedStatus::eFailed;
  std::vector<std::int64_t> measurements;
  std::vector<std::int8_t> outlier;
  BoundVector params{};
  BoundMatrix cov{};
  double chi2 = 0.0;
  std::int32_t ndf = 0;
  std::int32_t nMeas = 0;
  std::int32_t nOutliers = 0;
  std::int32_t nHoles = 0;
  std::int64_t nBranches = 0;
  std::int64_t nPropagations = 0;
  std::int64_t nChi2Tests = 0;
  std::int64_t maxLiveBranches = 0;
  /// A branch was dropped below the selector's pT cut (a seed without a
  /// track then counts as not selected, not failed).
  bool droppedLowPt = false;
};

/// A compatible measurement: its predicted state on its own surface.
struct Candidate {
  double chi2 = 0.0;
  std::int64_t meas = -1;
  /// Path from the layer crossing to the measurement's surface [mm].
  double path = 0.0;
  State st;
  FreeVector free{};
};

/// Per-thread scratch space of the search.
struct Workspace {
  std::vector<Node> nodes;
  std::vector<Branch> live;
  std::vector<Branch> next;
  std::vector<Branch> tips;
  std::vector<Candidate> candidates;
  std::vector<const Candidate*> overlap;
  std::vector<std::int64_t> outer;
  std::vector<std::int8_t> outerOutlier;
  std::vector<std::int64_t> refit;
  std::vector<std::int8_t> refitOutlier;
  /// The three measurements of the seed being followed.
  const std::int64_t* seed = nullptr;
  /// Scratch states, reused (a State is ~0.9 kB: zeroing fresh ones on every
  /// step and candidate was a tenth of the search's own time). Every field
  /// the search reads is written first.
  State stepState;
  State moduleState;
  Candidate stepCand;
  Candidate seedCand;
  Candidate overlapCand;
};

/// How far (in standard deviations) below the selector's pT cut a branch is dropped.
constexpr double kViableSigma = 5.0;

class SeedFinder {
 public:
  using Cfg = CombinatorialKalmanFilter::Config;

  SeedFinder(const Cfg& cfg, const SurfaceSet& set, const Navigator& nav,
             const MeasurementIndex& index,
             const CombinatorialKalmanFilter::Measurements& m,
             const CombinatorialKalmanFilter::Seeds& seeds)
      : m_cfg(cfg),
        m_set(set),
        m_nav(nav),
        m_index(index),
        m_m(m),
        m_seeds(seeds),
        m_prop(cfg.bFieldZ),
        m_perigee(Surface::perigee(cfg.beamX, cfg.beamY)),
        m_chi2Window(std::max(cfg.chi2CutOffMeasurement, cfg.chi2CutOffOutlier)) {}

  SeedResult run(std::size_t seed, Workspace& ws) const;

 private:
  int mask(std::int64_t i) const {
    return m_m.mask.empty() ? 3 : m_m.mask[static_cast<std::size_t>(i)];
  }
  const double* value(std::int64_t i) const {
    return &m_m.local[2 * static_cast<std::size_t>(i)];
  }
  const double* variance(std::int64_t i) const {
    return &m_m.cov[3 * static_cast<std::size_t>(i)];
  }
  std::size_t layerOf(std::int64_t i) const {
    return MeasurementIndex::layerOf(m_m, static_cast<std::size_t>(i));
  }
  /// The prediction `atLayer` (with free vector `free`) carried to the
  /// surface of measurement i (itself if i lies on the layer).
  bool predictOn(std::int64_t i, const State& atLayer, const FreeVector& free,
                 Candidate& out) const {
    const Surface& ms = surfaceOf(i);
    if (&ms == atLayer.surface) {
      out.st = atLayer;
      out.free = free;
      out.path = 0.0;
      return true;
    }
    // (a module next to the layer: a short step, forwards or back)
    const auto s = m_prop.intersect(ms, free, -kModuleStep);
    if (!s || std::abs(*s) > kModuleStep) {
      return false;
    }
    const auto pr = m_prop.propagateAlong(*atLayer.surface, atLayer.xp, free, ms, *s);
    if (!pr) {
      return false;
    }
    out.st.surface = &ms;
    out.st.xp = pr->params;
    out.st.pp = transportSimilarity(pr->jacobian, atLayer.pp);
    out.free = pr->free;
    out.path = *s;
    return true;
  }
  /// Branch b (on a module, after its material) carried on to the surface of
  /// measurement i of the same layer, forwards only; updated there if its
  /// chi2 passes (or always, for a seed measurement). @return true if updated
  bool updateOnModule(Branch& b, std::int64_t i, bool always, Workspace& ws,
                      SeedResult& res) const {
    const Surface& ms = surfaceOf(i);
    const auto pr = m_prop.propagate(*b.surface, b.x, b.f, ms, kMinPath);
    ++res.nPropagations;
    if (!pr || pr->pathLength > kModuleStep) {
      return false;
    }
    State& st = ws.moduleState;
    st.surface = &ms;
    st.xp = pr->params;
    st.pp = transportSimilarity(pr->jacobian, b.p);
    if (!always && (!residualAndChi2(st, value(i), variance(i), mask(i)) ||
                    !(st.chi2 < m_cfg.chi2CutOffMeasurement))) {
      return false;
    }
    // (update changes b only when it succeeds)
    const std::int32_t parent = b.tip;
    if (!update(st, i, pr->free, b)) {
      return false;
    }
    ws.nodes.push_back(Node{parent, 0, i, st.chi2});
    b.tip = static_cast<std::int32_t>(ws.nodes.size() - 1);
    b.path += pr->pathLength;
    return true;
  }
  /// Branch b, on a module of `layer`: the best compatible measurement of
  /// every other module of the layer ahead of it (overlapping modules),
  /// taken in the order the track meets them.
  /// (`taken`: measurements already on the track, not taken again)
  void overlapsOnLayer(Branch& b, std::size_t layer, Workspace& ws, SeedResult& res,
                       const std::vector<std::int64_t>* taken = nullptr) const {
    if (!m_index.layered) {
      return;
    }
    const Surface& lay = m_set[layer];
    const double x = b.f[eFreePos0] - lay.center[0];
    const double y = b.f[eFreePos1] - lay.center[1];
    const double r = std::max(norm2(x, y), 1e-9);
    const double phi = std::atan2(y, x);
    const std::size_t kc = m_index.keyCoord[layer];
    const bool disk = lay.type == SurfaceType::eDisk;
    // the other module's hit lies within the overlap window, plus the
    // layer's thickness times the track's slope
    const double lc[2] = {disk ? r : lay.radius * phi, disk ? phi : b.f[eFreePos2]};
    double slope[2] = {0.0, 0.0};
    layerSlopes(lay, b.f, slope);
    const double depth = m_index.offsetRange[2 * layer + 1] - m_index.offsetRange[2 * layer];
    // (b's covariance is in its module's frame: the larger variance serves)
    const double pv = std::max(b.p(0, 0), b.p(1, 1));
    double w[2];
    for (std::size_t k = 0; k < 2; ++k) {
      const double scale = disk && k == 1 ? 1.0 / (r * r) : 1.0;
      w[k] = std::sqrt(m_chi2Window * (pv * scale + m_index.maxVar[2 * layer + k])) +
             std::abs(slope[k]) * depth;
    }
    const std::size_t ko = 1 - kc;
    auto& found = ws.candidates;
    found.clear();
    m_index.visitBox(layer, lc[kc] - w[kc], lc[kc] + w[kc], lay.period(kc), lc[ko], w[ko],
                     lay.period(ko), [&](std::int64_t i) {
      const Surface& ms = surfaceOf(i);
      if (&ms == b.surface || i == ws.seed[0] || i == ws.seed[1] || i == ws.seed[2]) {
        return;  // (the seed's own measurements come in their turn)
      }
      if (taken != nullptr && std::find(taken->begin(), taken->end(), i) != taken->end()) {
        return;
      }
      const auto pr = m_prop.propagate(*b.surface, b.x, b.f, ms, kMinPath);
      ++res.nPropagations;
      if (!pr || pr->pathLength > kModuleStep) {
        return;
      }
      Candidate& c = ws.overlapCand;
      c.st.surface = &ms;
      c.st.xp = pr->params;
      c.st.pp = transportSimilarity(pr->jacobian, b.p);
      if (!residualAndChi2(c.st, value(i), variance(i), mask(i))) {
        return;
      }
      ++res.nChi2Tests;
      if (!(c.st.chi2 < m_cfg.chi2CutOffMeasurement)) {
        return;
      }
      c.chi2 = c.st.chi2;
      c.meas = i;
      c.path = pr->pathLength;
      for (auto& o : found) {
        if (o.st.surface == &ms) {
          if (c.chi2 < o.chi2 || (c.chi2 == o.chi2 && c.meas < o.meas)) {
            o = c;
          }
          return;
        }
      }
      found.push_back(c);
    });
    std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& z) {
      return a.path < z.path || (a.path == z.path && a.meas < z.meas);
    });
    for (const auto& c : found) {
      updateOnModule(b, c.meas, false, ws, res);
    }
  }
  /// d(layer coordinate) / d(offset along the layer's normal) of a track
  /// crossing the layer with free state g.
  static void layerSlopes(const Surface& layer, const FreeVector& g, double* slope) {
    const double x = g[eFreePos0] - layer.center[0];
    const double y = g[eFreePos1] - layer.center[1];
    const double r = std::max(norm2(x, y), 1e-9);
    const double tr = (x * g[eFreeDir0] + y * g[eFreeDir1]) / r;   // radial
    const double tt = (x * g[eFreeDir1] - y * g[eFreeDir0]) / r;   // tangential
    const double tz = g[eFreeDir2];
    constexpr double kMax = 1e3;
    auto ratio = [&](double a, double n) {
      // a / n, limited to +-kMax (a track grazing the layer)
      return std::abs(n) * kMax > std::abs(a) ? a / n : (a * n < 0.0 ? -kMax : kMax);
    };
    if (layer.type == SurfaceType::eCylinder) {
      slope[0] = ratio(tt, tr);  // R phi
      slope[1] = ratio(tz, tr);  // z
    } else {
      slope[0] = ratio(tr, tz);          // r
      slope[1] = ratio(tt, tz) / r;      // phi
    }
  }
  /// A branch whose pT lies more than kViableSigma standard deviations (of
  /// its q/p) below the selector's ptMin cannot give a selected track.
  bool viable(const Branch& c) const {
    const double ptMin = m_cfg.selector.ptMin;
    const double sinT = std::abs(std::sin(c.x[eBoundTheta]));
    const double aq = std::abs(c.x[eBoundQOverP]);
    if (!(ptMin > 0.0) || sinT >= ptMin * aq) {
      return true;
    }
    const double sq = std::sqrt(std::max(c.p(eBoundQOverP, eBoundQOverP), 0.0));
    return sinT >= ptMin * (aq - kViableSigma * sq);
  }
  const Surface& surfaceOf(std::int64_t i) const {
    return m_set[static_cast<std::size_t>(m_m.surfaceId[static_cast<std::size_t>(i)])];
  }

  /// Kalman update of st (prediction set) with measurement i; material of
  /// the surface then applied to the branch state. @return false on a
  /// numerical failure
  bool update(State& st, std::int64_t i, const FreeVector& predictedFree,
              Branch& b) const;
  /// The measurement search and branching on one surface.
  void step(Branch& b, Workspace& ws, SeedResult& res) const;
  void finish(Branch& b, Workspace& ws) const;
  /// Run one pass from `start`; the best trimmed tip, or nothing.
  std::optional<Branch> pass(const Branch& start, Workspace& ws,
                             SeedResult& res) const;
  double pathLimit(const BoundVector& x) const {
    const double w = std::abs(x[eBoundQOverP] * m_cfg.bFieldZ);
    return w > 0.0 ? m_cfg.loopFraction * 2.0 * kPi / w
                   : std::numeric_limits<double>::infinity();
  }

  const Cfg& m_cfg;
  const SurfaceSet& m_set;
  const Navigator& m_nav;
  const MeasurementIndex& m_index;
  const CombinatorialKalmanFilter::Measurements& m_m;
  const CombinatorialKalmanFilter::Seeds& m_seeds;
  HelixPropagator m_prop;
  Surface m_perigee;
  double m_chi2Window;
};

bool SeedFinder::update(State& st, std::int64_t i, const FreeVector& predictedFree,
                        Branch& b) const {
  if (!residualAndChi2(st, value(i), variance(i), mask(i))) {
    return false;
  }
  if (st.dim == 2) {
    gainUpdate<2>(st, variance(i));
  } else {
    gainUpdate<1>(st, variance(i));
  }
  normalizeDirection(st.xf);
  if (!positiveDiagonal(st.pf) || !allFinite(st.pf) || !allFinite(st.xf)) {
    return false;
  }
  b.surface = st.surface;
  b.sm = st.surface;
  b.xm = st.xf;
  b.pm = st.pf;
  b.x = st.xf;
  b.p = st.pf;
  b.f = st.surface->boundToFreeNear(st.xf, st.xp, predictedFree);
  if (m_cfg.multipleScattering) {
    addScattering(b.p, *st.surface, b.f, b.x[eBoundQOverP], m_cfg.mass);
  }
  b.chi2 += st.chi2;
  b.dims += static_cast<std::int32_t>(st.dim);
  ++b.nMeas;
  b.nConsecutiveHoles = 0;
  return true;
}

void SeedFinder::finish(Branch& b, Workspace& ws) const {
  if (b.seedNext < 3) {
    return;  // the seed's own measurements were not all reached
  }
  // Trim trailing holes and outliers (ACTS trimTrack).
  while (b.tip >= 0 && ws.nodes[static_cast<std::size_t>(b.tip)].type != 0) {
    const Node& n = ws.nodes[static_cast<std::size_t>(b.tip)];
    if (n.type == 2) {
      --b.nHoles;
    } else {
      --b.nOutliers;
    }
    b.tip = n.parent;
  }
  ws.tips.push_back(b);
}

void SeedFinder::step(Branch& b, Workspace& ws, SeedResult& res) const {
  if (b.nSteps >= m_cfg.maxSteps) {
    finish(b, ws);
    return;
  }
  if (b.seedNext < 3 && layerOf(ws.seed[b.seedNext]) == static_cast<std::size_t>(b.layer)) {
    // the next seed measurement is on another module of the layer just reached
    Branch child = b;
    if (updateOnModule(child, ws.seed[b.seedNext], true, ws, res)) {
      ++child.seedNext;
      ++res.nBranches;
      ws.next.push_back(child);
    }
    return;
  }
  // The inward pass ends at the point of closest approach to the beam line,
  // where the transverse distance to it stops decreasing.
  auto towardBeam = [&](const FreeVector& g) {
    return (g[eFreePos0] - m_cfg.beamX) * g[eFreeDir0] +
               (g[eFreePos1] - m_cfg.beamY) * g[eFreeDir1] < 0.0;
  };
  if (b.inward && !towardBeam(b.f)) {
    finish(b, ws);
    return;
  }
  // Stay on seed: the layer of the next seed measurement is crossed (the
  // seed's hit is on it) even where the prediction passes just outside its
  // bounds; otherwise the branch would wander on without it.
  const std::int64_t seedLayer =
      b.seedNext < 3 ? static_cast<std::int64_t>(layerOf(ws.seed[b.seedNext])) : -1;
  const auto nav = m_nav.next(m_prop, b.f, b.pathLimit - b.path, b.layer, seedLayer);
  if (!nav) {
    finish(b, ws);
    return;
  }
  const Surface& target = m_set[nav->surface];
  const bool passive = m_index.passive[nav->surface] != 0;
  if (!passive) {
    b.layer = static_cast<std::int64_t>(nav->surface);
  }
  const auto pr = m_prop.propagateAlong(*b.surface, b.x, b.f, target, nav->path);
  ++res.nPropagations;
  if (!pr || (b.inward && !towardBeam(pr->free))) {
    finish(b, ws);
    return;
  }
  State& st = ws.stepState;
  st.surface = &target;
  st.xp = pr->params;
  st.pp = transportSimilarity(pr->jacobian, b.p);
  b.path += nav->path;
  ++b.nSteps;
  // b carried on to the surface without a measurement: the prediction, then
  // the surface's material (b is not used after its step)
  auto carryOn = [&]() {
    b.surface = &target;
    b.x = st.xp;
    b.p = st.pp;
    b.f = pr->free;
    if (m_cfg.multipleScattering) {
      addScattering(b.p, target, b.f, b.x[eBoundQOverP], m_cfg.mass);
    }
  };
  if (passive) {
    carryOn();
    ws.next.push_back(b);
    return;
  }

  auto addNode = [&](std::int32_t parentTip, std::int8_t type, std::int64_t meas, double chi2) {
    ws.nodes.push_back(Node{parentTip, type, meas, chi2});
    return static_cast<std::int32_t>(ws.nodes.size() - 1);
  };
  // Stay on seed: on the module of the next seed measurement only that
  // measurement is taken (the seed defines the track there); other modules
  // of the layer are searched as usual (overlaps).
  Candidate& seedCand = ws.seedCand;
  const bool seedHere = seedLayer == static_cast<std::int64_t>(nav->surface);
  if (seedHere) {
    const std::int64_t i = ws.seed[b.seedNext];
    if (!predictOn(i, st, pr->free, seedCand) ||
        !residualAndChi2(seedCand.st, value(i), variance(i), mask(i))) {
      return;  // the seed cannot be followed: the branch ends without a track
    }
    seedCand.meas = i;
    seedCand.chi2 = seedCand.st.chi2;
  }

  // ---- candidates inside the window, chi2-tested on their own surface ----
  auto& cands = ws.candidates;
  cands.clear();
  double bestOutlier = m_cfg.chi2CutOffOutlier;
  std::int64_t outlier = -1;
  const std::size_t sid = nav->surface;
  Candidate& c = ws.stepCand;
  auto test = [&](std::int64_t i) {
    if (!predictOn(i, st, pr->free, c) ||
        !residualAndChi2(c.st, value(i), variance(i), mask(i))) {
      return;
    }
    ++res.nChi2Tests;
    if (c.st.chi2 < m_cfg.chi2CutOffMeasurement) {
      c.chi2 = c.st.chi2;
      c.meas = i;
      cands.push_back(c);
    } else if (c.st.chi2 < bestOutlier) {
      bestOutlier = c.st.chi2;
      outlier = i;
    }
  };
  if (m_cfg.searchWindow) {
    const std::size_t kc = m_index.keyCoord[sid];
    const std::size_t ko = 1 - kc;
    // Measurements off the layer (by d in [dMin, dMax] along its normal) are
    // met where the track is displaced by d * slope on the layer.
    double slope[2] = {0.0, 0.0};
    const double dMin = m_index.offsetRange[2 * sid];
    const double dMax = m_index.offsetRange[2 * sid + 1];
    if (m_index.layered && (dMin != 0.0 || dMax != 0.0)) {
      layerSlopes(target, pr->free, slope);
    }
    auto range = [&](std::size_t k, double w) {
      const double a = dMin * slope[k];
      const double z = dMax * slope[k];
      return std::pair<double, double>{st.xp[k] + std::min(a, z) - w,
                                       st.xp[k] + std::max(a, z) + w};
    };
    const auto [lo, hi] =
        range(kc, std::sqrt(m_chi2Window * (st.pp(kc, kc) + m_index.maxVar[2 * sid + kc])));
    const auto [loO, hiO] =
        range(ko, std::sqrt(m_chi2Window * (st.pp(ko, ko) + m_index.maxVar[2 * sid + ko])));
    const double periodO = target.period(ko);
    const double midO = 0.5 * (loO + hiO);
    const double halfO = 0.5 * (hiO - loO);
    // (the marginal chi2 of one coordinate never exceeds the full one)
    m_index.visitBox(sid, lo, hi, target.period(kc), midO, halfO, periodO, test);
  } else {
    for (auto k = m_index.offsets[sid]; k < m_index.offsets[sid + 1]; ++k) {
      test(m_index.order[static_cast<std::size_t>(k)]);
    }
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& z) {
    return a.chi2 < z.chi2 || (a.chi2 == z.chi2 && a.meas < z.meas);
  });
  if (cands.size() > m_cfg.numMeasurementsCutOff) {
    cands.resize(m_cfg.numMeasurementsCutOff);
  }

  auto keep = [&](Branch& child) {
    ++res.nBranches;
    if (!viable(child)) {
      res.droppedLowPt = true;
      return;  // (dropped: it cannot pass the selection's pT cut)
    }
    if (transverseMomentum(child.x) < m_cfg.minPt) {
      finish(child, ws);
    } else {
      ws.next.push_back(child);
    }
  };
  // A child per candidate; with it, the best compatible measurement of every
  // other module of the layer (overlapping modules, as ACTS's navigator visits
  // every module), in the order the track meets them.
  auto& overlap = ws.overlap;
  auto branchWith = [&](const Candidate& cand) -> std::optional<Branch> {
    overlap.clear();
    if (m_index.layered) {
      for (const auto& o : cands) {
        const Surface* s = &surfaceOf(o.meas);
        if (s == &surfaceOf(cand.meas) ||
            std::any_of(overlap.begin(), overlap.end(),
                        [&](const Candidate* q) { return &surfaceOf(q->meas) == s; })) {
          continue;
        }
        overlap.push_back(&o);
      }
    }
    if (seedHere) {
      // The seed's measurement goes first: with the seed's loose start a
      // neighbour before it would be taken untested. Those after it are
      // tested from the state the seed measurement gives.
      std::erase_if(overlap, [&](const Candidate* q) { return q->path < cand.path; });
    }
    overlap.push_back(&cand);
    std::sort(overlap.begin(), overlap.end(), [](const Candidate* a, const Candidate* z) {
      return a->path < z->path || (a->path == z->path && a->meas < z->meas);
    });
    Branch child = b;
    // the first one from the layer's prediction, the others module to module
    State first = overlap.front()->st;
    if (!update(first, overlap.front()->meas, overlap.front()->free, child)) {
      return std::nullopt;  // a numerically failing branch is dropped
    }
    child.tip = addNode(b.tip, 0, overlap.front()->meas, first.chi2);
    for (std::size_t k = 1; k < overlap.size(); ++k) {
      // (the seed measurement is always taken)
      updateOnModule(child, overlap[k]->meas, overlap[k] == &cand && seedHere, ws, res);
    }
    return child;
  };
  if (seedHere) {
    std::erase_if(cands, [&](const Candidate& o) {
      return &surfaceOf(o.meas) == &surfaceOf(seedCand.meas);
    });
    if (auto child = branchWith(seedCand)) {
      ++child->seedNext;
      keep(*child);
    }
    return;
  }
  if (!cands.empty()) {
    for (const auto& cand : cands) {
      if (auto child = branchWith(cand)) {
        keep(*child);
      }
    }
    return;
  }
  // Outlier or hole: the prediction (and the material) carries on.
  const std::int32_t parentTip = b.tip;
  carryOn();
  Branch& child = b;
  bool stop = false;
  if (outlier >= 0) {
    child.tip = addNode(parentTip, 1, outlier, bestOutlier);
    ++child.nOutliers;
    stop = static_cast<std::uint32_t>(child.nOutliers) > m_cfg.maxOutliers;
  } else {
    child.tip = addNode(parentTip, 2, -1, 0.0);
    ++child.nHoles;
    ++child.nConsecutiveHoles;
    stop = static_cast<std::uint32_t>(child.nHoles) > m_cfg.maxHoles ||
           static_cast<std::uint32_t>(child.nConsecutiveHoles) >
               m_cfg.maxConsecutiveHoles;
  }
  if (stop) {
    ++res.nBranches;
    finish(child, ws);
  } else {
    keep(child);
  }
}

std::optional<Branch> SeedFinder::pass(const Branch& start, Workspace& ws,
                                       SeedResult& res) const {
  ws.live.clear();
  ws.tips.clear();
  ws.live.push_back(start);
  const std::size_t cap = m_cfg.maxBranchesPerSeed;
  while (!ws.live.empty()) {
    ws.next.clear();
    for (auto& b : ws.live) {
      step(b, ws, res);
    }
    if (ws.next.size() > cap) {
      std::partial_sort(ws.next.begin(), ws.next.begin() + static_cast<std::ptrdiff_t>(cap),
                        ws.next.end(), better);
      ws.next.resize(cap);
    }
    res.maxLiveBranches = std::max(res.maxLiveBranches,
                                   static_cast<std::int64_t>(ws.next.size()));
    std::swap(ws.live, ws.next);
  }
  if (ws.tips.empty()) {
    return std::nullopt;
  }
  return *std::min_element(ws.tips.begin(), ws.tips.end(), better);
}

SeedResult SeedFinder::run(std::size_t seed, Workspace& ws) const {
  SeedResult res;
  ws.nodes.clear();
  // ---- the seed's own measurements, from the perigee ----
  Branch b;
  b.surface = &m_perigee;
  for (std::size_t k = 0; k < eBoundSize; ++k) {
    b.x[k] = m_seeds.params[5 * seed + k];
  }
  for (std::size_t k = 0; k < 25; ++k) {
    b.p.v[k] = m_seeds.cov[25 * seed + k];
  }
  symmetrize(b.p);
  b.f = m_perigee.boundToFree(b.x);
  ws.seed = &m_seeds.measurements[3 * seed];
  {
    const std::int64_t i = ws.seed[0];
    const Surface& target = surfaceOf(i);
    const auto pr = m_prop.propagate(*b.surface, b.x, b.f, target, kMinPath);
    ++res.nPropagations;
    if (!pr) {
      return res;
    }
    State st;
    st.surface = &target;
    st.xp = pr->params;
    st.pp = transportSimilarity(pr->jacobian, b.p);
    if (!update(st, i, pr->free, b)) {
      return res;
    }
    ws.nodes.push_back(Node{b.tip, 0, i, st.chi2});
    b.tip = static_cast<std::int32_t>(ws.nodes.size() - 1);
  }
  // ---- outward pass from the seed's inner measurement, through the
  // other two ----
  b.seedNext = 1;
  b.layer = static_cast<std::int64_t>(layerOf(ws.seed[0]));
  // the bottom's layer: overlapping modules ahead (outwards); those behind
  // come with the inward pass
  overlapsOnLayer(b, layerOf(ws.seed[0]), ws, res);
  b.pathLimit = pathLimit(b.x);
  b.path = 0.0;
  const auto outward = pass(b, ws, res);
  if (!outward) {
    if (res.droppedLowPt) {
      res.status = CkfSeedStatus::eNotSelected;
    }
    return res;
  }
  auto& outer = ws.outer;  // measurement states, outermost first
  auto& outerOutlier = ws.outerOutlier;
  outer.clear();
  outerOutlier.clear();
  for (std::int32_t t = outward->tip; t >= 0;) {
    const Node& n = ws.nodes[static_cast<std::size_t>(t)];
    if (n.type != 2) {
      outer.push_back(n.meas);
      outerOutlier.push_back(n.type == 1 ? 1 : 0);
    }
    t = n.parent;
  }

  // ---- backward re-filter down to the seed's inner measurement: the
  // state there then carries the information of every measurement ----
  Branch in;
  in.surface = outward->sm;
  in.x = outward->xm;
  in.p = outward->pm;
  for (auto& v : in.p.v) {
    v *= 100.0;  // forget most of what the outward filter knew
  }
  flip(in.x, in.p);
  in.f = in.surface->boundToFree(in.x);
  // The seed stage takes the seed's own measurement first on the middle and
  // top layers, so modules of those layers met before it were not searched:
  // with the full information of the re-filter they are now (overlaps).
  auto& refit = ws.refit;
  auto& refitOutlier = ws.refitOutlier;
  refit.clear();
  refitOutlier.clear();
  std::int32_t addedMeas = 0;
  std::int32_t addedDims = 0;
  std::int32_t addedOutliers = 0;
  bool first = true;
  // An outlier bottom: the track's inner end is the middle measurement's
  // state carried to the bottom's surface; no inward search from there (the
  // seed's bottom layer is where it went wrong, and the prediction there can
  // be wide enough to take the whole layer as overlap candidates).
  bool bottomOutlier = false;
  for (std::size_t k = 0; k < outer.size(); ++k) {
    refit.push_back(outer[k]);
    refitOutlier.push_back(outerOutlier[k]);
    if (outerOutlier[k] != 0) {
      continue;
    }
    const std::int64_t i = outer[k];
    const Surface& target = surfaceOf(i);
    State st;
    st.surface = &target;
    FreeVector predictedFree = in.f;
    const bool first0 = first;
    if (first) {
      st.xp = in.x;
      st.pp = in.p;
      first = false;
    } else {
      const auto pr = m_prop.propagate(*in.surface, in.x, in.f, target, kMinPath);
      ++res.nPropagations;
      if (!pr) {
        return res;
      }
      st.xp = pr->params;
      st.pp = transportSimilarity(pr->jacobian, in.p);
      predictedFree = pr->free;
    }
    const bool seedMeasurement = i == ws.seed[1] || i == ws.seed[2];
    if (!first0 && (seedMeasurement || i == ws.seed[0])) {
      // The seed's own measurements, taken untested by the seed stage (the
      // bottom against the seed's own prior), are tested with the
      // information of the outer measurements: one beyond the outlier cut is
      // an outlier (a seed with a wrong hit), and the prediction carries on
      // through its surface and material.
      if (!residualAndChi2(st, value(i), variance(i), mask(i))) {
        return res;
      }
      if (!(st.chi2 < m_cfg.chi2CutOffOutlier)) {
        bottomOutlier = i == ws.seed[0];
        in.surface = &target;
        in.x = st.xp;
        in.p = st.pp;
        in.f = predictedFree;
        if (m_cfg.multipleScattering) {
          addScattering(in.p, target, in.f, in.x[eBoundQOverP], m_cfg.mass);
        }
        refitOutlier.back() = 1;
        --addedMeas;
        addedDims -= static_cast<std::int32_t>(st.dim);
        ++addedOutliers;
        continue;
      }
    }
    if (!update(st, i, predictedFree, in)) {
      return res;
    }
    if (m_index.layered && seedMeasurement) {
      const std::int32_t n0 = in.nMeas;
      const std::int32_t d0 = in.dims;
      in.tip = -1;
      overlapsOnLayer(in, layerOf(i), ws, res, &outer);
      const std::size_t mark = refit.size();
      for (std::int32_t t = in.tip; t >= 0; t = ws.nodes[static_cast<std::size_t>(t)].parent) {
        refit.push_back(ws.nodes[static_cast<std::size_t>(t)].meas);
        refitOutlier.push_back(0);
      }
      std::reverse(refit.begin() + static_cast<std::ptrdiff_t>(mark), refit.end());
      addedMeas += in.nMeas - n0;
      addedDims += in.dims - d0;
    }
  }
  std::swap(outer, refit);
  std::swap(outerOutlier, refitOutlier);
  // The track's chi2 is the two-way filter's: the re-filter's (outermost to
  // the seed's inner measurement) and then the inward pass's, one filter
  // through every measurement (the outward pass started from the seed's
  // prior and counted the seed's own measurements against it).
  const double refilterChi2 = in.chi2;
  // (update counted the re-filtered measurements: the inward pass counts
  // only what it adds)
  in.tip = -1;
  in.nMeas = 0;
  in.nOutliers = 0;
  in.nHoles = 0;
  in.nConsecutiveHoles = 0;
  in.dims = 0;
  in.chi2 = 0.0;
  in.nSteps = 0;
  in.path = 0.0;
  in.pathLimit = pathLimit(in.x);
  in.inward = true;
  in.layer = static_cast<std::int64_t>(layerOf(ws.seed[0]));
  const bool inwardSearch = m_cfg.twoWay && !bottomOutlier;
  if (inwardSearch) {
    overlapsOnLayer(in, layerOf(ws.seed[0]), ws, res);
  }

  Branch inner = in;
  if (inwardSearch) {
    const auto inward = pass(in, ws, res);
    if (inward) {
      inner = *inward;
    }
  }

  // ---- the candidate: inward states (innermost first), then outward ----
  for (std::int32_t t = inner.tip; t >= 0;) {
    const Node& n = ws.nodes[static_cast<std::size_t>(t)];
    if (n.type != 2) {
      res.measurements.push_back(n.meas);
      res.outlier.push_back(n.type == 1 ? 1 : 0);
    }
    t = n.parent;
  }
  res.measurements.insert(res.measurements.end(), outer.rbegin(), outer.rend());
  res.outlier.insert(res.outlier.end(), outerOutlier.rbegin(), outerOutlier.rend());
  res.nMeas = outward->nMeas + addedMeas + inner.nMeas;
  res.nOutliers = outward->nOutliers + addedOutliers + inner.nOutliers;
  res.nHoles = outward->nHoles + inner.nHoles;
  res.chi2 = refilterChi2 + inner.chi2;
  res.ndf = outward->dims + addedDims + inner.dims - 5;

  // ---- perigee parameters: the inward pass's state where it ended, past
  // the innermost measurement's material and the passive surfaces inside it
  // (the beam pipe), so their scattering is in the covariance. It carries the
  // information of every measurement: what a smoother would give there. ----
  BoundVector x = inner.x;
  BoundMatrix p = inner.p;
  flip(x, p);
  const auto pr = m_prop.propagate(*inner.surface, x, inner.surface->boundToFree(x), m_perigee,
                                   kMinPath);
  if (!pr) {
    return res;
  }
  res.params = pr->params;
  res.cov = transportSimilarity(pr->jacobian, p);

  // ---- track selection ----
  const TrackSelectorCuts& sel = m_cfg.selector;
  const double pt = transverseMomentum(res.params);
  const double absEta =
      std::abs(-std::log(std::tan(0.5 * res.params[eBoundTheta])));
  const double d0 = res.params[eBoundLoc0];
  const double z0 = res.params[eBoundLoc1];
  const double chi2Ndf = res.ndf > 0 ? res.chi2 / res.ndf : 0.0;
  const bool ok = pt >= sel.ptMin && pt <= sel.ptMax && absEta >= sel.absEtaMin &&
                  absEta <= sel.absEtaMax && d0 >= sel.loc0Min && d0 <= sel.loc0Max &&
                  z0 >= sel.loc1Min && z0 <= sel.loc1Max &&
                  static_cast<std::uint32_t>(res.nMeas) >= sel.nMeasurementsMin &&
                  static_cast<std::uint32_t>(res.nHoles) <= sel.maxHoles &&
                  static_cast<std::uint32_t>(res.nOutliers) <= sel.maxOutliers &&
                  chi2Ndf <= sel.maxChi2 && allFinite(res.cov);
  res.status = ok ? CkfSeedStatus::eTrack : CkfSeedStatus::eNotSelected;
  return res;
}

void checkMeasurements(const SurfaceSet& set,
                       const CombinatorialKalmanFilter::Measurements& m) {
  const std::string w = "CombinatorialKalmanFilter";
  const std::size_t n = m.surfaceId.size();
  if (m.local.size() != 2 * n || m.cov.size() != 3 * n ||
      (!m.mask.empty() && m.mask.size() != n)) {
    throw std::invalid_argument(w + ": measurements need local (M, 2), cov (M, 3) and mask (M) "
                                "for M = " + std::to_string(n) + " surface ids");
  }
  const bool layered = !m.layer.empty() || !m.layerLocal.empty() || !m.layerOffset.empty();
  if (layered && (m.layer.size() != n || m.layerLocal.size() != 2 * n || m.layerOffset.size() != n ||
                  (!m.layerVar.empty() && m.layerVar.size() != 2 * n))) {
    throw std::invalid_argument(w + ": layer, layer_local (M, 2) and layer_offset (M) go together, "
                                "for M = " + std::to_string(n) + " measurements");
  }
  for (const auto s : m.passive) {
    if (s < 0 || static_cast<std::size_t>(s) >= set.size()) {
      fail(w, "passive", s,
           ("must index one of the " + std::to_string(set.size()) + " surfaces").c_str());
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto s = m.surfaceId[i];
    // (the index text is built only for a message)
    auto at = [i]() { return indexText(i); };
    if (s < 0 || static_cast<std::size_t>(s) >= set.size()) {
      fail(w, std::string("surface_id") + at(), s,
           ("must index one of the " + std::to_string(set.size()) + " surfaces").c_str());
    }
    if (layered) {
      const auto l = m.layer[i];
      if (l < 0 || static_cast<std::size_t>(l) >= set.size()) {
        fail(w, std::string("layer") + at(), l,
             ("must index one of the " + std::to_string(set.size()) + " surfaces").c_str());
      }
      const auto type = set[static_cast<std::size_t>(l)].type;
      if (type != SurfaceType::eCylinder && type != SurfaceType::eDisk) {
        fail(w, std::string("layer") + at(), l, "must be a cylinder or a disk");
      }
      if (!std::isfinite(m.layerLocal[2 * i]) || !std::isfinite(m.layerLocal[2 * i + 1]) ||
          !std::isfinite(m.layerOffset[i])) {
        fail(w, std::string("layer_local / layer_offset") + at(), m.layerOffset[i],
             "must be finite");
      }
    }
    const int mk = m.mask.empty() ? 3 : m.mask[i];
    if (mk < 1 || mk > 3) {
      fail(w, std::string("mask") + at(), mk, "must be 1 (loc0), 2 (loc1) or 3 (both)");
    }
    for (std::size_t c = 0; c < 2; ++c) {
      if ((mk & (1 << c)) == 0) {
        continue;
      }
      if (!std::isfinite(m.local[2 * i + c])) {
        fail(w, std::string("measurement") + at(), m.local[2 * i + c], "must be finite");
      }
      const double v = m.cov[3 * i + c];
      if (!(v > 0.0) || !std::isfinite(v)) {
        fail(w, std::string("measurement_cov") + at(), v, "variances must be finite and > 0");
      }
    }
    if (mk == 3) {
      const double c01 = m.cov[3 * i + 2];
      if (!std::isfinite(c01) || !(m.cov[3 * i] * m.cov[3 * i + 1] - c01 * c01 > 0.0)) {
        fail(w, std::string("measurement_cov") + at(), c01,
             "(cov01) must leave the covariance positive definite");
      }
    }
  }
}

void checkSeeds(const CombinatorialKalmanFilter::Measurements& m,
                const CombinatorialKalmanFilter::Seeds& s) {
  const std::string w = "CombinatorialKalmanFilter";
  const std::size_t n = s.measurements.size() / 3;
  if (s.measurements.size() != 3 * n || s.params.size() != 5 * n ||
      s.cov.size() != 25 * n) {
    throw std::invalid_argument(w + ": seeds need measurements (S, 3), params (S, 5) and cov "
                                "(S, 5, 5)");
  }
  const auto nM = static_cast<std::int64_t>(m.surfaceId.size());
  for (std::size_t k = 0; k < n; ++k) {
    auto at = [k]() { return indexText(k); };
    for (std::size_t j = 0; j < 3; ++j) {
      const auto i = s.measurements[3 * k + j];
      if (i < 0 || i >= nM) {
        fail(w, std::string("seeds") + at(), static_cast<double>(i),
             ("must index one of the " + std::to_string(nM) + " measurements").c_str());
      }
    }
    const auto sa = m.surfaceId[static_cast<std::size_t>(s.measurements[3 * k])];
    const auto sb = m.surfaceId[static_cast<std::size_t>(s.measurements[3 * k + 1])];
    const auto sc = m.surfaceId[static_cast<std::size_t>(s.measurements[3 * k + 2])];
    if (sa == sb || sb == sc || sa == sc) {
      fail(w, std::string("seeds") + at(), static_cast<double>(sa),
           "must have its three measurements on three distinct surfaces");
    }
    for (std::size_t j = 0; j < 5; ++j) {
      if (!std::isfinite(s.params[5 * k + j])) {
        fail(w, std::string("seed_params") + at(), s.params[5 * k + j], "must be finite");
      }
    }
    const double th = s.params[5 * k + eBoundTheta];
    if (!(th > 0.0 && th < kPi)) {
      fail(w, std::string("seed_params") + at() + " theta", th, "must be in (0, pi)");
    }
    for (std::size_t j = 0; j < 25; ++j) {
      if (!std::isfinite(s.cov[25 * k + j])) {
        fail(w, std::string("seed_cov") + at(), s.cov[25 * k + j], "must be finite");
      }
    }
    for (std::size_t j = 0; j < 5; ++j) {
      if (!(s.cov[25 * k + 6 * j] > 0.0)) {
        fail(w, std::string("seed_cov") + at(), s.cov[25 * k + 6 * j], "diagonal must be > 0");
      }
    }
  }
}

}  // namespace

void TrackSelectorCuts::validate() const {
  const std::string w = "TrackSelector";
  auto range = [&](const char* lo, double a, const char* hi, double b) {
    if (std::isnan(a)) {
      fail(w, lo, a, "must not be NaN");
    }
    if (std::isnan(b)) {
      fail(w, hi, b, "must not be NaN");
    }
    if (a > b) {
      fail(w, std::string(lo) + " <= " + hi, a, "must hold (min above max)");
    }
  };
  range("ptMin", ptMin, "ptMax", ptMax);
  range("absEtaMin", absEtaMin, "absEtaMax", absEtaMax);
  range("loc0Min", loc0Min, "loc0Max", loc0Max);
  range("loc1Min", loc1Min, "loc1Max", loc1Max);
  if (ptMin < 0.0) {
    fail(w, "ptMin", ptMin, "must be >= 0");
  }
  if (absEtaMin < 0.0) {
    fail(w, "absEtaMin", absEtaMin, "must be >= 0");
  }
  if (!(maxChi2 > 0.0)) {
    fail(w, "maxChi2", maxChi2, "must be > 0");
  }
}

void CombinatorialKalmanFilter::Config::validate() const {
  const std::string w = "CombinatorialKalmanFilter";
  if (!std::isfinite(bFieldZ) || bFieldZ == 0.0) {
    fail(w, "bFieldZ", bFieldZ, "must be finite and non-zero");
  }
  if (!(chi2CutOffMeasurement > 0.0) || !std::isfinite(chi2CutOffMeasurement)) {
    fail(w, "chi2CutOffMeasurement", chi2CutOffMeasurement, "must be finite and > 0");
  }
  if (!(chi2CutOffOutlier >= 0.0) || !std::isfinite(chi2CutOffOutlier)) {
    fail(w, "chi2CutOffOutlier", chi2CutOffOutlier, "must be finite and >= 0");
  }
  if (numMeasurementsCutOff < 1) {
    fail(w, "numMeasurementsCutOff", numMeasurementsCutOff, "must be >= 1");
  }
  if (maxBranchesPerSeed < 1) {
    fail(w, "maxBranchesPerSeed", maxBranchesPerSeed, "must be >= 1");
  }
  if (maxSteps < 1) {
    fail(w, "maxSteps", maxSteps, "must be >= 1");
  }
  if (!(minPt >= 0.0) || !std::isfinite(minPt)) {
    fail(w, "minPt", minPt, "must be finite and >= 0");
  }
  if (!(loopFraction > 0.0) || !std::isfinite(loopFraction)) {
    fail(w, "loopFraction", loopFraction, "must be finite and > 0");
  }
  if (!(mass > 0.0) || !std::isfinite(mass)) {
    fail(w, "mass", mass, "must be finite and > 0");
  }
  if (!std::isfinite(beamX) || !std::isfinite(beamY)) {
    fail(w, "beamX/beamY", std::isfinite(beamX) ? beamY : beamX, "must be finite");
  }
  selector.validate();
}

CombinatorialKalmanFilter::CombinatorialKalmanFilter(const Config& cfg,
                                                     const SurfaceSet& surfaces)
    : m_cfg(cfg), m_surfaces(surfaces) {
  m_cfg.validate();
}

CombinatorialKalmanFilter::Output CombinatorialKalmanFilter::findTracks(
    const Measurements& meas, const Seeds& seeds) const {
  checkMeasurements(m_surfaces, meas);
  checkSeeds(meas, seeds);
  const std::size_t nSeeds = seeds.measurements.size() / 3;
  const MeasurementIndex index(m_surfaces, meas);
  const Navigator nav(m_surfaces, index.navigable);
  const SeedFinder finder(m_cfg, m_surfaces, nav, index, meas, seeds);

  Output out;
  out.seedStatus.assign(nSeeds, static_cast<std::int8_t>(CkfSeedStatus::eDeduplicated));
  std::vector<std::uint8_t> onTrack(meas.surfaceId.size(), 0);
  auto covered = [&](std::size_t s) {
    return m_cfg.seedDeduplication && onTrack[static_cast<std::size_t>(seeds.measurements[3 * s])] &&
           onTrack[static_cast<std::size_t>(seeds.measurements[3 * s + 1])] &&
           onTrack[static_cast<std::size_t>(seeds.measurements[3 * s + 2])];
  };
  // Seeds are found independently; deduplication is then applied in seed
  // order (a seed covered by an earlier seed's track is dropped, as if
  // skipped), which gives the serial result for any thread count. Seeds
  // already covered when a block starts are not searched at all.
  auto accept = [&](std::size_t s, SeedResult& r) {
    if (covered(s)) {
      return;
    }
    // (work of the seeds that count: the same for any thread count)
    out.nBranches += r.nBranches;
    out.nPropagations += r.nPropagations;
    out.nChi2Tests += r.nChi2Tests;
    out.maxLiveBranches = std::max(out.maxLiveBranches, r.maxLiveBranches);
    out.seedStatus[s] = static_cast<std::int8_t>(r.status);
    if (r.status != CkfSeedStatus::eTrack) {
      return;
    }
    for (std::size_t k = 0; k < r.measurements.size(); ++k) {
      if (r.outlier[k] == 0) {
        onTrack[static_cast<std::size_t>(r.measurements[k])] = 1;
      }
    }
    out.measurements.insert(out.measurements.end(), r.measurements.begin(),
                            r.measurements.end());
    out.outlier.insert(out.outlier.end(), r.outlier.begin(), r.outlier.end());
    out.offsets.push_back(static_cast<std::int64_t>(out.measurements.size()));
    out.seed.push_back(static_cast<std::int64_t>(s));
    out.params.insert(out.params.end(), r.params.v.begin(), r.params.v.end());
    out.cov.insert(out.cov.end(), r.cov.v.begin(), r.cov.v.end());
    out.chi2.push_back(r.chi2);
    out.ndf.push_back(r.ndf);
    out.nMeasurements.push_back(r.nMeas);
    out.nOutliers.push_back(r.nOutliers);
    out.nHoles.push_back(r.nHoles);
  };
  const unsigned nThreads = resolveThreads(m_cfg.nThreads);
  if (nThreads == 1) {
    Workspace ws;
    for (std::size_t s = 0; s < nSeeds; ++s) {
      if (covered(s)) {
        continue;
      }
      SeedResult r = finder.run(s, ws);
      accept(s, r);
    }
    return out;
  }
  // Workers take seeds in order; finished seeds are committed (accepted or
  // dropped as duplicates) strictly in seed order, so the tracks are the
  // serial ones. A seed already covered by committed tracks when a worker
  // reaches it is not searched (it would be dropped at its commit anyway).
  std::vector<std::optional<SeedResult>> results(nSeeds);
  std::vector<std::uint8_t> done(nSeeds, 0);
  std::size_t commit = 0;
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr error;
  auto worker = [&]() {
    Workspace ws;
    for (;;) {
      const std::size_t s = next.fetch_add(1, std::memory_order_relaxed);
      if (s >= nSeeds) {
        return;
      }
      bool skip = false;
      {
        std::lock_guard<std::mutex> lock(mutex);
        skip = covered(s) || error != nullptr;
      }
      std::optional<SeedResult> r;
      if (!skip) {
        try {
          r = finder.run(s, ws);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!error) {
            error = std::current_exception();
          }
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      results[s] = std::move(r);
      done[s] = 1;
      while (commit < nSeeds && done[commit] != 0) {
        if (results[commit]) {
          accept(commit, *results[commit]);
          results[commit].reset();
        }
        ++commit;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned k = 1; k < nThreads; ++k) {
    threads.emplace_back(worker);
  }
  worker();
  for (auto& th : threads) {
    th.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
  return out;
}

void GreedyAmbiguityResolution::Config::validate() const {
  if (maximumSharedHits < 1) {
    fail("GreedyAmbiguityResolution", "maximumSharedHits", maximumSharedHits, "must be >= 1");
  }
}

std::vector<std::int64_t> GreedyAmbiguityResolution::resolve(
    const Config& cfg, std::span<const std::int64_t> offsets,
    std::span<const std::int64_t> measurements, std::span<const double> chi2PerNdf) {
  cfg.validate();
  if (offsets.empty() || offsets.front() != 0 ||
      static_cast<std::size_t>(offsets.back()) != measurements.size() ||
      chi2PerNdf.size() + 1 != offsets.size()) {
    throw std::invalid_argument(
        "GreedyAmbiguityResolution: offsets must start at 0 and end at len(measurements), "
        "with one chi2/ndf per track");
  }
  const std::size_t n = chi2PerNdf.size();
  std::int64_t maxMeas = -1;
  for (std::size_t t = 0; t < n; ++t) {
    if (offsets[t + 1] < offsets[t]) {
      throw std::invalid_argument("GreedyAmbiguityResolution: offsets must not decrease");
    }
  }
  for (const auto m : measurements) {
    if (m < 0) {
      throw std::invalid_argument("GreedyAmbiguityResolution: measurement indices must be >= 0");
    }
    maxMeas = std::max(maxMeas, m);
  }
  std::vector<std::int32_t> tracksPerMeas(static_cast<std::size_t>(maxMeas + 1), 0);
  std::vector<std::uint8_t> selected(n, 0);
  std::vector<std::size_t> nMeas(n, 0);
  for (std::size_t t = 0; t < n; ++t) {
    nMeas[t] = static_cast<std::size_t>(offsets[t + 1] - offsets[t]);
    if (nMeas[t] < cfg.nMeasurementsMin || nMeas[t] == 0) {
      continue;
    }
    selected[t] = 1;
    for (auto k = offsets[t]; k < offsets[t + 1]; ++k) {
      ++tracksPerMeas[static_cast<std::size_t>(measurements[static_cast<std::size_t>(k)])];
    }
  }
  std::vector<std::size_t> shared(n, 0);
  auto recount = [&](std::size_t t) {
    std::size_t c = 0;
    for (auto k = offsets[t]; k < offsets[t + 1]; ++k) {
      c += tracksPerMeas[static_cast<std::size_t>(measurements[static_cast<std::size_t>(k)])] > 1;
    }
    shared[t] = c;
  };
  for (std::size_t t = 0; t < n; ++t) {
    if (selected[t]) {
      recount(t);
    }
  }
  // Tracks sharing a measurement with track t (to update after removals).
  std::vector<std::vector<std::size_t>> users(tracksPerMeas.size());
  for (std::size_t t = 0; t < n; ++t) {
    if (!selected[t]) {
      continue;
    }
    for (auto k = offsets[t]; k < offsets[t + 1]; ++k) {
      const auto m = static_cast<std::size_t>(measurements[static_cast<std::size_t>(k)]);
      if (tracksPerMeas[m] > 1) {
        users[m].push_back(t);
      }
    }
  }
  // worse(a, b): a should be removed before b (shared fractions compared
  // exactly, by cross-multiplication).
  auto worse = [&](std::size_t a, std::size_t b) {
    const std::size_t ra = shared[a] * nMeas[b];
    const std::size_t rb = shared[b] * nMeas[a];
    if (ra != rb) {
      return ra > rb;
    }
    if (nMeas[a] != nMeas[b]) {
      return nMeas[a] < nMeas[b];
    }
    if (chi2PerNdf[a] != chi2PerNdf[b]) {
      return chi2PerNdf[a] > chi2PerNdf[b];
    }
    return a > b;
  };
  // Tracks that share measurements, worst first (only they can be removed),
  // and a histogram of the shared counts for the stop test.
  std::set<std::size_t, decltype(worse)> sharing(worse);
  std::size_t maxMeasPerTrack = 0;
  for (std::size_t t = 0; t < n; ++t) {
    maxMeasPerTrack = std::max(maxMeasPerTrack, nMeas[t]);
  }
  std::vector<std::size_t> hist(maxMeasPerTrack + 2, 0);
  std::size_t maxShared = 0;
  for (std::size_t t = 0; t < n; ++t) {
    if (!selected[t]) {
      continue;
    }
    ++hist[shared[t]];
    maxShared = std::max(maxShared, shared[t]);
    if (shared[t] > 0) {
      sharing.insert(t);
    }
  }
  for (std::uint32_t it = 0; it < cfg.maximumIterations; ++it) {
    while (maxShared > 0 && hist[maxShared] == 0) {
      --maxShared;
    }
    if (sharing.empty() || maxShared < cfg.maximumSharedHits) {
      break;
    }
    const std::size_t bad = *sharing.begin();
    sharing.erase(sharing.begin());
    --hist[shared[bad]];
    selected[bad] = 0;
    for (auto k = offsets[bad]; k < offsets[bad + 1]; ++k) {
      const auto m = static_cast<std::size_t>(measurements[static_cast<std::size_t>(k)]);
      if (--tracksPerMeas[m] != 1) {
        continue;
      }
      // the one track left on m no longer shares it
      for (const auto u : users[m]) {
        if (!selected[u]) {
          continue;
        }
        sharing.erase(u);
        --hist[shared[u]];
        --shared[u];
        ++hist[shared[u]];
        if (shared[u] > 0) {
          sharing.insert(u);
        }
      }
    }
  }
  std::vector<std::int64_t> kept;
  for (std::size_t t = 0; t < n; ++t) {
    if (selected[t]) {
      kept.push_back(static_cast<std::int64_t>(t));
    }
  }
  return kept;
}

}  // namespace helixkit
