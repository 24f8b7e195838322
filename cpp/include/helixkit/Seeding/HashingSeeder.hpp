#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "helixkit/Seeding/TripletSeeder.hpp"

/// @file HashingSeeder.hpp
/// Hashing seeding (J. Couthures, ACTS PR #3148): buckets of space points
/// built from nearest-neighbour lists, triplet seeding per bucket with
/// TripletSeeder, seeds merged and de-duplicated by space-point indices.
/// The whole chain runs here (annoyBuckets + createSeeds: embedding, Annoy
/// forest, queries, buckets, seeding, merge); the pieces are public too
/// (exact periodic-phi neighbours, bucket union, merge) for other indices.

namespace helixkit {

class HashingSeeder {
 public:
  /// Bucket construction (Python: helixkit.seeding.HashingConfig).
  struct BucketConfig {
    enum class Metric {
      /// (cos phi, sin phi): periodic azimuth only (ACTS "dphi", f = 1)
      Phi,
      /// (cos phi, sin phi, eta of the position) (ACTS "dR", f = 2)
      PhiEta,
    };
    /// Nearest neighbours per query space point, itself included (>= 1).
    std::size_t bucketSize = 100;
    Metric metric = Metric::Phi;
    /// Query points are grouped in this many equal phi bins over (-pi, pi].
    std::size_t phiBins = 100;
    /// If > 0, also in this many equal z bins over [-layerZMax, layerZMax].
    std::size_t zBins = 0;
    /// Annoy trees; 0 = 2 per feature as ACTS (2 for Phi, 4 for PhiEta).
    std::size_t nTrees = 0;
    /// Seed of the forest (ACTS: 123456789).
    std::uint64_t seed = 123456789;
    /// Candidates per query; <= 0 = nTrees × bucketSize (Annoy's default).
    std::int64_t searchK = -1;
    /// Forest leaf size; 0 = AnnoyForest::autoLeafSize.
    std::size_t leafSize = 0;
    /// Query layer [mm]: layerRMin <= r <= layerRMax and |z| <= layerZMax
    /// (ACTS: the innermost pixel barrel).
    float layerRMin = 25.f;
    float layerRMax = 40.f;
    float layerZMax = 550.f;
    /// Trees actually used.
    std::size_t trees() const {
      return nTrees > 0 ? nTrees : (metric == Metric::Phi ? 2 : 4);
    }
    /// @throws std::invalid_argument naming the offending field
    void validate() const;
  };

  /// Wall-clock seconds of annoyBuckets' steps.
  struct BucketTiming {
    double train = 0;
    double query = 0;
    double buckets = 0;
  };

  /// Buckets in compressed-row form: bucket b holds
  /// indices[offsets[b] .. offsets[b + 1]), sorted ascending and unique.
  struct Buckets {
    std::vector<std::uint64_t> offsets{0};
    std::vector<std::uint32_t> indices;
    /// Cell (phi bin, z bin) of each bucket, ascending.
    std::vector<std::int64_t> cells;
    std::size_t size() const { return cells.size(); }
  };

  /// Exact k nearest neighbours in periodic phi (|dphi| folded to [0, pi]).
  /// @param phi azimuth of every point (rad, finite)
  /// @param queries indices of the query points (< phi.size())
  /// @param k neighbours per query, the query included (>= 1; min(k, n) returned)
  /// @return min(k, n) neighbours per query, flat (query-major), in order of
  ///         increasing distance; on equal distance the lower-phi side first
  /// @throws std::invalid_argument on bad k, indices or non-finite phi
  static std::vector<std::uint32_t> exactPhiNeighbours(
      std::span<const double> phi, std::span<const std::uint32_t> queries,
      std::size_t k);

  /// Merge the neighbour lists of queries in the same cell into one bucket.
  /// @param neighbours flat neighbour indices (< nPoints)
  /// @param counts number of neighbours of each query (sum = neighbours.size())
  /// @param cells cell of each query (>= 0)
  /// @throws std::invalid_argument on inconsistent sizes or out-of-range values
  static Buckets buildBuckets(std::span<const std::uint32_t> neighbours,
                              std::span<const std::int64_t> counts,
                              std::span<const std::int64_t> cells,
                              std::size_t nPoints);

  /// Indices of the space points in the query layer of cfg (float32 r and
  /// |z| compared with the float limits).
  static std::vector<std::uint32_t> queryLayer(
      const TripletSeeder::SpacePoints& sps, const BucketConfig& cfg);

  /// The embedding of cfg.metric, row-major (n × 2 or n × 3, float):
  /// cos phi, sin phi [, asinh(z / max(r, 1 um))], computed in double.
  static std::vector<float> embedding(const TripletSeeder::SpacePoints& sps,
                                      BucketConfig::Metric metric);

  /// Cell of each query point: phi bin × max(zBins, 1) + z bin.
  static std::vector<std::int64_t> queryCells(
      const TripletSeeder::SpacePoints& sps,
      std::span<const std::uint32_t> queries, const BucketConfig& cfg);

  /// Annoy buckets: an AnnoyForest over the embedding of all space points,
  /// the bucketSize nearest neighbours of every query point, merged per
  /// cell (buildBuckets). Independent of nThreads.
  /// @param queries query points; empty = queryLayer(sps, cfg)
  /// @param timing optional, filled with the steps' wall-clock times
  /// @return no buckets if there is no query point
  /// @throws std::invalid_argument on an invalid config, non-finite or
  ///         inconsistent coordinates, out-of-range or repeated queries
  static Buckets annoyBuckets(const TripletSeeder::SpacePoints& sps,
                              const BucketConfig& cfg,
                              std::span<const std::uint32_t> queries = {},
                              unsigned nThreads = 1,
                              BucketTiming* timing = nullptr);

  /// Views of the buckets, after checking the compressed-row layout.
  /// @throws std::invalid_argument if offsets/cells/indices are inconsistent
  static std::vector<std::span<const std::uint32_t>> bucketViews(
      const Buckets& buckets);

  /// Concatenate per-bucket seeds (in bucket order) and de-duplicate them by
  /// (bottom, middle, top). Output grouped by middle ascending, then in order
  /// of first appearance; a duplicate keeps its first zVertex and its
  /// highest quality. O(seeds) for indices into one event.
  /// @throws std::invalid_argument on a negative space-point index
  static TripletSeeder::Seeds mergeSeeds(
      std::span<const TripletSeeder::Seeds> perBucket);

  /// @throws std::invalid_argument if the seeder config is invalid
  explicit HashingSeeder(const TripletSeeder::Config& cfg);

  /// Seed every bucket with the triplet seeder (in parallel over buckets,
  /// each bucket single-threaded) and merge. Independent of nThreads.
  TripletSeeder::Seeds createSeeds(const TripletSeeder::SpacePoints& sps,
                                   const Buckets& buckets,
                                   unsigned nThreads = 1) const;

  const TripletSeeder& seeder() const { return m_seeder; }

 private:
  TripletSeeder m_seeder;
};

}  // namespace helixkit
