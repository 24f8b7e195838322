#include "helixkit/Fitting/KalmanFitter.hpp"

#include "helixkit/Propagation/HelixPropagator.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace helixkit {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  std::string s = std::to_string(v);
  return s;
}

/// Everything one measurement state needs for the smoothers.
struct State {
  const Surface* surface = nullptr;
  BoundVector xp{};  // predicted
  BoundMatrix pp{};
  BoundVector xf{};  // filtered (before the material of this surface)
  BoundMatrix pf{};
  BoundMatrix jac{};  // from the previous post-material state to xp
  Mat<eBoundSize, 2> gain{};
  Mat<2, 2> sInv{};
  Vec<2> residual{};
  std::size_t idx[2] = {0, 0};
  std::size_t dim = 0;
  bool outlier = false;
  double chi2 = 0.0;
};

/// Gain-matrix update of st (predicted xp, pp, residual, sInv set) with a
/// kDim-dimensional measurement of covariance mc (var0, var1, cov01):
/// gain, filtered xf and pf (Joseph form).
template <std::size_t kDim>
void gainUpdate(State& st, const double* mc) {
  // K = P H^T S^-1; x_f = x_p + K r; P_f = P_p - K (H P_p).
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t a = 0; a < kDim; ++a) {
      double acc = 0.0;
      for (std::size_t b = 0; b < kDim; ++b) {
        acc += st.pp(r, st.idx[b]) * st.sInv(b, a);
      }
      st.gain(r, a) = acc;
    }
  }
  st.xf = st.xp;
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t a = 0; a < kDim; ++a) {
      st.xf[r] += st.gain(r, a) * st.residual[a];
    }
  }
  // Joseph form (I - KH) P (I - KH)^T + K V K^T: stays positive
  // definite even when V is many orders below P. A = I - KH differs
  // from the identity only in the measured columns, so
  //   A P       = P - K (H P),
  //   (A P) A^T = A P - (A P H^T) K^T,
  // O(dim) per element instead of 5 for a dense 5x5 similarity.
  Mat<2, 2> v{};  // V, the measurement covariance
  for (std::size_t a = 0; a < kDim; ++a) {
    for (std::size_t b = 0; b < kDim; ++b) {
      const std::size_t ia = st.idx[a];
      v(a, b) = ia == st.idx[b] ? mc[ia] : mc[2];
    }
  }
  BoundMatrix ap;  // A P
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t c = 0; c < eBoundSize; ++c) {
      double acc = st.pp(r, c);
      for (std::size_t a = 0; a < kDim; ++a) {
        acc -= st.gain(r, a) * st.pp(st.idx[a], c);
      }
      ap(r, c) = acc;
    }
  }
  Mat<eBoundSize, 2> kv{};  // K V
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t a = 0; a < kDim; ++a) {
      for (std::size_t b = 0; b < kDim; ++b) {
        kv(r, a) += st.gain(r, b) * v(b, a);
      }
    }
  }
  // Lower triangle of (A P) A^T + (K V) K^T, mirrored.
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t c = 0; c <= r; ++c) {
      double apat = ap(r, c);
      double kvk = 0.0;
      for (std::size_t a = 0; a < kDim; ++a) {
        apat -= ap(r, st.idx[a]) * st.gain(c, a);
        kvk += kv(r, a) * st.gain(c, a);
      }
      st.pf(r, c) = apat + kvk;
      st.pf(c, r) = st.pf(r, c);
    }
  }
}

/// MBF: the tilde quantities before the update at st from lam, bigLam
/// (lambda hat and Lambda hat after it), in place.
template <std::size_t kDim>
void mbfTilde(const State& st, BoundVector& lam, BoundMatrix& bigLam) {
  // With C = I - K H (identity but for the measured columns):
  //   C^T L C = M - (M K) H,  M = L - H^T (K^T L),
  //   C^T l   = l - H^T (K^T l),
  // then the update terms H^T S^-1 H and - H^T S^-1 r.
  Mat<2, eBoundSize> ktl{};  // K^T L
  Vec<2> ktv{};              // K^T l
  for (std::size_t a = 0; a < kDim; ++a) {
    for (std::size_t c = 0; c < eBoundSize; ++c) {
      double acc = 0.0;
      for (std::size_t r = 0; r < eBoundSize; ++r) {
        acc += st.gain(r, a) * bigLam(r, c);
      }
      ktl(a, c) = acc;
    }
    for (std::size_t r = 0; r < eBoundSize; ++r) {
      ktv[a] += st.gain(r, a) * lam[r];
    }
  }
  BoundMatrix m = bigLam;
  for (std::size_t a = 0; a < kDim; ++a) {
    for (std::size_t c = 0; c < eBoundSize; ++c) {
      m(st.idx[a], c) -= ktl(a, c);
    }
    lam[st.idx[a]] -= ktv[a];
  }
  Mat<eBoundSize, 2> mk{};  // M K
  for (std::size_t r = 0; r < eBoundSize; ++r) {
    for (std::size_t a = 0; a < kDim; ++a) {
      double acc = 0.0;
      for (std::size_t k = 0; k < eBoundSize; ++k) {
        acc += m(r, k) * st.gain(k, a);
      }
      mk(r, a) = acc;
    }
  }
  for (std::size_t a = 0; a < kDim; ++a) {
    for (std::size_t r = 0; r < eBoundSize; ++r) {
      m(r, st.idx[a]) -= mk(r, a);
    }
  }
  symmetrize(m);
  for (std::size_t a = 0; a < kDim; ++a) {
    double sr = 0.0;
    for (std::size_t b = 0; b < kDim; ++b) {
      m(st.idx[a], st.idx[b]) += st.sInv(a, b);
      sr += st.sInv(a, b) * st.residual[b];
    }
    lam[st.idx[a]] -= sr;
  }
  bigLam = m;
}

