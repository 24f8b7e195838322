#include "helixkit/EventData/Surface.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace helixkit {

namespace {

Vec3 directionOf(double phi, double theta) {
  const double st = std::sin(theta);
  return {std::cos(phi) * st, std::sin(phi) * st, std::cos(theta)};
}

Vec3 freeDir(const FreeVector& f) {
  return {f[eFreeDir0], f[eFreeDir1], f[eFreeDir2]};
}

Vec3 freePos(const FreeVector& f) {
  return {f[eFreePos0], f[eFreePos1], f[eFreePos2]};
}

std::string surfaceName(std::size_t i) {
  return "SurfaceSet: surface " + std::to_string(i);
}

}  // namespace

Surface Surface::perigee(double x, double y) {
  Surface s;
  s.type = SurfaceType::eLine;
  s.center = {x, y, 0.0};
  s.update();
  return s;
}

void Surface::update() {
  m_zAligned = std::abs(rotation[8]) > 1.0 - 1e-12;
}

double Surface::period(std::size_t i) const {
  if (type == SurfaceType::eCylinder && i == 0) {
    return 2.0 * std::numbers::pi * radius;
  }
  if (type == SurfaceType::eDisk && i == 1) {
    return 2.0 * std::numbers::pi;
  }
  return 0.0;
}

std::array<double, 2> Surface::globalToLocal(const Vec3& pos,
                                             const Vec3& dir) const {
  const Vec3 p = toFrame(pos);
  switch (type) {
    case SurfaceType::ePlane:
      return {p[0], p[1]};
    case SurfaceType::eCylinder:
      return {radius * std::atan2(p[1], p[0]), p[2]};
    case SurfaceType::eDisk:
      return {norm2(p[0], p[1]), std::atan2(p[1], p[0])};
    case SurfaceType::eLine: {
      // Local direction d; sign of (z x d) . p as ACTS's LineSurface.
      const Vec3 d{rotation[0] * dir[0] + rotation[3] * dir[1] +
                       rotation[6] * dir[2],
                   rotation[1] * dir[0] + rotation[4] * dir[1] +
                       rotation[7] * dir[2],
                   0.0};
      const double s = -d[1] * p[0] + d[0] * p[1];
      const double r = norm2(p[0], p[1]);
      return {s < 0.0 ? -r : r, p[2]};
    }
  }
  return {0.0, 0.0};
}

Vec3 Surface::localToGlobal(double loc0, double loc1, const Vec3& dir) const {
  Vec3 v{};
  switch (type) {
    case SurfaceType::ePlane:
      v = {loc0, loc1, 0.0};
      break;
    case SurfaceType::eCylinder: {
      const double phi = loc0 / radius;
      v = {radius * std::cos(phi), radius * std::sin(phi), loc1};
      break;
    }
    case SurfaceType::eDisk:
      v = {loc0 * std::cos(loc1), loc0 * std::sin(loc1), 0.0};
      break;
    case SurfaceType::eLine: {
      const double dx = rotation[0] * dir[0] + rotation[3] * dir[1] +
                        rotation[6] * dir[2];
      const double dy = rotation[1] * dir[0] + rotation[4] * dir[1] +
                        rotation[7] * dir[2];
      const double n = norm2(dx, dy);
      v = {-dy / n * loc0, dx / n * loc0, loc1};
      break;
    }
  }
  const Vec3 g = fromFrame(v);
  return {g[0] + center[0], g[1] + center[1], g[2] + center[2]};
}

Vec3 Surface::normal(const Vec3& pos) const {
  if (type == SurfaceType::eCylinder) {
    const Vec3 p = toFrame(pos);
    const double r = norm2(p[0], p[1]);
    return fromFrame({p[0] / r, p[1] / r, 0.0});
  }
  return axis(2);
}

bool Surface::inside(double loc0, double loc1) const {
  return loc0 >= bounds[0] && loc0 <= bounds[1] && loc1 >= bounds[2] &&
         loc1 <= bounds[3];
}

