#pragma once

#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/EventData/TrackParameters.hpp"

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

/// @file CombinatorialKalmanFilter.hpp
/// Track finding from seeds with a combinatorial Kalman filter, following
/// ACTS's CombinatorialKalmanFilter + TrackFindingAlgorithm (measurement
/// selection with chi2CutOffMeasurement / chi2CutOffOutlier /
/// numMeasurementsCutOff, holes, outliers, two-way search, seed
/// deduplication, stay-on-seed, TrackSelector cuts), with three changes:
/// * candidates on a surface come from a per-surface index sorted in the
///   azimuthal local coordinate, and only those inside the window that the
///   predicted covariance allows are chi2-tested (ACTS tests all);
/// * branches of a seed advance together one surface at a time and at most
///   maxBranchesPerSeed live branches are kept, ranked by quality (ACTS has
///   no cap and re-propagates every branch from its branch point);
/// * the inward pass starts from a backward re-filter of the best outward
///   candidate's measurements (the full-information state at the seed's
///   innermost measurement, what ACTS takes from its smoother), and one
///   track (the best candidate) is kept per seed.
/// The outward pass starts at the seed's bottom measurement and takes only
/// the seed's own measurements on the middle and top surfaces (stay on
/// seed), searching the surfaces between and beyond; the inward pass ends
/// at the point of closest approach to the beam line.
/// The detector is a SurfaceSet of cylinders and disks along z (layers) and
/// planes; navigation finds the next surface the helix crosses inside its
/// bounds. Field uniform along z; multiple scattering as in the
/// KalmanFitter (Highland), no energy loss.

namespace helixkit {

/// Per-seed outcome (Output::seedStatus).
enum class CkfSeedStatus : std::int8_t {
  /// The seed gave a track that passed the selection.
  eTrack = 0,
  /// Skipped: all of its measurements are on a track of an earlier seed.
  eDeduplicated = 1,
  /// Its best candidate failed the track selection, or every branch was
  /// dropped more than 5 sigma (of its q/p) below the selector's ptMin.
  eNotSelected = 2,
  /// Its seed measurements could not be followed (a seed surface not
  /// reached, or a covariance that lost positive definiteness).
  eFailed = 3,
};

/// ACTS TrackSelector cuts (names and meaning as ACTS's
/// TrackSelector::Config), applied to the perigee parameters of a candidate.
struct TrackSelectorCuts {
  double ptMin = 0.0;
  double ptMax = std::numeric_limits<double>::infinity();
  double absEtaMin = 0.0;
  double absEtaMax = std::numeric_limits<double>::infinity();
  /// |d0| (loc0 at the perigee) and z0 (loc1) windows [mm].
  double loc0Min = -std::numeric_limits<double>::infinity();
  double loc0Max = std::numeric_limits<double>::infinity();
  double loc1Min = -std::numeric_limits<double>::infinity();
  double loc1Max = std::numeric_limits<double>::infinity();
  std::uint32_t nMeasurementsMin = 0;
  std::uint32_t maxHoles = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t maxOutliers = std::numeric_limits<std::uint32_t>::max();
  /// chi2 / ndf maximum.
  double maxChi2 = std::numeric_limits<double>::infinity();
  /// @throws std::invalid_argument naming the field, value and rule
  void validate() const;
};

class CombinatorialKalmanFilter {
 public:
  struct Config {
    /// Field along z in native units.
    double bFieldZ = 2.0 * UnitConstants::T;
    /// A measurement with predicted chi2 below this starts a branch.
    double chi2CutOffMeasurement = 15.0;
    /// If none passes, the best one below this becomes an outlier state.
    double chi2CutOffOutlier = 25.0;
    /// At most this many compatible measurements per surface (best chi2).
    std::uint32_t numMeasurementsCutOff = 10;
    /// Live branches kept per seed and pass (best quality first).
    std::uint32_t maxBranchesPerSeed = 10;
    /// A branch stops (and is kept if long enough) beyond these.
    std::uint32_t maxHoles = 2;
    std::uint32_t maxOutliers = 2;
    std::uint32_t maxConsecutiveHoles = 2;
    /// A branch stops below this transverse momentum [GeV].
    double minPt = 0.1 * UnitConstants::GeV;
    /// A branch stops after this many surfaces.
    std::uint32_t maxSteps = 100;
    /// Loop protection: a pass stops after this fraction of a helix turn.
    double loopFraction = 0.5;
    /// Search inwards from the seed's innermost measurement as well.
    bool twoWay = true;
    /// Skip a seed whose measurements are all on an earlier seed's track.
    bool seedDeduplication = true;
    /// Use only the seed's own measurements on the seed's surfaces (always
    /// true here: the seed's measurements start the track).
    bool stayOnSeed = true;
    /// Chi2-test only the candidates inside the covariance window (false:
    /// every measurement on the surface, as ACTS; same tracks, slower).
    bool searchWindow = true;
    bool multipleScattering = true;
    /// Mass hypothesis [GeV] for the scattering (charged pion).
    double mass = 139.57039 * UnitConstants::MeV;
    /// Perigee reference line (parallel to z through (beamX, beamY)).
    double beamX = 0.0;
    double beamY = 0.0;
    /// Final selection of the candidates (ACTS TrackSelector names). Its
    /// ptMin also prunes the search: a branch whose pT is more than 5
    /// standard deviations of its q/p below it is dropped (ACTS follows it
    /// to the end and then drops the track).
    TrackSelectorCuts selector{};
    /// Worker threads; 0 means all cores. Results do not depend on it.
    unsigned nThreads = 1;
    /// @throws std::invalid_argument naming the field, value and rule
    void validate() const;
  };

