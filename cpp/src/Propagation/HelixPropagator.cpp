#include "helixkit/Propagation/HelixPropagator.hpp"

#include <cmath>
#include <numbers>

namespace helixkit {

namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

/// A = sin(w s) / w, B = (1 - cos(w s)) / w and their w-derivatives, with
/// series for small |w s| so that the straight line (w = 0) is exact.
struct HelixTerms {
  double a, b, dadw, dbdw, c, sn;
};

/// sin(x / 2) and cos(x / 2) in one call (the compiler fuses the pair).
inline void sincosHalf(double x, double& s, double& c) {
  s = std::sin(0.5 * x);
  c = std::cos(0.5 * x);
}

HelixTerms helixTerms(double w, double s) {
  HelixTerms t{};
  const double ws = w * s;
  // One sincos of the half angle: sin(ws) = 2 sin(ws/2) cos(ws/2),
  // cos(ws) = 1 - 2 sin^2(ws/2), and 1 - cos(ws) = 2 sin^2(ws/2) without
  // cancellation.
  double h = 0.0;
  double hc = 1.0;
  sincosHalf(ws, h, hc);
  t.sn = 2.0 * h * hc;
  t.c = 1.0 - 2.0 * h * h;
  if (std::abs(ws) < 1e-2) {
    const double x2 = ws * ws;
    t.a = s * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0));
    t.b = 0.5 * s * ws * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0));
    t.dadw = -w * s * s * s / 3.0 * (1.0 - x2 / 10.0 * (1.0 - x2 / 28.0));
    t.dbdw = 0.5 * s * s * (1.0 - x2 / 4.0 * (1.0 - x2 / 18.0));
  } else {
    t.a = t.sn / w;
    t.b = 2.0 * h * h / w;
    t.dadw = (s * t.c - t.a) / w;
    t.dbdw = (s * t.sn - t.b) / w;
  }
  return t;
}

/// Helix evaluations for Newton iterations on the path length: the first
/// evaluation at a point is exact (advance); once the iterate is within
/// kTaylorRange of the last exact point, the position and direction there
/// come from a third-order Taylor expansion about it, without
/// trigonometric calls. The position's truncation, w^3 d^4 / 24, is below
/// 5e-17 mm for |w| < 0.1 / mm (p > 6 MeV at 2 T); the direction only
/// enters the Newton slope.
class NewtonHelix {
 public:
  static constexpr double kTaylorRange = 1e-3;  // mm

  NewtonHelix(const HelixPropagator& prop, const FreeVector& f)
      : m_prop(prop), m_f(f), m_w(f[eFreeQOverP] * prop.bFieldZ()) {}

  FreeVector at(double s) {
    const double d = s - m_sBase;
    if (!m_hasBase || !(std::abs(d) < kTaylorRange) ||
        !(std::abs(m_w) < 0.1)) {
      m_base = m_prop.advance(m_f, s, nullptr);
      m_sBase = s;
      m_hasBase = true;
      return m_base;
    }
    // dT/ds = w (T_y, -T_x, 0), d2T/ds2 = -w^2 (T_x, T_y, 0)
    const FreeVector& g = m_base;
    const double tx = g[eFreeDir0];
    const double ty = g[eFreeDir1];
    const double wd = m_w * d;
    const double h2 = 0.5 * wd * wd;
    FreeVector o = g;
    o[eFreePos0] += d * (tx * (1.0 - h2 / 3.0) + 0.5 * wd * ty);
    o[eFreePos1] += d * (ty * (1.0 - h2 / 3.0) - 0.5 * wd * tx);
    o[eFreePos2] += d * g[eFreeDir2];
    o[eFreeDir0] = tx * (1.0 - h2) + wd * ty;
    o[eFreeDir1] = ty * (1.0 - h2) - wd * tx;
    return o;
  }

