#pragma once

#include "helixkit/Utilities/SmallMatrix.hpp"

#include <cmath>
#include <numbers>

/// @file TrackParameters.hpp
/// Track parametrisations as in ACTS (without time):
/// * bound parameters on a surface: (loc0, loc1, phi, theta, q/p);
/// * free parameters: (x, y, z, Tx, Ty, Tz, q/p), T the unit direction.
/// Units: mm, rad, e/GeV.

namespace helixkit {

enum BoundIndex : std::size_t {
  eBoundLoc0 = 0,
  eBoundLoc1 = 1,
  eBoundPhi = 2,
  eBoundTheta = 3,
  eBoundQOverP = 4,
  eBoundSize = 5,
};

enum FreeIndex : std::size_t {
  eFreePos0 = 0,
  eFreePos1 = 1,
  eFreePos2 = 2,
  eFreeDir0 = 3,
  eFreeDir1 = 4,
  eFreeDir2 = 5,
  eFreeQOverP = 6,
  eFreeSize = 7,
};

using BoundVector = Vec<eBoundSize>;
using BoundMatrix = Mat<eBoundSize, eBoundSize>;
using FreeVector = Vec<eFreeSize>;
using FreeMatrix = Mat<eFreeSize, eFreeSize>;
using BoundToFreeMatrix = Mat<eFreeSize, eBoundSize>;
using FreeToBoundMatrix = Mat<eBoundSize, eFreeSize>;

/// Wrap an angle into (-pi, pi].
inline double wrapPhi(double phi) {
  constexpr double kPi = std::numbers::pi;
  if (phi > kPi || phi <= -kPi) {
    phi = std::remainder(phi, 2.0 * kPi);
    if (phi <= -kPi) {
      phi += 2.0 * kPi;
    }
  }
  return phi;
}

/// Bring (phi, theta) back to phi in (-pi, pi], theta in [0, pi] (a theta
/// update beyond a pole is a reflection, as in ACTS).
inline void normalizeDirection(BoundVector& p) {
  constexpr double kPi = std::numbers::pi;
  double theta = p[eBoundTheta];
  double phi = p[eBoundPhi];
  // (the usual case, theta already in [0, pi], needs no fmod)
  if (!(theta >= 0.0 && theta <= kPi)) {
    theta = std::fmod(theta, 2.0 * kPi);
    if (theta < 0.0) {
      theta += 2.0 * kPi;
    }
    if (theta > kPi) {
      theta = 2.0 * kPi - theta;
      phi += kPi;
    }
  }
  p[eBoundTheta] = theta;
  p[eBoundPhi] = wrapPhi(phi);
}

}  // namespace helixkit
