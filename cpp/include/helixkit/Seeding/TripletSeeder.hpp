#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "helixkit/Definitions/Units.hpp"

/// @file TripletSeeder.hpp
/// ACTS-style grid triplet seeding: a (phi, z) space-point grid, doublet
/// search, triplet search with measurement-error and multiple-scattering
/// terms, and the ACTS "broad" seed filter (impact-parameter weight,
/// compatible tops, optional seed confirmation, maxSeedsPerSpM).
///
/// Output order: seeds are grouped by middle space point in ascending *input*
/// index; within one middle space point they are in the filter's ranking
/// (quality seeds first, then by descending weight; ties keep the order in
/// which candidates were produced). The result is identical for any number
/// of threads.

namespace helixkit {

/// Parameters of seed confirmation for one detector region (ACTS
/// SeedConfirmationRangeConfig).
struct SeedConfirmationRange {
  /// Lower z limit of the region, in mm.
  float zMinSeedConf = std::numeric_limits<float>::lowest();
  /// Upper z limit of the region, in mm.
  float zMaxSeedConf = std::numeric_limits<float>::max();
  /// Radius separating the "small r" and "large r" requirements, in mm.
  float rMaxSeedConf = std::numeric_limits<float>::max();
  /// Minimum number of compatible tops when the radius is above rMaxSeedConf.
  std::uint32_t nTopForLargeR = 0;
  /// Minimum number of compatible tops when the radius is below rMaxSeedConf.
  std::uint32_t nTopForSmallR = 0;
  /// Seeds with a bottom below this radius (mm) need an extra top unless d0
  /// is small.
  float seedConfMinBottomRadius = 60.f * static_cast<float>(UnitConstants::mm);
  /// Seeds with |z0| above this (mm) need an extra top unless d0 is small.
  float seedConfMaxZOrigin = 150.f * static_cast<float>(UnitConstants::mm);
  /// d0 (mm) below which the two previous requirements are waived.
  float minImpactSeedConf = 1.f * static_cast<float>(UnitConstants::mm);
};

/// Grid triplet seed finder + seed filter (ACTS GridTripletSeedingAlgorithm,
/// TripletSeeder, DoubletSeedFinder, TripletSeedFinder,
/// BroadTripletSeedFilter).
class TripletSeeder {
 public:
  /// Field names follow ACTS's GridTripletSeedingAlgorithm::Config; defaults
  /// are ACTS's C++ defaults. All lengths in mm, momenta in GeV, field in
  /// helixkit/ACTS native units (2 T = 2 * UnitConstants::T).
  struct Config {
    // --- general ---
    /// Magnetic field along z, native units (GeV/(e mm)); must be > 0.
    float bFieldZ = 2.f * static_cast<float>(UnitConstants::T);
    /// Minimum transverse momentum of a seed, GeV.
    float minPt = 0.4f;
    /// Maximum |cot(theta)| of a doublet (10.01788 is eta = 3).
    float cotThetaMax = 10.01788f;
    /// Maximum transverse impact parameter |d0| of a seed, mm.
    float impactMax = 20.f;
    /// Minimum radial distance between doublet space points, mm.
    float deltaRMin = 5.f;
    /// Maximum radial distance between doublet space points, mm.
    float deltaRMax = 270.f;
    /// Middle-top deltaR range, mm (NaN: use deltaRMin / deltaRMax).
    float deltaRMinTop = std::numeric_limits<float>::quiet_NaN();
    float deltaRMaxTop = std::numeric_limits<float>::quiet_NaN();
    /// Bottom-middle deltaR range, mm (NaN: use deltaRMin / deltaRMax).
    float deltaRMinBottom = std::numeric_limits<float>::quiet_NaN();
    float deltaRMaxBottom = std::numeric_limits<float>::quiet_NaN();

    // --- grid ---
    /// Space points with r outside [rMin, rMax] (mm) are ignored.
    float rMin = 0.f;
    float rMax = 600.f;
    /// z range of the grid (mm); points outside go to under/overflow bins,
    /// which are only used as bottom/top neighbours (as in ACTS).
    float zMin = -2800.f;
    float zMax = 2800.f;
    /// Number of phi bins covering the maximal deflection (ACTS).
    std::int32_t phiBinDeflectionCoverage = 1;
    /// Upper limit on the number of phi bins.
    std::int32_t maxPhiBins = 10000;
    /// Neighbouring phi bins searched on each side.
    std::int32_t numPhiNeighbors = 1;
    /// z bin edges, mm (empty: equidistant bins of width
    /// cotThetaMax * deltaRMax between zMin and zMax).
    std::vector<float> zBinEdges{};
    /// Per z bin, the (low, high) bin offsets searched for top / bottom
    /// candidates (empty: (-1, +1) everywhere).
    std::vector<std::pair<std::int32_t, std::int32_t>> zBinNeighborsTop{};
    std::vector<std::pair<std::int32_t, std::int32_t>> zBinNeighborsBottom{};
    /// 1-based z bins whose space points are used as middles (empty: all).
    /// ACTS also uses it as the loop order; the output order here is fixed.
    std::vector<std::uint32_t> zBinsCustomLooping{};

    // --- middle space-point range ---
    /// Middle space points must have rMinMiddle <= r <= rMaxMiddle, mm.
    float rMinMiddle = 60.f;
    float rMaxMiddle = 120.f;
    /// Use the event's r range (rounded down to 2 mm, shrunk by
    /// deltaRMiddleMin/MaxSPRange) instead of rMin/MaxMiddle.
    bool useVariableMiddleSPRange = false;
    /// Per z bin (rMin, rMax) range for middles, mm (overrides the above).
    std::vector<std::pair<float, float>> rRangeMiddleSP{};
    float deltaRMiddleMinSPRange = 10.f;
    float deltaRMiddleMaxSPRange = 10.f;

