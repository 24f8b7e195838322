"""Per-hit input features of events, for any ML system (learned tracking, hit datasets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..data import Event

FEATURE_NAMES = ("r", "cos_phi", "sin_phi", "z", "eta", "cos_theta", "volume_barrel")
EXTRA_FEATURES = {
    "detector": ("volume_index", "layer_index"),
    "cells": ("n_cells", "cell_value_sum", "ch0_extent", "ch1_extent"),
    "cluster": ("cluster_log_cells", "cluster_log_charge", "cluster_dir_r",
                "cluster_dir_phi", "cluster_dir_z"),
}


def n_features(extra: tuple[str, ...] | list[str] = ()) -> int:
    """Width of :func:`hit_features` with these ``extra`` groups."""
    unknown = sorted(set(extra) - set(EXTRA_FEATURES))
    if unknown:
        msg = f"extra: unknown feature group(s) {unknown}; valid: {sorted(EXTRA_FEATURES)}"
        raise ValueError(msg)
    return len(FEATURE_NAMES) + sum(len(EXTRA_FEATURES[g]) for g in extra)


def feature_columns(extra: tuple[str, ...] | list[str],
                    subset: tuple[str, ...] | list[str]) -> np.ndarray:
    """Columns of ``hit_features(extra=subset)`` inside ``hit_features(extra=extra)``."""
    missing = sorted(set(subset) - set(extra))
    if missing:
        msg = f"feature group(s) {missing} are not among the computed ones {list(extra)}"
        raise ValueError(msg)
    start = {}
    off = len(FEATURE_NAMES)
    for g in extra:
        start[g] = off
        off += len(EXTRA_FEATURES[g])
    cols = list(range(len(FEATURE_NAMES)))
    for g in subset:
        cols += range(start[g], start[g] + len(EXTRA_FEATURES[g]))
    return np.array(cols, dtype=np.int64)


def hit_features(event: Event, *, volumes: tuple[int, ...] | None = None,
                 extra: tuple[str, ...] = (), normalize: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Geometric features of every hit (or of the hits in ``volumes``).

    Returns ``(features, rows)``: a (N, 7 + extras) float32 array and the event
    rows used. The 7 base features, all O(1) in size so that none dominates an
    input L2-normalisation: r and z in m, cos φ, sin φ, the hit's pseudorapidity
    η = asinh(z/r), the pseudo-angle cos θ = z / √(r² + z²), and a barrel flag
    (the hit's layer is a cylinder). ``extra`` appends:

    - ``"detector"``: volume and layer ids as small numbers (id / 10);
    - ``"cells"``: per hit, the number of TrackML cells, their summed value and
      the extent of the cluster in ch0 and ch1 (needs ``event.cells``).
    - ``"cluster"``: the track direction that the cluster shape measures
      (needs ``event.cells`` and ``event.geometry`` with the layers' pitch and
      sensor thickness): log of the cell count and of the summed charge, then
      the direction (d_r, 10·d_φ clipped to ±3, d_z) in the hit's (radial,
      azimuthal, z) frame. The sensor-frame slopes are |d_u/d_w| =
      (extent_u − 1)·pitch_u / t and |d_v/d_w| likewise (u along φ; v along z
      in the barrel, r in the endcaps); the sign of the ch0–ch1 correlation
      gives sign(d_u·d_v) (0 when the cluster is one cell wide). A cluster
      fixes the direction only up to a reflection through the sensor plane,
      so the direction is oriented outward — d_r > 0 and d_z along the hit's
      z — as for a particle from the beam spot.

    Scales are fixed (the features mean the same on every event) unless
    ``normalize``: then every column is standardised over the event's selected
    hits (per-event normalisation; constant columns become 0).
    """
    unknown = sorted(set(extra) - set(EXTRA_FEATURES))
    if unknown:
        msg = f"extra: unknown feature group(s) {unknown}; valid: {sorted(EXTRA_FEATURES)}"
        raise ValueError(msg)
    hits = event.hits
    rows = np.arange(event.n_hits) if volumes is None else np.flatnonzero(
        np.isin(hits["volume_id"], volumes))
    if len(rows) == 0:
        msg = f"no hits in the selected volumes {volumes}"
        raise ValueError(msg)
    x, y, z = (np.asarray(hits[c], np.float64)[rows] for c in "xyz")
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    barrel = np.zeros(len(rows))
    if event.geometry is not None:
        arr = event.geometry.arrays()
        idx = event.geometry.layer_indices(hits["volume_id"][rows], hits["layer_id"][rows])
        barrel = np.where(idx >= 0, arr["kind"][np.maximum(idx, 0)] == 0, 0).astype(np.float64)
    cols = [r / 1000.0, np.cos(phi), np.sin(phi), z / 1000.0,
            np.arcsinh(z / np.maximum(r, 1e-6)), z / np.maximum(np.hypot(r, z), 1e-6), barrel]
    if "detector" in extra:
        cols += [hits["volume_id"][rows] / 10.0, hits["layer_id"][rows] / 10.0]
    if "cells" in extra:
        cols += list(_cell_features(event, rows).T)
    if "cluster" in extra:
        cols += list(_cluster_features(event, rows).T)
    f = np.stack(cols, axis=1)
    if not np.isfinite(f).all():
        msg = "hit positions contain NaN or inf"
        raise ValueError(msg)
    if normalize:
        f = (f - f.mean(0)) / np.where(f.std(0) > 0, f.std(0), 1.0)
    return f.astype(np.float32), rows


