"""Deprecated: the registry moved to :mod:`helixkit.nn`, the models to their systems
(:mod:`helixkit.learned`, :mod:`helixkit.trackformer`); warns, goes in helixkit 0.3."""

from __future__ import annotations

from .._deprecated import forward

__getattr__ = forward(__name__, "helixkit.nn.registry", {"config_from_dict": "helixkit.nn.config"},
                      {
    "gc": "helixkit.learned.gc", "oc": "helixkit.learned.oc", "noise": "helixkit.learned.noise",
    "edge": "helixkit.learned.edge", "track_filter": "helixkit.learned.track_filter",
    "learned": "helixkit.learned.model", "trackformer": "helixkit.trackformer.model"})
