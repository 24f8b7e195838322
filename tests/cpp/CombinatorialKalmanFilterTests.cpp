#include "TestHarness.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/Fitting/TrackParamsEstimation.hpp"
#include "helixkit/Propagation/HelixPropagator.hpp"
#include "helixkit/TrackFinding/CombinatorialKalmanFilter.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace helixkit;

namespace {

constexpr double kBz = 2.0 * UnitConstants::T;
const std::vector<double> kRadii = {32, 72, 116, 172, 260, 360, 500, 660, 820, 1020};

SurfaceSet barrel() {
  const std::size_t n = kRadii.size();
  std::vector<std::int8_t> type(n, 1);
  std::vector<double> center(3 * n, 0.0), rotation, bounds, x0(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (double v : {1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0}) {
      rotation.push_back(v);
    }
    for (double v : {-M_PI * kRadii[i], M_PI * kRadii[i], -3000.0, 3000.0}) {
      bounds.push_back(v);
    }
  }
  return SurfaceSet(type, center, rotation, kRadii, bounds, x0);
}

struct Toy {
  std::vector<std::int32_t> surface;
  std::vector<double> local, cov, xyz;
  std::vector<std::int32_t> particle;
};

/// Exact crossings of a helix from the origin with every layer.
void addTrack(Toy& t, const SurfaceSet& set, double pt, double phi, double eta, double q,
              int particle, int skipLayer = -1) {
  const HelixPropagator prop(kBz);
  const double theta = 2.0 * std::atan(std::exp(-eta));
  FreeVector f{};
  f[eFreeDir0] = std::cos(phi) * std::sin(theta);
  f[eFreeDir1] = std::sin(phi) * std::sin(theta);
  f[eFreeDir2] = std::cos(theta);
  f[eFreeQOverP] = q * std::sin(theta) / pt;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const auto s = prop.intersect(set[i], f, 1e-6);
    if (!s) {
      continue;
    }
    f = prop.advance(f, *s, nullptr);
    if (static_cast<int>(i) == skipLayer) {
      continue;
    }
    const Vec3 pos{f[eFreePos0], f[eFreePos1], f[eFreePos2]};
    const auto loc = set[i].globalToLocal(pos, {f[eFreeDir0], f[eFreeDir1], f[eFreeDir2]});
    t.surface.push_back(static_cast<std::int32_t>(i));
    t.local.insert(t.local.end(), {loc[0], loc[1]});
    t.cov.insert(t.cov.end(), {1e-4, 1e-4, 0.0});
    t.xyz.insert(t.xyz.end(), {pos[0], pos[1], pos[2]});
    t.particle.push_back(particle);
  }
}

CombinatorialKalmanFilter::Output run(const Toy& t, const std::vector<std::int64_t>& seeds,
                                      unsigned nThreads = 1) {
  static const SurfaceSet set = barrel();
  std::vector<double> params, cov;
  const auto nHits = static_cast<std::int64_t>(t.xyz.size() / 3);
  for (std::size_t s = 0; s < seeds.size() / 3; ++s) {
    if (seeds[3 * s] >= nHits || seeds[3 * s + 1] >= nHits || seeds[3 * s + 2] >= nHits) {
      // a bad seed for the filter to reject: no helix to estimate from it
      params.insert(params.end(), {0.0, 0.0, 0.0, 1.0, 0.5});
      std::vector<double> c(25, 0.0);
      for (std::size_t k = 0; k < 5; ++k) {
        c[6 * k] = 1.0;
      }
      cov.insert(cov.end(), c.begin(), c.end());
      continue;
    }
    const double* b = &t.xyz[3 * static_cast<std::size_t>(seeds[3 * s])];
    const double* m = &t.xyz[3 * static_cast<std::size_t>(seeds[3 * s + 1])];
    const double* p = &t.xyz[3 * static_cast<std::size_t>(seeds[3 * s + 2])];
    const auto free = estimateTrackParamsFromSeed(b, m, p, kBz);
    const auto per = perigeeFromFree(*free, kBz, 0.0, 0.0);
    params.insert(params.end(), per->v.begin(), per->v.end());
    std::vector<double> c(25, 0.0);
    for (std::size_t k = 0; k < 4; ++k) {
      c[6 * k] = k < 2 ? 1.0 : 4e-4;
    }
    c[24] = std::pow(0.1 * std::abs((*per)[4]) + 0.05, 2);
    cov.insert(cov.end(), c.begin(), c.end());
  }
  CombinatorialKalmanFilter::Config cfg;
  cfg.bFieldZ = kBz;
  cfg.nThreads = nThreads;
  CombinatorialKalmanFilter ckf(cfg, set);
  CombinatorialKalmanFilter::Measurements meas;
  meas.surfaceId = t.surface;
  meas.local = t.local;
  meas.cov = t.cov;
  CombinatorialKalmanFilter::Seeds sd{seeds, params, cov};
  return ckf.findTracks(meas, sd);
}

}  // namespace

