"""TrackML CSV events: reading, writing and listing.

An event is a set of files ``event<9 digits>-{hits,truth,particles,cells}.csv``
(or ``.csv.gz``) in one directory, with the columns of the TrackML challenge
(see :mod:`helixkit.data.event` for names, units and dtypes). This layout is
helixkit's native on-disk format: real TrackML events and simulated ones are
interchangeable.

Reading is strict: every problem (missing file or column, malformed row,
non-numeric value, duplicate ids, truth rows for unknown hits, hits without
truth, truth particles missing from ``particles``, empty events) is a
``ValueError`` naming the file, the column and the problem. Writing is atomic
and bit-exact: floats are written with the shortest text that reads back to the
same float32, and every file appears complete or not at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core
from ._csv import check_unique, format_csv, index_of, read_csv, write_files_atomically
from .event import CELL_COLUMNS, HIT_COLUMNS, PARTICLE_COLUMNS, TRUTH_COLUMNS, Event, Table

__all__ = ["list_trackml_events", "read_trackml", "trackml_event_files", "write_trackml"]

#: dtypes of optional columns that helixkit itself writes (kept exactly on a round trip)
PARTICLE_EXTRA_COLUMNS: dict[str, Any] = {"primary": np.bool_}
HIT_EXTRA_COLUMNS: dict[str, Any] = {  # from ACTS events
    "geometry_id": np.uint64,
    "measurement_id": np.int64,
    "measurement_id_2": np.int64,
    **dict.fromkeys(("var_r", "var_z", "var_local0", "var_local1"), np.float32),
}

_SCHEMAS: dict[str, dict[str, Any]] = {
    "hits": {**HIT_COLUMNS, **HIT_EXTRA_COLUMNS},
    "truth": TRUTH_COLUMNS,
    "particles": {**PARTICLE_COLUMNS, **PARTICLE_EXTRA_COLUMNS},
    "cells": CELL_COLUMNS,
}
_REQUIRED = {
    "hits": list(HIT_COLUMNS),
    "truth": list(TRUTH_COLUMNS),
    "particles": list(PARTICLE_COLUMNS),
    "cells": list(CELL_COLUMNS),
}
_EVENT_RE = re.compile(r"^event(\d+)-(hits|truth|particles|cells)\.csv(\.gz)?$")
_PREFIX_RE = re.compile(r"^event(\d+)$")


def _event_prefix(event_id: int) -> str:
    eid = int(event_id)
    if eid < 0:
        msg = f"event_id must be >= 0, got {event_id}"
        raise ValueError(msg)
    return f"event{eid:09d}"


def _find(directory: Path, prefix: str, table: str) -> Path | None:
    """The file of one table (``.csv`` or ``.csv.gz``), None if neither exists."""
    plain = directory / f"{prefix}-{table}.csv"
    gz = directory / f"{prefix}-{table}.csv.gz"
    if plain.exists() and gz.exists():
        msg = f"{directory}: both {plain.name} and {gz.name} exist; remove one of them"
        raise ValueError(msg)
    if plain.exists():
        return plain
    return gz if gz.exists() else None


def _resolve(path: str | os.PathLike[str], event_id: int | None) -> tuple[Path, str, int]:
    p = Path(path)
    if p.is_dir():
        if event_id is None:
            ids = list_trackml_events(p)
            if len(ids) != 1:
                msg = (
                    f"{p}: holds {len(ids)} events; pass event_id "
                    f"(events: {ids[:10]}{'...' if len(ids) > 10 else ''})"
                )
                raise ValueError(msg)
            event_id = ids[0]
        return p, _event_prefix(event_id), int(event_id)
    m = _PREFIX_RE.match(p.name)
    if m is None:
        msg = (
            f"{p}: expected a directory (with event_id) or an event prefix such as "
            f"'dir/event000001000'"
        )
        raise ValueError(msg)
    eid = int(m.group(1))
    if event_id is not None and int(event_id) != eid:
        msg = f"{p}: event_id={event_id} contradicts the event number {eid} in the path"
        raise ValueError(msg)
    if not p.parent.is_dir():
        msg = f"{p.parent}: directory not found"
        raise ValueError(msg)
    return p.parent, p.name, eid


def trackml_event_files(
    path: str | os.PathLike[str], event_id: int | None = None
) -> dict[str, Path | None]:
    """The files of one event: ``{"hits": Path, "truth": ..., "particles": ..., "cells": ...}``.

    Tables without a file map to None.
    """
    directory, prefix, _ = _resolve(path, event_id)
    return {t: _find(directory, prefix, t) for t in ("hits", "truth", "particles", "cells")}


def list_trackml_events(directory: str | os.PathLike[str]) -> list[int]:
    """Sorted ids of the events in ``directory`` that have a hits file."""
    d = Path(directory)
    if not d.is_dir():
        msg = f"{d}: not a directory"
        raise ValueError(msg)
    ids = set()
    for name in os.listdir(d):
        m = _EVENT_RE.match(name)
        if m and m.group(2) == "hits":
            ids.add(int(m.group(1)))
    return sorted(ids)


def align_rows(
    ids: np.ndarray, reference: np.ndarray, *, path: Path, column: str, what: str
) -> np.ndarray | None:
    """Permutation ``perm`` with ``ids[perm] == reference`` (both unique, same set), or None
    when ``ids`` is already aligned (the usual case: no reordering copy is needed).

    Raises a ValueError naming ``path`` and ``column`` when ``ids`` holds a value
    not in ``reference`` or misses one.
    """
    if np.array_equal(ids, reference):
        return None
    rows = index_of(ids, reference, path=path, column=column, what=what)
    if len(ids) != len(reference):
        seen = np.zeros(len(reference), bool)
        seen[rows] = True
        missing = reference[~seen]
        msg = (
            f"{path}: column {column!r} misses {len(missing)} of the {what} "
            f"(first: {int(missing[0])})"
        )
        raise ValueError(msg)
    perm = np.empty(len(ids), dtype=np.int64)
    perm[rows] = np.arange(len(ids))
    return perm


def check_truth_particles(truth_pid: np.ndarray, particle_id: np.ndarray, path: Path) -> None:
    """Every non-zero truth particle_id must be a row of the particles table (unique ids).

    One hash lookup per truth row (C++, multi-threaded), not a ``np.unique`` + ``np.isin``
    over all rows; the distinct missing ids are only counted for the error message.
    """
    pos = _core.lookup_ids(np.ascontiguousarray(particle_id, dtype=np.int64),
                           np.ascontiguousarray(truth_pid, dtype=np.int64))
    missing = (pos < 0) & (truth_pid != 0)
    if missing.any():
        pids = np.unique(truth_pid[missing])
        msg = (
            f"{path}: column 'particle_id' refers to {len(pids)} particle(s) "
            f"missing from the particles table (first: {int(pids[0])})"
        )
        raise ValueError(msg)


def read_trackml(
    path: str | os.PathLike[str],
    event_id: int | None = None,
    *,
    cells: bool = True,
    truth: bool | None = None,
) -> Event:
    """Read one TrackML event.

    Parameters
    ----------
    path : path-like
        Either an event prefix such as ``"train_1/event000001000"`` or a directory
        (then ``event_id`` selects the event; it may be omitted when the directory
        holds a single event).
    event_id : int, optional
    cells : bool
        Read the cells file if there is one (it is always optional).
    truth : bool or None
        None (default): read truth and particles if the truth file exists (TrackML
        test events have none). True: require them. False: skip them.

    Returns
    -------
    Event
        ``truth`` is reordered to be aligned row by row with ``hits``. Extra
        particle columns (e.g. ``primary``) are kept.

    Raises
    ------
    ValueError
        For any missing, malformed or inconsistent file (see the module docstring).
    """
    directory, prefix, eid = _resolve(path, event_id)
    files = {t: _find(directory, prefix, t) for t in ("hits", "truth", "particles", "cells")}
    if files["hits"] is None:
        msg = f"{directory / (prefix + '-hits.csv')}: file not found (nor .csv.gz)"
        raise ValueError(msg)
    hits_path = files["hits"]
    hits = Table(read_csv(hits_path, _SCHEMAS["hits"], required=_REQUIRED["hits"]), name="hits")
    if hits.n_rows == 0:
        msg = f"{hits_path}: empty event (no hits)"
        raise ValueError(msg)
    check_unique(hits["hit_id"], hits_path, "hit_id")

    want_truth = files["truth"] is not None if truth is None else truth
    truth_table = None
    particles = None
    if want_truth:
        for t in ("truth", "particles"):
            if files[t] is None:
                msg = f"{directory / (prefix + '-' + t + '.csv')}: file not found (nor .csv.gz)"
                raise ValueError(msg)
        truth_path, part_path = files["truth"], files["particles"]
        cols = read_csv(truth_path, _SCHEMAS["truth"], required=_REQUIRED["truth"])
        truth_table = Table(cols, name="truth")
        check_unique(truth_table["hit_id"], truth_path, "hit_id")
        perm = align_rows(
            truth_table["hit_id"], hits["hit_id"], path=truth_path, column="hit_id", what="hits"
        )
        if perm is not None:
            truth_table = truth_table.take(perm)
        particles = Table(
            read_csv(part_path, _SCHEMAS["particles"], required=_REQUIRED["particles"]),
            name="particles",
        )
        check_unique(particles["particle_id"], part_path, "particle_id")
        if (particles["particle_id"] == 0).any():
            msg = f"{part_path}: column 'particle_id' has the value 0, which is reserved for noise"
            raise ValueError(msg)
        check_truth_particles(truth_table["particle_id"], particles["particle_id"], truth_path)

    cell_table = None
    if cells and files["cells"] is not None:
        cell_path = files["cells"]
        cell_table = Table(
            read_csv(cell_path, _SCHEMAS["cells"], required=_REQUIRED["cells"]), name="cells"
        )
        unknown = _core.lookup_ids(np.ascontiguousarray(hits["hit_id"], dtype=np.int64),
                                   np.ascontiguousarray(cell_table["hit_id"], dtype=np.int64)) < 0
        if unknown.any():
            msg = (
                f"{cell_path}: column 'hit_id' has {int(unknown.sum())} value(s) not in hits "
                f"(first: {int(cell_table['hit_id'][unknown][0])})"
            )
            raise ValueError(msg)

    kwargs: dict[str, Any] = {"hits": hits, "cells": cell_table, "event_id": eid}
    if truth_table is not None:
        kwargs["truth"] = truth_table
        kwargs["particles"] = particles
    return Event(**kwargs)


def _cast_known(
    table: Table, schema: Mapping[str, Any], required: list[str], label: str
) -> dict[str, np.ndarray]:
    """Columns of ``table`` with the schema columns cast (checked) to their TrackML dtype."""
    missing = [c for c in required if c not in table]
    if missing:
        msg = f"{label}: missing column(s) {', '.join(repr(m) for m in missing)}"
        raise ValueError(msg)
    out: dict[str, np.ndarray] = {}
    for name in table:
        arr = np.asarray(table[name])
        if name in schema:
            dtype = np.dtype(schema[name])
            if arr.dtype.kind in "iub" and dtype.kind in "iu" and arr.size:
                info = np.iinfo(dtype)
                if arr.min() < info.min or arr.max() > info.max:
                    msg = f"{label}: column {name!r} has values outside the {dtype} range"
                    raise ValueError(msg)
            elif arr.dtype.kind == "f" and dtype.kind in "iu":
                msg = f"{label}: column {name!r} must be integer, got {arr.dtype}"
                raise ValueError(msg)
            arr = arr.astype(dtype, copy=False)
        elif arr.dtype.kind == "f" and arr.dtype != np.float64:
            # unknown columns are read back as float64: write the exact float64 value
            arr = arr.astype(np.float64)
        out[name] = arr
    return out


def write_trackml(
    event: Event, directory: str | os.PathLike[str], *, compress: bool = False
) -> dict[str, Path]:
    """Write an event as TrackML CSV files (atomically, bit-exact).

    Writes ``hits``, plus ``truth`` and ``particles`` when the event has truth
    (or particles), plus ``cells`` when present. Schema columns are cast to the
    TrackML dtypes (float32 positions, int32 ids, ...), with range checks; extra
    columns are written as they are. Existing files of the same event (either
    compression) that this call does not rewrite are removed, so the directory
    always holds exactly the event that was written.

    Parameters
    ----------
    event : Event
    directory : path-like
        Created if needed.
    compress : bool
        Write ``.csv.gz`` instead of ``.csv``.

    Returns
    -------
    dict
        Table name -> path written.
    """
    if not isinstance(event, Event):
        msg = f"event must be a helixkit.data.Event, got {type(event).__name__}"
        raise TypeError(msg)
    if event.n_hits == 0:
        msg = f"Event {event.event_id}: empty event (no hits) cannot be written"
        raise ValueError(msg)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    prefix = _event_prefix(event.event_id)
    ext = ".csv.gz" if compress else ".csv"
    tables: dict[str, Table] = {"hits": event.hits}
    if event.has_truth or event.particles.n_rows:
        tables["truth"] = event.truth
        tables["particles"] = event.particles
    if event.cells is not None:
        tables["cells"] = event.cells
    if "truth" in tables and not event.has_truth:
        msg = f"Event {event.event_id}: has particles but no truth; TrackML needs both"
        raise ValueError(msg)
    payloads: dict[Path, bytes] = {}
    for name, table in tables.items():
        label = f"Event {event.event_id} {name}"
        payloads[d / f"{prefix}-{name}{ext}"] = format_csv(
            _cast_known(table, _SCHEMAS[name], _REQUIRED[name], label), label
        )
    stale = [
        d / f"{prefix}-{t}{e}"
        for t in ("hits", "truth", "particles", "cells")
        for e in (".csv", ".csv.gz")
    ]
    write_files_atomically(payloads, remove=stale)
    return {name: d / f"{prefix}-{name}{ext}" for name in tables}