FreeVector Surface::boundToFree(const BoundVector& b) const {
  const Vec3 dir = directionOf(b[eBoundPhi], b[eBoundTheta]);
  const Vec3 pos = localToGlobal(b[eBoundLoc0], b[eBoundLoc1], dir);
  FreeVector f;
  f[eFreePos0] = pos[0];
  f[eFreePos1] = pos[1];
  f[eFreePos2] = pos[2];
  f[eFreeDir0] = dir[0];
  f[eFreeDir1] = dir[1];
  f[eFreeDir2] = dir[2];
  f[eFreeQOverP] = b[eBoundQOverP];
  return f;
}

namespace {

/// cos and sin of a + d from those of a, for |d| <= 0.05: series for
/// sin d and 1 - cos d (truncation below 1e-17).
void rotateBy(double d, double& c, double& s) {
  const double d2 = d * d;
  const double sd =
      d * (1.0 - d2 / 6.0 * (1.0 - d2 / 20.0 * (1.0 - d2 / 42.0)));
  const double omc =
      0.5 * d2 *
      (1.0 - d2 / 12.0 * (1.0 - d2 / 30.0 * (1.0 - d2 / 56.0)));
  const double c0 = c;
  const double s0 = s;
  c = c0 - (c0 * omc + s0 * sd);
  s = s0 - (s0 * omc - c0 * sd);
}

}  // namespace

FreeVector Surface::boundToFreeNear(const BoundVector& b,
                                    const BoundVector& bRef,
                                    const FreeVector& ref) const {
  constexpr double kMaxStep = 0.05;
  const double dPhi = wrapPhi(b[eBoundPhi] - bRef[eBoundPhi]);
  const double dTheta = b[eBoundTheta] - bRef[eBoundTheta];
  double dLoc = 0.0;
  if (type == SurfaceType::eCylinder) {
    dLoc = (b[eBoundLoc0] - bRef[eBoundLoc0]) / radius;
  } else if (type == SurfaceType::eDisk) {
    dLoc = wrapPhi(b[eBoundLoc1] - bRef[eBoundLoc1]);
  }
  const double sthRef = norm2(ref[eFreeDir0], ref[eFreeDir1]);
  if (!(std::abs(dPhi) <= kMaxStep && std::abs(dTheta) <= kMaxStep &&
        std::abs(dLoc) <= kMaxStep && sthRef > 0.0) ||
      type == SurfaceType::eLine) {
    return boundToFree(b);
  }
  double cphi = ref[eFreeDir0] / sthRef;
  double sphi = ref[eFreeDir1] / sthRef;
  double cth = ref[eFreeDir2];
  double sth = sthRef;
  rotateBy(dPhi, cphi, sphi);
  rotateBy(dTheta, cth, sth);
  FreeVector f;
  f[eFreeDir0] = cphi * sth;
  f[eFreeDir1] = sphi * sth;
  f[eFreeDir2] = cth;
  f[eFreeQOverP] = b[eBoundQOverP];
  Vec3 v{};
  if (type == SurfaceType::ePlane) {
    v = {b[eBoundLoc0], b[eBoundLoc1], 0.0};
  } else {
    const Vec3 p = toFrame(freePos(ref));
    const double r = norm2(p[0], p[1]);
    if (!(r > 0.0)) {
      return boundToFree(b);
    }
    double cl = p[0] / r;
    double sl = p[1] / r;
    rotateBy(dLoc, cl, sl);
    v = type == SurfaceType::eCylinder
            ? Vec3{radius * cl, radius * sl, b[eBoundLoc1]}
            : Vec3{b[eBoundLoc0] * cl, b[eBoundLoc0] * sl, 0.0};
  }
  const Vec3 g = fromFrame(v);
  f[eFreePos0] = g[0] + center[0];
  f[eFreePos1] = g[1] + center[1];
  f[eFreePos2] = g[2] + center[2];
  return f;
}

