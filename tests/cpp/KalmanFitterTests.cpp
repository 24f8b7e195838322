#include "TestHarness.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/Fitting/KalmanFitter.hpp"
#include "helixkit/Propagation/HelixPropagator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
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

namespace {

/// Cylinders: six measurement layers (ids 0-5, r = 30...180 mm) and
/// passive layers (ids 6...) with their own material.
SurfaceSet passiveSet(double measX0, const std::vector<double>& passiveR,
                      const std::vector<double>& passiveX0) {
  std::vector<double> radius{30, 60, 90, 120, 150, 180};
  std::vector<double> x0(6, measX0);
  radius.insert(radius.end(), passiveR.begin(), passiveR.end());
  x0.insert(x0.end(), passiveX0.begin(), passiveX0.end());
  const std::size_t n = radius.size();
  std::vector<std::int8_t> type(n, 1);
  std::vector<double> center(3 * n, 0.0), rot, bounds;
  for (std::size_t i = 0; i < n; ++i) {
    rot.insert(rot.end(), {1, 0, 0, 0, 1, 0, 0, 0, 1});
    bounds.insert(bounds.end(), {-1e4, 1e4, -1e4, 1e4});
  }
  return SurfaceSet(type, center, rot, radius, bounds, x0);
}

/// One track: exact hits of `truth` on the six measurement layers, with the
/// surfaces `seq` (ids; >= 6 are passive, mask 0, NaN measurement).
struct OneTrack {
  std::vector<std::int64_t> off;
  std::vector<std::int32_t> sid;
  std::vector<double> meas, mcov, init, icov;
  std::vector<std::int8_t> mask;
  KalmanFitter::Input input() const {
    return {off, sid, meas, mcov, mask, init, icov, {}, {}};
  }
};

OneTrack makeTrack(const SurfaceSet& set, const BoundVector& truth,
                   const std::vector<std::int32_t>& seq,
                   double priorScale = 1.0) {
  const HelixPropagator prop(2.0 * UnitConstants::T);
  OneTrack t;
  t.off = {0, static_cast<std::int64_t>(seq.size())};
  const Surface per = Surface::perigee(0, 0);
  const Surface* cur = &per;
  BoundVector b = truth;
  for (const auto id : seq) {
    const Surface& s = set[static_cast<std::size_t>(id)];
    const auto r = prop.propagate(*cur, b, s);
    HK_CHECK(r.has_value());
    b = r->params;
    cur = &s;
    t.sid.push_back(id);
    const bool passive = id >= 6;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    t.meas.insert(t.meas.end(), {passive ? nan : b[0], passive ? nan : b[1]});
    t.mcov.insert(t.mcov.end(), {passive ? -1.0 : 1e-4, 1e-4, 0.0});
    t.mask.push_back(passive ? 0 : 3);
  }
  const double s[5] = {1, 1, 0.01, 0.01, 0.1};
  for (std::size_t a = 0; a < 5; ++a) {
    t.init.push_back(truth[a]);
    for (std::size_t c = 0; c < 5; ++c) {
      const double sa = priorScale * s[a];
      t.icov.push_back(a == c ? sa * sa : 0.0);
    }
  }
  return t;
}

BoundVector testTruth() {
  BoundVector truth;
  truth[0] = 0.01;
  truth[1] = -2.0;
  truth[2] = 1.0;
  truth[3] = 1.3;
  truth[4] = 1.0 / 1.5;
  return truth;
}

}  // namespace

