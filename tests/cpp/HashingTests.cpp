#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Seeding/HashingSeeder.hpp"

using namespace helixkit;

namespace {

double folded(double a, double b) {
  const double d = std::fmod(std::abs(a - b), 2 * std::numbers::pi);
  return std::min(d, 2 * std::numbers::pi - d);
}

}  // namespace

HK_TEST(exactPhiNeighboursMatchBruteForce) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-std::numbers::pi, std::numbers::pi);
  std::vector<double> phi(300);
  for (auto& p : phi) {
    p = u(rng);
  }
  phi[0] = std::numbers::pi - 1e-4;  // neighbours across +-pi
  phi[1] = -std::numbers::pi + 1e-4;
  const std::vector<std::uint32_t> q{0, 1, 7, 150, 299};
  for (const std::size_t k : {1UL, 2UL, 17UL, 300UL, 1000UL}) {
    const auto out = HashingSeeder::exactPhiNeighbours(phi, q, k);
    const std::size_t kk = std::min<std::size_t>(k, phi.size());
    HK_CHECK(out.size() == q.size() * kk);
    for (std::size_t i = 0; i < q.size(); ++i) {
      std::vector<std::pair<double, std::uint32_t>> d;
      for (std::uint32_t j = 0; j < phi.size(); ++j) {
        d.emplace_back(folded(phi[q[i]], phi[j]), j);
      }
      std::sort(d.begin(), d.end());
      std::set<std::uint32_t> ref, got;
      for (std::size_t j = 0; j < kk; ++j) {
        ref.insert(d[j].second);
        got.insert(out[i * kk + j]);
      }
      HK_CHECK(ref == got);
      HK_CHECK(out[i * kk] == q[i]);
    }
  }
  const auto across = HashingSeeder::exactPhiNeighbours(phi, std::vector<std::uint32_t>{0}, 2);
  HK_CHECK(across[1] == 1U);
  HK_CHECK_THROWS(HashingSeeder::exactPhiNeighbours(phi, q, 0), std::invalid_argument);
  HK_CHECK_THROWS(HashingSeeder::exactPhiNeighbours(phi, std::vector<std::uint32_t>{300}, 3),
                  std::invalid_argument);
  phi[3] = std::nan("");
  HK_CHECK_THROWS(HashingSeeder::exactPhiNeighbours(phi, q, 3), std::invalid_argument);
}

HK_TEST(bucketsAreUnionsPerCell) {
  const std::vector<std::uint32_t> nb{1, 2, 3, 3, 4, 9, 9, 0};
  const std::vector<std::int64_t> counts{3, 2, 2, 1};
  const std::vector<std::int64_t> cells{5, 2, 5, 7};
  const auto b = HashingSeeder::buildBuckets(nb, counts, cells, 10);
  HK_CHECK(b.size() == 3);
  HK_CHECK((b.cells == std::vector<std::int64_t>{2, 5, 7}));
  HK_CHECK((b.offsets == std::vector<std::uint64_t>{0, 2, 6, 7}));
  HK_CHECK((b.indices == std::vector<std::uint32_t>{3, 4, 1, 2, 3, 9, 0}));
  HK_CHECK(HashingSeeder::bucketViews(b)[1].size() == 4);
  HK_CHECK_THROWS(HashingSeeder::buildBuckets(nb, counts, cells, 9), std::invalid_argument);
  HK_CHECK_THROWS(HashingSeeder::buildBuckets(nb, std::vector<std::int64_t>{3, 2, 2},
                                              std::vector<std::int64_t>{1, 1, 1}, 10),
                  std::invalid_argument);
  HK_CHECK_THROWS(HashingSeeder::buildBuckets(nb, counts, std::vector<std::int64_t>{1, -1, 1, 1}, 10),
                  std::invalid_argument);
  auto bad = b;
  bad.offsets.back() = 3;
  HK_CHECK_THROWS(HashingSeeder::bucketViews(bad), std::invalid_argument);
}

