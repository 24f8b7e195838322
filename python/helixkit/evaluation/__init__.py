"""Evaluation: track-finding metrics (perfect / double-majority / LHC, TrackML score)
and the resolution toolkit."""

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
from .tracking import TrackingMetrics, trackml_score, tracking_metrics, tracking_metrics_binned

__all__ = [
    "BinnedResolution",
    "TrackingMetrics",
    "binned_resolution",
    "charge_misid_rate",
    "clipped_std",
    "gaussian_lsq_fit",
    "gaussian_ml",
    "quantile_width",
    "shortest_interval",
    "trackml_score",
    "tracking_metrics",
    "tracking_metrics_binned",
]