  /// M measurements, each on one surface of the SurfaceSet.
  struct Measurements {
    std::span<const std::int32_t> surfaceId;
    /// M * 2 local values (loc0, loc1).
    std::span<const double> local;
    /// M * 3 local covariances (var0, var1, cov01).
    std::span<const double> cov;
    /// M measured components (1 loc0, 2 loc1, 3 both); empty = all 3.
    std::span<const std::int8_t> mask;
    /// Optional (all three or none): the navigation surface (layer: a
    /// cylinder or disk along z) each measurement is searched on, when its
    /// own surface is another one (a module plane near the layer); the
    /// measurement's position in the layer's local coordinates (cylinder:
    /// R phi, z of the point; disk: r, phi), M * 2; and its offset from the
    /// layer along the layer's normal (r - R; z - z_layer), M. The search
    /// window on a layer is shifted and widened by the offsets' range times
    /// the track's slope there; each candidate is then predicted on its own
    /// surface and chi2-tested and updated there.
    std::span<const std::int32_t> layer;
    std::span<const double> layerLocal;
    std::span<const double> layerOffset;
    /// Optional with `layer`: M * 2 variances of the measurement along the
    /// layer's two coordinates (its covariance turned into the layer's
    /// frame), which size the search windows; empty: the larger of the two
    /// local variances along both.
    std::span<const double> layerVar;
    /// Material-only surfaces (supports, beam pipe, volume boundaries): the
    /// tracks are carried through them and scattered, with no search and no
    /// hole. Cylinders or disks along z, or planes.
    std::span<const std::int32_t> passive;
  };

  /// S seeds of three measurements (bottom, middle, top, in the order the
  /// track crosses them) and their starting parameters at the perigee.
  struct Seeds {
    /// S * 3 measurement indices.
    std::span<const std::int64_t> measurements;
    /// S * 5 perigee parameters (d0, z0, phi, theta, q/p).
    std::span<const double> params;
    /// S * 25 perigee covariances.
    std::span<const double> cov;
  };

  /// Found tracks, in seed order (at most one per seed).
  struct Output {
    /// T + 1 offsets into measurements / outlier.
    std::vector<std::int64_t> offsets{0};
    /// Measurement indices of each track, in propagation order (innermost
    /// first), outliers included.
    std::vector<std::int64_t> measurements;
    /// 1 where the entry is an outlier state.
    std::vector<std::int8_t> outlier;
    /// T seed indices.
    std::vector<std::int64_t> seed;
    /// T * 5 perigee parameters from the filtered state at the innermost
    /// measurement (the final smoothed fit refines them), T * 25 covariances.
    std::vector<double> params;
    std::vector<double> cov;
    /// T filtered chi2 sums and measured dimensions - 5.
    std::vector<double> chi2;
    std::vector<std::int32_t> ndf;
    std::vector<std::int32_t> nMeasurements;
    std::vector<std::int32_t> nOutliers;
    /// Holes between the first and the last measurement.
    std::vector<std::int32_t> nHoles;
    /// S CkfSeedStatus codes.
    std::vector<std::int8_t> seedStatus;
    /// Work counters (summed over seeds): branches created, surfaces
    /// reached, measurements chi2-tested.
    std::int64_t nBranches = 0;
    std::int64_t nPropagations = 0;
    std::int64_t nChi2Tests = 0;
    /// The most live branches any seed had after a step (<= maxBranchesPerSeed).
    std::int64_t maxLiveBranches = 0;
  };

  /// @throws std::invalid_argument if the config is invalid
  CombinatorialKalmanFilter(const Config& cfg, const SurfaceSet& surfaces);

  /// Find tracks from all seeds (parallel over seeds, thread-count
  /// invariant: seed deduplication is applied in seed order).
  /// @throws std::invalid_argument for invalid measurements or seeds
  Output findTracks(const Measurements& meas, const Seeds& seeds) const;

  const Config& config() const { return m_cfg; }

 private:
  Config m_cfg;
  const SurfaceSet& m_surfaces;
};

/// Greedy ambiguity resolution with ACTS's GreedyAmbiguityResolution
/// semantics: tracks with fewer than nMeasurementsMin measurements are
/// dropped; then, while some track shares at least maximumSharedHits
/// measurements with other tracks (and at most maximumIterations times),
/// the worst track is removed: the highest fraction of shared
/// measurements; on a tie with equal numbers of measurements the higher
/// chi2 / ndf, otherwise the one with fewer measurements.
struct GreedyAmbiguityResolution {
  struct Config {
    std::uint32_t maximumSharedHits = 1;
    std::uint32_t maximumIterations = 1000;
    std::uint32_t nMeasurementsMin = 7;
    /// @throws std::invalid_argument naming the field, value and rule
    void validate() const;
  };

  /// @param offsets T + 1 offsets into measurements
  /// @param measurements measurement indices per track
  /// @param chi2PerNdf T values
  /// @return indices of the kept tracks, ascending
  static std::vector<std::int64_t> resolve(
      const Config& cfg, std::span<const std::int64_t> offsets,
      std::span<const std::int64_t> measurements,
      std::span<const double> chi2PerNdf);
};

}  // namespace helixkit