BoundToFreeMatrix Surface::boundToFreeJacobian(const BoundVector& b) const {
  // Local angle of a cylinder (loc0 / R) or a disk (loc1).
  const double angle = type == SurfaceType::eCylinder ? b[eBoundLoc0] / radius
                       : type == SurfaceType::eDisk  ? b[eBoundLoc1]
                                                     : 0.0;
  return boundToFreeJacobian(b, std::cos(b[eBoundPhi]), std::sin(b[eBoundPhi]),
                             std::cos(b[eBoundTheta]),
                             std::sin(b[eBoundTheta]), std::cos(angle),
                             std::sin(angle));
}

BoundToFreeMatrix Surface::boundToFreeJacobian(const BoundVector& b,
                                               const FreeVector& f) const {
  // The direction is (cos phi sin theta, sin phi sin theta, cos theta) with
  // sin theta >= 0; a cylinder point is R (cos a, sin a) in the local
  // transverse plane, a disk point r (cos a, sin a). Along the axis (or at
  // the disk centre) the angles are undefined there: take the trigonometric
  // functions of the bound parameters.
  const double tx = f[eFreeDir0];
  const double ty = f[eFreeDir1];
  const double sth = std::sqrt(tx * tx + ty * ty);
  if (!(sth > 0.0)) {
    return boundToFreeJacobian(b);
  }
  double cloc = 1.0;
  double sloc = 0.0;
  if (type == SurfaceType::eCylinder || type == SurfaceType::eDisk) {
    const Vec3 p = toFrame(freePos(f));
    const double r = std::sqrt(p[0] * p[0] + p[1] * p[1]);
    if (!(r > 0.0)) {
      return boundToFreeJacobian(b);
    }
    cloc = p[0] / r;
    sloc = p[1] / r;
  }
  return boundToFreeJacobian(b, tx / sth, ty / sth, f[eFreeDir2], sth, cloc,
                             sloc);
}

BoundToFreeMatrix Surface::boundToFreeJacobian(const BoundVector& b,
                                               double cphi, double sphi,
                                               double cth, double sth,
                                               double cloc,
                                               double sloc) const {
  BoundToFreeMatrix j{};
  Vec3 d0{};
  Vec3 d1{};
  switch (type) {
    case SurfaceType::ePlane:
      d0 = axis(0);
      d1 = axis(1);
      break;
    case SurfaceType::eCylinder:
      d0 = fromFrame({-sloc, cloc, 0.0});
      d1 = axis(2);
      break;
    case SurfaceType::eDisk: {
      const double r = b[eBoundLoc0];
      d0 = fromFrame({cloc, sloc, 0.0});
      d1 = fromFrame({-r * sloc, r * cloc, 0.0});
      break;
    }
    case SurfaceType::eLine: {
      // Perigee line along global z: the radial axis (-sin phi, cos phi, 0)
      // turns with the direction.
      d0 = {-sphi, cphi, 0.0};
      d1 = {0.0, 0.0, 1.0};
      j(eFreePos0, eBoundPhi) = -b[eBoundLoc0] * cphi;
      j(eFreePos1, eBoundPhi) = -b[eBoundLoc0] * sphi;
      break;
    }
  }
  for (std::size_t i = 0; i < 3; ++i) {
    j(i, eBoundLoc0) = d0[i];
    j(i, eBoundLoc1) = d1[i];
  }
  j(eFreeDir0, eBoundPhi) = -sphi * sth;
  j(eFreeDir1, eBoundPhi) = cphi * sth;
  j(eFreeDir0, eBoundTheta) = cphi * cth;
  j(eFreeDir1, eBoundTheta) = sphi * cth;
  j(eFreeDir2, eBoundTheta) = -sth;
  j(eFreeQOverP, eBoundQOverP) = 1.0;
  return j;
}

BoundVector Surface::freeToBound(const FreeVector& f) const {
  const Vec3 dir = freeDir(f);
  const auto loc = globalToLocal(freePos(f), dir);
  BoundVector b;
  b[eBoundLoc0] = loc[0];
  b[eBoundLoc1] = loc[1];
  b[eBoundPhi] = std::atan2(dir[1], dir[0]);
  b[eBoundTheta] = std::atan2(norm2(dir[0], dir[1]), dir[2]);
  b[eBoundQOverP] = f[eFreeQOverP];
  return b;
}