HK_TEST(PassiveSurfacesWithoutMaterialChangeNothing) {
  // Passive layers with no material between the measurement layers: same
  // fit (exact hits, truth recovered), same ndf and measurement count; the
  // ignored NaN measurement / negative covariance of passive entries is
  // accepted; leading and trailing passive entries get no state (NaN).
  const SurfaceSet set = passiveSet(0.0, {20, 45, 105, 200}, {0, 0, 0, 0});
  const BoundVector truth = testTruth();
  const OneTrack a = makeTrack(set, truth, {0, 1, 2, 3, 4, 5});
  const OneTrack b = makeTrack(set, truth, {6, 0, 7, 1, 2, 8, 3, 4, 5, 9});
  KalmanFitter::Config cfg;
  cfg.storeStates = true;
  for (const auto sm : {KalmanFitter::Smoother::eMbf,
                        KalmanFitter::Smoother::eRts}) {
    cfg.smoother = sm;
    const auto oa = KalmanFitter(cfg, set).fit(a.input());
    const auto ob = KalmanFitter(cfg, set).fit(b.input());
    HK_CHECK(oa.status[0] == 0 && ob.status[0] == 0);
    HK_CHECK(oa.ndf[0] == 7 && ob.ndf[0] == 7);
    HK_CHECK(ob.nMeasurements[0] == 6);
    HK_CHECK_CLOSE(ob.chi2[0], oa.chi2[0], 1e-12);
    for (std::size_t k = 0; k < 5; ++k) {
      HK_CHECK_CLOSE(ob.params[k], truth[k], 1e-9);
      HK_CHECK_CLOSE(ob.params[k], oa.params[k], 1e-10);
    }
    for (std::size_t k = 0; k < 25; ++k) {
      const double scale = std::sqrt(oa.cov[6 * (k / 5)] * oa.cov[6 * (k % 5)]);
      HK_CHECK_CLOSE(ob.cov[k], oa.cov[k], 1e-8 * scale);
    }
    // Smoothed states of the measurements keep their place in the output.
    const std::size_t rows[6] = {1, 3, 4, 6, 7, 8};
    for (std::size_t m = 0; m < 6; ++m) {
      for (std::size_t c = 0; c < 5; ++c) {
        HK_CHECK_CLOSE(ob.smoothed[5 * rows[m] + c], oa.smoothed[5 * m + c],
                       1e-9);
      }
    }
    HK_CHECK(std::isnan(ob.smoothed[5 * 9]));  // trailing passive: skipped
    HK_CHECK(std::isnan(ob.smoothed[5 * 0]));  // leading passive: none
    HK_CHECK(std::isfinite(ob.smoothed[5 * 2]));  // between measurements
    HK_CHECK(std::isnan(ob.measurementChi2[0]) && ob.outlier[0] == 0);
  }
  // Only passive entries (or too few measurements): a status, no exception.
  OneTrack c = b;
  std::fill(c.mask.begin(), c.mask.end(), std::int8_t{0});
  const auto oc = KalmanFitter(cfg, set).fit(c.input());
  HK_CHECK(oc.status[0] == 1 && oc.nMeasurements[0] == 0);
  c.mask[0] = 4;
  HK_CHECK_THROWS(KalmanFitter(cfg, set).fit(c.input()), std::invalid_argument);
}

HK_TEST(PassiveMaterialEqualsMeasurementMaterialAndSmoothers) {
  // 2 % X0 on a passive layer 1 um behind each measurement layer must give
  // the fit of 2 % X0 on the measurement layers themselves (the material is
  // applied after the measurement); MBF = RTS through the passive states.
  const std::vector<double> pr{30.001, 60.001, 90.001, 120.001, 150.001};
  const SurfaceSet onMeas = passiveSet(0.02, {}, {});
  const SurfaceSet onPassive =
      passiveSet(0.0, pr, std::vector<double>(5, 0.02));
  const BoundVector truth = testTruth();
  OneTrack a = makeTrack(onMeas, truth, {0, 1, 2, 3, 4, 5});
  OneTrack b = makeTrack(onPassive, truth, {0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5});
  // Move the hits off the helix so that the smoother has work to do.
  for (std::size_t m = 0, j = 0; m < b.sid.size(); ++m) {
    if (b.mask[m] == 0) {
      continue;
    }
    const double d = 0.01 * ((j % 3 == 0) ? 1.0 : -0.7);
    a.meas[2 * j] += d;
    a.meas[2 * j + 1] -= d;
    b.meas[2 * m] += d;
    b.meas[2 * m + 1] -= d;
    ++j;
  }
  KalmanFitter::Config cfg;
  cfg.storeStates = true;
  cfg.energyLoss = true;
  const auto oa = KalmanFitter(cfg, onMeas).fit(a.input());
  const auto ob = KalmanFitter(cfg, onPassive).fit(b.input());
  cfg.smoother = KalmanFitter::Smoother::eRts;
  const auto orts = KalmanFitter(cfg, onPassive).fit(b.input());
  HK_CHECK(oa.status[0] == 0 && ob.status[0] == 0 && orts.status[0] == 0);
  HK_CHECK(ob.ndf[0] == oa.ndf[0]);
  HK_CHECK_CLOSE(ob.chi2[0], oa.chi2[0], 1e-4 * oa.chi2[0]);
  for (std::size_t k = 0; k < 5; ++k) {
    const double sig = std::sqrt(oa.cov[6 * k]);
    HK_CHECK_CLOSE(ob.params[k], oa.params[k], 1e-3 * sig);
    HK_CHECK_CLOSE(orts.params[k], ob.params[k], 1e-6 * sig);
    HK_CHECK_CLOSE(ob.cov[6 * k], oa.cov[6 * k], 1e-3 * oa.cov[6 * k]);
  }
  for (std::size_t k = 0; k < 25 * b.sid.size(); ++k) {
    HK_CHECK_CLOSE(orts.smoothedCov[k], ob.smoothedCov[k],
                   1e-6 * std::abs(ob.smoothedCov[k]) + 1e-15);
  }
  for (std::size_t k = 0; k < 5 * b.sid.size(); ++k) {
    HK_CHECK_CLOSE(orts.smoothed[k], ob.smoothed[k], 1e-8);
  }
  // Thread invariance with passive entries.
  OneTrack many;
  many.off = {0};
  for (int t = 0; t < 40; ++t) {
    for (std::size_t m = 0; m < b.sid.size(); ++m) {
      many.sid.push_back(b.sid[m]);
      many.mask.push_back(b.mask[m]);
      many.meas.insert(many.meas.end(), {b.meas[2 * m], b.meas[2 * m + 1]});
      const auto c0 = b.mcov.begin() + 3 * static_cast<long>(m);
      many.mcov.insert(many.mcov.end(), c0, c0 + 3);
    }
    many.off.push_back(static_cast<std::int64_t>(many.sid.size()));
    many.init.insert(many.init.end(), b.init.begin(), b.init.end());
    many.icov.insert(many.icov.end(), b.icov.begin(), b.icov.end());
  }
  cfg.smoother = KalmanFitter::Smoother::eMbf;
  const auto o1 = KalmanFitter(cfg, onPassive).fit(many.input());
  cfg.nThreads = 3;
  const auto o3 = KalmanFitter(cfg, onPassive).fit(many.input());
  HK_CHECK(o1.params == o3.params && o1.cov == o3.cov);
  HK_CHECK(o1.smoothedCov == o3.smoothedCov);
}

