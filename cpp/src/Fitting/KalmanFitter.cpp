#include "helixkit/Fitting/KalmanFitter.hpp"

#include "KalmanMath.hpp"

#include "helixkit/Propagation/HelixPropagator.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace helixkit {

namespace {

using namespace detail;  // NOLINT(google-build-using-namespace)

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  std::string s = std::to_string(v);
  return s;
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
        if (!residualAndChi2(st, &in.measurement[2 * im],
                             &in.measurementCov[3 * im], mask)) {
          res.status = KalmanFitterStatus::eNumericalFailure;
          return res;
        }
        const double* mc = &in.measurementCov[3 * im];
        const double chi2 = st.chi2;
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