std::array<Vec3, 2> Surface::localGradient(const Vec3& pos) const {
  const Vec3 p = toFrame(pos);
  const double r = norm2(p[0], p[1]);
  switch (type) {
    case SurfaceType::eCylinder:
      return {fromFrame({-p[1] / r * radius / r, p[0] / r * radius / r, 0.0}),
              axis(2)};
    case SurfaceType::eDisk:
      return {fromFrame({p[0] / r, p[1] / r, 0.0}),
              fromFrame({-p[1] / (r * r), p[0] / (r * r), 0.0})};
    default:
      return {axis(0), axis(1)};
  }
}

FreeToBoundMatrix Surface::freeToBoundJacobian(const FreeVector& f) const {
  FreeToBoundMatrix j{};
  const Vec3 dir = freeDir(f);
  const double st = norm2(dir[0], dir[1]);
  const double cphi = dir[0] / st;
  const double sphi = dir[1] / st;
  const double cth = dir[2];
  Vec3 d0{-sphi, cphi, 0.0};
  Vec3 d1{0.0, 0.0, 1.0};
  if (type != SurfaceType::eLine) {
    const auto grad = localGradient(freePos(f));
    d0 = grad[0];
    d1 = grad[1];
  }
  // (line: at the point of closest approach the displacement is along the
  // radial axis, so d0 does not depend on the direction to first order)
  for (std::size_t i = 0; i < 3; ++i) {
    j(eBoundLoc0, i) = d0[i];
    j(eBoundLoc1, i) = d1[i];
  }
  j(eBoundPhi, eFreeDir0) = -sphi / st;
  j(eBoundPhi, eFreeDir1) = cphi / st;
  j(eBoundTheta, eFreeDir0) = cphi * cth;
  j(eBoundTheta, eFreeDir1) = sphi * cth;
  j(eBoundTheta, eFreeDir2) = -st;
  j(eBoundQOverP, eFreeQOverP) = 1.0;
  return j;
}

PathGradient Surface::pathGradient(const FreeVector& f) const {
  PathGradient g;
  switch (type) {
    case SurfaceType::ePlane:
    case SurfaceType::eDisk:
      g.dPos = axis(2);
      break;
    case SurfaceType::eCylinder: {
      const Vec3 p = toFrame(freePos(f));
      g.dPos = fromFrame({p[0], p[1], 0.0});
      break;
    }
    case SurfaceType::eLine:
      // Constraint: (pos - c)_T . T_T = 0 (transverse point of closest
      // approach to a line along z).
      g.dPos = {f[eFreeDir0], f[eFreeDir1], 0.0};
      g.dDir = {f[eFreePos0] - center[0], f[eFreePos1] - center[1], 0.0};
      break;
  }
  return g;
}

