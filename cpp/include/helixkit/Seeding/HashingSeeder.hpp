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
/// The neighbour index itself (Annoy) lives in Python; this file holds the
/// exact periodic-phi neighbour search, the bucket construction and the
/// merge.

namespace helixkit {

class HashingSeeder {
 public:
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
