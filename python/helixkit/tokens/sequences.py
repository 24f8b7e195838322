"""Tracks as sequences for next-hit prediction: per particle its hits in propagation order
with their tokens, positions and layers, padded to a common length, plus the helix
extrapolation from every step to the layer of the next hit (the prior of the next-hit model).

Positions are also given in each track's own frame, rotated about z so that its first hit
lies at φ = 0: the transverse direction a track starts in is then the same for all tracks,
which the next-hit model does not have to learn to rotate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data import Event
from ..data.geometry import Geometry
from .data import hit_sample, track_order
from .helix import helix_to_layer, navigate, track_helix

#: Default longest sequence (later hits are dropped).
MAX_LEN = 32


@dataclass
class TrackSequences:
    """n tracks padded to T steps (``length`` valid steps each).

    ``xyz`` (n, T, 3) float64 positions [mm]; ``layer`` (n, T) int64 (-1 padding); ``tokens``
    (n, T, levels) int64 (-1 padding); ``rows`` (n, T) hit rows in their event (-1 padding);
    ``angle`` (n,) rotation of the track frame (φ of the first hit); ``prior`` (n, T, 3) the
    helix through hits t-2, t-1, t extrapolated to the layer of hit t+1 (track frame) and
    ``prior_ok`` (n, T) where it exists; ``pt`` [GeV], ``eta``, ``particle_id``, ``event``.
    """

    xyz: np.ndarray
    layer: np.ndarray
    tokens: np.ndarray
    rows: np.ndarray
    length: np.ndarray
    angle: np.ndarray
    prior: np.ndarray
    prior_ok: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    particle_id: np.ndarray
    event: np.ndarray
    helix_layer: np.ndarray

    def __len__(self) -> int:
        return len(self.length)

    @property
    def max_len(self) -> int:
        return self.xyz.shape[1]

    def local(self) -> np.ndarray:
        """Positions in the track frames (n, T, 3)."""
        return rotate(self.xyz, -self.angle)

    def subset(self, keep: np.ndarray) -> TrackSequences:
        """The tracks selected by ``keep`` (a mask or indices)."""
        return TrackSequences(**{k: v[keep] for k, v in vars(self).items()})


def rotate(xyz: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate positions (n, ..., 3) about z by angle (n,)."""
    c = np.cos(angle).reshape((-1,) + (1,) * (xyz.ndim - 2))
    s = np.sin(angle).reshape(c.shape)
    out = np.array(xyz, dtype=np.float64, copy=True)
    out[..., 0] = c * xyz[..., 0] - s * xyz[..., 1]
    out[..., 1] = s * xyz[..., 0] + c * xyz[..., 1]
    return out


