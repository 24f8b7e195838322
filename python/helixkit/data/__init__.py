"""Event data, readers/writers, the built-in simulation and dataset selection."""

from __future__ import annotations

from .acts import (
    decode_barcode,
    decode_geometry_id,
    encode_barcode,
    encode_geometry_id,
    read_acts_csv,
)
from .event import Event, Table, layer_key
from .geometry import Geometry, Layer, trackml_like
from .selection import CutFlow, format_cutflow, particle_hit_counts, select_particles, split_events
from .trackml import list_trackml_events, read_trackml, trackml_event_files, write_trackml

__all__ = [
    "CutFlow",
    "Event",
    "Geometry",
    "Layer",
    "Table",
    "decode_barcode",
    "decode_geometry_id",
    "encode_barcode",
    "encode_geometry_id",
    "format_cutflow",
    "layer_key",
    "list_trackml_events",
    "particle_hit_counts",
    "read_acts_csv",
    "read_trackml",
    "select_particles",
    "split_events",
    "trackml_event_files",
    "trackml_like",
    "write_trackml",
]

# the simulation imports numba (slow to import): loaded when first used
from typing import TYPE_CHECKING  # noqa: E402

from .._lazy import attach  # noqa: E402

__getattr__, __dir__, _lazy = attach(__name__, {
    "simulation": ["SimulationConfig", "generate_events", "simulate_event", "trackml_weights"]},
    submodules=["simulation"])
__all__ += _lazy

if TYPE_CHECKING:
    from .simulation import SimulationConfig, generate_events, simulate_event, trackml_weights
