// Links helixkit::core from an installed tree and runs a few kernels, as an
// ACTS-style C++ chain would.
#include <cstdio>
#include <vector>

#include "helixkit/Clustering/Dbscan.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/Fitting/KalmanFitter.hpp"
#include "helixkit/Fitting/TrackParamsEstimation.hpp"
#include "helixkit/Graph/NeighborGraph.hpp"
#include "helixkit/Propagation/HelixPropagator.hpp"
#include "helixkit/Seeding/TripletSeeder.hpp"
#include "helixkit/TrackFinding/CombinatorialKalmanFilter.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

#include <cmath>
#include <cstdint>

namespace {

/// The classical chain in C++: seeding -> parameters -> CKF -> fit, on 20
/// helices through ten barrel layers. Returns the number of tracks found
/// whole (all ten hits of one particle) and fitted.
int classicalChain() {
  namespace u = helixkit::UnitConstants;
  using namespace helixkit;
  const double bz = 2.0 * u::T;
  const std::vector<double> radii = {32, 72, 116, 172, 260, 360, 500, 660, 820, 1020};
  const std::size_t nS = radii.size();
  std::vector<std::int8_t> type(nS, 1);
  std::vector<double> center(3 * nS, 0.0), rotation, bounds, x0(nS, 0.01);
  for (const double r : radii) {
    for (double v : {1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0}) rotation.push_back(v);
    for (double v : {-M_PI * r, M_PI * r, -3000.0, 3000.0}) bounds.push_back(v);
  }
  const SurfaceSet surfaces(type, center, rotation, radii, bounds, x0);
  const HelixPropagator prop(bz);
  std::vector<std::int32_t> sid, particle;
  std::vector<double> local, cov;
  std::vector<float> x, y, z;
  for (int p = 0; p < 20; ++p) {
    const double theta = 2.0 * std::atan(std::exp(-(-1.0 + 0.1 * p)));
    const double phi = -3.0 + 0.3 * p;
    const double pt = 1.0 + 0.2 * p;
    FreeVector f{};
    f[eFreeDir0] = std::cos(phi) * std::sin(theta);
    f[eFreeDir1] = std::sin(phi) * std::sin(theta);
    f[eFreeDir2] = std::cos(theta);
    f[eFreeQOverP] = (p % 2 ? 1.0 : -1.0) * std::sin(theta) / pt;
    for (std::size_t i = 0; i < nS; ++i) {
      f = prop.advance(f, *prop.intersect(surfaces[i], f, 1e-6), nullptr);
      const Vec3 pos{f[eFreePos0], f[eFreePos1], f[eFreePos2]};
      const auto loc = surfaces[i].globalToLocal(pos, {f[eFreeDir0], f[eFreeDir1], f[eFreeDir2]});
      sid.push_back(static_cast<std::int32_t>(i));
      local.insert(local.end(), {loc[0], loc[1]});
      cov.insert(cov.end(), {1e-4, 1e-4, 0.0});
      x.push_back(static_cast<float>(pos[0]));
      y.push_back(static_cast<float>(pos[1]));
      z.push_back(static_cast<float>(pos[2]));
      particle.push_back(p);
    }
  }
  // seeding on the four innermost layers
  std::vector<std::uint32_t> inner;
  for (std::size_t m = 0; m < sid.size(); ++m) {
    if (sid[m] < 4) inner.push_back(static_cast<std::uint32_t>(m));
  }
  const std::vector<float> var(x.size(), 1e-4f);
  TripletSeeder::Config scfg;
  scfg.bFieldZ = static_cast<float>(bz);
  const auto seeds = TripletSeeder(scfg).createSeeds({x, y, z, var, var}, inner, 1);
  // parameters
  std::vector<double> b, mi, t;
  for (std::size_t s = 0; s < seeds.size(); ++s) {
    for (int k = 0; k < 3; ++k) {
      auto& dst = k == 0 ? b : (k == 1 ? mi : t);
      const auto i = static_cast<std::size_t>(seeds.triplets[3 * s + static_cast<std::size_t>(k)]);
      dst.insert(dst.end(), {x[i], y[i], z[i]});
    }
  }
  std::vector<double> params;
  std::vector<std::int8_t> status;
  estimatePerigeeFromSeeds(b, mi, t, bz, 0.0, 0.0, 1, params, status);
  std::vector<double> seedCov;
  for (std::size_t s = 0; s < seeds.size(); ++s) {
    std::vector<double> c(25, 0.0);
    c[0] = c[6] = 1.0;
    c[12] = c[18] = 4e-4;
    c[24] = std::pow(0.1 * std::abs(params[5 * s + 4]) + 0.05, 2);
    seedCov.insert(seedCov.end(), c.begin(), c.end());
  }
  // CKF
  CombinatorialKalmanFilter::Config ccfg;
  ccfg.bFieldZ = bz;
  ccfg.selector.nMeasurementsMin = 7;
  CombinatorialKalmanFilter::Measurements meas;
  meas.surfaceId = sid;
  meas.local = local;
  meas.cov = cov;
  const auto found = CombinatorialKalmanFilter(ccfg, surfaces)
                         .findTracks(meas, {seeds.triplets, params, seedCov});
  // final fit of the found measurements
  std::vector<std::int32_t> fsid;
  std::vector<double> floc, fcov;
  for (const auto m : found.measurements) {
    const auto i = static_cast<std::size_t>(m);
    fsid.push_back(sid[i]);
    floc.insert(floc.end(), {local[2 * i], local[2 * i + 1]});
    fcov.insert(fcov.end(), {cov[3 * i], cov[3 * i + 1], cov[3 * i + 2]});
  }
  const std::vector<std::int8_t> mask(fsid.size(), 3);
  KalmanFitter::Config kcfg;
  kcfg.bFieldZ = bz;
  KalmanFitter::Input in;
  in.trackOffsets = found.offsets;
  in.surfaceId = fsid;
  in.measurement = floc;
  in.measurementCov = fcov;
  in.measurementMask = mask;
  in.initialParams = found.params;
  in.initialCov = found.cov;
  const auto fit = KalmanFitter(kcfg, surfaces).fit(in);
  int whole = 0;
  for (std::size_t k = 0; k < found.seed.size(); ++k) {
    const auto b0 = static_cast<std::size_t>(found.offsets[k]);
    const auto b1 = static_cast<std::size_t>(found.offsets[k + 1]);
    bool pure = b1 - b0 == nS;
    for (std::size_t e = b0; e < b1; ++e) {
      pure &= particle[static_cast<std::size_t>(found.measurements[e])] ==
              particle[static_cast<std::size_t>(found.measurements[b0])];
    }
    whole += pure && fit.status[k] == 0 ? 1 : 0;
  }
  std::printf("classical chain: %zu seeds -> %zu tracks, %d whole and fitted\n", seeds.size(),
              found.seed.size(), whole);
  return whole;
}

}  // namespace