/// Highland multiple-scattering angle for |q| = 1 (PDG / ACTS form), for
/// momentum p and energy e.
double highlandTheta0(double xOverX0, double p, double e) {
  if (!(xOverX0 > 0.0) || !std::isfinite(p)) {
    return 0.0;
  }
  const double beta = p / e;
  const double corr = 1.0 + 0.038 * std::log(xOverX0 / (beta * beta));
  return 13.6 * UnitConstants::MeV / (beta * p) * std::sqrt(xOverX0) *
         std::max(corr, 0.0);
}

double wrapPeriod(double d, double period) {
  if (period > 0.0) {
    d = std::remainder(d, period);
  }
  return d;
}

/// a - b for bound vectors on the same surface (phi and cyclic local
/// coordinates wrapped).
BoundVector boundDifference(const BoundVector& a, const BoundVector& b,
                            const Surface& s) {
  BoundVector d = a - b;
  d[eBoundLoc0] = wrapPeriod(d[eBoundLoc0], s.period(0));
  d[eBoundLoc1] = wrapPeriod(d[eBoundLoc1], s.period(1));
  d[eBoundPhi] = wrapPhi(d[eBoundPhi]);
  return d;
}

/// All elements finite, without a branch per element: v * 0 is 0 for a
/// finite v and NaN for inf or NaN.
template <std::size_t R, std::size_t C>
bool allFinite(const Mat<R, C>& m) {
  double probe = 0.0;
  for (double v : m.v) {
    probe += v * 0.0;
  }
  return probe == 0.0;
}

bool positiveDiagonal(const BoundMatrix& m) {
  bool ok = true;
  for (std::size_t i = 0; i < eBoundSize; ++i) {
    ok &= m(i, i) > 0.0;
  }
  return ok;
}

/// The bound transport Jacobians of a helix in a field along z have two
/// trivial rows: theta is conserved, so the theta row is (0, 0, 0, 1, 0)
/// exactly (HelixPropagator sets it so), and q/p only changes through the
/// energy-loss factor, so the q/p row is (0, 0, 0, 0, J44). Only rows
/// loc0, loc1 and phi (kDense) are general; the products below use that.
constexpr std::size_t kDense = eBoundTheta;

/// The first R rows of A B for 5x5 A and B, summed over k row by row (the
/// loop over columns vectorises; the same sums as element by element).
template <std::size_t R>
Mat<R, eBoundSize> leadingRowsProduct(const BoundMatrix& a, const BoundMatrix& b) {
  Mat<R, eBoundSize> t;
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < eBoundSize; ++c) {
      t(r, c) = a(r, 0) * b(0, c);
    }
    for (std::size_t k = 1; k < eBoundSize; ++k) {
      const double ark = a(r, k);
      for (std::size_t c = 0; c < eBoundSize; ++c) {
        t(r, c) += ark * b(k, c);
      }
    }
  }
  return t;
}

/// J P J^T for such a Jacobian J and a symmetric P: 110 multiply-adds
/// instead of 200. Lower triangle computed, then mirrored (exactly
/// symmetric result).
BoundMatrix transportSimilarity(const BoundMatrix& j, const BoundMatrix& p) {
  constexpr std::size_t kT = eBoundTheta;
  constexpr std::size_t kQ = eBoundQOverP;
  // Rows 0..2 of J P (row 3 is P's row 3).
  const Mat<kDense, eBoundSize> jp = leadingRowsProduct<kDense>(j, p);
  const double j44 = j(kQ, kQ);
  BoundMatrix out;
  for (std::size_t a = 0; a < kDense; ++a) {
    for (std::size_t b = 0; b <= a; ++b) {
      double acc = 0.0;
      for (std::size_t k = 0; k < eBoundSize; ++k) {
        acc += jp(a, k) * j(b, k);
      }
      out(a, b) = acc;
      out(b, a) = acc;
    }
    // (J P J^T)(a, 3) = (J P)(a, 3); (J P J^T)(a, 4) = (J P)(a, 4) J44
    out(a, kT) = jp(a, kT);
    out(kT, a) = out(a, kT);
    out(a, kQ) = jp(a, kQ) * j44;
    out(kQ, a) = out(a, kQ);
  }
  out(kT, kT) = p(kT, kT);
  out(kT, kQ) = p(kT, kQ) * j44;
  out(kQ, kT) = out(kT, kQ);
  out(kQ, kQ) = j44 * p(kQ, kQ) * j44;
  return out;
}

/// J^T L J for the same kind of transport Jacobian and a symmetric L (the
/// MBF smoother's backward transport).
BoundMatrix transposeTransportSimilarity(const BoundMatrix& j,
                                         const BoundMatrix& l) {
  constexpr std::size_t kT = eBoundTheta;
  constexpr std::size_t kQ = eBoundQOverP;
  const double j44 = j(kQ, kQ);
  BoundMatrix jl;  // J^T L, row by row as in transportSimilarity
  for (std::size_t i = 0; i < eBoundSize; ++i) {
    for (std::size_t c = 0; c < eBoundSize; ++c) {
      jl(i, c) = j(0, i) * l(0, c);
    }
    for (std::size_t r = 1; r < kDense; ++r) {
      const double jri = j(r, i);
      for (std::size_t c = 0; c < eBoundSize; ++c) {
        jl(i, c) += jri * l(r, c);
      }
    }
  }
  for (std::size_t c = 0; c < eBoundSize; ++c) {
    jl(kT, c) += l(kT, c);
    jl(kQ, c) += j44 * l(kQ, c);
  }
  BoundMatrix out;
  for (std::size_t a = 0; a < eBoundSize; ++a) {
    for (std::size_t b = 0; b <= a; ++b) {
      double acc = 0.0;
      for (std::size_t r = 0; r < kDense; ++r) {
        acc += jl(a, r) * j(r, b);
      }
      if (b == kT) {
        acc += jl(a, kT);
      } else if (b == kQ) {
        acc += jl(a, kQ) * j44;
      }
      out(a, b) = acc;
      out(b, a) = acc;
    }
  }
  return out;
}

