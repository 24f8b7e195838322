"""Event data, readers/writers, the built-in simulation and dataset selection.

Names are imported from their modules on first use (:mod:`helixkit._lazy`): the CSV readers
and the simulation (numba) cost nothing until a program asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "acts": ["decode_barcode", "decode_geometry_id", "encode_barcode", "encode_geometry_id",
             "read_acts_csv"],
    "colliderml": ["ODD_VOLUMES", "colliderml_event_ids", "iter_colliderml", "read_colliderml"],
    "event": ["Event", "Table", "layer_key"],
    "parquet": ["parquet_event_ids", "read_parquet_events", "write_parquet_events"],
    "geometry": ["Geometry", "Layer", "geometry_from_hits", "trackml_like"],
    "selection": ["CutFlow", "format_cutflow", "particle_hit_counts", "select_particles",
                  "split_events"],
    "trackml": ["list_trackml_events", "read_trackml", "trackml_event_files", "write_trackml"],
    "simulation": ["SimulationConfig", "generate_events", "simulate_event", "trackml_weights"],
    "sources": ["ActsEvent", "InMemoryEvent", "Mapper", "SimulatedEvent", "TrackMLEvent",
                "expand_sources", "simulated_events"],
}, submodules=["acts", "colliderml", "event", "geometry", "parquet", "selection", "simulation",
               "sources", "trackml"])

if TYPE_CHECKING:
    from .acts import (
        decode_barcode,
        decode_geometry_id,
        encode_barcode,
        encode_geometry_id,
        read_acts_csv,
    )
    from .colliderml import ODD_VOLUMES, colliderml_event_ids, iter_colliderml, read_colliderml
    from .event import Event, Table, layer_key
    from .geometry import Geometry, Layer, geometry_from_hits, trackml_like
    from .parquet import parquet_event_ids, read_parquet_events, write_parquet_events
    from .selection import (
        CutFlow,
        format_cutflow,
        particle_hit_counts,
        select_particles,
        split_events,
    )
    from .simulation import SimulationConfig, generate_events, simulate_event, trackml_weights
    from .sources import (
        ActsEvent,
        InMemoryEvent,
        Mapper,
        SimulatedEvent,
        TrackMLEvent,
        expand_sources,
        simulated_events,
    )
    from .trackml import list_trackml_events, read_trackml, trackml_event_files, write_trackml
