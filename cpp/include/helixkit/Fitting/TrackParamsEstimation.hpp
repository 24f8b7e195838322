#pragma once

#include "helixkit/EventData/TrackParameters.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

/// @file TrackParamsEstimation.hpp
/// Track parameters from a seed (the helix through three space points, as
/// ACTS's estimateTrackParamsFromSeed) and from a truth vertex + momentum,
/// expressed at the perigee (line along z through the beam position).

namespace helixkit {

/// Free parameters at the bottom space point of the helix through three
/// points (bottom, middle, top; global x, y, z in mm): the transverse circle
/// through the points gives the radius (pT = |B| R), the charge sign (sense
/// of rotation) and the direction at the bottom point; cot(theta) is the
/// z difference over the transverse arc length from bottom to top.
/// A straight (collinear) seed gets q/p = 0.
/// @return nothing for coincident points or theta out of (0, pi)
std::optional<FreeVector> estimateTrackParamsFromSeed(const double* bottom,
                                                      const double* middle,
                                                      const double* top,
                                                      double bFieldZ);

/// Perigee parameters (d0, z0, phi, theta, q/p) of a free state, by exact
/// helix propagation to the point of closest approach to the line along z
/// through (beamX, beamY).
/// @return nothing if the point of closest approach is undefined
std::optional<BoundVector> perigeeFromFree(const FreeVector& f,
                                           double bFieldZ, double beamX,
                                           double beamY);

/// Batched forms: n seeds (bottom, middle, top each n * 3) or n vertices and
/// momenta (n * 3 each, charge n). Outputs n * 5 perigee parameters and a
/// status per entry (0 ok, 1 degenerate input, 2 no point of closest
/// approach). Parallel over entries; results independent of nThreads.
void estimatePerigeeFromSeeds(std::span<const double> bottom,
                              std::span<const double> middle,
                              std::span<const double> top, double bFieldZ,
                              double beamX, double beamY, unsigned nThreads,
                              std::vector<double>& params,
                              std::vector<std::int8_t>& status);

void perigeeFromMomenta(std::span<const double> position,
                        std::span<const double> momentum,
                        std::span<const double> charge, double bFieldZ,
                        double beamX, double beamY, unsigned nThreads,
                        std::vector<double>& params,
                        std::vector<std::int8_t>& status);

}  // namespace helixkit
