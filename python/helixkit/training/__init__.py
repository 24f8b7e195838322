"""Deprecated: moved to :mod:`helixkit.nn` (warns; goes in helixkit 0.3)."""

from __future__ import annotations

from .._deprecated import forward

__getattr__ = forward(__name__, "helixkit.nn.training", {
    "load_json_config": "helixkit.nn.config", "HitDataset": "helixkit.nn.dataset"}, {
    "dataset": "helixkit.nn.dataset", "learned": "helixkit.learned",
    "trackformer": "helixkit.trackformer"})