/// J^T v for the same kind of transport Jacobian.
BoundVector transposeTransportTimes(const BoundMatrix& j,
                                    const BoundVector& v) {
  BoundVector out;
  for (std::size_t i = 0; i < eBoundSize; ++i) {
    double acc = 0.0;
    for (std::size_t r = 0; r < kDense; ++r) {
      acc += j(r, i) * v[r];
    }
    out[i] = acc;
  }
  out[eBoundTheta] += v[eBoundTheta];
  out[eBoundQOverP] += j(eBoundQOverP, eBoundQOverP) * v[eBoundQOverP];
  return out;
}

/// P L for symmetric 5x5 P and L.
BoundMatrix symProduct(const BoundMatrix& p, const BoundMatrix& l) {
  return leadingRowsProduct<eBoundSize>(p, l);
}

/// The MBF smoothed covariance P - P L P (P filtered, L = Lambda hat, both
/// symmetric); lower triangle, mirrored.
BoundMatrix mbfSmoothedCov(const BoundMatrix& p, const BoundMatrix& l) {
  const BoundMatrix t = symProduct(p, l);
  BoundMatrix out;
  for (std::size_t a = 0; a < eBoundSize; ++a) {
    for (std::size_t b = 0; b <= a; ++b) {
      double acc = 0.0;
      for (std::size_t k = 0; k < eBoundSize; ++k) {
        acc += t(a, k) * p(b, k);
      }
      out(a, b) = p(a, b) - acc;
      out(b, a) = out(a, b);
    }
  }
  return out;
}

/// The failure check of mbfSmoothedCov's result (positive diagonal, all
/// finite) from its diagonal alone, for states whose smoothed covariance is
/// not needed: with P finite (checked by the filter), P - P L P is finite
/// exactly when P L is (an inf or NaN in row r of P L reaches every
/// element of row r).
bool mbfSmoothedCovOk(const BoundMatrix& p, const BoundMatrix& l) {
  const BoundMatrix t = symProduct(p, l);
  bool ok = allFinite(t);
  for (std::size_t a = 0; a < eBoundSize; ++a) {
    double acc = 0.0;
    for (std::size_t k = 0; k < eBoundSize; ++k) {
      acc += t(a, k) * p(a, k);
    }
    ok &= p(a, a) - acc > 0.0;
  }
  return ok;
}

struct TrackResult {
  KalmanFitterStatus status = KalmanFitterStatus::eSuccess;
  BoundVector params{};
  BoundMatrix cov{};
  double chi2 = 0.0;
  std::int32_t ndf = 0;
  std::int32_t nOutliers = 0;
  std::int32_t nHoles = 0;
  /// Entries [0, nStates) were filtered and smoothed (trailing passive
  /// entries after the last measurement are skipped).
  std::size_t nStates = 0;
  /// Leading passive entries [0, firstState) get no smoothed state.
  std::size_t firstState = 0;
};

/// Traversed material x / X0 of a surface at the free state f on it.
double pathX0(const Surface& s, const FreeVector& f) {
  const Vec3 dir{f[eFreeDir0], f[eFreeDir1], f[eFreeDir2]};
  const Vec3 nrm = s.normal({f[eFreePos0], f[eFreePos1], f[eFreePos2]});
  const double cosInc = std::max(std::abs(dot(nrm, dir)), 1e-6);
  return s.thicknessX0 / cosInc;
}

}  // namespace

void KalmanFitter::Config::validate() const {
  auto fail = [](const std::string& field, double v, const char* rule) {
    throw std::invalid_argument("KalmanFitter: " + field + " (=" + num(v) +
                                ") " + rule);
  };
  if (!std::isfinite(bFieldZ)) {
    fail("bFieldZ", bFieldZ, "must be finite");
  }
  if (std::abs(bFieldZ) > 0.01) {
    fail("bFieldZ", bFieldZ,
         "looks like Tesla; multiply by units.T (native units)");
  }
  if (!(mass > 0.0 && std::isfinite(mass))) {
    fail("mass", mass, "must be > 0 GeV");
  }
  if (!(energyLossPerX0 >= 0.0 && std::isfinite(energyLossPerX0))) {
    fail("energyLossPerX0", energyLossPerX0, "must be >= 0 GeV");
  }
  if (!(outlierChi2Cut >= 0.0) || std::isnan(outlierChi2Cut)) {
    fail("outlierChi2Cut", outlierChi2Cut, "must be >= 0 (0 = off)");
  }
  if (minMeasurements < 1) {
    fail("minMeasurements", minMeasurements, "must be >= 1");
  }
  if (!std::isfinite(beamX) || !std::isfinite(beamY)) {
    fail("beamX/beamY", std::isfinite(beamX) ? beamY : beamX,
         "must be finite");
  }
  if (smoother != Smoother::eMbf && smoother != Smoother::eRts) {
    fail("smoother", static_cast<double>(smoother), "must be MBF or RTS");
  }
}