    // --- doublet cuts ---
    /// Allowed range of z(outer) - z(inner), mm.
    float deltaZMin = -std::numeric_limits<float>::infinity();
    float deltaZMax = std::numeric_limits<float>::infinity();
    /// Reject doublets whose straight line misses the beam line by more than
    /// impactMax unless a circle with pT >= minPt is still possible.
    bool interactionPointCut = false;
    /// Allowed z range of the doublet's origin on the beam line, mm.
    float collisionRegionMin = -150.f;
    float collisionRegionMax = 150.f;
    /// Multiplies the minimum helix diameter squared (>1 loosens).
    float helixCutTolerance = 1.f;

    // --- triplet cuts ---
    /// Number of sigmas of multiple scattering allowed.
    float sigmaScattering = 5.f;
    /// Material traversed by a seed, in radiation lengths.
    float radLengthPerSeed = 0.05f;

    // --- filter ---
    /// Curvature window for compatible tops, 1/mm.
    float deltaInvHelixDiameter = 0.00003f;
    /// Minimum r distance (mm) between counted compatible tops (NaN: use
    /// deltaRMin, as ACTS's GridTripletSeedingAlgorithm does).
    float filterDeltaRMin = std::numeric_limits<float>::quiet_NaN();
    /// Weight added per compatible top.
    float compatSeedWeight = 200.f;
    /// Weight removed per mm of |d0|.
    float impactWeightFactor = 1.f;
    /// Weight removed per mm of |z0| (seed confirmation only).
    float zOriginWeightFactor = 1.f;
    /// Keep at most maxSeedsPerSpM + 1 seeds per middle space point (ACTS
    /// semantics; honoured even above maxSeedsPerSpMConf, unlike ACTS
    /// without seed confirmation, acts#6053).
    std::uint32_t maxSeedsPerSpM = 5;
    /// Maximum number of compatible tops counted in the weight.
    std::uint32_t compatSeedLimit = 2;
    /// Extra weight when more than numSeedIncrement compatible tops exist.
    float seedWeightIncrement = 0.f;
    float numSeedIncrement = std::numeric_limits<float>::infinity();
    /// Penalty per unit |eta(seed) - eta(PCA)| for seeds with d0 above
    /// absDeltaEtaMinImpact (mm); 0 disables.
    float absDeltaEtaWeightFactor = 0.f;
    float absDeltaEtaMinImpact = 2.f;
    /// Enable ACTS seed confirmation (quality seeds, region-dependent
    /// minimum number of compatible tops, SP-quality vote).
    bool seedConfirmation = false;
    SeedConfirmationRange centralSeedConfirmationRange{};
    SeedConfirmationRange forwardSeedConfirmationRange{};
    /// With seed confirmation: capacity of the normal and quality candidate
    /// lists per middle space point.
    std::uint32_t maxSeedsPerSpMConf = 5;
    std::uint32_t maxQualitySeedsPerSpMConf = 5;
    /// Compatible tops are compared by |top - middle| distance instead of the
    /// top radius.
    bool useDeltaRinsteadOfTopRadius = false;

    /// @throws std::invalid_argument naming the offending field and value
    void validate() const;
  };

  /// Space points as structure-of-arrays views, all of the same length.
  /// Coordinates in mm, variances in mm^2.
  struct SpacePoints {
    std::span<const float> x;
    std::span<const float> y;
    std::span<const float> z;
    std::span<const float> varianceR;
    std::span<const float> varianceZ;
    std::size_t size() const { return x.size(); }
  };

  /// Seeds: indices into the *original* space-point arrays.
  struct Seeds {
    /// bottom, middle, top for each seed (size 3 * nSeeds).
    std::vector<std::int64_t> triplets;
    /// z of the seed origin on the beam line, mm.
    std::vector<float> zVertex;
    /// Seed-filter weight.
    std::vector<float> quality;
    std::size_t size() const { return zVertex.size(); }
  };

  /// @throws std::invalid_argument if the config is invalid
  explicit TripletSeeder(const Config& cfg);

  /// Seed all space points.
  /// @param nThreads worker threads over middle space points, 0 = all cores
  /// @throws std::invalid_argument for inconsistent lengths or non-finite
  ///         coordinates
  Seeds createSeeds(const SpacePoints& sps, unsigned nThreads = 1) const;

  /// Seed only the space points listed in `subset` (a bucket); returned
  /// indices refer to the full arrays. Duplicated subset entries are an error.
  Seeds createSeeds(const SpacePoints& sps,
                    std::span<const std::uint32_t> subset,
                    unsigned nThreads = 1) const;

  /// Seed many buckets independently, in parallel over buckets (each bucket
  /// single-threaded); result b belongs to buckets[b].
  std::vector<Seeds> createSeedsInBuckets(
      const SpacePoints& sps,
      std::span<const std::span<const std::uint32_t>> buckets,
      unsigned nThreads = 1) const;

  /// Number of phi bins the grid uses for this configuration.
  std::int32_t numPhiBins() const { return m_nPhiBins; }
  /// z bin edges the grid uses (mm).
  const std::vector<double>& zEdges() const { return m_zEdges; }

  const Config& config() const { return m_cfg; }

 private:
  Config m_cfg;
  std::int32_t m_nPhiBins = 1;
  std::vector<double> m_zEdges;

  void checkInput(const SpacePoints& sps) const;
  Seeds run(const SpacePoints& sps, std::span<const std::uint32_t> subset,
            bool all, unsigned nThreads) const;
};

}  // namespace helixkit
