"""Hits of events as the tokeniser's inputs: positions, layer indices, tracks in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data import Event


def layer_index(event: Event) -> np.ndarray:
    """A contiguous layer index per hit: the geometry's layer order for events that carry a
    geometry (the built-in simulation), else the rank of (volume_id, layer_id) among the
    event's own layers."""
    hits = event.hits
    vol = np.asarray(hits["volume_id"], dtype=np.int64)
    lay = np.asarray(hits["layer_id"], dtype=np.int64)
    key = vol * 100_000 + lay
    geo = event.geometry
    if geo is not None:
        known = np.array([L.volume_id * 100_000 + L.layer_id for L in geo.layers], dtype=np.int64)
        order = np.argsort(known)
        pos = np.searchsorted(known[order], key)
        pos = np.minimum(pos, len(known) - 1)
        found = known[order][pos] == key
        if not found.all():
            i = int(np.flatnonzero(~found)[0])
            msg = (f"hits[{i}]: (volume_id, layer_id) = ({vol[i]}, {lay[i]}) is not a layer of "
                   f"the event's geometry {geo.name!r}")
            raise ValueError(msg)
        return order[pos].astype(np.int64)
    return np.unique(key, return_inverse=True)[1].astype(np.int64)


@dataclass
class HitSample:
    """Positions [mm] (float32), layer indices and particle ids of the hits of some events."""

    xyz: np.ndarray
    layer: np.ndarray
    particle_id: np.ndarray
    event_index: np.ndarray

    def __len__(self) -> int:
        return len(self.xyz)


def hit_sample(events: Sequence[Event]) -> HitSample:
    """All hits of ``events`` (noise included) as one sample."""
    if not events:
        msg = "events: no events given"
        raise ValueError(msg)
    xyz, lay, pid, ev = [], [], [], []
    for k, e in enumerate(events):
        h = e.hits
        xyz.append(np.stack([np.asarray(h[c], dtype=np.float32) for c in ("x", "y", "z")], 1))
        lay.append(layer_index(e))
        pid.append(np.asarray(e.hit_particle_id, dtype=np.int64) if e.has_truth
                   else np.zeros(e.n_hits, np.int64))
        ev.append(np.full(e.n_hits, k, np.int64))
    out = HitSample(np.concatenate(xyz), np.concatenate(lay), np.concatenate(pid),
                    np.concatenate(ev))
    if len(out) == 0:
        msg = "events: no hits (empty events)"
        raise ValueError(msg)
    return out


def track_order(sample: HitSample) -> tuple[np.ndarray, np.ndarray]:
    """Hits of each particle (id != 0) in propagation order (by distance from the origin):
    (offsets (T + 1,), rows into the sample)."""
    keep = np.flatnonzero(sample.particle_id != 0)
    d = np.linalg.norm(sample.xyz[keep].astype(np.float64), axis=1)
    order = np.lexsort((d, sample.particle_id[keep], sample.event_index[keep]))
    rows = keep[order]
    key = sample.event_index[rows] * (1 << 40) + sample.particle_id[rows]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return np.r_[starts, len(rows)].astype(np.int64), rows


__all__ = ["HitSample", "hit_sample", "layer_index", "track_order"]