HK_TEST(mergeDeduplicatesByIndices) {
  TripletSeeder::Seeds a, c;
  a.triplets = {0, 5, 9, 1, 5, 9, 2, 3, 4};
  a.zVertex = {1, 2, 3};
  a.quality = {10, 5, 7};
  c.triplets = {1, 5, 9, 0, 3, 4, 2, 3, 4};
  c.zVertex = {2, 4, 3};
  c.quality = {8, 1, 6};
  const std::vector<TripletSeeder::Seeds> both{a, c};
  const auto m = HashingSeeder::mergeSeeds(both);
  HK_CHECK((m.triplets == std::vector<std::int64_t>{2, 3, 4, 0, 3, 4, 0, 5, 9, 1, 5, 9}));
  HK_CHECK((m.quality == std::vector<float>{7, 1, 10, 8}));
  HK_CHECK((m.zVertex == std::vector<float>{3, 4, 1, 2}));
}

namespace {

/// Tracks from the origin at several phi through four barrel layers.
struct ToyTracks {
  std::vector<float> x, y, z, vr, vz;
  explicit ToyTracks(int nTracks) {
    const double bz = 2.0 * UnitConstants::T;
    for (int t = 0; t < nTracks; ++t) {
      const double pt = 0.8 + 0.1 * (t % 40);
      const double rad = pt / bz;
      const double phi0 = -3.0 + 6.0 * t / nTracks;
      const double cot = -0.8 + 0.04 * (t % 40);
      for (const double r : {32.0, 72.0, 116.0, 172.0}) {
        const double a = std::asin(r / (2 * rad));
        const double phi = phi0 - a;
        x.push_back(static_cast<float>(r * std::cos(phi)));
        y.push_back(static_cast<float>(r * std::sin(phi)));
        z.push_back(static_cast<float>(2 * rad * a * cot));
        vr.push_back(0.0025f);
        vz.push_back(0.0025f);
      }
    }
  }
  TripletSeeder::SpacePoints sps() const { return {x, y, z, vr, vz}; }
};

}  // namespace