HK_TEST(single_helix_is_found_whole) {
  Toy t;
  addTrack(t, barrel(), 2.0, 0.3, 0.4, 1.0, 1);
  const auto out = run(t, {0, 1, 2});
  HK_CHECK(out.seed.size() == 1);
  HK_CHECK(out.measurements.size() == kRadii.size());
  for (std::size_t i = 0; i < out.measurements.size(); ++i) {
    HK_CHECK(out.measurements[i] == static_cast<std::int64_t>(i));
  }
  HK_CHECK(out.nHoles[0] == 0);
  HK_CHECK_CLOSE(std::abs(std::sin(out.params[3]) / out.params[4]), 2.0, 2e-3);
}

HK_TEST(seed_in_the_middle_finds_inner_hits_two_way) {
  Toy t;
  addTrack(t, barrel(), 1.5, -2.0, -1.1, -1.0, 1);
  const auto out = run(t, {3, 4, 5});
  HK_CHECK(out.seed.size() == 1);
  HK_CHECK(out.measurements.size() == kRadii.size());
  HK_CHECK(out.measurements.front() == 0);
}

HK_TEST(missing_layer_is_a_hole) {
  Toy t;
  addTrack(t, barrel(), 3.0, 1.0, 0.2, 1.0, 1, 5);
  const auto out = run(t, {0, 1, 2});
  HK_CHECK(out.seed.size() == 1);
  HK_CHECK(out.nHoles[0] == 1);
  HK_CHECK(out.measurements.size() == kRadii.size() - 1);
}

HK_TEST(two_tracks_thread_invariant_and_deduplicated) {
  Toy t;
  addTrack(t, barrel(), 0.9, 0.5, 0.1, 1.0, 1);
  addTrack(t, barrel(), 0.9, 0.5, 0.1, -1.0, 2);
  const auto n = static_cast<std::int64_t>(kRadii.size());
  // the second seed of particle 1 lies on its first track: deduplicated
  const std::vector<std::int64_t> seeds = {0, 1, 2, n, n + 1, n + 2, 1, 2, 3};
  const auto a = run(t, seeds, 1);
  const auto b = run(t, seeds, 3);
  HK_CHECK(a.seed.size() == 2);
  HK_CHECK(a.measurements == b.measurements && a.params == b.params);
  HK_CHECK(a.seedStatus[2] == static_cast<std::int8_t>(CkfSeedStatus::eDeduplicated));
  for (std::size_t k = 0; k < a.seed.size(); ++k) {
    for (auto e = a.offsets[k]; e < a.offsets[k + 1]; ++e) {
      HK_CHECK(t.particle[static_cast<std::size_t>(a.measurements[static_cast<std::size_t>(e)])] ==
               static_cast<int>(k) + 1);
    }
  }
}

HK_TEST(bad_input_throws) {
  Toy t;
  addTrack(t, barrel(), 2.0, 0.3, 0.4, 1.0, 1);
  HK_CHECK_THROWS(run(t, {0, 1, 99}), std::invalid_argument);
  Toy bad = t;
  bad.cov[3 * 4 + 1] = -1.0;
  HK_CHECK_THROWS(run(bad, {0, 1, 2}), std::invalid_argument);
  CombinatorialKalmanFilter::Config cfg;
  cfg.chi2CutOffMeasurement = -1.0;
  const SurfaceSet set = barrel();
  HK_CHECK_THROWS(CombinatorialKalmanFilter(cfg, set), std::invalid_argument);
}

HK_TEST(greedy_ambiguity_keeps_the_better_track) {
  // track 0: 10 measurements; track 1 shares 5 of them (8 in all); track 2 alone
  std::vector<std::int64_t> off = {0, 10, 18, 28};
  std::vector<std::int64_t> m;
  for (int i = 0; i < 10; ++i) m.push_back(i);
  for (int i : {0, 1, 2, 3, 4, 20, 21, 22}) m.push_back(i);
  for (int i = 30; i < 40; ++i) m.push_back(i);
  GreedyAmbiguityResolution::Config cfg;
  cfg.nMeasurementsMin = 3;
  const auto kept = GreedyAmbiguityResolution::resolve(cfg, off, m, std::vector<double>{1, 1, 1});
  HK_CHECK((kept == std::vector<std::int64_t>{0, 2}));
}

HK_TEST_MAIN()
