#include "TestHarness.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/Fitting/KalmanFitter.hpp"
#include "helixkit/Propagation/HelixPropagator.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

using namespace helixkit;

namespace {

Surface cylinder(double r) {
  Surface s;
  s.type = SurfaceType::eCylinder;
  s.radius = r;
  s.update();
  return s;
}

Surface disk(double z) {
  Surface s;
  s.type = SurfaceType::eDisk;
  s.center = {0, 0, z};
  s.update();
  return s;
}

Surface tiltedPlane() {
  Surface s;
  s.type = SurfaceType::ePlane;
  s.center = {150, 40, 60};
  // Rotation about (1, 1, 1)/sqrt(3) by 0.5 rad plus a quarter turn so that
  // the normal points roughly along x.
  const double c = std::cos(0.5), sn = std::sin(0.5);
  const double a = 1.0 / std::sqrt(3.0);
  const double k[9] = {0, -a, a, a, 0, -a, -a, a, 0};
  double r[9];
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      double kk = 0;
      for (int m = 0; m < 3; ++m) {
        kk += k[3 * i + m] * k[3 * m + j];
      }
      r[3 * i + j] = (i == j ? 1.0 : 0.0) + sn * k[3 * i + j] + (1 - c) * kk;
    }
  }
  // columns: local x, y, z = (r col1, r col2, r col0) keeps it right-handed
  for (int i = 0; i < 3; ++i) {
    s.rotation[3 * i + 0] = r[3 * i + 1];
    s.rotation[3 * i + 1] = r[3 * i + 2];
    s.rotation[3 * i + 2] = r[3 * i + 0];
  }
  s.update();
  return s;
}

/// Compare the analytic transport Jacobian with central finite differences.
void checkJacobian(const Surface& from, const BoundVector& b,
                   const Surface& to) {
  const HelixPropagator prop(2.0 * UnitConstants::T);
  const auto r = prop.propagate(from, b, to);
  HK_CHECK(r.has_value());
  if (!r) {
    return;
  }
  const double eps[5] = {1e-5, 1e-5, 1e-7, 1e-7, 1e-7 * std::abs(b[4])};
  for (std::size_t j = 0; j < 5; ++j) {
    BoundVector bp = b;
    BoundVector bm = b;
    bp[j] += eps[j];
    bm[j] -= eps[j];
    const auto rp = prop.propagate(from, bp, to);
    const auto rm = prop.propagate(from, bm, to);
    HK_CHECK(rp.has_value() && rm.has_value());
    if (!rp || !rm) {
      return;
    }
    for (std::size_t i = 0; i < 5; ++i) {
      const double num = (rp->params[i] - rm->params[i]) / (2 * eps[j]);
      const double ana = r->jacobian(i, j);
      HK_CHECK_CLOSE(ana, num, 1e-5 * (1.0 + std::abs(num)));
    }
  }
}

}  // namespace

HK_TEST(JacobianPerigeeToCylinder) {
  BoundVector b;
  b[0] = 0.05;
  b[1] = 3.0;
  b[2] = 0.7;
  b[3] = 1.1;
  b[4] = -1.0 / 1.5;
  checkJacobian(Surface::perigee(0, 0), b, cylinder(72.0));
}

HK_TEST(JacobianCylinderToCylinderAndDisk) {
  const Surface c1 = cylinder(100.0);
  BoundVector b;
  b[0] = 100.0 * 0.3;
  b[1] = 40.0;
  b[2] = 0.35;
  b[3] = 0.6;
  b[4] = 1.0 / 2.0;
  checkJacobian(c1, b, cylinder(300.0));
  checkJacobian(c1, b, disk(400.0));
}

HK_TEST(JacobianDiskToTiltedPlaneAndPerigee) {
  const Surface d = disk(50.0);
  BoundVector b;
  b[0] = 80.0;
  b[1] = 0.25;
  b[2] = 0.2;
  b[3] = 0.9;
  b[4] = -1.0 / 3.0;
  checkJacobian(d, b, tiltedPlane());
  checkJacobian(d, b, Surface::perigee(0.1, -0.2));
}

HK_TEST(HelixAdvanceKeepsUnitDirectionAndRadius) {
  const HelixPropagator prop(2.0 * UnitConstants::T);
  FreeVector f{};
  f[3] = 0.6;
  f[4] = 0.0;
  f[5] = 0.8;
  f[6] = 1.0;  // 1 GeV, q = +1
  const FreeVector g = prop.advance(f, 500.0, nullptr);
  HK_CHECK_CLOSE(g[3] * g[3] + g[4] * g[4] + g[5] * g[5], 1.0, 1e-14);
  // Transverse radius R = pT / B = 0.6 / (2 T) ~ 1000.7 mm: the centre
  // distance from the point stays R.
  const double rr = 0.6 / (2.0 * UnitConstants::T);
  const double cx = 0.0;
  const double cy = -rr;  // positive charge turns clockwise: centre at -y
  HK_CHECK_CLOSE(std::hypot(g[0] - cx, g[1] - cy), rr, 1e-9);
}

