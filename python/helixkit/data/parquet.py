"""A many-event parquet dataset: one directory, one file per table, one row group per event.

Layout of ``write_parquet_events(events, "run1")``::

    run1/hits.parquet        event_id, hit_id, x, y, z, volume_id, layer_id, module_id, ...
    run1/truth.parquet       event_id, hit_id, particle_id, tx, ..., weight   (if truth)
    run1/particles.parquet   event_id, particle_id, particle_type, ..., nhits  (if truth)
    run1/cells.parquet       event_id, hit_id, ch0, ch1, value                 (if cells)

Each file is a flat table (one row per hit / particle / cell, TrackML columns and
dtypes, plus an int64 ``event_id`` column), so pandas, polars, dask
(``dask.dataframe.read_parquet``) and awkward (``ak.from_parquet``) read it as it
is. Row group *k* of every file is event *k*, so :func:`read_parquet_events`
reads one event by reading one row group of each file (lazily, event by event);
the event ids are stored in the file metadata (key ``helixkit.event_ids``).

Every event of a dataset must have the same columns with the same dtypes in each
table, and either all events have truth (and cells) or none. Writing is atomic
(temporary files moved into place at the end, with the user's normal file mode).
Reading checks every file (schema, row groups, event ids) and reports problems
as ValueErrors naming the file, the column and the row group.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._files import default_file_mode
from . import _parquet as P
from .event import Event, Table
from .trackml import _REQUIRED, _SCHEMAS, _cast_known

__all__ = ["parquet_event_ids", "read_parquet_events", "write_parquet_events"]

_TABLES = ("hits", "truth", "particles", "cells")
_META_KEY = b"helixkit.event_ids"


def _arrow_table(event_id: int, columns: dict[str, np.ndarray]) -> Any:
    n = len(next(iter(columns.values()))) if columns else 0
    cols = {"event_id": np.full(n, event_id, np.int64), **columns}
    return P.pa.table({k: P.pa.array(np.ascontiguousarray(v)) for k, v in cols.items()})


def write_parquet_events(
    events: Iterable[Event],
    path: str | os.PathLike[str],
    *,
    compression: str = "zstd",
) -> list[int]:
    """Write events as a parquet event dataset (module docstring), one event at a time.

    Parameters
    ----------
    events : iterable of Event
        May be a generator: only one event is in memory at a time.
    path : path-like
        Directory, created if needed; the table files in it are replaced.
    compression : str
        Parquet codec (``"zstd"``, ``"snappy"``, ``"none"``, ...).

    Returns
    -------
    list of int
        The event ids written, in order.
    """
    P.require_pyarrow("write_parquet_events")
    d = P.as_path(path, "path")
    if not isinstance(compression, str):
        msg = f"compression must be a str, got {type(compression).__name__}"
        raise TypeError(msg)
    d.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Any] = {}
    temps: dict[str, str] = {}
    schemas: dict[str, Any] = {}
    ids: list[int] = []
    present: tuple[str, ...] | None = None
    try:
        for k, event in enumerate(events):
            if not isinstance(event, Event):
                msg = f"events[{k}] must be a helixkit.data.Event, got {type(event).__name__}"
                raise TypeError(msg)
            if event.n_hits == 0:
                msg = f"events[{k}] (event {event.event_id}): empty event (no hits)"
                raise ValueError(msg)
            tables: dict[str, Table] = {"hits": event.hits}
            if event.has_truth:
                tables["truth"] = event.truth
                tables["particles"] = event.particles
            if event.cells is not None:
                tables["cells"] = event.cells
            names = tuple(tables)
            if present is None:
                present = names
            elif names != present:
                msg = (
                    f"events[{k}] (event {event.event_id}) has tables {list(names)}, the first "
                    f"event {list(present)}; every event of a dataset needs the same tables"
                )
                raise ValueError(msg)
            eid = int(event.event_id)
            if eid in ids:
                msg = f"events[{k}]: event id {eid} appears twice"
                raise ValueError(msg)
            for name, table in tables.items():
                label = f"events[{k}] (event {eid}) {name}"
                cols = _cast_known(table, _SCHEMAS[name], _REQUIRED[name], label)
                for c, v in cols.items():
                    if v.dtype.kind not in "biuf":
                        msg = f"{label}: column {c!r} has non-numeric dtype {v.dtype}"
                        raise ValueError(msg)
                arrow = _arrow_table(eid, cols)
                if name not in writers:
                    fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{name}.", suffix=".parquet.tmp")
                    os.close(fd)
                    temps[name] = tmp
                    schemas[name] = arrow.schema
                    writers[name] = P.pq.ParquetWriter(tmp, arrow.schema, compression=compression)
                elif not arrow.schema.equals(schemas[name]):
                    diff = [f for f in arrow.schema if f not in schemas[name]]
                    msg = (
                        f"{label}: columns differ from the first event's "
                        f"({', '.join(f'{f.name}: {f.type}' for f in diff) or 'column order'}; "
                        f"first: {', '.join(f'{f.name}: {f.type}' for f in schemas[name])})"
                    )
                    raise ValueError(msg)
                writers[name].write_table(arrow, row_group_size=max(arrow.num_rows, 1))
            ids.append(eid)
        if not ids:
            msg = "events is empty: nothing to write"
            raise ValueError(msg)
        meta = json.dumps(ids).encode()
        for w in writers.values():
            w.add_key_value_metadata({_META_KEY: meta})
            w.close()
        mode = default_file_mode()
        for name, tmp in temps.items():
            os.chmod(tmp, mode)
            os.replace(tmp, d / f"{name}.parquet")
        for name in _TABLES:
            if name not in temps and (d / f"{name}.parquet").exists():
                (d / f"{name}.parquet").unlink()  # a stale table of an earlier dataset
    except BaseException:
        for w in writers.values():
            with contextlib.suppress(Exception):  # cleaning up after the real error
                w.close()
        for tmp in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    return ids


class _Dataset:
    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            msg = f"{path}: not a directory (a parquet event dataset is a directory)"
            raise ValueError(msg)
        hits = path / "hits.parquet"
        if not hits.exists():
            msg = f"{hits}: file not found (not a helixkit parquet event dataset)"
            raise ValueError(msg)
        self.files: dict[str, Any] = {}
        self.paths: dict[str, Path] = {}
        ids: list[int] | None = None
        for name in _TABLES:
            p = path / f"{name}.parquet"
            if not p.exists():
                continue
            pf = P.open_parquet(p)
            meta = pf.metadata.metadata or {}
            if _META_KEY not in meta:
                msg = f"{p}: no {_META_KEY.decode()} metadata (not written by write_parquet_events)"
                raise ValueError(msg)
            these = json.loads(meta[_META_KEY])
            if ids is None:
                ids = these
            elif these != ids:
                msg = f"{p}: holds events {these[:5]}..., {path / 'hits.parquet'} {ids[:5]}..."
                raise ValueError(msg)
            if pf.metadata.num_row_groups != len(these):
                msg = (
                    f"{p}: {pf.metadata.num_row_groups} row groups for {len(these)} events "
                    f"(one row group per event)"
                )
                raise ValueError(msg)
            schema = pf.schema_arrow
            required = ["event_id", *_REQUIRED[name]]
            missing = [c for c in required if c not in schema.names]
            if missing:
                msg = f"{p}: missing column(s) {', '.join(map(repr, missing))}"
                raise ValueError(msg)
            for f in schema:
                if P.value_kind(f.type) is None:
                    msg = f"{p}: column {f.name!r} has type {f.type}, expected a number or bool"
                    raise ValueError(msg)
            self.files[name] = pf
            self.paths[name] = p
        if ("truth" in self.files) != ("particles" in self.files):
            msg = f"{path}: truth.parquet and particles.parquet come together (one is missing)"
            raise ValueError(msg)
        self.ids: list[int] = ids or []

    def event(self, k: int) -> Event:
        eid = self.ids[k]
        tables: dict[str, Table] = {}
        for name, pf in self.files.items():
            p = self.paths[name]
            t = P.read_row_group(pf, p, k, None)
            got = t.column("event_id").to_numpy()
            if len(got) and (got != eid).any():
                msg = (
                    f"{p}: column 'event_id', row group {k}: holds event {got[got != eid][0]}, "
                    f"expected {eid}"
                )
                raise ValueError(msg)
            cols = {}
            for c in t.column_names:
                if c == "event_id":
                    continue
                col = t.column(c)
                if col.null_count:
                    msg = f"{p}: column {c!r}, row group {k} (event {eid}): null values"
                    raise ValueError(msg)
                cols[c] = col.to_numpy()
            tables[name] = Table(cols, name=name)
        try:
            return Event(
                hits=tables["hits"],
                **{n: tables[n] for n in ("truth", "particles", "cells") if n in tables},
                event_id=eid,
            )
        except ValueError as exc:
            msg = f"{self.paths['truth']}: row group {k}: {exc}"
            raise ValueError(msg) from None


def parquet_event_ids(path: str | os.PathLike[str]) -> list[int]:
    """Event ids of a parquet event dataset, in file order (reads metadata only)."""
    P.require_pyarrow("parquet_event_ids")
    return list(_Dataset(P.as_path(path, "path")).ids)


def read_parquet_events(
    path: str | os.PathLike[str],
    events: Iterable[int] | None = None,
) -> Iterator[Event]:
    """The events of a parquet event dataset, read one row group at a time.

    Parameters
    ----------
    path : path-like
        A directory written by :func:`write_parquet_events`.
    events : iterable of int, optional
        Event ids to read, in this order (all checked before the first event is
        read); by default every event in file order.

    Returns
    -------
    iterator of Event
        Lazily: each event is read when the iterator reaches it.
    """
    P.require_pyarrow("read_parquet_events")
    ds = _Dataset(P.as_path(path, "path"))
    if events is None:
        rows = list(range(len(ds.ids)))
    else:
        index = {e: k for k, e in enumerate(ds.ids)}
        rows = []
        for e in events:
            if isinstance(e, bool) or not isinstance(e, (int, np.integer)):
                msg = f"events must hold ints, got {type(e).__name__}"
                raise TypeError(msg)
            if int(e) not in index:
                msg = (
                    f"{ds.paths['hits']}: column 'event_id' has no event {e} "
                    f"({len(ds.ids)} events: {ds.ids[:10]}{'...' if len(ds.ids) > 10 else ''})"
                )
                raise ValueError(msg)
            rows.append(index[int(e)])
    return (ds.event(k) for k in rows)
