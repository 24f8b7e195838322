"""Deprecated: moved to :mod:`helixkit.learned` (warns; goes in helixkit 0.3)."""

from __future__ import annotations

from helixkit._deprecated import forward

__getattr__ = forward(__name__, "helixkit.learned", {
    "train_command": "helixkit.learned.cli", "evaluate_command": "helixkit.learned.cli",
    "SECTIONS": "helixkit.learned.config", "EDGE_TRAIN_DEFAULTS": "helixkit.learned.config"})