HK_TEST(BeamPipeBeforeFirstMeasurementWidensPerigee) {
  // A passive beam pipe before the first measurement: the fitted perigee
  // covariance gains its scattering noise (d0, z0, phi, theta), while the
  // smoothed states at the measurements are unchanged. The prior is made
  // 10x wider so that it does not constrain the state before the pipe
  // (much wider loses precision: prior variances 1e14 x the final ones).
  const SurfaceSet set = passiveSet(0.0, {20}, {0.05});
  const BoundVector truth = testTruth();
  const OneTrack a = makeTrack(set, truth, {0, 1, 2, 3, 4, 5}, 10.0);
  const OneTrack b = makeTrack(set, truth, {6, 0, 1, 2, 3, 4, 5}, 10.0);
  KalmanFitter::Config cfg;
  cfg.storeStates = true;
  const auto oa = KalmanFitter(cfg, set).fit(a.input());
  const auto ob = KalmanFitter(cfg, set).fit(b.input());
  HK_CHECK(oa.status[0] == 0 && ob.status[0] == 0);
  for (std::size_t k = 0; k < 4; ++k) {
    HK_CHECK(ob.cov[6 * k] > 1.05 * oa.cov[6 * k]);
  }
  // Var(phi) gains the Highland theta0^2 / sin^2(theta) of the beam pipe
  // (x = 5 % X0 / sin(theta) at normal transverse incidence).
  const double p = 1.0 / truth[4];
  const double e = std::hypot(p, 139.57039e-3);
  const double beta = p / e;
  const double x = 0.05 / std::sin(truth[3]);
  const double th0 = 0.0136 / (beta * p) * std::sqrt(x) *
                     (1.0 + 0.038 * std::log(x / (beta * beta)));
  const double s2 = std::sin(truth[3]) * std::sin(truth[3]);
  HK_CHECK_CLOSE(ob.cov[12] - oa.cov[12], th0 * th0 / s2,
                 0.01 * th0 * th0 / s2);
  HK_CHECK_CLOSE(ob.cov[18] - oa.cov[18], th0 * th0, 0.01 * th0 * th0);
  for (std::size_t k = 0; k < 5; ++k) {
    HK_CHECK_CLOSE(ob.params[k], truth[k], 1e-8);
    HK_CHECK_CLOSE(ob.smoothed[5 + k], oa.smoothed[k], 1e-8);
    HK_CHECK_CLOSE(ob.smoothedCov[25 + 6 * k], oa.smoothedCov[6 * k],
                   1e-3 * oa.smoothedCov[6 * k]);
  }
}

HK_TEST_MAIN()