HK_TEST(annoyBucketsFullChain) {
  const ToyTracks toy(200);
  const auto sps = toy.sps();
  TripletSeeder::Config cfg;
  cfg.rMax = 200.f;
  cfg.maxSeedsPerSpM = 1;
  const HashingSeeder hs(cfg);
  // Query layer = the r = 32 mm layer: every fourth point.
  HashingSeeder::BucketConfig bc;
  bc.bucketSize = 40;
  bc.phiBins = 16;
  const auto layer = HashingSeeder::queryLayer(sps, bc);
  HK_CHECK(layer.size() == 200);
  for (std::size_t i = 0; i < layer.size(); ++i) {
    HK_CHECK(layer[i] == 4 * i);
  }
  HashingSeeder::BucketTiming t;
  const auto b1 = HashingSeeder::annoyBuckets(sps, bc, {}, 1, &t);
  const auto b2 = HashingSeeder::annoyBuckets(sps, bc, layer, 2);
  HK_CHECK(b1.offsets == b2.offsets && b1.indices == b2.indices &&
           b1.cells == b2.cells);
  HK_CHECK(b1.size() >= 10 && b1.size() <= 16);
  HK_CHECK(t.train >= 0 && t.query >= 0 && t.buckets >= 0);
  // Every query point is in the bucket of its own cell.
  const auto cells = HashingSeeder::queryCells(sps, layer, bc);
  for (std::size_t i = 0; i < layer.size(); ++i) {
    const auto it = std::find(b1.cells.begin(), b1.cells.end(), cells[i]);
    HK_CHECK(it != b1.cells.end());
    const auto bi = static_cast<std::size_t>(it - b1.cells.begin());
    HK_CHECK(std::binary_search(b1.indices.begin() + static_cast<std::ptrdiff_t>(b1.offsets[bi]),
                                b1.indices.begin() + static_cast<std::ptrdiff_t>(b1.offsets[bi + 1]),
                                layer[i]));
  }
  const auto seeds = hs.createSeeds(sps, b1, 2);
  HK_CHECK(seeds.size() > 100);
  HK_CHECK(hs.createSeeds(sps, b2, 1).triplets == seeds.triplets);
  // One bucket holding everything (phiBins 1, exhaustive search) = standard.
  HashingSeeder::BucketConfig one = bc;
  one.bucketSize = toy.x.size();
  one.phiBins = 1;
  one.searchK = 1 << 20;
  const auto ball = HashingSeeder::annoyBuckets(sps, one, {}, 2);
  HK_CHECK(ball.size() == 1 && ball.indices.size() == toy.x.size());
  HK_CHECK(hs.createSeeds(sps, ball, 2).triplets ==
           TripletSeeder(cfg).createSeeds(sps, 1).triplets);
  // phi = pi lands in the last bin; z bins over +-layerZMax.
  const std::vector<float> px{-32.f, 32.f, 0.f}, py{0.f, 0.f, 32.f}, pz{0.f, -549.f, 549.f};
  const TripletSeeder::SpacePoints p3{px, py, pz, {}, {}};
  HashingSeeder::BucketConfig zc;
  zc.phiBins = 4;
  zc.zBins = 2;
  const auto c3 = HashingSeeder::queryCells(p3, std::vector<std::uint32_t>{0, 1, 2}, zc);
  HK_CHECK(c3[0] == 3 * 2 + 1 && c3[1] == 2 * 2 + 0 && c3[2] == 3 * 2 + 1);
  // Bad input.
  HashingSeeder::BucketConfig bad = bc;
  bad.bucketSize = 0;
  HK_CHECK_THROWS(HashingSeeder::annoyBuckets(sps, bad), std::invalid_argument);
  bad = bc;
  bad.layerRMin = 50.f;
  HK_CHECK_THROWS(HashingSeeder::annoyBuckets(sps, bad), std::invalid_argument);
  HK_CHECK_THROWS(HashingSeeder::annoyBuckets(sps, bc, std::vector<std::uint32_t>{0, 0}),
                  std::invalid_argument);
  HK_CHECK_THROWS(HashingSeeder::annoyBuckets(sps, bc, std::vector<std::uint32_t>{800}),
                  std::invalid_argument);
  std::vector<float> xn = toy.x;
  xn[5] = std::nanf("");
  const TripletSeeder::SpacePoints spn{xn, toy.y, toy.z, toy.vr, toy.vz};
  HK_CHECK_THROWS(HashingSeeder::annoyBuckets(spn, bc), std::invalid_argument);
  // No point in the query layer: no buckets.
  HashingSeeder::BucketConfig far = bc;
  far.layerRMin = 1000.f;
  far.layerRMax = 1001.f;
  HK_CHECK(HashingSeeder::annoyBuckets(sps, far).size() == 0);
}

HK_TEST(oneBucketWithEverythingEqualsStandardSeeding) {
  const ToyTracks toy(40);
  const auto& x = toy.x;
  TripletSeeder::Config cfg;
  cfg.rMax = 200.f;
  cfg.maxSeedsPerSpM = 1;
  const auto sps = toy.sps();
  const auto ref = TripletSeeder(cfg).createSeeds(sps, 1);
  HK_CHECK(ref.size() >= 40);
  HashingSeeder::Buckets all;
  for (std::uint32_t i = 0; i < x.size(); ++i) {
    all.indices.push_back(i);
  }
  all.offsets = {0, all.indices.size()};
  all.cells = {0};
  const HashingSeeder hs(cfg);
  for (const unsigned nt : {1U, 2U}) {
    const auto got = hs.createSeeds(sps, all, nt);
    HK_CHECK(got.triplets == ref.triplets);
    HK_CHECK(got.quality == ref.quality);
    HK_CHECK(got.zVertex == ref.zVertex);
  }
  // Two identical buckets: same seeds, no duplicates.
  HashingSeeder::Buckets twice = all;
  twice.indices.insert(twice.indices.end(), all.indices.begin(), all.indices.end());
  twice.offsets = {0, all.indices.size(), 2 * all.indices.size()};
  twice.cells = {0, 1};
  HK_CHECK(hs.createSeeds(sps, twice, 2).triplets == ref.triplets);
}

HK_TEST_MAIN()
