#pragma once

#include "helixkit/EventData/TrackParameters.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

/// @file Surface.hpp
/// Measurement surfaces with ACTS's local coordinates:
/// * plane:    (loc0, loc1) = local (x, y) in the plane frame;
/// * cylinder: (loc0, loc1) = (R * phi_local, z_local), axis = local z;
/// * disk:     (loc0, loc1) = (r, phi_local), normal = local z;
/// * line:     (loc0, loc1) = (signed d0, z_local), the perigee surface; the
///   d0 sign is ACTS's: positive when (line direction x track direction)
///   points along the displacement from the line.
/// A surface's frame is a centre and a rotation whose columns are the local
/// x, y, z axes in global coordinates. Lengths in mm.

namespace helixkit {

using Vec3 = std::array<double, 3>;

inline double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/// sqrt(x^2 + y^2): std::hypot's overflow and underflow guards cost a
/// library call, and lengths in mm and direction components need none.
inline double norm2(double x, double y) { return std::sqrt(x * x + y * y); }

enum class SurfaceType : std::int8_t {
  ePlane = 0,
  eCylinder = 1,
  eDisk = 2,
  eLine = 3,
};

/// Gradient of a surface constraint with respect to the free position and
/// direction, used for the path-length correction of transport Jacobians.
struct PathGradient {
  Vec3 dPos{};
  Vec3 dDir{};
};

/// One surface: geometry, bounds and material.
class Surface {
 public:
  SurfaceType type = SurfaceType::ePlane;
  Vec3 center{};
  /// Row-major rotation; column j is local axis j in global coordinates.
  std::array<double, 9> rotation{1, 0, 0, 0, 1, 0, 0, 0, 1};
  /// Cylinder radius [mm]; unused for other types.
  double radius = 0.0;
  /// Bounds (loc0 min, loc0 max, loc1 min, loc1 max) in local coordinates,
  /// used for hole counting only.
  std::array<double, 4> bounds{-1e300, 1e300, -1e300, 1e300};
  /// Material thickness in radiation lengths at normal incidence.
  double thicknessX0 = 0.0;

  /// A perigee (line) surface along global z through (x, y, 0).
  static Surface perigee(double x, double y);

  /// Local axis j (0, 1, 2) in global coordinates.
  Vec3 axis(std::size_t j) const {
    return {rotation[j], rotation[3 + j], rotation[6 + j]};
  }
  /// Global -> local frame: R^T (pos - centre).
  Vec3 toFrame(const Vec3& pos) const {
    const Vec3 d{pos[0] - center[0], pos[1] - center[1], pos[2] - center[2]};
    return {rotation[0] * d[0] + rotation[3] * d[1] + rotation[6] * d[2],
            rotation[1] * d[0] + rotation[4] * d[1] + rotation[7] * d[2],
            rotation[2] * d[0] + rotation[5] * d[1] + rotation[8] * d[2]};
  }
  /// Local frame -> global direction: R * v.
  Vec3 fromFrame(const Vec3& v) const {
    return {rotation[0] * v[0] + rotation[1] * v[1] + rotation[2] * v[2],
            rotation[3] * v[0] + rotation[4] * v[1] + rotation[5] * v[2],
            rotation[6] * v[0] + rotation[7] * v[1] + rotation[8] * v[2]};
  }
  /// True if the local z axis is the global z axis (analytic fast paths).
  bool zAligned() const { return m_zAligned; }
  /// Recompute cached quantities after the fields were set.
  void update();

  /// Period of local coordinate i (2 pi R for a cylinder's loc0, 2 pi for a
  /// disk's loc1), 0 if it is not cyclic.
  double period(std::size_t i) const;
  /// Local coordinates of a global point on the surface (dir is needed for
  /// the line surface's d0 sign).
  std::array<double, 2> globalToLocal(const Vec3& pos, const Vec3& dir) const;
  /// Global point of local coordinates (dir is needed for the line surface).
  Vec3 localToGlobal(double loc0, double loc1, const Vec3& dir) const;
  /// Gradients d(loc0)/d(pos) and d(loc1)/d(pos) of globalToLocal at a
  /// point (planes, cylinders, disks; for a cylinder or disk the radius of
  /// the point itself is used).
  std::array<Vec3, 2> localGradient(const Vec3& pos) const;
  /// Unit normal at a point on the surface (cylinder: radial; line: none).
  Vec3 normal(const Vec3& pos) const;
  /// True if local coordinates are within the bounds.
  bool inside(double loc0, double loc1) const;

