#include "helixkit/Fitting/TrackParamsEstimation.hpp"

#include "helixkit/EventData/Surface.hpp"
#include "helixkit/Propagation/HelixPropagator.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

namespace helixkit {

std::optional<FreeVector> estimateTrackParamsFromSeed(const double* b,
                                                      const double* m,
                                                      const double* t,
                                                      double bFieldZ) {
  const double ax = m[0] - b[0];
  const double ay = m[1] - b[1];
  const double cx = t[0] - b[0];
  const double cy = t[1] - b[1];
  const double la = std::hypot(ax, ay);
  const double lc = std::hypot(cx, cy);
  if (!(la > 0.0) || !(lc > 0.0) || !std::isfinite(la + lc)) {
    return std::nullopt;
  }
  // Twice the signed triangle area: > 0 for counter-clockwise b -> m -> t.
  const double cross = ax * cy - ay * cx;
  double phi = 0.0;
  double arc = lc;  // transverse arc length bottom -> top
  double qop = 0.0;
  const double straightTol = 1e-12 * la * lc;
  if (std::abs(cross) > straightTol) {
    // Circle centre relative to the bottom point.
    const double a2 = ax * ax + ay * ay;
    const double c2 = cx * cx + cy * cy;
    const double d = 2.0 * cross;
    const double ux = (cy * a2 - ay * c2) / d;
    const double uy = (ax * c2 - cx * a2) / d;
    const double r = std::hypot(ux, uy);
    // Tangent at the bottom: perpendicular to the radius, turning towards m.
    const double sense = cross > 0.0 ? 1.0 : -1.0;
    const double tx = sense * uy;
    const double ty = -sense * ux;
    phi = std::atan2(ty, tx);
    // Arc from bottom to top: chord lc subtends 2 asin(lc / 2R) (or the
    // long way round if the top is behind the tangent).
    const double half = std::min(1.0, lc / (2.0 * r));
    double ang = 2.0 * std::asin(half);
    if (tx * cx + ty * cy < 0.0) {
      ang = 2.0 * std::numbers::pi - ang;
    }
    arc = r * ang;
    const double pt = r * std::abs(bFieldZ);
    // Positive charges turn clockwise in a field along +z.
    const double charge = (cross > 0.0) == (bFieldZ > 0.0) ? -1.0 : 1.0;
    const double dz = t[2] - b[2];
    const double p = pt * std::hypot(arc, dz) / arc;
    qop = pt > 0.0 ? charge / p : 0.0;
  } else {
    phi = std::atan2(cy, cx);
  }
  const double theta = std::atan2(arc, t[2] - b[2]);
  if (!(theta > 0.0 && theta < std::numbers::pi)) {
    return std::nullopt;
  }
  FreeVector f;
  f[eFreePos0] = b[0];
  f[eFreePos1] = b[1];
  f[eFreePos2] = b[2];
  f[eFreeDir0] = std::cos(phi) * std::sin(theta);
  f[eFreeDir1] = std::sin(phi) * std::sin(theta);
  f[eFreeDir2] = std::cos(theta);
  f[eFreeQOverP] = qop;
  return f;
}

std::optional<BoundVector> perigeeFromFree(const FreeVector& f,
                                           double bFieldZ, double beamX,
                                           double beamY) {
  const HelixPropagator prop(bFieldZ);
  const Surface perigee = Surface::perigee(beamX, beamY);
  const auto s = prop.intersect(perigee, f, 0.0);
  if (!s) {
    return std::nullopt;
  }
  BoundVector b = perigee.freeToBound(prop.advance(f, *s, nullptr));
  for (double v : b.v) {
    if (!std::isfinite(v)) {
      return std::nullopt;
    }
  }
  return b;
}

namespace {

void checkSize(std::size_t got, std::size_t want, const char* name) {
  if (got != want) {
    throw std::invalid_argument(std::string(name) + " has " +
                                std::to_string(got) + " values, expected " +
                                std::to_string(want));
  }
}

void storeResult(const std::optional<BoundVector>& r, std::size_t i,
                 std::int8_t failCode, std::vector<double>& params,
                 std::vector<std::int8_t>& status) {
  if (!r) {
    status[i] = failCode;
    return;
  }
  for (std::size_t k = 0; k < 5; ++k) {
    params[5 * i + k] = (*r)[k];
  }
  status[i] = 0;
}

}  // namespace

void estimatePerigeeFromSeeds(std::span<const double> bottom,
                              std::span<const double> middle,
                              std::span<const double> top, double bFieldZ,
                              double beamX, double beamY, unsigned nThreads,
                              std::vector<double>& params,
                              std::vector<std::int8_t>& status) {
  const std::size_t n = bottom.size() / 3;
  checkSize(bottom.size(), 3 * n, "bottom");
  checkSize(middle.size(), 3 * n, "middle");
  checkSize(top.size(), 3 * n, "top");
  params.assign(5 * n, std::numeric_limits<double>::quiet_NaN());
  status.assign(n, 1);
  parallelFor(n, nThreads, [&](std::size_t i) {
    const auto f = estimateTrackParamsFromSeed(&bottom[3 * i], &middle[3 * i],
                                               &top[3 * i], bFieldZ);
    if (!f) {
      return;
    }
    storeResult(perigeeFromFree(*f, bFieldZ, beamX, beamY), i, 2, params,
                status);
  });
}

void perigeeFromMomenta(std::span<const double> position,
                        std::span<const double> momentum,
                        std::span<const double> charge, double bFieldZ,
                        double beamX, double beamY, unsigned nThreads,
                        std::vector<double>& params,
                        std::vector<std::int8_t>& status) {
  const std::size_t n = charge.size();
  checkSize(position.size(), 3 * n, "position");
  checkSize(momentum.size(), 3 * n, "momentum");
  params.assign(5 * n, std::numeric_limits<double>::quiet_NaN());
  status.assign(n, 1);
  parallelFor(n, nThreads, [&](std::size_t i) {
    const double px = momentum[3 * i];
    const double py = momentum[3 * i + 1];
    const double pz = momentum[3 * i + 2];
    const double p = std::sqrt(px * px + py * py + pz * pz);
    if (!(p > 0.0) || !std::isfinite(p) || !std::isfinite(charge[i])) {
      return;
    }
    FreeVector f;
    for (std::size_t k = 0; k < 3; ++k) {
      f[k] = position[3 * i + k];
    }
    f[eFreeDir0] = px / p;
    f[eFreeDir1] = py / p;
    f[eFreeDir2] = pz / p;
    f[eFreeQOverP] = charge[i] / p;
    storeResult(perigeeFromFree(f, bFieldZ, beamX, beamY), i, 2, params,
                status);
  });
}

}  // namespace helixkit
