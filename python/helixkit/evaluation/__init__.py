"""Evaluation: track-finding metrics (perfect / double-majority / LHC, TrackML score)."""

from __future__ import annotations

from .tracking import TrackingMetrics, trackml_score, tracking_metrics, tracking_metrics_binned

__all__ = ["TrackingMetrics", "trackml_score", "tracking_metrics", "tracking_metrics_binned"]