KalmanFitter::KalmanFitter(const Config& cfg, const SurfaceSet& surfaces)
    : m_cfg(cfg), m_surfaces(surfaces) {
  m_cfg.validate();
}

void KalmanFitter::validateInput(const Input& in) const {
  const auto& off = in.trackOffsets;
  if (off.empty()) {
    throw std::invalid_argument(
        "KalmanFitter: track_offsets must have N + 1 >= 1 entries");
  }
  const std::size_t nTracks = off.size() - 1;
  const std::size_t nMeas = in.surfaceId.size();
  auto need = [](std::size_t got, std::size_t want, const char* name) {
    if (got != want) {
      throw std::invalid_argument(std::string("KalmanFitter: ") + name +
                                  " has " + std::to_string(got) +
                                  " values, expected " + std::to_string(want));
    }
  };
  need(in.measurement.size(), 2 * nMeas, "measurement");
  need(in.measurementCov.size(), 3 * nMeas, "measurement_cov");
  need(in.measurementMask.size(), nMeas, "measurement_mask");
  need(in.initialParams.size(), 5 * nTracks, "initial_params");
  need(in.initialCov.size(), 25 * nTracks, "initial_cov");
  if (!in.mass.empty()) {
    need(in.mass.size(), nTracks, "mass");
  }
  if (off[0] != 0) {
    throw std::invalid_argument("KalmanFitter: track_offsets[0] (=" +
                                std::to_string(off[0]) + ") must be 0");
  }
  for (std::size_t t = 0; t < nTracks; ++t) {
    if (off[t + 1] <= off[t]) {
      throw std::invalid_argument(
          "KalmanFitter: track_offsets must be strictly increasing (track " +
          std::to_string(t) + " is empty or unsorted: offsets " +
          std::to_string(off[t]) + ", " + std::to_string(off[t + 1]) + ")");
    }
  }
  if (static_cast<std::size_t>(off[nTracks]) != nMeas) {
    throw std::invalid_argument("KalmanFitter: track_offsets[-1] (=" +
                                std::to_string(off[nTracks]) +
                                ") must equal the number of measurements (" +
                                std::to_string(nMeas) + ")");
  }
  for (std::size_t i = 0; i < nMeas; ++i) {
    const auto sid = in.surfaceId[i];
    if (sid < 0 || static_cast<std::size_t>(sid) >= m_surfaces.size()) {
      throw std::invalid_argument("KalmanFitter: surface_id[" +
                                  std::to_string(i) + "] (=" +
                                  std::to_string(sid) + ") out of range [0, " +
                                  std::to_string(m_surfaces.size()) + ")");
    }
    const auto mask = in.measurementMask[i];
    if (mask < 0 || mask > 3) {
      throw std::invalid_argument(
          "KalmanFitter: measurement_mask[" + std::to_string(i) + "] (=" +
          std::to_string(mask) +
          ") must be 0 (passive), 1 (loc0), 2 (loc1) or 3 (both)");
    }
    if (mask == 0) {
      // Passive (material-only) entry: value and covariance are ignored.
      continue;
    }
    const double v0 = in.measurementCov[3 * i];
    const double v1 = in.measurementCov[3 * i + 1];
    const double c01 = in.measurementCov[3 * i + 2];
    const bool m0 = (mask & 1) != 0;
    const bool m1 = (mask & 2) != 0;
    bool ok = std::isfinite(in.measurement[2 * i]) &&
              std::isfinite(in.measurement[2 * i + 1]) && std::isfinite(v0) &&
              std::isfinite(v1) && std::isfinite(c01);
    if (!ok) {
      throw std::invalid_argument("KalmanFitter: measurement " +
                                  std::to_string(i) +
                                  " has a NaN or inf value or covariance");
    }
    ok = (!m0 || v0 > 0.0) && (!m1 || v1 > 0.0) &&
         (!(m0 && m1) || v0 * v1 - c01 * c01 > 0.0);
    if (!ok) {
      throw std::invalid_argument(
          "KalmanFitter: measurement_cov of measurement " + std::to_string(i) +
          " is not positive definite");
    }
  }
  for (std::size_t t = 0; t < nTracks; ++t) {
    for (std::size_t k = 0; k < 5; ++k) {
      if (!std::isfinite(in.initialParams[5 * t + k])) {
        throw std::invalid_argument("KalmanFitter: initial_params of track " +
                                    std::to_string(t) + " are not finite");
      }
    }
    const double theta = in.initialParams[5 * t + eBoundTheta];
    if (!(theta > 0.0 && theta < std::numbers::pi)) {
      throw std::invalid_argument("KalmanFitter: initial theta of track " +
                                  std::to_string(t) + " (=" + num(theta) +
                                  ") must be in (0, pi)");
    }
    BoundMatrix c;
    for (std::size_t k = 0; k < 25; ++k) {
      c.v[k] = in.initialCov[25 * t + k];
    }
    BoundMatrix l;
    bool sym = true;
    for (std::size_t a = 0; a < 5; ++a) {
      for (std::size_t b = 0; b < a; ++b) {
        const double tol =
            1e-9 * std::sqrt(std::abs(c(a, a) * c(b, b))) + 1e-300;
        sym = sym && std::abs(c(a, b) - c(b, a)) <= tol;
      }
    }
    if (!sym || !cholesky(c, l)) {
      throw std::invalid_argument(
          "KalmanFitter: initial_cov of track " + std::to_string(t) +
          " is not symmetric positive definite");
    }
    if (!in.mass.empty() &&
        !(in.mass[t] > 0.0 && std::isfinite(in.mass[t]))) {
      throw std::invalid_argument("KalmanFitter: mass of track " +
                                  std::to_string(t) + " must be > 0");
    }
  }
  for (const auto sid : in.holeSurfaces) {
    if (sid < 0 || static_cast<std::size_t>(sid) >= m_surfaces.size()) {
      throw std::invalid_argument("KalmanFitter: hole surface id (=" +
                                  std::to_string(sid) + ") out of range");
    }
  }
}

