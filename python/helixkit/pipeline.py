"""Deprecated: moved to :mod:`helixkit.learned` (warns; goes in helixkit 0.3)."""

from __future__ import annotations

from ._deprecated import forward

__getattr__ = forward(__name__, "helixkit.learned", {"feature_columns": "helixkit.nn.features",
                                                "hit_features": "helixkit.nn.features"})