 private:
  const HelixPropagator& m_prop;
  const FreeVector& m_f;
  double m_w;
  FreeVector m_base{};
  double m_sBase = 0.0;
  bool m_hasBase = false;
};

/// Smallest root > minPath of a s^2 + 2 b s + c = 0 (a > 0).
std::optional<double> smallestRoot(double a, double b, double c,
                                   double minPath) {
  const double disc = b * b - a * c;
  if (!(disc >= 0.0) || !(a > 0.0)) {
    return std::nullopt;
  }
  const double sq = std::sqrt(disc);
  const double q = -(b + std::copysign(sq, b));
  double r1 = q / a;
  double r2 = q != 0.0 ? c / q : r1;
  if (r1 > r2) {
    std::swap(r1, r2);
  }
  if (r1 > minPath) {
    return r1;
  }
  if (r2 > minPath) {
    return r2;
  }
  return std::nullopt;
}

}  // namespace

FreeVector HelixPropagator::advance(const FreeVector& f, double s,
                                    FreeMatrix* jac) const {
  const double w = f[eFreeQOverP] * m_bz;
  const HelixTerms t = helixTerms(w, s);
  const double tx = f[eFreeDir0];
  const double ty = f[eFreeDir1];
  const double tz = f[eFreeDir2];
  FreeVector o;
  o[eFreePos0] = f[eFreePos0] + tx * t.a + ty * t.b;
  o[eFreePos1] = f[eFreePos1] + ty * t.a - tx * t.b;
  o[eFreePos2] = f[eFreePos2] + tz * s;
  o[eFreeDir0] = tx * t.c + ty * t.sn;
  o[eFreeDir1] = -tx * t.sn + ty * t.c;
  o[eFreeDir2] = tz;
  o[eFreeQOverP] = f[eFreeQOverP];
  if (jac != nullptr) {
    FreeMatrix& j = *jac;
    j = FreeMatrix::identity();
    j(eFreePos0, eFreeDir0) = t.a;
    j(eFreePos0, eFreeDir1) = t.b;
    j(eFreePos1, eFreeDir0) = -t.b;
    j(eFreePos1, eFreeDir1) = t.a;
    j(eFreePos2, eFreeDir2) = s;
    j(eFreeDir0, eFreeDir0) = t.c;
    j(eFreeDir0, eFreeDir1) = t.sn;
    j(eFreeDir1, eFreeDir0) = -t.sn;
    j(eFreeDir1, eFreeDir1) = t.c;
    j(eFreePos0, eFreeQOverP) = m_bz * (tx * t.dadw + ty * t.dbdw);
    j(eFreePos1, eFreeQOverP) = m_bz * (ty * t.dadw - tx * t.dbdw);
    j(eFreeDir0, eFreeQOverP) = m_bz * s * o[eFreeDir1];
    j(eFreeDir1, eFreeQOverP) = -m_bz * s * o[eFreeDir0];
  }
  return o;
}

