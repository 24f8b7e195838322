"""Evaluation: track-finding metrics (ACTS efficiency / fake / duplicate rates; perfect /
double-majority / LHC, TrackML score) and the resolution toolkit."""

from __future__ import annotations

from .resolution import (
    BinnedResolution,
    binned_resolution,
    charge_misid_rate,
    clipped_std,
    gaussian_lsq_fit,
    gaussian_ml,
    quantile_width,
    shortest_interval,
)
from .track_finding import (
    TrackFindingMetrics,
    labels_to_tracks,
    pool_track_metrics,
    track_finding_metrics,
)
from .tracking import TrackingMetrics, trackml_score, tracking_metrics, tracking_metrics_binned

__all__ = [
    "BinnedResolution",
    "TrackFindingMetrics",
    "TrackingMetrics",
    "binned_resolution",
    "charge_misid_rate",
    "clipped_std",
    "gaussian_lsq_fit",
    "gaussian_ml",
    "labels_to_tracks",
    "pool_track_metrics",
    "quantile_width",
    "shortest_interval",
    "track_finding_metrics",
    "trackml_score",
    "tracking_metrics",
    "tracking_metrics_binned",
]
