"""Track finding: the combinatorial Kalman filter and the classical chain.

Quick start::

    from helixkit import finding
    tracks = finding.reconstruct(event)                 # seeding → CKF → ambiguity
    tracks.hits[tracks.offsets[i]:tracks.offsets[i + 1]]  # track i's hit rows
    tracks.params, tracks.chi2, tracks.n_holes, tracks.timing

Pieces: :class:`CkfConfig`, :class:`TrackSelectorConfig`, :class:`AmbiguityConfig`
(ACTS names and defaults), :func:`detector_for` (surfaces and local measurements of an
event), :func:`seeding_variances` (the seeding's space-point variances, as ACTS's space-point
maker), :func:`find_tracks_ckf`, :func:`resolve_ambiguities`, :func:`reconstruct`.
"""

from __future__ import annotations

from .chain import reconstruct
from .ckf import SEED_STATUS_NAMES, Tracks, find_tracks_ckf, resolve_ambiguities
from .config import AmbiguityConfig, CkfConfig, TrackSelectorConfig
from .detector import (
    Detector,
    ModulePlanes,
    PassiveSurfaces,
    detector_for,
    seeding_variances,
    space_point_variances,
)

__all__ = [
    "SEED_STATUS_NAMES",
    "AmbiguityConfig",
    "CkfConfig",
    "Detector",
    "ModulePlanes",
    "PassiveSurfaces",
    "TrackSelectorConfig",
    "Tracks",
    "detector_for",
    "seeding_variances",
    "space_point_variances",
    "find_tracks_ckf",
    "reconstruct",
    "resolve_ambiguities",
]
