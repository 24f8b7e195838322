"""Deprecated: moved to :mod:`helixkit.learned.model` (warns; goes in helixkit 0.3)."""

from __future__ import annotations

from helixkit._deprecated import forward

__getattr__ = forward(__name__, "helixkit.learned.model")