std::optional<double> HelixPropagator::intersect(const Surface& surface,
                                                 const FreeVector& f,
                                                 double minPath, bool polish) const {
  const double w = f[eFreeQOverP] * m_bz;
  const double x = f[eFreePos0];
  const double y = f[eFreePos1];
  const double z = f[eFreePos2];
  const double tx = f[eFreeDir0];
  const double ty = f[eFreeDir1];
  const double tz = f[eFreeDir2];
  const double tt2 = tx * tx + ty * ty;
  // Nearly straight helices start from the line solution (then Newton).
  const bool straight = std::abs(w) < 1e-9;

  if (surface.type == SurfaceType::eLine) {
    const double cx = surface.center[0];
    const double cy = surface.center[1];
    double s = 0.0;
    if (!(tt2 > 0.0)) {
      return std::nullopt;
    }
    if (straight) {
      s = -((x - cx) * tx + (y - cy) * ty) / tt2;
    } else {
      const double hx = x + ty / w;
      const double hy = y - tx / w;
      const double vx = cx - hx;
      const double vy = cy - hy;
      if (norm2(vx, vy) < 1e-12) {
        return std::nullopt;
      }
      const double a0 = std::atan2(y - hy, x - hx);
      const double ap = std::atan2(vy, vx);
      s = wrapPhi(a0 - ap) / w;
    }
    // Newton polish of (pos - c)_T . T_T = 0.
    for (int it = 0; it < 4; ++it) {
      const FreeVector g = advance(f, s, nullptr);
      const double dx = g[eFreePos0] - cx;
      const double dy = g[eFreePos1] - cy;
      const double gx = g[eFreeDir0];
      const double gy = g[eFreeDir1];
      const double val = dx * gx + dy * gy;
      const double der = gx * gx + gy * gy + w * (dx * gy - dy * gx);
      if (!(std::abs(der) > 0.0)) {
        break;
      }
      const double ds = val / der;
      s -= ds;
      if (std::abs(ds) < 1e-12) {
        break;
      }
    }
    return std::isfinite(s) ? std::optional<double>(s) : std::nullopt;
  }

  if (surface.type != SurfaceType::eCylinder) {
    const Vec3 n = surface.axis(2);
    if (surface.zAligned()) {
      if (!(std::abs(tz) > 0.0)) {
        return std::nullopt;
      }
      const double s = (surface.center[2] - z) / tz;
      return s > minPath ? std::optional<double>(s) : std::nullopt;
    }
    // Newton from the straight-line intersection.
    const Vec3 d{surface.center[0] - x, surface.center[1] - y,
                 surface.center[2] - z};
    const double nt = dot(n, {tx, ty, tz});
    if (!(std::abs(nt) > 1e-12)) {
      return std::nullopt;
    }
    // Start from the second-order helix x + T s + w (T_y, -T_x, 0) s^2 / 2
    // (one fixed-point step on the straight-line solution): one Newton
    // iteration fewer for typical curvatures, the same root.
    const double s0 = dot(n, d) / nt;
    const double curv = 0.5 * w * (n[0] * ty - n[1] * tx);
    const double den0 = nt + curv * s0;
    double s = std::abs(den0) > 0.5 * std::abs(nt) ? dot(n, d) / den0 : s0;
    NewtonHelix helix(*this, f);
    for (int it = 0; it < 30; ++it) {
      const FreeVector g = helix.at(s);
      const double val = n[0] * (g[eFreePos0] - surface.center[0]) +
                         n[1] * (g[eFreePos1] - surface.center[1]) +
                         n[2] * (g[eFreePos2] - surface.center[2]);
      const double der =
          n[0] * g[eFreeDir0] + n[1] * g[eFreeDir1] + n[2] * g[eFreeDir2];
      if (!(std::abs(der) > 1e-12)) {
        return std::nullopt;
      }
      const double ds = val / der;
      s -= ds;
      if (std::abs(ds) < 1e-11) {
        return s > minPath ? std::optional<double>(s) : std::nullopt;
      }
    }
    return std::nullopt;
  }

  // Cylinder.
  const double r = surface.radius;
  std::optional<double> s;
  if (surface.zAligned()) {
    const double cx = surface.center[0];
    const double cy = surface.center[1];
    if (straight) {
      const double px = x - cx;
      const double py = y - cy;
      s = smallestRoot(tt2, px * tx + py * ty, px * px + py * py - r * r,
                       minPath);
    } else {
      // Circle-circle intersection in the transverse plane.
      const double hx = x + ty / w;
      const double hy = y - tx / w;
      const double rho = std::sqrt(tt2) / std::abs(w);
      const double dx = cx - hx;
      const double dy = cy - hy;
      const double d = norm2(dx, dy);
      if (!(d > 1e-12)) {
        return std::nullopt;
      }
      const double a = (d * d + rho * rho - r * r) / (2.0 * d);
      const double h2 = rho * rho - a * a;
      if (!(h2 >= 0.0)) {
        return std::nullopt;
      }
      const double h = std::sqrt(h2);
      const double ex = dx / d;
      const double ey = dy / d;
      // With u the start point and v the intersection, both relative to the
      // helix centre: angle(u) - angle(v) = atan2(v x u, v . u), one atan2
      // in [-pi, pi] (the helix turns clockwise for w > 0).
      const double ux = x - hx;
      const double uy = y - hy;
      const double period = kTwoPi / std::abs(w);
      for (const double sgn : {-1.0, 1.0}) {
        const double ax = a * ex - sgn * h * ey;
        const double ay = a * ey + sgn * h * ex;
        const double delta = std::atan2(ax * uy - ay * ux, ax * ux + ay * uy);
        double cand = delta / w;
        if (cand < 0.0) {
          cand += period;
        }
        while (cand <= minPath) {
          cand += period;
        }
        if (!s || cand < *s) {
          s = cand;
        }
      }
      // Away from tangency the circle-circle solution is exact to ~1e-10 mm
      // (its error grows as eps rho^2 / h): navigation needs no polish.
      if (!polish && h > 1e-3 * rho && std::isfinite(*s)) {
        return *s;
      }
    }
  } else {
    // General orientation: straight-line guess in the local frame.
    const Vec3 p = surface.toFrame({x, y, z});
    const Vec3 o = surface.toFrame({0.0, 0.0, 0.0});
    const Vec3 t0 = surface.toFrame({tx, ty, tz});
    const Vec3 dl{t0[0] - o[0], t0[1] - o[1], t0[2] - o[2]};
    s = smallestRoot(dl[0] * dl[0] + dl[1] * dl[1],
                     p[0] * dl[0] + p[1] * dl[1],
                     p[0] * p[0] + p[1] * p[1] - r * r, minPath);
  }
  if (!s) {
    return std::nullopt;
  }
  // Newton polish on |pos_T - c_T|^2 - R^2 (exact helix), in the surface
  // frame; for a z-aligned cylinder the transverse radius and the product
  // pos_T . T_T do not depend on the rotation about z, so the global
  // transverse coordinates relative to the centre serve directly.
  const bool aligned = surface.zAligned();
  const Vec3 o = surface.toFrame({0.0, 0.0, 0.0});
  double sv = *s;
  NewtonHelix helix(*this, f);
  for (int it = 0; it < 30; ++it) {
    const FreeVector g = helix.at(sv);
    double p0 = 0.0;
    double p1 = 0.0;
    double t0 = 0.0;
    double t1 = 0.0;
    if (aligned) {
      p0 = g[eFreePos0] - surface.center[0];
      p1 = g[eFreePos1] - surface.center[1];
      t0 = g[eFreeDir0];
      t1 = g[eFreeDir1];
    } else {
      const Vec3 p =
          surface.toFrame({g[eFreePos0], g[eFreePos1], g[eFreePos2]});
      const Vec3 dg =
          surface.toFrame({g[eFreeDir0], g[eFreeDir1], g[eFreeDir2]});
      p0 = p[0];
      p1 = p[1];
      t0 = dg[0] - o[0];
      t1 = dg[1] - o[1];
    }
    const double val = p0 * p0 + p1 * p1 - r * r;
    const double der = 2.0 * (p0 * t0 + p1 * t1);
    if (!(std::abs(der) > 1e-300)) {
      break;
    }
    const double ds = val / der;
    sv -= ds;
    if (std::abs(ds) < 1e-11) {
      break;
    }
  }
  if (!std::isfinite(sv) || sv <= minPath) {
    return std::nullopt;
  }
  return sv;
}

