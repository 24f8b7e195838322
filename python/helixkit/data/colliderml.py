"""ColliderML parquet shards (ACTS + Open Data Detector simulation) read into an :class:`Event`.

The shards are read directly with pyarrow (the optional extra ``parquet``): no
Hugging Face hub and no ``colliderml`` package. A shard holds one row per event
(``event_id``, a scalar) and one list column per quantity; configs are named
``{channel}_{pu0|pu200}_{particles|tracker_hits|calo_hits|tracks}``.

``tracker_hits`` columns read (units mm, ns)
    ``x, y, z`` (measured global position), ``true_x, true_y, true_z`` (sim hit),
    ``time``, ``particle_id``, ``volume_id``, ``layer_id``, ``surface_id``,
    ``detector`` (0..8: pixel / short strip / long strip x -endcap / barrel /
    +endcap). ``true_*``, ``time`` and ``detector`` are optional.
``particles`` columns read (units mm, GeV, ns, e)
    ``particle_id, pdg_id, charge, vx, vy, vz, px, py, pz`` (required), and kept
    when present: ``mass, energy, time, perigee_d0, perigee_z0, num_tracker_hits,
    num_calo_hits, primary, vertex_primary, parent_id``.

The event
---------
* **Hits**: there is no stored hit id; a hit is its position in the event's
  lists (which ``tracks.hit_ids`` use too), so ``hit_id`` = 0, 1, 2, ... in list
  order (a ``hit_id`` column, where a file has one, is used instead).
  ``module_id`` = ``surface_id`` (the ACTS sensitive number); ``time`` and
  ``detector`` are kept. ODD volume ids: pixel 16/17/18, short strips 23/24/25,
  long strips 28/29/30 (:data:`ODD_VOLUMES`).
* **Particle ids**: ColliderML's ``particle_id`` is an EDM4hep MCParticle index
  in which 0 is a real particle; helixkit reserves 0 for noise, so
  ``particle_id = colliderml particle_id + 1`` in hits, truth and particles
  (``parent_id`` likewise: 0 = no parent). The original index is kept as the
  particle column ``edm4hep_index``. ColliderML hits all have a particle (no noise).
* **Truth**: ``tx, ty, tz`` = ``true_x, true_y, true_z`` (the measured position
  where the shard has no true one); ColliderML stores no momentum at the hit, so
  ``tpx, tpy, tpz`` are the particle's momentum at production (NaN when no
  particle shard is given); ``weight`` is uniform over the hits (sum 1; TrackML
  weights do not exist here).
* ``q`` is the float ``charge`` rounded (a non-integer charge is an error);
  ``particle_type`` = ``pdg_id``; ``nhits`` = hits of the particle in this event.

Every problem (missing file, truncated file, a column missing or of another type
than this schema, null values, lists of different lengths within an event, an
event id that is not in the shard, hits of unknown particles) is a ValueError
naming the file, the column and the row; nothing half-read is returned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import _parquet as P
from .event import Event, Table

__all__ = ["ODD_VOLUMES", "colliderml_event_ids", "iter_colliderml", "read_colliderml"]

#: Open Data Detector volume ids of the tracker (negative endcap, barrel, positive endcap)
ODD_VOLUMES: dict[str, tuple[int, int, int]] = {
    "pixel": (16, 17, 18),
    "short_strip": (23, 24, 25),
    "long_strip": (28, 29, 30),
}

_INT = ("int", "uint")
_FLOAT = ("float",)
_NUM = ("int", "uint", "float")
_HIT_LISTS: dict[str, tuple[str, ...]] = {
    "hit_id": _INT,
    "x": _FLOAT, "y": _FLOAT, "z": _FLOAT,
    "true_x": _FLOAT, "true_y": _FLOAT, "true_z": _FLOAT,
    "time": _FLOAT,
    "particle_id": _INT,
    "volume_id": _INT, "layer_id": _INT, "surface_id": _INT,
    "detector": _INT,
}
_HIT_REQUIRED = {"event_id", "x", "y", "z", "particle_id", "volume_id", "layer_id", "surface_id"}
_PART_LISTS: dict[str, tuple[str, ...]] = {
    "particle_id": _INT, "pdg_id": _INT, "charge": _NUM,
    "vx": _FLOAT, "vy": _FLOAT, "vz": _FLOAT, "px": _FLOAT, "py": _FLOAT, "pz": _FLOAT,
    "mass": _FLOAT, "energy": _FLOAT, "time": _FLOAT,
    "perigee_d0": _FLOAT, "perigee_z0": _FLOAT,
    "num_tracker_hits": _INT, "num_calo_hits": _INT,
    "primary": ("bool", "int", "uint"), "vertex_primary": _INT, "parent_id": _INT,
}
_PART_REQUIRED = {"event_id", "particle_id", "pdg_id", "charge", "vx", "vy", "vz", "px", "py",
                  "pz"}
_SCALARS = {"event_id": _INT}


class _Shard:
    """One parquet shard: its file, schema check and event-id index."""

    def __init__(self, path: Path, lists: dict[str, tuple[str, ...]], required: set[str]) -> None:
        self.path = path
        self.pf = P.open_parquet(path)
        schema = self.pf.schema_arrow
        P.check_schema(schema, path, lists=lists, scalars=_SCALARS, required=required)
        self.columns = [c for c in schema.names if c in lists or c == "event_id"]
        self.ids = P.event_ids(self.pf, path)

    def row_of(self, event: int) -> int:
        hit = np.flatnonzero(self.ids == event)
        if len(hit) == 0:
            shown = self.ids[:10].tolist()
            more = "..." if len(self.ids) > 10 else ""
            msg = (
                f"{self.path}: column 'event_id' has no event {event} "
                f"({len(self.ids)} events: {shown}{more})"
            )
            raise ValueError(msg)
        return int(hit[0])


def _cells(table: Any, row: int, shard: _Shard, base: int) -> dict[str, np.ndarray]:
    """The list cells of one row, all of the same length."""
    eid = int(shard.ids[base + row])
    where = f"event {eid}"
    out: dict[str, np.ndarray] = {}
    first = None
    for name in shard.columns:
        if name == "event_id":
            continue
        arr = P.list_cell(table, name, row, shard.path, where)
        if first is None:
            first = name
        elif len(arr) != len(out[first]):
            msg = (
                f"{shard.path}: column {name!r}, row {base + row} ({where}): {len(arr)} values, "
                f"but column {first!r} has {len(out[first])} (one value per object)"
            )
            raise ValueError(msg)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            msg = (f"{shard.path}: column {name!r}, row {base + row} ({where}): "
                   f"value {i} is {arr[i]}")
            raise ValueError(msg)
        out[name] = arr
    return out


def _shifted_ids(ids: np.ndarray, shard: _Shard, row: int, column: str) -> np.ndarray:
    """EDM4hep indices (0 = a real particle) -> helixkit ids (index + 1; 0 = noise)."""
    if ids.dtype.kind == "i" and ids.size and ids.min() < 0:
        msg = f"{shard.path}: column {column!r}, row {row}: negative particle index {ids.min()}"
        raise ValueError(msg)
    if ids.size and int(ids.max()) >= 2**63 - 1:
        msg = f"{shard.path}: column {column!r}, row {row}: particle index {ids.max()} too large"
        raise ValueError(msg)
    return ids.astype(np.int64) + 1


def _check_unique(ids: np.ndarray, shard: _Shard, row: int, column: str) -> None:
    s = np.sort(ids)
    dup = s[1:] == s[:-1]
    if dup.any():
        msg = f"{shard.path}: column {column!r}, row {row}: value {s[1:][dup][0]} is repeated"
        raise ValueError(msg)


def _as_int32(values: np.ndarray, shard: _Shard, row: int, column: str) -> np.ndarray:
    info = np.iinfo(np.int32)
    if values.size and (int(values.max()) > info.max or int(values.min()) < info.min):
        msg = f"{shard.path}: column {column!r}, row {row}: values outside int32"
        raise ValueError(msg)
    return values.astype(np.int32)


def _particles(cols: dict[str, np.ndarray], shard: _Shard, row: int) -> Table:
    pid = _shifted_ids(cols["particle_id"], shard, row, "particle_id")
    _check_unique(cols["particle_id"], shard, row, "particle_id")
    q = cols["charge"].astype(np.float64)
    qi = np.rint(q)
    if (qi != q).any():
        msg = (
            f"{shard.path}: column 'charge', row {row}: non-integer charge "
            f"{q[qi != q][0]}"
        )
        raise ValueError(msg)
    out: dict[str, np.ndarray] = {
        "particle_id": pid,
        "particle_type": _as_int32(cols["pdg_id"], shard, row, "pdg_id"),
    }
    for c in ("vx", "vy", "vz", "px", "py", "pz"):
        out[c] = cols[c].astype(np.float32)
    out["q"] = qi.astype(np.int32)
    out["nhits"] = np.zeros(len(pid), np.int32)
    if "primary" in cols:
        out["primary"] = cols["primary"].astype(bool)
    if "parent_id" in cols:
        parent = cols["parent_id"].astype(np.int64)
        out["parent_id"] = np.where(parent >= 0, parent + 1, 0)
    for c in ("mass", "energy", "time", "perigee_d0", "perigee_z0"):
        if c in cols:
            out[c] = cols[c].astype(np.float32)
    for c in ("num_tracker_hits", "num_calo_hits", "vertex_primary"):
        if c in cols:
            out[c] = cols[c].astype(np.int64)
    out["edm4hep_index"] = cols["particle_id"].astype(np.int64)
    return Table(out, name="particles")


def _event(hits: dict[str, np.ndarray], hit_shard: _Shard, hit_row: int,
           particles: Table | None, part_path: Path | None, event: int) -> Event:
    n = len(hits["x"])
    if n == 0:
        msg = f"{hit_shard.path}: row {hit_row} (event {event}): empty event (no hits)"
        raise ValueError(msg)
    if "hit_id" in hits:
        hit_id = hits["hit_id"].astype(np.int64)
        _check_unique(hit_id, hit_shard, hit_row, "hit_id")
    else:
        hit_id = np.arange(n, dtype=np.int64)
    h: dict[str, np.ndarray] = {"hit_id": hit_id}
    for c in ("x", "y", "z"):
        h[c] = hits[c].astype(np.float32)
    h["volume_id"] = _as_int32(hits["volume_id"], hit_shard, hit_row, "volume_id")
    h["layer_id"] = _as_int32(hits["layer_id"], hit_shard, hit_row, "layer_id")
    h["module_id"] = _as_int32(hits["surface_id"], hit_shard, hit_row, "surface_id")
    if "time" in hits:
        h["time"] = hits["time"].astype(np.float32)
    if "detector" in hits:
        h["detector"] = _as_int32(hits["detector"], hit_shard, hit_row, "detector")

    pid = _shifted_ids(hits["particle_id"], hit_shard, hit_row, "particle_id")
    t: dict[str, np.ndarray] = {"hit_id": hit_id, "particle_id": pid}
    for c in ("x", "y", "z"):
        t["t" + c] = hits.get("true_" + c, hits[c]).astype(np.float32)
    if particles is not None:
        ref = particles["particle_id"]
        order = np.argsort(ref)
        pos = np.minimum(np.searchsorted(ref[order], pid), len(ref) - 1) if len(ref) else None
        found = (ref[order][pos] == pid) if pos is not None else np.zeros(n, bool)
        if not found.all():
            i = int(np.flatnonzero(~found)[0])
            msg = (
                f"{hit_shard.path}: column 'particle_id', row {hit_row} (event {event}): hit {i} "
                f"belongs to particle index {pid[i] - 1}, which is not in {part_path}"
            )
            raise ValueError(msg)
        prow = order[pos]
        for c in ("px", "py", "pz"):
            t["t" + c] = particles[c][prow]
        ids, counts = np.unique(prow, return_counts=True)
        nhits = np.zeros(particles.n_rows, np.int32)
        nhits[ids] = counts
        particles = particles.with_column("nhits", nhits)
    else:
        for c in ("px", "py", "pz"):
            t["t" + c] = np.full(n, np.nan, np.float32)
    t["weight"] = np.full(n, 1.0 / n, np.float32)
    kwargs: dict[str, Any] = {"hits": Table(h, name="hits"), "truth": Table(t, name="truth"),
                              "event_id": event}
    if particles is not None:
        kwargs["particles"] = particles
    return Event(**kwargs)


def _open(tracker_hits: Any, particles: Any) -> tuple[_Shard, _Shard | None]:
    P.require_pyarrow("read_colliderml")
    hit_path = P.as_path(tracker_hits, "tracker_hits")
    hit_shard = _Shard(hit_path, _HIT_LISTS, _HIT_REQUIRED)
    part_shard = None
    if particles is not None:
        part_shard = _Shard(P.as_path(particles, "particles"), _PART_LISTS, _PART_REQUIRED)
    return hit_shard, part_shard


def _read_row(shard: _Shard, row: int) -> dict[str, np.ndarray]:
    group, inner = P.locate(shard.pf, row)
    table = P.read_row_group(shard.pf, shard.path, group, shard.columns)
    return _cells(table, inner, shard, row - inner)


def _one(hit_shard: _Shard, part_shard: _Shard | None, event: int,
         hit_row: int, hit_cells: dict[str, np.ndarray]) -> Event:
    parts = None
    if part_shard is not None:
        prow = part_shard.row_of(event)
        parts = _particles(_read_row(part_shard, prow), part_shard, prow)
    return _event(hit_cells, hit_shard, hit_row, parts,
                  part_shard.path if part_shard else None, event)


def colliderml_event_ids(tracker_hits: str | os.PathLike[str]) -> list[int]:
    """The event ids of a shard, in file order."""
    hit_shard, _ = _open(tracker_hits, None)
    return hit_shard.ids.tolist()


def read_colliderml(
    tracker_hits: str | os.PathLike[str],
    particles: str | os.PathLike[str] | None = None,
    *,
    event: int | None = None,
) -> Event:
    """Read one event of a ColliderML ``tracker_hits`` shard (and its ``particles`` shard).

    Parameters
    ----------
    tracker_hits : path-like
        A ``*_tracker_hits`` parquet shard.
    particles : path-like, optional
        The ``*_particles`` shard holding the same events; without it the event
        has truth particle ids and positions but no particle table.
    event : int, optional
        The ``event_id`` to read; may be omitted when the shard holds one event.

    Returns
    -------
    Event
        See the module docstring for the columns and the id conventions.

    Raises
    ------
    ValueError
        Naming the file, the column and the row (module docstring).
    ImportError
        Without pyarrow (``pip install 'helixkit[parquet]'``).
    """
    if event is not None and (isinstance(event, bool) or not isinstance(event, (int, np.integer))):
        msg = f"event must be an int, got {type(event).__name__}"
        raise TypeError(msg)
    hit_shard, part_shard = _open(tracker_hits, particles)
    if event is None:
        if len(hit_shard.ids) != 1:
            msg = (
                f"{hit_shard.path}: holds {len(hit_shard.ids)} events; pass event= "
                f"(events: {hit_shard.ids[:10].tolist()})"
            )
            raise ValueError(msg)
        event = int(hit_shard.ids[0])
    row = hit_shard.row_of(int(event))
    return _one(hit_shard, part_shard, int(event), row, _read_row(hit_shard, row))


def iter_colliderml(
    tracker_hits: str | os.PathLike[str],
    particles: str | os.PathLike[str] | None = None,
    *,
    events: Iterable[int] | None = None,
) -> Iterator[Event]:
    """The events of a shard one at a time (one row group in memory at a time).

    ``events`` restricts and orders them (every id must be in the shard; checked
    before the first event is returned); by default all, in file order. A bad row
    raises when it is reached, after the good events before it were yielded.
    """
    hit_shard, part_shard = _open(tracker_hits, particles)
    wanted = hit_shard.ids.tolist() if events is None else [int(e) for e in events]
    rows = [hit_shard.row_of(e) for e in wanted]
    if part_shard is not None:
        for e in wanted:
            part_shard.row_of(e)
    cache: tuple[int, Any] | None = None
    for event, row in zip(wanted, rows, strict=True):
        group, inner = P.locate(hit_shard.pf, row)
        if cache is None or cache[0] != group:
            table = P.read_row_group(hit_shard.pf, hit_shard.path, group, hit_shard.columns)
            cache = (group, table)
        cells = _cells(cache[1], inner, hit_shard, row - inner)
        yield _one(hit_shard, part_shard, event, row, cells)