KalmanFitter::Output KalmanFitter::fit(const Input& in) const {
  validateInput(in);
  const std::size_t nTracks = in.trackOffsets.size() - 1;
  const std::size_t nMeas = in.surfaceId.size();
  Output out;
  out.params.assign(5 * nTracks, kNaN);
  out.cov.assign(25 * nTracks, kNaN);
  out.chi2.assign(nTracks, kNaN);
  out.ndf.assign(nTracks, 0);
  out.nMeasurements.assign(nTracks, 0);
  out.nOutliers.assign(nTracks, 0);
  out.nHoles.assign(nTracks, 0);
  out.status.assign(nTracks, 0);
  out.measurementChi2.assign(nMeas, kNaN);
  out.outlier.assign(nMeas, 0);
  if (m_cfg.storeStates) {
    out.smoothed.assign(5 * nMeas, kNaN);
    out.smoothedCov.assign(25 * nMeas, kNaN);
  }

  const HelixPropagator prop(m_cfg.bFieldZ);
  const Surface perigee = Surface::perigee(m_cfg.beamX, m_cfg.beamY);
  std::vector<std::int32_t> holeCandidates(in.holeSurfaces.begin(),
                                           in.holeSurfaces.end());
  if (m_cfg.countHoles && holeCandidates.empty()) {
    for (std::size_t i = 0; i < m_surfaces.size(); ++i) {
      holeCandidates.push_back(static_cast<std::int32_t>(i));
    }
  }

  auto fitOne = [&](std::size_t t, std::vector<State>& states) {
    TrackResult res;
    const auto begin = static_cast<std::size_t>(in.trackOffsets[t]);
    const auto end = static_cast<std::size_t>(in.trackOffsets[t + 1]);
    const std::size_t n = end - begin;
    const double mass = in.mass.empty() ? m_cfg.mass : in.mass[t];
    states.resize(n);

    // Passive entries (mask 0) carry material only. Holes are counted
    // between the first and the last measurement; entries after the last
    // measurement cannot change the fit and are skipped.
    std::size_t nDims = 0;
    std::size_t nMeasEntries = 0;
    std::size_t firstMeas = n;
    std::size_t lastMeas = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const auto mask = in.measurementMask[begin + k];
      if (mask == 0) {
        continue;
      }
      nDims += static_cast<std::size_t>(mask == 3 ? 2 : 1);
      ++nMeasEntries;
      firstMeas = std::min(firstMeas, k);
      lastMeas = k;
    }
    out.nMeasurements[t] = static_cast<std::int32_t>(nMeasEntries);
    if (nMeasEntries < m_cfg.minMeasurements || nDims < 5) {
      res.status = KalmanFitterStatus::eTooFewMeasurements;
      return res;
    }
    const std::size_t nRun = lastMeas + 1;

    // ---- forward filter ----
    const Surface* cur = &perigee;
    BoundVector x;
    BoundMatrix p;
    for (std::size_t k = 0; k < 5; ++k) {
      x[k] = in.initialParams[5 * t + k];
    }
    for (std::size_t k = 0; k < 25; ++k) {
      p.v[k] = in.initialCov[25 * t + k];
    }
    symmetrize(p);
    // Free vector of x (global position, direction, q/p), carried along so
    // that each step starts from the propagated one where x is unchanged.
    FreeVector xFree = perigee.boundToFree(x);
    double qopFactor = 1.0;  // d(q/p after energy loss) / d(q/p before)
    std::size_t nUsed = 0;
    std::size_t usedDims = 0;
    for (std::size_t k = 0; k < nRun; ++k) {
      const std::size_t im = begin + k;
      State& st = states[k];
      st.surface = &m_surfaces[static_cast<std::size_t>(in.surfaceId[im])];
      const auto pr = prop.propagate(*cur, x, xFree, *st.surface);
      if (!pr) {
        res.status = KalmanFitterStatus::ePropagationFailed;
        return res;
      }
      if (m_cfg.countHoles && k > firstMeas) {
        const FreeVector& f0 = xFree;
        for (const auto cid : holeCandidates) {
          const Surface& cs = m_surfaces[static_cast<std::size_t>(cid)];
          if (&cs == cur || &cs == st.surface) {
            continue;
          }
          const auto sc = prop.intersect(cs, f0, 1e-6);
          if (!sc || *sc >= pr->pathLength - 1e-6) {
            continue;
          }
          const FreeVector fc = prop.advance(f0, *sc, nullptr);
          const auto loc = cs.globalToLocal(
              {fc[eFreePos0], fc[eFreePos1], fc[eFreePos2]},
              {fc[eFreeDir0], fc[eFreeDir1], fc[eFreeDir2]});
          if (cs.inside(loc[0], loc[1])) {
            ++res.nHoles;
          }
        }
      }
      st.jac = pr->jacobian;
      if (qopFactor != 1.0) {
        for (std::size_t r = 0; r < eBoundSize; ++r) {
          st.jac(r, eBoundQOverP) *= qopFactor;
        }
      }
      st.xp = pr->params;
      // (the q/p scaling of the energy loss was already applied to p)
      st.pp = transportSimilarity(pr->jacobian, p);

      // ---- gain-matrix update ----
      const auto mask = in.measurementMask[im];
      st.dim = 0;
      st.outlier = false;
      if (mask == 0) {
        // Passive surface: no update, filtered = predicted.
        st.xf = st.xp;
        st.pf = st.pp;
      } else {
        if ((mask & 1) != 0) {
          st.idx[st.dim++] = 0;
        }
        if ((mask & 2) != 0) {
          st.idx[st.dim++] = 1;
        }
        const double* mv = &in.measurement[2 * im];
        const double* mc = &in.measurementCov[3 * im];
        Mat<2, 2> s{};
        for (std::size_t a = 0; a < st.dim; ++a) {
          const std::size_t ia = st.idx[a];
          st.residual[a] =
              wrapPeriod(mv[ia] - st.xp[ia], st.surface->period(ia));
          for (std::size_t b = 0; b < st.dim; ++b) {
            const std::size_t ib = st.idx[b];
            const double v = ia == ib ? mc[ia] : mc[2];
            s(a, b) = st.pp(ia, ib) + v;
          }
        }
        st.sInv = Mat<2, 2>{};
        if (st.dim == 1) {
          if (!(s(0, 0) > 0.0)) {
            res.status = KalmanFitterStatus::eNumericalFailure;
            return res;
          }
          st.sInv(0, 0) = 1.0 / s(0, 0);
        } else {
          const double det = s(0, 0) * s(1, 1) - s(0, 1) * s(1, 0);
          if (!(s(0, 0) > 0.0) || !(det > 0.0)) {
            res.status = KalmanFitterStatus::eNumericalFailure;
            return res;
          }
          st.sInv(0, 0) = s(1, 1) / det;
          st.sInv(1, 1) = s(0, 0) / det;
          st.sInv(0, 1) = -0.5 * (s(0, 1) + s(1, 0)) / det;
          st.sInv(1, 0) = st.sInv(0, 1);
        }
        double chi2 = 0.0;
        for (std::size_t a = 0; a < st.dim; ++a) {
          for (std::size_t b = 0; b < st.dim; ++b) {
            chi2 += st.residual[a] * st.sInv(a, b) * st.residual[b];
          }
        }
        st.chi2 = chi2;
        out.measurementChi2[im] = chi2;
        st.outlier = m_cfg.outlierChi2Cut > 0.0 && chi2 > m_cfg.outlierChi2Cut;
        st.gain = Mat<eBoundSize, 2>{};
        if (st.outlier) {
          out.outlier[im] = 1;
          ++res.nOutliers;
          st.xf = st.xp;
          st.pf = st.pp;
        } else {
          // (dimension as a template parameter: fully unrolled loops)
          if (st.dim == 2) {
            gainUpdate<2>(st, mc);
          } else {
            gainUpdate<1>(st, mc);
          }
          res.chi2 += chi2;
          ++nUsed;
          usedDims += st.dim;
        }
      }
      normalizeDirection(st.xf);
      if (!positiveDiagonal(st.pf) || !allFinite(st.pf)) {
        res.status = KalmanFitterStatus::eNumericalFailure;
        return res;
      }

      // ---- material (after the measurement in the forward direction) ----
      x = st.xf;
      p = st.pf;
      // Free vector of the filtered state, for the material and the next
      // propagation, with the trigonometry taken from the prediction
      // pr->free by angle addition. (Also where there was no update: the
      // position is recomputed from the bound parameters, as pr->free is
      // only on the surface to the intersection tolerance, and the
      // ill-conditioned RTS smoother amplifies that to 1e-8 relative in
      // the covariance.)
      xFree = st.surface->boundToFreeNear(x, st.xp, pr->free);
      qopFactor = 1.0;
      const double qop = x[eBoundQOverP];
      if (st.surface->thicknessX0 > 0.0 && qop != 0.0 &&
          (m_cfg.multipleScattering || m_cfg.energyLoss)) {
        const double xx0 = pathX0(*st.surface, xFree);
        const double mom = 1.0 / std::abs(qop);
        // (no std::hypot: momenta and masses need no overflow guard)
        const double e = norm2(mom, mass);
        if (m_cfg.multipleScattering) {
          const double th0 = highlandTheta0(xx0, mom, e);
          // sin(theta) = |T_T| (theta in [0, pi])
          const double sth = norm2(xFree[eFreeDir0], xFree[eFreeDir1]);
          p(eBoundPhi, eBoundPhi) += th0 * th0 / (sth * sth);
          p(eBoundTheta, eBoundTheta) += th0 * th0;
        }
        if (m_cfg.energyLoss && m_cfg.energyLossPerX0 > 0.0) {
          const double e1 = e - m_cfg.energyLossPerX0 * xx0;
          if (!(e1 > mass)) {
            res.status = KalmanFitterStatus::ePropagationFailed;
            return res;
          }
          const double p1 = std::sqrt((e1 - mass) * (e1 + mass));
          x[eBoundQOverP] = std::copysign(1.0 / p1, qop);
          xFree[eFreeQOverP] = x[eBoundQOverP];
          const double ratio = mom / p1;
          qopFactor = ratio * ratio * ratio * e1 / e;
          p(eBoundQOverP, eBoundQOverP) *= qopFactor * qopFactor;
          for (std::size_t r = 0; r < eBoundQOverP; ++r) {
            p(r, eBoundQOverP) *= qopFactor;
            p(eBoundQOverP, r) *= qopFactor;
          }
        }
      }
      cur = st.surface;
    }
    const auto ndf =
        static_cast<std::int64_t>(usedDims) - static_cast<std::int64_t>(5);
    res.ndf = static_cast<std::int32_t>(ndf);
    if (nUsed < m_cfg.minMeasurements || ndf < 0) {
      res.status = KalmanFitterStatus::eTooFewMeasurements;
      return res;
    }

    // ---- smoother ----
    // Both forms give x_s, P_s in place of xp, pp (reused as storage); MBF
    // without storeStates only for the first measurement (the others keep
    // the predicted state).
    if (m_cfg.smoother == Smoother::eMbf) {
      BoundVector lam{};
      BoundMatrix bigLam{};
      for (std::size_t kk = nRun; kk-- > firstMeas;) {
        State& st = states[kk];
        // Smoothed state: only if stored, and at the first measurement
        // (the perigee starts there); at the other measurements only its
        // failure check (passive entries: none, their filtered covariance
        // was checked and nothing else needs them).
        if (m_cfg.storeStates || kk == firstMeas) {
          st.xp = st.xf - st.pf * lam;
          st.pp = mbfSmoothedCov(st.pf, bigLam);
        } else if (st.dim > 0 && !mbfSmoothedCovOk(st.pf, bigLam)) {
          res.status = KalmanFitterStatus::eNumericalFailure;
          return res;
        }
        // Tilde quantities (before the update at kk); passive entries and
        // outliers have no update, their scattering noise needs no term
        // here (it is independent of the state at kk).
        if (st.dim > 0 && !st.outlier) {
          if (st.dim == 2) {
            mbfTilde<2>(st, lam, bigLam);
          } else {
            mbfTilde<1>(st, lam, bigLam);
          }
        }
        lam = transposeTransportTimes(st.jac, lam);
        bigLam = transposeTransportSimilarity(st.jac, bigLam);
      }
    } else {
      // RTS, from the last state backwards; the last smoothed = filtered.
      // The noise Q of the material at kk enters through nx.pp = J (P_f +
      // Q) J^T; the cross covariance of the pre-material state at kk with
      // the prediction at kk + 1 is P_f J^T, so G = P_f J^T nx.pp^-1 smooths
      // the state before the material (measurement and passive alike).
      BoundVector xsNext = states[nRun - 1].xf;
      BoundMatrix psNext = states[nRun - 1].pf;
      for (std::size_t kk = nRun - 1; kk-- > firstMeas;) {
        State& st = states[kk];
        const State& nx = states[kk + 1];
        BoundMatrix ppInv;
        if (!spdInverse(nx.pp, ppInv)) {
          res.status = KalmanFitterStatus::eNumericalFailure;
          return res;
        }
        // The stored jac already contains the energy-loss factor.
        const BoundMatrix g = st.pf * transpose(nx.jac) * ppInv;
        const BoundVector dx = boundDifference(xsNext, nx.xp, *nx.surface);
        const BoundVector xs = st.xf + g * dx;
        BoundMatrix ps = st.pf + similarity(g, psNext - nx.pp);
        states[kk + 1].xp = xsNext;
        states[kk + 1].pp = psNext;
        xsNext = xs;
        psNext = ps;
      }
      states[firstMeas].xp = xsNext;
      states[firstMeas].pp = psNext;
    }
    // (MBF without stored states: only the first state was smoothed, the
    // others were checked above)
    const bool allSmoothed =
        m_cfg.storeStates || m_cfg.smoother != Smoother::eMbf;
    for (std::size_t k = firstMeas; k < (allSmoothed ? nRun : firstMeas + 1);
         ++k) {
      State& st = states[k];
      symmetrize(st.pp);
      normalizeDirection(st.xp);
      if (!positiveDiagonal(st.pp) || !allFinite(st.pp)) {
        res.status = KalmanFitterStatus::eNumericalFailure;
        return res;
      }
    }

    // ---- extrapolation to the perigee ----
    // From the smoothed state at the first measurement. Passive entries
    // before it (beam pipe) are not smoothed through: with the wide prior
    // that would cancel ~10 digits. Their material lies between the perigee
    // and the first measurement, so its noise Q is added at the perigee as
    // J Q J^T (J: passive surface -> perigee, at the fitted helix), as ACTS
    // adds the noise when it extrapolates through material; the mean energy
    // loss there is given back (the perigee is before it).
    res.nStates = nRun;
    res.firstState = firstMeas;
    const State& s0 = states[firstMeas];
    const auto pg = prop.propagate(*s0.surface, s0.xp, perigee);
    if (!pg) {
      res.status = KalmanFitterStatus::ePropagationFailed;
      return res;
    }
    res.params = pg->params;
    normalizeDirection(res.params);
    res.cov = similarity(pg->jacobian, s0.pp);
    for (std::size_t k = firstMeas; k-- > 0;) {
      const Surface& ps = *states[k].surface;
      const double qop = res.params[eBoundQOverP];
      if (!(ps.thicknessX0 > 0.0) || qop == 0.0 ||
          !(m_cfg.multipleScattering || m_cfg.energyLoss)) {
        continue;
      }
      const auto fw = prop.propagate(perigee, res.params, ps);
      if (!fw) {
        res.status = KalmanFitterStatus::ePropagationFailed;
        return res;
      }
      const double xx0 = pathX0(ps, fw->free);
      const double mom = 1.0 / std::abs(qop);
      const double e = norm2(mom, mass);
      if (m_cfg.multipleScattering) {
        const double th0 = highlandTheta0(xx0, mom, e);
        const double sth = norm2(fw->free[eFreeDir0], fw->free[eFreeDir1]);
        // J Q J^T for Q = diag(0, 0, qPhi, qTheta, 0) and J = d(perigee) /
        // d(passive): the phi and theta columns of J, rank 2. J is the
        // inverse of the forward Jacobian F (no backward propagation): F's
        // theta and q/p rows are unit rows, so with A = F[0:3, 0:3] and
        // u = F[0:3, theta], J[:, phi] = (A^-1 e_phi, 0, 0) and
        // J[:, theta] = (-A^-1 u, 1, 0).
        const BoundMatrix& f = fw->jacobian;
        Mat<3, 3> cof;  // cofactors of A
        cof(0, 0) = f(1, 1) * f(2, 2) - f(1, 2) * f(2, 1);
        cof(0, 1) = f(1, 2) * f(2, 0) - f(1, 0) * f(2, 2);
        cof(0, 2) = f(1, 0) * f(2, 1) - f(1, 1) * f(2, 0);
        cof(1, 0) = f(0, 2) * f(2, 1) - f(0, 1) * f(2, 2);
        cof(1, 1) = f(0, 0) * f(2, 2) - f(0, 2) * f(2, 0);
        cof(1, 2) = f(0, 1) * f(2, 0) - f(0, 0) * f(2, 1);
        cof(2, 0) = f(0, 1) * f(1, 2) - f(0, 2) * f(1, 1);
        cof(2, 1) = f(0, 2) * f(1, 0) - f(0, 0) * f(1, 2);
        cof(2, 2) = f(0, 0) * f(1, 1) - f(0, 1) * f(1, 0);
        const double det =
            f(0, 0) * cof(0, 0) + f(0, 1) * cof(0, 1) + f(0, 2) * cof(0, 2);
        if (!(std::abs(det) > 0.0) || !std::isfinite(det)) {
          res.status = KalmanFitterStatus::ePropagationFailed;
          return res;
        }
        BoundVector jPhi{};
        BoundVector jTheta{};
        for (std::size_t i = 0; i < 3; ++i) {
          // A^-1 = cof^T / det
          jPhi[i] = cof(2, i) / det;
          jTheta[i] = -(cof(0, i) * f(0, eBoundTheta) +
                        cof(1, i) * f(1, eBoundTheta) +
                        cof(2, i) * f(2, eBoundTheta)) /
                      det;
        }
        jTheta[eBoundTheta] = 1.0;
        const double qPhi = th0 * th0 / (sth * sth);
        const double qTheta = th0 * th0;
        for (std::size_t a = 0; a < eBoundSize; ++a) {
          for (std::size_t b = 0; b <= a; ++b) {
            const double v = jPhi[a] * qPhi * jPhi[b] +
                             jTheta[a] * qTheta * jTheta[b];
            res.cov(a, b) += v;
            if (b != a) {
              res.cov(b, a) += v;
            }
          }
        }
      }
      if (m_cfg.energyLoss && m_cfg.energyLossPerX0 > 0.0) {
        const double e0 = e + m_cfg.energyLossPerX0 * xx0;
        const double p0 = std::sqrt((e0 - mass) * (e0 + mass));
        res.params[eBoundQOverP] = std::copysign(1.0 / p0, qop);
        // d(q/p before) / d(q/p after) = (p_after / p_before)^3 E_before / E
        const double ratio = mom / p0;
        const double f = ratio * ratio * ratio * e0 / e;
        res.cov(eBoundQOverP, eBoundQOverP) *= f * f;
        for (std::size_t r = 0; r < eBoundQOverP; ++r) {
          res.cov(r, eBoundQOverP) *= f;
          res.cov(eBoundQOverP, r) *= f;
        }
      }
    }
    symmetrize(res.cov);
    BoundMatrix l;
    if (!cholesky(res.cov, l)) {
      res.status = KalmanFitterStatus::eNumericalFailure;
      return res;
    }
    return res;
  };

  parallelChunks(nTracks, 16, m_cfg.nThreads,
                 [&](std::size_t, std::size_t b, std::size_t e) {
                   std::vector<State> states;
                   for (std::size_t t = b; t < e; ++t) {
                     const TrackResult r = fitOne(t, states);
                     out.status[t] = static_cast<std::int8_t>(r.status);
                     out.nOutliers[t] = r.nOutliers;
                     out.nHoles[t] = r.nHoles;
                     out.ndf[t] = r.ndf;
                     if (r.status != KalmanFitterStatus::eSuccess) {
                       continue;
                     }
                     out.chi2[t] = r.chi2;
                     for (std::size_t k = 0; k < 5; ++k) {
                       out.params[5 * t + k] = r.params[k];
                     }
                     for (std::size_t k = 0; k < 25; ++k) {
                       out.cov[25 * t + k] = r.cov.v[k];
                     }
                     if (m_cfg.storeStates) {
                       const auto b0 =
                           static_cast<std::size_t>(in.trackOffsets[t]);
                       for (std::size_t k = r.firstState; k < r.nStates;
                            ++k) {
                         for (std::size_t c = 0; c < 5; ++c) {
                           out.smoothed[5 * (b0 + k) + c] = states[k].xp[c];
                         }
                         for (std::size_t c = 0; c < 25; ++c) {
                           out.smoothedCov[25 * (b0 + k) + c] =
                               states[k].pp.v[c];
                         }
                       }
                     }
                   }
                 });
  return out;
}

}  // namespace helixkit
