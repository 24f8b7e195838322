"""Event data, readers/writers, the built-in simulation and dataset selection."""

from __future__ import annotations

from .event import Event, Table
from .geometry import Geometry, Layer, trackml_like

__all__ = ["Event", "Geometry", "Layer", "Table", "trackml_like"]