int main() {
  namespace u = helixkit::UnitConstants;
  std::vector<double> radius(1000);
  helixkit::parallelFor(radius.size(), 0, [&](std::size_t i) {
    const double pt = (0.5 + 0.01 * static_cast<double>(i)) * u::GeV;
    radius[i] = pt / (2.0 * u::T);
  });
  const double r1GeV = radius[50];
  std::printf("helix radius of 1 GeV in 2 T: %.2f mm\n", r1GeV);

  // Points on a line: every point's nearest neighbours are its two sides.
  std::vector<float> pts;
  for (int i = 0; i < 100; ++i) {
    pts.push_back(static_cast<float>(i));
    pts.push_back(0.0f);
  }
  helixkit::NeighborGraph::Config cfg;
  cfg.k = 2;
  const auto edges = helixkit::NeighborGraph::knn<float>(pts, {}, 2, cfg);
  helixkit::Dbscan::Config dcfg;
  dcfg.epsilon = 1.5;
  dcfg.minPoints = 2;
  const auto labels = helixkit::Dbscan(dcfg).cluster<float>(pts, 2);
  std::printf("kNN edges: %zu, DBSCAN label of the last point: %d\n", edges.size(),
              labels.back());
  const int whole = classicalChain();
  const bool ok = r1GeV > 1667.0 && r1GeV < 1669.0 && edges.size() == 200 &&
                  labels.back() == 0 && whole >= 18;
  return ok ? 0 : 1;
}
