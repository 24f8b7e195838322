#pragma once

#include "helixkit/Definitions/Units.hpp"
#include "helixkit/EventData/Surface.hpp"
#include "helixkit/EventData/TrackParameters.hpp"

#include <cstdint>
#include <span>
#include <vector>

/// @file KalmanFitter.hpp
/// Batched Kalman filter + smoother for tracks in a uniform solenoid field,
/// following ACTS's KalmanFitter (GainMatrixUpdater, GainMatrixSmoother /
/// MbfSmoother, Highland multiple scattering, mean energy loss), with the
/// final extrapolation to the perigee at the beam line.

namespace helixkit {

/// Per-track outcome of the fit (the `status` array).
enum class KalmanFitterStatus : std::int8_t {
  eSuccess = 0,
  /// Fewer than minMeasurements usable measurements, or fewer measured
  /// dimensions than the five track parameters.
  eTooFewMeasurements = 1,
  /// A measurement surface (or the perigee) was not reached by the helix,
  /// or the particle stopped through energy loss.
  ePropagationFailed = 2,
  /// A covariance lost positive definiteness or a value became non-finite.
  eNumericalFailure = 3,
};

class KalmanFitter {
 public:
  enum class Smoother : std::uint8_t {
    /// Modified Bryson-Frazier: no inverse of the predicted covariance.
    eMbf = 0,
    /// Rauch-Tung-Striebel (ACTS's GainMatrixSmoother).
    eRts = 1,
  };

  struct Config {
    /// Field along z in native units (2 T = 2 * UnitConstants::T).
    double bFieldZ = 2.0 * UnitConstants::T;
    /// Add Highland multiple-scattering noise at every surface.
    bool multipleScattering = true;
    /// Apply the mean energy loss at every surface (forward direction).
    bool energyLoss = false;
    /// Mass hypothesis [GeV] (default: charged pion, as ACTS).
    double mass = 139.57039 * UnitConstants::MeV;
    /// Mean energy loss per radiation length [GeV] (silicon, MIP).
    double energyLossPerX0 = 36.6 * UnitConstants::MeV;
    /// Reject a measurement as an outlier if its predicted chi2 exceeds
    /// this; 0 disables outlier rejection.
    double outlierChi2Cut = 0.0;
    /// Count holes: candidate surfaces crossed within their bounds between
    /// the first and the last measurement that carry no measurement.
    bool countHoles = false;
    /// Smoother formalism.
    Smoother smoother = Smoother::eMbf;
    /// Minimum number of measurements (outliers excluded) for a fit.
    std::uint32_t minMeasurements = 3;
    /// Beam-line position in the transverse plane [mm]: the perigee
    /// reference line is parallel to z through (beamX, beamY).
    double beamX = 0.0;
    double beamY = 0.0;
    /// Also return the smoothed state of every measurement.
    bool storeStates = false;
    /// Worker threads; 0 means all cores.
    unsigned nThreads = 1;
    /// @throws std::invalid_argument naming the offending field and value
    void validate() const;
  };

  /// Flat structure-of-arrays input for N tracks and M measurements.
  struct Input {
    /// N + 1 offsets: entries of track i are [offsets[i], offsets[i+1]),
    /// in the order the track crosses them. An entry is a measurement or a
    /// passive (material-only) surface, see measurementMask.
    std::span<const std::int64_t> trackOffsets;
    /// M surface indices into the SurfaceSet.
    std::span<const std::int32_t> surfaceId;
    /// M * 2 local measurement values (loc0, loc1).
    std::span<const double> measurement;
    /// M * 3 local covariances (var0, var1, cov01).
    std::span<const double> measurementCov;
    /// M measured components: 1 = loc0, 2 = loc1, 3 = both, 0 = passive:
    /// the track is propagated to the surface and its material is applied
    /// (scattering, energy loss) with no measurement update; the entry's
    /// measurement and covariance are ignored (not validated), it is no
    /// hole, adds nothing to ndf, chi2 or nMeasurements. Passive entries
    /// before the first measurement (beam pipe) lie between the perigee and
    /// the first measurement: the perigee is extrapolated from the smoothed
    /// first-measurement state and their noise is added there (J Q J^T,
    /// J = passive surface -> perigee; mean energy loss given back), as
    /// ACTS adds material noise when extrapolating. Passive entries after
    /// the last measurement cannot change the fit and are skipped.
    std::span<const std::int8_t> measurementMask;
    /// N * 5 initial perigee parameters (d0, z0, phi, theta, q/p).
    std::span<const double> initialParams;
    /// N * 25 initial perigee covariances.
    std::span<const double> initialCov;
    /// Optional N masses [GeV] (empty: Config::mass for all tracks).
    std::span<const double> mass;
    /// Surfaces checked for holes (empty: all surfaces) when countHoles.
    std::span<const std::int32_t> holeSurfaces;
  };

  struct Output {
    /// N * 5 perigee parameters (d0, z0, phi, theta, q/p); NaN on failure.
    std::vector<double> params;
    /// N * 25 perigee covariances.
    std::vector<double> cov;
    /// N chi2 sums over the accepted measurements.
    std::vector<double> chi2;
    /// N degrees of freedom: measured dimensions - 5.
    std::vector<std::int32_t> ndf;
    /// N numbers of measurement entries (passive entries not counted).
    std::vector<std::int32_t> nMeasurements;
    std::vector<std::int32_t> nOutliers;
    std::vector<std::int32_t> nHoles;
    /// N KalmanFitterStatus codes.
    std::vector<std::int8_t> status;
    /// Per entry (storeStates only): M * 5 smoothed bound parameters on the
    /// entry's surface before its material (the state at the hit, as the
    /// material is applied after the measurement), M * 25 covariances.
    /// Passive entries between measurements get the state before their
    /// material too; NaN for passive entries before the first or after the
    /// last measurement and for failed tracks.
    std::vector<double> smoothed;
    std::vector<double> smoothedCov;
    /// Per entry: predicted chi2 (= filtered chi2; NaN for passive
    /// entries), and 1 if outlier.
    std::vector<double> measurementChi2;
    std::vector<std::int8_t> outlier;
  };

  /// @throws std::invalid_argument if the config is invalid
  KalmanFitter(const Config& cfg, const SurfaceSet& surfaces);

  /// Fit all tracks in parallel (thread-count invariant results).
  /// @throws std::invalid_argument for inconsistent or invalid inputs
  Output fit(const Input& input) const;

  const Config& config() const { return m_cfg; }

 private:
  void validateInput(const Input& in) const;

  Config m_cfg;
  const SurfaceSet& m_surfaces;
};

}  // namespace helixkit