std::optional<HelixPropagator::Result> HelixPropagator::propagate(
    const Surface& from, const BoundVector& b, const Surface& to,
    double minPath) const {
  return propagate(from, b, from.boundToFree(b), to, minPath);
}

std::optional<HelixPropagator::Result> HelixPropagator::propagate(
    const Surface& from, const BoundVector& b, const FreeVector& f0,
    const Surface& to, double minPath) const {
  const auto s = intersect(to, f0, minPath);
  if (!s) {
    return std::nullopt;
  }
  return propagateAlong(from, b, f0, to, *s);
}

std::optional<HelixPropagator::Result> HelixPropagator::propagateAlong(
    const Surface& from, const BoundVector& b, const FreeVector& f0,
    const Surface& to, double pathLength) const {
  Result res;
  res.pathLength = pathLength;

  // Helix step (as advance), keeping the terms for the Jacobian.
  const double w = f0[eFreeQOverP] * m_bz;
  const HelixTerms t = helixTerms(w, pathLength);
  const double tx = f0[eFreeDir0];
  const double ty = f0[eFreeDir1];
  const double tz = f0[eFreeDir2];
  FreeVector& f1 = res.free;
  f1[eFreePos0] = f0[eFreePos0] + tx * t.a + ty * t.b;
  f1[eFreePos1] = f0[eFreePos1] + ty * t.a - tx * t.b;
  f1[eFreePos2] = f0[eFreePos2] + tz * pathLength;
  f1[eFreeDir0] = tx * t.c + ty * t.sn;
  f1[eFreeDir1] = -tx * t.sn + ty * t.c;
  f1[eFreeDir2] = tz;
  f1[eFreeQOverP] = f0[eFreeQOverP];

  // M = T B: d(free at the target, fixed path) / d(bound at the start),
  // with T the transport Jacobian of advance and B = from's bound -> free
  // Jacobian. Both are sparse: B maps loc0, loc1 (and phi, for a line
  // surface) to the position, phi and theta to the direction and q/p to
  // q/p; T is the identity but for the position <- direction block
  // [[a, b, 0], [-b, a, 0], [0, 0, s]], the direction rotation
  // [[c, sn, 0], [-sn, c, 0], [0, 0, 1]] and the q/p column. Only those
  // blocks are multiplied out.
  const BoundToFreeMatrix bj = from.boundToFreeJacobian(b, f0);
  Mat<eFreeSize, eBoundSize> m{};
  for (std::size_t i = 0; i < 3; ++i) {
    m(i, eBoundLoc0) = bj(i, eBoundLoc0);
    m(i, eBoundLoc1) = bj(i, eBoundLoc1);
  }
  for (const std::size_t c : {eBoundPhi, eBoundTheta}) {
    const double ux = bj(eFreeDir0, c);
    const double uy = bj(eFreeDir1, c);
    const double uz = bj(eFreeDir2, c);
    m(eFreePos0, c) = bj(eFreePos0, c) + t.a * ux + t.b * uy;
    m(eFreePos1, c) = bj(eFreePos1, c) - t.b * ux + t.a * uy;
    m(eFreePos2, c) = bj(eFreePos2, c) + pathLength * uz;
    m(eFreeDir0, c) = t.c * ux + t.sn * uy;
    m(eFreeDir1, c) = -t.sn * ux + t.c * uy;
    m(eFreeDir2, c) = uz;
  }
  m(eFreePos0, eBoundQOverP) = m_bz * (tx * t.dadw + ty * t.dbdw);
  m(eFreePos1, eBoundQOverP) = m_bz * (ty * t.dadw - tx * t.dbdw);
  m(eFreeDir0, eBoundQOverP) = m_bz * pathLength * f1[eFreeDir1];
  m(eFreeDir1, eBoundQOverP) = -m_bz * pathLength * f1[eFreeDir0];
  m(eFreeQOverP, eBoundQOverP) = 1.0;

  // d(free)/ds at the target and the surface-constraint gradient give the
  // path correction: variations must stay on the target surface,
  // M -= (df/ds) (g . M) / (g . df/ds).
  const double w1 = f1[eFreeQOverP] * m_bz;
  FreeVector dfds{};
  dfds[eFreePos0] = f1[eFreeDir0];
  dfds[eFreePos1] = f1[eFreeDir1];
  dfds[eFreePos2] = f1[eFreeDir2];
  dfds[eFreeDir0] = w1 * f1[eFreeDir1];
  dfds[eFreeDir1] = -w1 * f1[eFreeDir0];
  const PathGradient g = to.pathGradient(f1);
  double den = 0.0;
  for (std::size_t i = 0; i < 3; ++i) {
    den += g.dPos[i] * dfds[i] + g.dDir[i] * dfds[3 + i];
  }
  if (!(std::abs(den) > 1e-14)) {
    return std::nullopt;
  }
  for (std::size_t c = 0; c < eBoundSize; ++c) {
    double acc = 0.0;
    for (std::size_t i = 0; i < 3; ++i) {
      acc += g.dPos[i] * m(i, c) + g.dDir[i] * m(3 + i, c);
    }
    const double gm = acc / den;
    // (dfds has no q/p component: the q/p row stays as it is)
    for (std::size_t r = 0; r < eFreeQOverP; ++r) {
      m(r, c) -= dfds[r] * gm;
    }
  }

  // Free -> bound on the target, also sparse: loc0 and loc1 depend on the
  // position only, phi on (Tx, Ty), theta on the direction, q/p on q/p.
  // In a field along z the helix keeps T_z and |T_T| and turns the
  // transverse direction by -w s, so theta is the start's and phi is
  // phi0 - w s: no atan2 (the same values up to rounding). Only for
  // normalised starts (theta in (0, pi)); otherwise from the direction.
  const double th0 = b[eBoundTheta];
  if (th0 > 0.0 && th0 < std::numbers::pi) {
    const auto loc = to.globalToLocal({f1[eFreePos0], f1[eFreePos1],
                                       f1[eFreePos2]},
                                      {f1[eFreeDir0], f1[eFreeDir1],
                                       f1[eFreeDir2]});
    res.params[eBoundLoc0] = loc[0];
    res.params[eBoundLoc1] = loc[1];
    res.params[eBoundPhi] = wrapPhi(b[eBoundPhi] - w * pathLength);
    res.params[eBoundTheta] = th0;
    res.params[eBoundQOverP] = f1[eFreeQOverP];
  } else {
    res.params = to.freeToBound(f1);
  }
  const FreeToBoundMatrix fb = to.freeToBoundJacobian(f1);
  BoundMatrix& jac = res.jacobian;
  for (std::size_t c = 0; c < eBoundSize; ++c) {
    for (const std::size_t r : {eBoundLoc0, eBoundLoc1}) {
      jac(r, c) = fb(r, eFreePos0) * m(eFreePos0, c) +
                  fb(r, eFreePos1) * m(eFreePos1, c) +
                  fb(r, eFreePos2) * m(eFreePos2, c);
    }
    jac(eBoundPhi, c) = fb(eBoundPhi, eFreeDir0) * m(eFreeDir0, c) +
                        fb(eBoundPhi, eFreeDir1) * m(eFreeDir1, c);
    jac(eBoundQOverP, c) = m(eFreeQOverP, c);
  }
  // theta is conserved (see above): its row is exactly (0, 0, 0, 1, 0)
  // (computed, it is that up to rounding). The fitter's covariance
  // transport relies on this row.
  for (std::size_t c = 0; c < eBoundSize; ++c) {
    jac(eBoundTheta, c) = c == eBoundTheta ? 1.0 : 0.0;
  }
  // Finite check without a branch per element: v * 0 is 0 for finite v
  // and NaN for inf or NaN.
  double nanProbe = 0.0;
  for (double v : jac.v) {
    nanProbe += v * 0.0;
  }
  if (nanProbe != 0.0) {
    return std::nullopt;
  }
  return res;
}

}  // namespace helixkit
