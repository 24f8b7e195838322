"""Deprecated: moved to :mod:`helixkit.nn.features` (warns; goes in helixkit 0.3)."""

from __future__ import annotations

from ._deprecated import forward

__getattr__ = forward(__name__, "helixkit.nn.features")