SurfaceSet::SurfaceSet(std::span<const std::int8_t> type,
                       std::span<const double> center,
                       std::span<const double> rotation,
                       std::span<const double> radius,
                       std::span<const double> bounds,
                       std::span<const double> thicknessX0) {
  const std::size_t n = type.size();
  auto need = [&](std::size_t got, std::size_t per, const char* name) {
    if (got != n * per) {
      throw std::invalid_argument(
          std::string("SurfaceSet: ") + name + " has " + std::to_string(got) +
          " values, expected " + std::to_string(n * per) + " (" +
          std::to_string(n) + " surfaces x " + std::to_string(per) + ")");
    }
  };
  need(center.size(), 3, "center");
  need(rotation.size(), 9, "rotation");
  need(radius.size(), 1, "radius");
  need(bounds.size(), 4, "bounds");
  need(thicknessX0.size(), 1, "thickness_x0");
  m_surfaces.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    Surface& s = m_surfaces[i];
    if (type[i] < 0 || type[i] > 2) {
      throw std::invalid_argument(surfaceName(i) + ": type (=" +
                                  std::to_string(type[i]) +
                                  ") must be 0 (plane), 1 (cylinder) or 2 "
                                  "(disk)");
    }
    s.type = static_cast<SurfaceType>(type[i]);
    for (std::size_t k = 0; k < 3; ++k) {
      s.center[k] = center[3 * i + k];
      if (!std::isfinite(s.center[k])) {
        throw std::invalid_argument(surfaceName(i) +
                                    ": center must be finite");
      }
    }
    for (std::size_t k = 0; k < 9; ++k) {
      s.rotation[k] = rotation[9 * i + k];
    }
    // R^T R must be the identity.
    for (std::size_t a = 0; a < 3; ++a) {
      for (std::size_t b = 0; b < 3; ++b) {
        const double d = dot(s.axis(a), s.axis(b)) - (a == b ? 1.0 : 0.0);
        if (!(std::abs(d) < 1e-6)) {
          throw std::invalid_argument(
              surfaceName(i) + ": rotation must be orthonormal (columns are "
                               "the local axes)");
        }
      }
    }
    s.radius = radius[i];
    if (s.type == SurfaceType::eCylinder &&
        !(s.radius > 0.0 && std::isfinite(s.radius))) {
      throw std::invalid_argument(surfaceName(i) + ": radius (=" +
                                  std::to_string(s.radius) +
                                  " mm) must be > 0 for a cylinder");
    }
    for (std::size_t k = 0; k < 4; ++k) {
      s.bounds[k] = bounds[4 * i + k];
    }
    if (!(s.bounds[0] <= s.bounds[1]) || !(s.bounds[2] <= s.bounds[3])) {
      throw std::invalid_argument(surfaceName(i) +
                                  ": bounds must satisfy min <= max");
    }
    s.thicknessX0 = thicknessX0[i];
    if (!(s.thicknessX0 >= 0.0 && s.thicknessX0 <= 1.0)) {
      throw std::invalid_argument(surfaceName(i) + ": thickness_x0 (=" +
                                  std::to_string(s.thicknessX0) +
                                  ") must be in [0, 1]");
    }
    s.update();
  }
}

void SurfaceSet::spacePointsToLocal(std::span<const std::int32_t> surfaceId,
                                    std::span<const double> xyz,
                                    std::span<const double> cov,
                                    std::vector<double>& local,
                                    std::vector<double>& localCov) const {
  const std::size_t n = surfaceId.size();
  if (xyz.size() != 3 * n || cov.size() != 9 * n) {
    throw std::invalid_argument(
        "spacePointsToLocal: xyz must be (n, 3) and cov (n, 3, 3) with n = "
        "len(surface_id)");
  }
  local.assign(2 * n, 0.0);
  localCov.assign(3 * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto sid = surfaceId[i];
    if (sid < 0 || static_cast<std::size_t>(sid) >= size()) {
      throw std::invalid_argument("spacePointsToLocal: surface_id[" +
                                  std::to_string(i) + "] (=" +
                                  std::to_string(sid) + ") out of range");
    }
    const Surface& s = m_surfaces[static_cast<std::size_t>(sid)];
    const Vec3 pos{xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]};
    const Vec3 p = s.toFrame(pos);
    const double r = std::hypot(p[0], p[1]);
    if (!std::isfinite(r) ||
        (s.type != SurfaceType::ePlane && !(r > 0.0))) {
      throw std::invalid_argument("spacePointsToLocal: point " +
                                  std::to_string(i) +
                                  " is not finite or lies on the axis");
    }
    const auto loc = s.globalToLocal(pos, {1.0, 0.0, 0.0});
    const auto grad = s.localGradient(pos);
    const Vec3& j0 = grad[0];
    const Vec3& j1 = grad[1];
    double c00 = 0.0;
    double c11 = 0.0;
    double c01 = 0.0;
    for (std::size_t a = 0; a < 3; ++a) {
      for (std::size_t b = 0; b < 3; ++b) {
        const double c = cov[9 * i + 3 * a + b];
        c00 += j0[a] * c * j0[b];
        c11 += j1[a] * c * j1[b];
        c01 += j0[a] * c * j1[b];
      }
    }
    local[2 * i] = loc[0];
    local[2 * i + 1] = loc[1];
    localCov[3 * i] = c00;
    localCov[3 * i + 1] = c11;
    localCov[3 * i + 2] = c01;
  }
}

}  // namespace helixkit
