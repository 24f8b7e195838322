#pragma once

#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/EventData/TrackParameters.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

/// @file KalmanMath.hpp
/// Private to the library (not installed): the Kalman filter's gain-matrix
/// update, covariance transport products, smoother pieces and material
/// helpers, shared by the KalmanFitter and the CombinatorialKalmanFilter.

namespace helixkit::detail {

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
inline void gainUpdate(State& st, const double* mc) {
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
inline void mbfTilde(const State& st, BoundVector& lam, BoundMatrix& bigLam) {
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
inline double highlandTheta0(double xOverX0, double p, double e) {
  if (!(xOverX0 > 0.0) || !std::isfinite(p)) {
    return 0.0;
  }
  const double beta = p / e;
  const double corr = 1.0 + 0.038 * std::log(xOverX0 / (beta * beta));
  return 13.6 * UnitConstants::MeV / (beta * p) * std::sqrt(xOverX0) *
         std::max(corr, 0.0);
}

inline double wrapPeriod(double d, double period) {
  if (period > 0.0) {
    d = std::remainder(d, period);
  }
  return d;
}

/// a - b for bound vectors on the same surface (phi and cyclic local
/// coordinates wrapped).
inline BoundVector boundDifference(const BoundVector& a, const BoundVector& b,
                            const Surface& s) {
  BoundVector d = a - b;
  d[eBoundLoc0] = wrapPeriod(d[eBoundLoc0], s.period(0));
  d[eBoundLoc1] = wrapPeriod(d[eBoundLoc1], s.period(1));
  d[eBoundPhi] = wrapPhi(d[eBoundPhi]);
  return d;
}

/// Residual, inverse residual covariance and predicted chi2 of a measurement
/// (values mv, covariance mc = var0, var1, cov01; mask 1 = loc0, 2 = loc1,
/// 3 = both) against st's prediction (xp, pp, surface set): fills st.idx,
/// st.dim, st.residual, st.sInv and st.chi2.
/// @return false if the residual covariance is not positive definite
inline bool residualAndChi2(State& st, const double* mv, const double* mc,
                            int mask) {
  st.dim = 0;
  if ((mask & 1) != 0) {
    st.idx[st.dim++] = 0;
  }
  if ((mask & 2) != 0) {
    st.idx[st.dim++] = 1;
  }
  Mat<2, 2> s{};
  for (std::size_t a = 0; a < st.dim; ++a) {
    const std::size_t ia = st.idx[a];
    st.residual[a] = wrapPeriod(mv[ia] - st.xp[ia], st.surface->period(ia));
    for (std::size_t b = 0; b < st.dim; ++b) {
      const std::size_t ib = st.idx[b];
      const double v = ia == ib ? mc[ia] : mc[2];
      s(a, b) = st.pp(ia, ib) + v;
    }
  }
  st.sInv = Mat<2, 2>{};
  if (st.dim == 1) {
    if (!(s(0, 0) > 0.0)) {
      return false;
    }
    st.sInv(0, 0) = 1.0 / s(0, 0);
  } else {
    const double det = s(0, 0) * s(1, 1) - s(0, 1) * s(1, 0);
    if (!(s(0, 0) > 0.0) || !(det > 0.0)) {
      return false;
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
  return true;
}

/// All elements finite, without a branch per element: v * 0 is 0 for a
/// finite v and NaN for inf or NaN.
template <std::size_t R, std::size_t C>
inline bool allFinite(const Mat<R, C>& m) {
  double probe = 0.0;
  for (double v : m.v) {
    probe += v * 0.0;
  }
  return probe == 0.0;
}

inline bool positiveDiagonal(const BoundMatrix& m) {
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
inline Mat<R, eBoundSize> leadingRowsProduct(const BoundMatrix& a, const BoundMatrix& b) {
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
inline BoundMatrix transportSimilarity(const BoundMatrix& j, const BoundMatrix& p) {
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
inline BoundMatrix transposeTransportSimilarity(const BoundMatrix& j,
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
inline BoundVector transposeTransportTimes(const BoundMatrix& j,
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
inline BoundMatrix symProduct(const BoundMatrix& p, const BoundMatrix& l) {
  return leadingRowsProduct<eBoundSize>(p, l);
}

/// The MBF smoothed covariance P - P L P (P filtered, L = Lambda hat, both
/// symmetric); lower triangle, mirrored.
inline BoundMatrix mbfSmoothedCov(const BoundMatrix& p, const BoundMatrix& l) {
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
inline bool mbfSmoothedCovOk(const BoundMatrix& p, const BoundMatrix& l) {
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

/// Traversed material x / X0 of a surface at the free state f on it.
inline double pathX0(const Surface& s, const FreeVector& f) {
  const Vec3 dir{f[eFreeDir0], f[eFreeDir1], f[eFreeDir2]};
  const Vec3 nrm = s.normal({f[eFreePos0], f[eFreePos1], f[eFreePos2]});
  const double cosInc = std::max(std::abs(dot(nrm, dir)), 1e-6);
  return s.thicknessX0 / cosInc;
}

}  // namespace helixkit::detail
