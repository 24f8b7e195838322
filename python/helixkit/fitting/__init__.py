"""Track fitting: batched Kalman filter + smoother (ACTS KalmanFitter semantics).

Quick start::

    from helixkit import fitting, units as u
    res = fitting.fit_truth_tracks(event, min_hits=5, n_threads=0)
    res.params          # (N, 5) perigee d0, z0, phi, theta, q/p
    res.cov, res.chi2, res.ndf, res.status, res.particle_id

For arbitrary detectors build :class:`Surfaces` (planes, cylinders, disks) and
call :func:`fit_tracks` with flat measurement arrays and a track offset array.
"""

from __future__ import annotations

from .kalman import (
    DEFAULT_INITIAL_SIGMAS,
    NUMERICAL_FAILURE,
    PARAM_NAMES,
    PASSIVE,
    PROPAGATION_FAILED,
    STATUS_NAMES,
    SUCCESS,
    TOO_FEW_MEASUREMENTS,
    TrackFitResult,
    default_initial_cov,
    estimate_track_params,
    fit_tracks,
    perigee_from_momenta,
)
from .surfaces import CYLINDER, DISK, PLANE, Surfaces, geometry_measurements
from .truth import FitPerformance, fit_performance, fit_truth_tracks, plot_fit_performance

__all__ = [
    "CYLINDER",
    "DEFAULT_INITIAL_SIGMAS",
    "DISK",
    "FitPerformance",
    "NUMERICAL_FAILURE",
    "PARAM_NAMES",
    "PASSIVE",
    "PLANE",
    "PROPAGATION_FAILED",
    "STATUS_NAMES",
    "SUCCESS",
    "TOO_FEW_MEASUREMENTS",
    "Surfaces",
    "TrackFitResult",
    "default_initial_cov",
    "estimate_track_params",
    "fit_performance",
    "fit_tracks",
    "fit_truth_tracks",
    "geometry_measurements",
    "perigee_from_momenta",
    "plot_fit_performance",
]