def _cells_of(event: Event, rows: np.ndarray, group: str) -> tuple[np.ndarray, np.ndarray]:
    """(hit row in ``rows`` of every cell of those hits, the cells' indices in event.cells)."""
    cells = event.cells
    if cells is None or cells.n_rows == 0:
        msg = f"extra=('{group}',) needs an event with a TrackML cells table (event.cells)"
        raise ValueError(msg)
    hit_id = np.asarray(event.hits["hit_id"])[rows]
    order = np.argsort(hit_id)
    pos = np.searchsorted(hit_id[order], cells["hit_id"])
    pos = np.clip(pos, 0, len(rows) - 1)
    mine = hit_id[order][pos] == cells["hit_id"]
    return order[pos[mine]], np.flatnonzero(mine)


def _cell_features(event: Event, rows: np.ndarray,
                   cells_of: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    k, idx = cells_of if cells_of is not None else _cells_of(event, rows, "cells")
    cells = event.cells
    n = len(rows)
    value = np.asarray(cells["value"], np.float64)[idx]
    out = np.zeros((n, 4))
    out[:, 0] = np.bincount(k, minlength=n)
    out[:, 1] = np.bincount(k, weights=value, minlength=n)
    if len(k) == 0:
        return out
    # per-hit min / max over contiguous runs (cells sorted by hit; a no-op sort for our files)
    order = np.argsort(k, kind="stable")
    ks = k[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    for j, ch in enumerate(("ch0", "ch1")):
        c = np.asarray(cells[ch], np.float64)[idx][order]
        out[ks[starts], 2 + j] = (np.maximum.reduceat(c, starts)
                                  - np.minimum.reduceat(c, starts) + 1)
    return out


def _cluster_features(event: Event, rows: np.ndarray) -> np.ndarray:
    geo = event.geometry
    if geo is None:
        msg = "extra=('cluster',) needs event.geometry (the layers' pitch and sensor_thickness)"
        raise ValueError(msg)
    lay = geo.layer_indices(event.hits["volume_id"][rows], event.hits["layer_id"][rows])
    if (lay < 0).any():
        msg = "extra=('cluster',): some hits are on layers that event.geometry does not have"
        raise ValueError(msg)
    arr = geo.arrays()
    k, idx = _cells_of(event, rows, "cluster")
    n_cells, charge, ext_u, ext_v = _cell_features(event, rows, (k, idx)).T
    if (n_cells == 0).any():
        msg = f"extra=('cluster',): {int((n_cells == 0).sum())} hits have no cells"
        raise ValueError(msg)
    cu = np.asarray(event.cells["ch0"], np.float64)[idx]
    cv = np.asarray(event.cells["ch1"], np.float64)[idx]
    mu_u = np.bincount(k, weights=cu, minlength=len(rows)) / n_cells
    mu_v = np.bincount(k, weights=cv, minlength=len(rows)) / n_cells
    cov = np.bincount(k, weights=(cu - mu_u[k]) * (cv - mu_v[k]), minlength=len(rows))
    t = arr["sensor_thickness"][lay]
    a = (ext_u - 1) * arr["pitch_u"][lay] / t          # |d_u / d_w|
    b = (ext_v - 1) * arr["pitch_v"][lay] / t          # |d_v / d_w|
    s = np.sign(np.round(cov, 9))                      # sign(d_u * d_v), 0 if unresolved
    norm = np.sqrt(1 + a * a + b * b)
    z = np.asarray(event.hits["z"], np.float64)[rows]
    zs = np.where(z >= 0, 1.0, -1.0)
    barrel = arr["kind"][lay] == 0
    # outward orientation (away from the beam spot): barrel d_r > 0 and d_z ~ sign(z);
    # endcap d_z ~ sign(z) and d_r > 0. Then sign(d_phi) = s * sign(d_v).
    d_r = np.where(barrel, 1.0, b) / norm
    d_z = zs * np.where(barrel, b, 1.0) / norm
    d_phi = s * np.where(barrel, zs, 1.0) * a / norm
    return np.stack([np.log(n_cells), np.log(np.maximum(charge, 1e-3)), d_r,
                     np.clip(10.0 * d_phi, -3.0, 3.0), d_z], axis=1)