  /// Free vector of bound parameters on this surface.
  FreeVector boundToFree(const BoundVector& b) const;
  /// boundToFree(b) for b close to the bound parameters bRef of a free
  /// vector ref on this surface (the filter's update of a prediction): the
  /// sines and cosines of phi, theta and of the local angle (cylinder,
  /// disk) come from ref by angle addition, with series for the small
  /// differences, instead of trigonometric calls (the same values up to
  /// rounding). Differences over 0.05 rad fall back to boundToFree(b).
  FreeVector boundToFreeNear(const BoundVector& b, const BoundVector& bRef,
                             const FreeVector& ref) const;
  /// Jacobian d(free) / d(bound) at bound parameters b.
  BoundToFreeMatrix boundToFreeJacobian(const BoundVector& b) const;
  /// The same with f = boundToFree(b) known: the sines and cosines come
  /// from f's direction and position instead of trigonometric calls.
  BoundToFreeMatrix boundToFreeJacobian(const BoundVector& b,
                                        const FreeVector& f) const;
  /// Bound parameters of a free vector lying on this surface.
  BoundVector freeToBound(const FreeVector& f) const;
  /// Jacobian d(bound) / d(free) for variations that stay on the surface
  /// and keep |T| = 1 (apply the path correction first).
  FreeToBoundMatrix freeToBoundJacobian(const FreeVector& f) const;
  /// Gradient of the surface constraint at f (see PathGradient).
  PathGradient pathGradient(const FreeVector& f) const;

 private:
  /// boundToFreeJacobian given cos / sin of phi, theta and of the local
  /// angle (cylinder: loc0 / R, disk: loc1; unused otherwise).
  BoundToFreeMatrix boundToFreeJacobian(const BoundVector& b, double cphi,
                                        double sphi, double cth, double sth,
                                        double cloc, double sloc) const;

  bool m_zAligned = true;
};

/// A set of surfaces addressed by index, built from structure-of-arrays
/// inputs and validated once.
class SurfaceSet {
 public:
  SurfaceSet() = default;
  /// @param type one of SurfaceType (0 plane, 1 cylinder, 2 disk) per surface
  /// @param center n*3 centres [mm]
  /// @param rotation n*9 row-major rotations (columns = local axes)
  /// @param radius n cylinder radii [mm] (ignored for planes and disks)
  /// @param bounds n*4 (loc0 min, loc0 max, loc1 min, loc1 max)
  /// @param thicknessX0 n material thicknesses in X0
  /// @throws std::invalid_argument naming the surface and the rule
  SurfaceSet(std::span<const std::int8_t> type, std::span<const double> center,
             std::span<const double> rotation, std::span<const double> radius,
             std::span<const double> bounds,
             std::span<const double> thicknessX0);

  std::size_t size() const { return m_surfaces.size(); }
  const Surface& operator[](std::size_t i) const { return m_surfaces[i]; }
  const std::vector<Surface>& surfaces() const { return m_surfaces; }

  /// Convert space points (global x, y, z with a 3x3 covariance, row-major
  /// n*9) into 2D local measurements on their surfaces: the point is moved
  /// onto the surface along its normal and its covariance projected with the
  /// Jacobian of globalToLocal. Outputs n*2 local values and n*3 covariances
  /// (var0, var1, cov01).
  /// @throws std::invalid_argument for bad ids, shapes or non-finite input
  void spacePointsToLocal(std::span<const std::int32_t> surfaceId,
                          std::span<const double> xyz,
                          std::span<const double> cov,
                          std::vector<double>& local,
                          std::vector<double>& localCov) const;

 private:
  std::vector<Surface> m_surfaces;
};

}  // namespace helixkit
