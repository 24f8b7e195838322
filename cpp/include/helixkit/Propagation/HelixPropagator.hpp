#pragma once

#include "helixkit/EventData/Surface.hpp"
#include "helixkit/EventData/TrackParameters.hpp"

#include <optional>

/// @file HelixPropagator.hpp
/// Analytic helix propagation in a uniform magnetic field along global z,
/// surface to surface, with the full transport Jacobian (bound -> free ->
/// transport -> path correction -> bound), as ACTS's EigenStepper +
/// covariance transport would give for a constant field.

namespace helixkit {

class HelixPropagator {
 public:
  /// Result of a surface-to-surface propagation.
  struct Result {
    /// Bound parameters on the target surface.
    BoundVector params{};
    /// d(params on target) / d(params on start).
    BoundMatrix jacobian{};
    /// Free parameters at the target.
    FreeVector free{};
    /// Signed path length [mm].
    double pathLength = 0.0;
  };

  /// @param bFieldZ field along z in native units (2 T = 2 * UnitConstants::T)
  explicit HelixPropagator(double bFieldZ) : m_bz(bFieldZ) {}

  double bFieldZ() const { return m_bz; }

  /// Free parameters after a path length s [mm]; if jac is given, it
  /// receives d(free after) / d(free before) at fixed s.
  FreeVector advance(const FreeVector& f, double s, FreeMatrix* jac) const;

  /// Path length from f to the surface: for planes, disks and cylinders the
  /// first crossing with s > minPath; for a line (perigee) surface the
  /// nearest point of closest approach in either direction.
  /// With polish = false a cylinder along z is crossed where the analytic
  /// circle-circle solution says, without the Newton polish to rounding
  /// (~1e-10 mm off at 10 GeV; navigation's use), except near tangency.
  /// @return nothing if the helix does not reach the surface
  std::optional<double> intersect(const Surface& surface, const FreeVector& f,
                                  double minPath, bool polish = true) const;

  /// Propagate bound parameters from one surface to another.
  /// @return nothing if the target cannot be reached
  std::optional<Result> propagate(const Surface& from, const BoundVector& b,
                                  const Surface& to,
                                  double minPath = 1e-6) const;
  /// As above, with f0 = from.boundToFree(b) already known (the fitter
  /// carries it along).
  std::optional<Result> propagate(const Surface& from, const BoundVector& b,
                                  const FreeVector& f0, const Surface& to,
                                  double minPath = 1e-6) const;
  /// As above, with the path length to the target already known (from
  /// intersect(to, f0, ...)): no second intersection.
  std::optional<Result> propagateAlong(const Surface& from,
                                       const BoundVector& b,
                                       const FreeVector& f0, const Surface& to,
                                       double pathLength) const;

 private:
  double m_bz;
};

}  // namespace helixkit