HK_TEST(ConfigValidation) {
  KalmanFitter::Config cfg;
  cfg.bFieldZ = 2.0;  // Tesla by mistake
  HK_CHECK_THROWS(cfg.validate(), std::invalid_argument);
  cfg = KalmanFitter::Config{};
  cfg.mass = 0.0;
  HK_CHECK_THROWS(cfg.validate(), std::invalid_argument);
  cfg = KalmanFitter::Config{};
  cfg.outlierChi2Cut = -1.0;
  HK_CHECK_THROWS(cfg.validate(), std::invalid_argument);
}

HK_TEST(FitStraightExactTrackAndThreadInvariance) {
  // Three cylinders, exact hits of a known helix, many copies.
  std::vector<std::int8_t> type(6, 1);
  std::vector<double> center(18, 0.0), rot, radius{30, 60, 90, 120, 150, 180},
      bounds, x0(6, 0.01);
  for (int i = 0; i < 6; ++i) {
    rot.insert(rot.end(), {1, 0, 0, 0, 1, 0, 0, 0, 1});
    bounds.insert(bounds.end(), {-1e4, 1e4, -1e4, 1e4});
  }
  const SurfaceSet set(type, center, rot, radius, bounds, x0);
  BoundVector truth;
  truth[0] = 0.01;
  truth[1] = -2.0;
  truth[2] = 1.0;
  truth[3] = 1.3;
  truth[4] = 1.0 / 4.0;
  const HelixPropagator prop(2.0 * UnitConstants::T);
  const std::size_t nTracks = 100;
  std::vector<std::int64_t> off;
  std::vector<std::int32_t> sid;
  std::vector<double> meas, mcov, init, icov;
  std::vector<std::int8_t> mask;
  for (std::size_t t = 0; t < nTracks; ++t) {
    off.push_back(static_cast<std::int64_t>(sid.size()));
    BoundVector b = truth;
    const Surface* cur = nullptr;
    Surface per = Surface::perigee(0, 0);
    cur = &per;
    for (std::int32_t k = 0; k < 6; ++k) {
      const auto r = prop.propagate(*cur, b, set[static_cast<std::size_t>(k)]);
      HK_CHECK(r.has_value());
      b = r->params;
      cur = &set[static_cast<std::size_t>(k)];
      sid.push_back(k);
      meas.insert(meas.end(), {b[0], b[1]});
      mcov.insert(mcov.end(), {1e-4, 1e-4, 0.0});
      mask.push_back(3);
    }
    for (std::size_t k = 0; k < 5; ++k) {
      init.push_back(truth[k] * (1.0 + 1e-3));
    }
    const double s[5] = {1, 1, 0.01, 0.01, 0.1};
    for (std::size_t a = 0; a < 5; ++a) {
      for (std::size_t c = 0; c < 5; ++c) {
        icov.push_back(a == c ? s[a] * s[a] : 0.0);
      }
    }
  }
  off.push_back(static_cast<std::int64_t>(sid.size()));
  KalmanFitter::Config cfg;
  cfg.multipleScattering = false;
  KalmanFitter::Input in{off, sid, meas, mcov, mask, init, icov, {}, {}};
  const auto o1 = KalmanFitter(cfg, set).fit(in);
  cfg.nThreads = 4;
  const auto o4 = KalmanFitter(cfg, set).fit(in);
  HK_CHECK(o1.params == o4.params);
  HK_CHECK(o1.cov == o4.cov);
  for (std::size_t t = 0; t < nTracks; ++t) {
    HK_CHECK(o1.status[t] == 0);
    for (std::size_t k = 0; k < 5; ++k) {
      // Single-pass EKF from a start 1e-3 off: linearisation bias well
      // below the fitted uncertainty.
      const double sig = std::sqrt(o1.cov[25 * t + 6 * k]);
      HK_CHECK_CLOSE(o1.params[5 * t + k], truth[k], 0.05 * sig);
    }
  }
  // An empty track is an input error, not a status.
  std::vector<std::int64_t> badOff = off;
  badOff[1] = 0;
  KalmanFitter::Input bad = in;
  bad.trackOffsets = badOff;
  HK_CHECK_THROWS(KalmanFitter(cfg, set).fit(bad), std::invalid_argument);
}

HK_TEST_MAIN()