def _particle_kinematics(event: Event, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = event.particles
    ids = np.asarray(p["particle_id"], dtype=np.int64)
    px, py, pz = (np.asarray(p[c], dtype=np.float64) for c in ("px", "py", "pz"))
    order = np.argsort(ids)
    pos = np.clip(np.searchsorted(ids[order], pid), 0, max(len(ids) - 1, 0))
    if len(ids) == 0:
        return np.zeros(len(pid)), np.zeros(len(pid))
    j = order[pos]
    found = ids[j] == pid
    pt = np.where(found, np.hypot(px[j], py[j]), np.nan)
    eta = np.where(found, np.arcsinh(pz[j] / np.maximum(np.hypot(px[j], py[j]), 1e-12)), np.nan)
    return pt, eta


def helix_priors(xyz: np.ndarray, layer: np.ndarray, length: np.ndarray, geometry: Geometry
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For every step t >= 2 with a next hit: the track's lever-arm helix after hit t
    (:func:`~helixkit.tokens.helix.track_helix`) extrapolated to the next hit's layer.
    Returns (prior (n, T, 3) global frame, ok (n, T))."""
    n, T = layer.shape
    prior = np.zeros((n, T, 3))
    ok = np.zeros((n, T), dtype=bool)
    for t in range(2, T - 1):
        sel = np.flatnonzero(length > t + 1)
        if len(sel) == 0:
            continue
        h = track_helix(xyz, sel, t)
        pos, found = helix_to_layer(h, geometry, layer[sel, t + 1])
        prior[sel, t] = pos
        ok[sel, t] = found
    return prior, ok


def helix_next_layers(xyz: np.ndarray, track: np.ndarray, step: np.ndarray,
                      geometry: Geometry | None) -> np.ndarray:
    """The layer (-1: none) that the lever-arm helix of tracks ``track`` after their hit
    ``step`` (>= 2; :func:`~helixkit.tokens.helix.track_helix`) meets next (positions ``xyz``
    (n, T, 3))."""
    out = np.full(len(track), -1, np.int64)
    if geometry is None or len(track) == 0:
        return out
    lay, _, found = navigate(track_helix(xyz, track, step), geometry)
    out[found] = lay[found]
    return out


def track_sequences(events: Sequence[Event], tokenizer: object | None = None, *,
                    min_hits: int = 4, min_pt: float = 0.0, max_len: int = MAX_LEN,
                    priors: bool = True) -> TrackSequences:
    """The tracks (particles with >= ``min_hits`` hits and pT >= ``min_pt`` GeV) of
    ``events`` as sequences; ``tokenizer`` (a :class:`HitTokenizer`) tokenises every hit of
    each event once (None: tokens -1); ``priors``: the helix priors (needs the events'
    geometry; events without one get none)."""
    if min_hits < 4:
        msg = f"min_hits must be >= 4 (three hits of context and a next hit), got {min_hits}"
        raise ValueError(msg)
    if max_len < min_hits:
        msg = f"max_len must be >= min_hits ({min_hits}), got {max_len}"
        raise ValueError(msg)
    parts: list[TrackSequences] = []
    for k, ev in enumerate(events):
        if not ev.has_truth:
            msg = f"events[{k}]: no truth (particle ids are needed to make track sequences)"
            raise ValueError(msg)
        parts.append(_event_sequences(ev, k, tokenizer, min_hits, min_pt, max_len, priors))
    if not parts:
        msg = "events: no events given"
        raise ValueError(msg)
    return concat(parts)


def _event_sequences(ev: Event, k: int, tokenizer: object | None, min_hits: int,
                     min_pt: float, max_len: int, priors: bool) -> TrackSequences:
    s = hit_sample([ev])
    levels = tokenizer.config.levels if tokenizer is not None else 1  # type: ignore[attr-defined]
    if tokenizer is not None:
        lay_in = s.layer if tokenizer.config.layer_input else None  # type: ignore[attr-defined]
        tok_all = tokenizer.encode(s.xyz, lay_in)  # type: ignore[attr-defined]
    else:
        tok_all = np.full((len(s), 1), -1, np.int64)
    off, rows = track_order(s)
    lengths = np.diff(off)
    pid = s.particle_id[rows[off[:-1]]] if len(rows) else np.zeros(0, np.int64)
    pt, eta = _particle_kinematics(ev, pid)
    keep = np.flatnonzero((lengths >= min_hits) & (np.nan_to_num(pt, nan=-1.0) >= min_pt))
    n = len(keep)
    L = np.minimum(lengths[keep], max_len)
    T = max_len
    xyz = np.zeros((n, T, 3))
    layer = np.full((n, T), -1, np.int64)
    tokens = np.full((n, T, levels), -1, np.int64)
    hit_rows = np.full((n, T), -1, np.int64)
    step = np.arange(T)[None, :]
    valid = step < L[:, None]
    src = off[keep][:, None] + np.minimum(step, L[:, None] - 1)
    r = rows[src]
    xyz[valid] = s.xyz[r[valid]].astype(np.float64)
    layer[valid] = s.layer[r[valid]]
    tokens[valid] = tok_all[r[valid]]
    hit_rows[valid] = r[valid]
    angle = np.arctan2(xyz[:, 0, 1], xyz[:, 0, 0]) if n else np.zeros(0)
    geo = ev.geometry
    if priors and geo is not None and n:
        prior, ok = helix_priors(xyz, layer, L, geo)
        prior = rotate(prior, -angle)
    else:
        prior, ok = np.zeros((n, T, 3)), np.zeros((n, T), dtype=bool)
    hl = np.full((n, T), -1, np.int64)
    ii, tt = np.nonzero((step >= 2) & valid)
    hl[ii, tt] = helix_next_layers(xyz, ii, tt, geo if priors else None)
    return TrackSequences(xyz, layer, tokens, hit_rows, L.astype(np.int64), angle, prior, ok,
                          pt[keep], eta[keep], pid[keep], np.full(n, k, np.int64), hl)


def concat(parts: Sequence[TrackSequences]) -> TrackSequences:
    """One :class:`TrackSequences` of several (same T and levels)."""
    fields = vars(parts[0]).keys()
    return TrackSequences(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


__all__ = ["MAX_LEN", "TrackSequences", "concat", "helix_next_layers", "helix_priors", "rotate",
           "track_sequences"]
