#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/Seeding/TripletSeeder.hpp"

using namespace helixkit;

namespace {

struct Points {
  std::vector<float> x, y, z, vr, vz;
  TripletSeeder::SpacePoints view() const { return {x, y, z, vr, vz}; }
  void add(double px, double py, double pz) {
    x.push_back(static_cast<float>(px));
    y.push_back(static_cast<float>(py));
    z.push_back(static_cast<float>(pz));
    vr.push_back(0.0025f);
    vz.push_back(0.0025f);
  }
};

/// Points of a track from the origin (d0 = 0) with transverse momentum pt
/// [GeV] in a 2 T field at the given radii.
void addHelix(Points& p, double pt, double phi0, double cot, double z0,
              const std::vector<double>& radii) {
  const double radius = pt / (2 * UnitConstants::T);
  for (const double r : radii) {
    const double s = 2 * radius * std::asin(r / (2 * radius));
    const double phi = phi0 - s / radius;
    const double x = -radius * (std::sin(phi) - std::sin(phi0));
    const double y = radius * (std::cos(phi) - std::cos(phi0));
    p.add(x, y, z0 + s * cot);
  }
}

TripletSeeder::Config config() {
  TripletSeeder::Config c;
  c.minPt = 0.5f;
  c.rMax = 200;
  c.deltaRMin = 1;
  c.deltaRMax = 300;
  c.collisionRegionMin = -250;
  c.collisionRegionMax = 250;
  c.zMin = -2000;
  c.zMax = 2000;
  c.impactMax = 3;
  c.maxSeedsPerSpM = 1;
  c.radLengthPerSeed = 0.1f;
  return c;
}

Points manyTracks(int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> invPt(1.0 / 20, 1.0 / 0.6);
  std::uniform_real_distribution<double> phi(-3.14, 3.14);
  std::uniform_real_distribution<double> cot(-1.0, 1.0);
  std::normal_distribution<double> z0(0.0, 40.0);
  Points p;
  for (int i = 0; i < n; ++i) {
    addHelix(p, 1.0 / invPt(gen), phi(gen), cot(gen), z0(gen),
             {32.0, 72.0, 116.0, 172.0});
  }
  return p;
}

}  // namespace

HK_TEST(helixFromOriginGivesOneSeed) {
  Points p;
  addHelix(p, 2.0, 0.4, 0.3, 5.0, {32.0, 72.0, 116.0});
  const auto seeds = TripletSeeder(config()).createSeeds(p.view(), 1);
  HK_CHECK(seeds.size() == 1);
  if (seeds.size() == 1) {
    HK_CHECK(seeds.triplets[0] == 0 && seeds.triplets[1] == 1 &&
             seeds.triplets[2] == 2);
    HK_CHECK_CLOSE(seeds.zVertex[0], 5.0, 0.05);
  }
}

HK_TEST(lowPtTrackIsRejected) {
  Points p;
  addHelix(p, 0.45, 0.4, 0.3, 0.0, {32.0, 72.0, 116.0});
  HK_CHECK(TripletSeeder(config()).createSeeds(p.view(), 1).size() == 0);
  auto c = config();
  c.minPt = 0.4f;
  HK_CHECK(TripletSeeder(c).createSeeds(p.view(), 1).size() == 1);
}

HK_TEST(threadCountInvariance) {
  const Points p = manyTracks(300, 7);
  const TripletSeeder seeder(config());
  const auto ref = seeder.createSeeds(p.view(), 1);
  HK_CHECK(ref.size() > 100);
  for (unsigned t : {2u, 3u, 0u}) {
    const auto s = seeder.createSeeds(p.view(), t);
    HK_CHECK(s.triplets == ref.triplets);
    HK_CHECK(s.quality == ref.quality);
    HK_CHECK(s.zVertex == ref.zVertex);
  }
  // grouped by middle in ascending input index
  for (std::size_t i = 1; i < ref.size(); ++i) {
    HK_CHECK(ref.triplets[3 * i + 1] >= ref.triplets[3 * i - 2]);
  }
}

