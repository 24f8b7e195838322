"""Event data: column tables for hits, truth and particles (TrackML naming).

An :class:`Event` holds three :class:`Table` objects whose columns are numpy
arrays. ``truth`` is aligned row by row with ``hits`` (row *i* of both describes
the same hit), so ``event.hits["x"][mask]`` and ``event.truth["particle_id"][mask]``
always refer to the same hits. Slicing returns new tables whose columns are
views or fancy-indexed copies; no per-row Python objects are ever built.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HIT_COLUMNS: dict[str, Any] = {
    "hit_id": np.int64,
    "x": np.float32,
    "y": np.float32,
    "z": np.float32,
    "volume_id": np.int32,
    "layer_id": np.int32,
    "module_id": np.int32,
}
TRUTH_COLUMNS: dict[str, Any] = {
    "hit_id": np.int64,
    "particle_id": np.int64,
    "tx": np.float32,
    "ty": np.float32,
    "tz": np.float32,
    "tpx": np.float32,
    "tpy": np.float32,
    "tpz": np.float32,
    "weight": np.float32,
}
PARTICLE_COLUMNS: dict[str, Any] = {
    "particle_id": np.int64,
    "particle_type": np.int32,
    "vx": np.float32,
    "vy": np.float32,
    "vz": np.float32,
    "px": np.float32,
    "py": np.float32,
    "pz": np.float32,
    "q": np.int32,
    "nhits": np.int32,
}
CELL_COLUMNS: dict[str, Any] = {
    "hit_id": np.int64,
    "ch0": np.int32,
    "ch1": np.int32,
    "value": np.float32,
}


class Table(Mapping[str, np.ndarray]):
    """An ordered set of equal-length 1-D numpy columns.

    Index with a column name to get the column, or use :meth:`take` /
    :meth:`mask` to select rows.
    """

    __slots__ = ("_cols", "_n")

    def __init__(self, columns: Mapping[str, Any] | None = None, *, name: str = "table") -> None:
        self._cols: dict[str, np.ndarray] = {}
        self._n = 0
        for i, (key, value) in enumerate((columns or {}).items()):
            arr = np.asarray(value)
            if arr.ndim != 1:
                msg = f"{name}: column {key!r} must be 1-D, got shape {arr.shape}"
                raise ValueError(msg)
            if i == 0:
                self._n = len(arr)
            elif len(arr) != self._n:
                msg = (
                    f"{name}: column {key!r} has {len(arr)} rows, "
                    f"expected {self._n} like the other columns"
                )
                raise ValueError(msg)
            self._cols[key] = arr

    # Mapping interface
    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._cols[key]
        except KeyError:
            msg = f"no column {key!r}; columns are {list(self._cols)}"
            raise KeyError(msg) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)

    @property
    def n_rows(self) -> int:
        return self._n

    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def take(self, rows: Any) -> Table:
        """Rows selected by an integer index array, a boolean mask or a slice."""
        return Table({k: v[rows] for k, v in self._cols.items()})

    mask = take

    def with_column(self, name: str, values: Any) -> Table:
        cols = dict(self._cols)
        cols[name] = np.asarray(values)
        return Table(cols)

    def to_pandas(self) -> Any:
        """A pandas DataFrame sharing the column data (pandas is optional)."""
        import pandas as pd  # noqa: PLC0415

        return pd.DataFrame(self._cols, copy=False)

    def __repr__(self) -> str:
        return f"Table({self._n} rows: {', '.join(self._cols)})"


def _awkward() -> Any:
    try:
        # optional extra, imported only here (importlib keeps helixkit.data light to import)
        return importlib.import_module("awkward")
    except ImportError as exc:
        msg = "Event.to_awkward / from_awkward need awkward: pip install 'helixkit[awkward]'"
        raise ImportError(msg) from exc


def _empty(columns: dict[str, Any]) -> Table:
    return Table({k: np.zeros(0, dtype=t) for k, t in columns.items()})


@dataclass
class Event:
    """One collision event.

    Attributes
    ----------
    hits : Table
        hit_id, x, y, z [mm], volume_id, layer_id, module_id.
    truth : Table
        Aligned row by row with ``hits``: hit_id, particle_id (0 = noise),
        tx, ty, tz [mm], tpx, tpy, tpz [GeV], weight.
    particles : Table
        particle_id, particle_type (PDG), vx, vy, vz [mm], px, py, pz [GeV],
        q [e], nhits, and optionally ``primary`` (bool).
    cells : Table or None
        TrackML cells (hit_id, ch0, ch1, value) when available.
    event_id : int
    geometry : helixkit.data.geometry.Geometry or None
        The detector the event was simulated in, if known.
    """

    hits: Table
    truth: Table = field(default_factory=lambda: _empty(TRUTH_COLUMNS))
    particles: Table = field(default_factory=lambda: _empty(PARTICLE_COLUMNS))
    cells: Table | None = None
    event_id: int = 0
    geometry: Any = None

    def __post_init__(self) -> None:
        if self.truth.n_rows and self.truth.n_rows != self.hits.n_rows:
            msg = (
                f"Event {self.event_id}: truth has {self.truth.n_rows} rows but hits has "
                f"{self.hits.n_rows}; truth must be aligned row by row with hits"
            )
            raise ValueError(msg)
        if (
            self.truth.n_rows
            and "hit_id" in self.truth
            and not np.array_equal(self.truth["hit_id"], self.hits["hit_id"])
        ):
            msg = f"Event {self.event_id}: truth hit_id is not aligned with hits hit_id"
            raise ValueError(msg)

    # --- convenience -----------------------------------------------------
    @property
    def n_hits(self) -> int:
        return self.hits.n_rows

    @property
    def n_particles(self) -> int:
        return self.particles.n_rows

    @property
    def has_truth(self) -> bool:
        return self.truth.n_rows == self.hits.n_rows and self.hits.n_rows > 0

    @property
    def hit_particle_id(self) -> np.ndarray:
        """particle_id of every hit (0 for noise); zeros if the event has no truth."""
        if not self.has_truth:
            return np.zeros(self.n_hits, dtype=np.int64)
        return self.truth["particle_id"]

    def hit_r(self) -> np.ndarray:
        return np.hypot(self.hits["x"], self.hits["y"])

    def select_hits(self, rows: Any) -> Event:
        """A new event with only the selected hits (particles are kept as they are)."""
        truth = self.truth.take(rows) if self.has_truth else self.truth
        cells = self.cells
        if cells is not None and cells.n_rows:
            kept = self.hits["hit_id"][rows]
            cells = cells.take(np.isin(cells["hit_id"], kept))
        return Event(
            hits=self.hits.take(rows),
            truth=truth,
            particles=self.particles,
            cells=cells,
            event_id=self.event_id,
            geometry=self.geometry,
        )

    def volume(self, *volume_ids: int) -> Event:
        """Hits of the given volume(s)."""
        return self.select_hits(np.isin(self.hits["volume_id"], volume_ids))

    def layer(self, volume_id: int, layer_id: int) -> Event:
        """Hits of one layer."""
        mask = (self.hits["volume_id"] == volume_id) & (self.hits["layer_id"] == layer_id)
        return self.select_hits(mask)

    def particle_hits(self, particle_id: int) -> np.ndarray:
        """Row indices of the hits of one particle."""
        return np.flatnonzero(self.hit_particle_id == particle_id)

    def hits_by_particle(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Group hit rows by particle without Python loops.

        Returns
        -------
        particle_ids : (P,) int64, sorted, noise (0) excluded
        offsets : (P + 1,) int64, hits of particle k are ``order[offsets[k]:offsets[k+1]]``
        order : int64 row indices into ``hits``
        """
        pid = self.hit_particle_id
        rows = np.flatnonzero(pid != 0)
        order = rows[np.argsort(pid[rows], kind="stable")]
        pids, starts = np.unique(pid[order], return_index=True)
        offsets = np.append(starts, len(order)).astype(np.int64)
        return pids.astype(np.int64), offsets, order.astype(np.int64)

    def summary(self) -> dict[str, Any]:
        pid = self.hit_particle_id
        return {
            "event_id": self.event_id,
            "hits": self.n_hits,
            "particles": self.n_particles,
            "noise_hits": int((pid == 0).sum()) if self.has_truth else None,
            "volumes": sorted(np.unique(self.hits["volume_id"]).tolist()),
        }

    # --- awkward (optional extra ``awkward``) ----------------------------------
    def to_awkward(self) -> Any:
        """The event as an ``awkward.Record``: ``event_id`` and one list of records per
        table (``hits``, ``truth``, ``particles``, ``cells`` when present), with the
        columns' dtypes; :meth:`from_awkward` inverts it."""
        ak = _awkward()
        fields: dict[str, Any] = {"event_id": np.int64(self.event_id)}
        tables = {"hits": self.hits, "truth": self.truth, "particles": self.particles}
        if self.cells is not None:
            tables["cells"] = self.cells
        for name, table in tables.items():
            if table.columns:  # a table without columns has no record type
                fields[name] = ak.zip({c: table[c] for c in table}, depth_limit=1)
        return ak.Record(fields)

    @classmethod
    def from_awkward(cls, record: Any) -> Event:
        """An :class:`Event` from :meth:`to_awkward`'s record (or any record with a
        ``hits`` list of records, and optionally ``truth``, ``particles``, ``cells``,
        ``event_id``)."""
        ak = _awkward()
        if not isinstance(record, ak.Record):
            msg = f"record must be an awkward.Record, got {type(record).__name__}"
            raise TypeError(msg)
        fields = set(record.fields)
        if "hits" not in fields:
            msg = f"record has no field 'hits' (fields: {sorted(fields)})"
            raise ValueError(msg)
        tables: dict[str, Table] = {}
        for name in ("hits", "truth", "particles", "cells"):
            if name not in fields:
                continue
            arr = record[name]
            cols = {c: ak.to_numpy(arr[c]) for c in ak.fields(arr)}
            tables[name] = Table(cols, name=name)
        kwargs: dict[str, Any] = {"hits": tables["hits"]}
        for name in ("truth", "particles", "cells"):
            if name in tables and tables[name].columns:
                kwargs[name] = tables[name]
        if "event_id" in fields:
            kwargs["event_id"] = int(record["event_id"])
        return cls(**kwargs)

    def __repr__(self) -> str:
        return (
            f"Event(event_id={self.event_id}, hits={self.n_hits}, "
            f"particles={self.n_particles}, cells={'yes' if self.cells is not None else 'no'})"
        )


def layer_key(event: Event, rows: np.ndarray | None = None) -> np.ndarray:
    """One integer per detector layer, ``volume_id * 1000 + layer_id``, of the hits ``rows``
    (default: all): the layer identity the tracking metrics count hits on."""
    hits = event.hits
    if rows is None:
        return hits["volume_id"].astype(np.int64) * 1000 + hits["layer_id"]
    return hits["volume_id"][rows].astype(np.int64) * 1000 + hits["layer_id"][rows]