HK_TEST(subsetAndBucketsUseOriginalIndices) {
  const Points p = manyTracks(200, 11);
  const TripletSeeder seeder(config());
  const auto full = seeder.createSeeds(p.view(), 1);
  std::vector<std::uint32_t> all(p.x.size());
  for (std::uint32_t i = 0; i < all.size(); ++i) {
    all[i] = static_cast<std::uint32_t>(all.size() - 1 - i);  // reversed
  }
  const auto sub = seeder.createSeeds(p.view(), all, 2);
  HK_CHECK(sub.triplets == full.triplets);
  // the first track only: indices 0..3
  const std::vector<std::uint32_t> first{3, 1, 0, 2};
  const auto one = seeder.createSeeds(p.view(), first, 1);
  HK_CHECK(one.size() >= 1);
  for (const auto i : one.triplets) {
    HK_CHECK(i >= 0 && i < 4);
  }
  const std::vector<std::span<const std::uint32_t>> buckets{first, all};
  const auto many = seeder.createSeedsInBuckets(p.view(), buckets, 2);
  HK_CHECK(many.size() == 2);
  HK_CHECK(many[0].triplets == one.triplets);
  HK_CHECK(many[1].triplets == full.triplets);
}

HK_TEST(badInputThrows) {
  Points p;
  addHelix(p, 2.0, 0.4, 0.3, 5.0, {32.0, 72.0, 116.0});
  const TripletSeeder seeder(config());
  Points bad = p;
  bad.z[1] = std::nanf("");
  HK_CHECK_THROWS(seeder.createSeeds(bad.view(), 1), std::invalid_argument);
  bad = p;
  bad.vr[0] = -1;
  HK_CHECK_THROWS(seeder.createSeeds(bad.view(), 1), std::invalid_argument);
  bad = p;
  bad.y.pop_back();
  HK_CHECK_THROWS(seeder.createSeeds(bad.view(), 1), std::invalid_argument);
  const std::vector<std::uint32_t> dup{0, 0, 1};
  HK_CHECK_THROWS(seeder.createSeeds(p.view(), dup, 1), std::invalid_argument);
  const std::vector<std::uint32_t> outside{0, 7};
  HK_CHECK_THROWS(seeder.createSeeds(p.view(), outside, 1),
                  std::invalid_argument);
}

HK_TEST(invalidConfigThrowsNamingTheField) {
  auto expectField = [](TripletSeeder::Config c, const std::string& field) {
    try {
      TripletSeeder s(c);
      std::printf("  no exception for %s\n", field.c_str());
      ++hktest::failures();
    } catch (const std::invalid_argument& e) {
      HK_CHECK(std::string(e.what()).find(field) != std::string::npos);
    }
  };
  auto c = config();
  c.deltaRMax = 0.5f;
  expectField(c, "deltaRMax");
  c = config();
  c.bFieldZ = 2.0f;
  expectField(c, "Tesla");
  c = config();
  c.minPt = 0.05f;
  expectField(c, "minPt");
  c = config();
  c.zBinEdges = {0.f, -1.f};
  expectField(c, "zBinEdges");
  c = config();
  c.collisionRegionMax = -300;
  expectField(c, "collisionRegionMax");
  c = config();
  c.rRangeMiddleSP = {{0.f, 1.f}, {0.f, 1.f}};
  expectField(c, "rRangeMiddleSP");
}

HK_TEST(maxSeedsPerSpMIsHonouredAboveFive) {
  // one bottom and middle, ten compatible tops in distinct radii
  Points p;
  addHelix(p, 3.0, 0.2, 0.1, 0.0, {32.0, 72.0});
  for (int k = 0; k < 10; ++k) {
    addHelix(p, 3.0 + 0.3 * k, 0.2, 0.1, 0.0, {110.0 + 8.0 * k});
  }
  auto c = config();
  c.impactMax = 20;
  c.sigmaScattering = 50;
  c.compatSeedWeight = 0;
  c.maxSeedsPerSpM = 7;
  c.rMaxMiddle = 80;  // only the point at r = 72 is a middle
  const auto s = TripletSeeder(c).createSeeds(p.view(), 1);
  HK_CHECK(s.size() == 8);  // maxSeedsPerSpM + 1, not capped at 5
  for (std::size_t i = 1; i < s.size(); ++i) {
    HK_CHECK(s.quality[i] <= s.quality[i - 1]);
  }
}

HK_TEST_MAIN()
