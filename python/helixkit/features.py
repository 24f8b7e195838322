"""Per-hit input features for the learned tracking models."""

from __future__ import annotations

from typing import Any

import numpy as np

FEATURE_NAMES = ("r", "cos_phi", "sin_phi", "z", "eta", "z_over_r", "volume_barrel")


def hit_features(event: Any, *, volumes: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Geometric features of every hit (or of the hits in ``volumes``).

    Returns ``(features, rows)``: a (N, 7) float32 array — r and z in m, cos φ,
    sin φ, the hit's pseudorapidity η = asinh(z/r), z/r, and a barrel flag
    (|z| spread of the layer smaller than its radius) — and the event rows used.
    Scales are fixed (not fitted per event) so the features mean the same
    thing on every event.
    """
    hits = event.hits
    rows = np.arange(event.n_hits) if volumes is None else np.flatnonzero(
        np.isin(hits["volume_id"], volumes))
    if len(rows) == 0:
        msg = f"no hits in the selected volumes {volumes}"
        raise ValueError(msg)
    x, y, z = (np.asarray(hits[c], np.float64)[rows] for c in "xyz")
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    zr = z / np.maximum(r, 1e-6)
    barrel = np.zeros(len(rows))
    if event.geometry is not None:
        arr = event.geometry.arrays()
        idx = event.geometry.layer_indices(hits["volume_id"][rows], hits["layer_id"][rows])
        barrel = np.where(idx >= 0, arr["kind"][np.maximum(idx, 0)] == 0, 0).astype(np.float64)
    f = np.stack([r / 1000.0, np.cos(phi), np.sin(phi), z / 1000.0, np.arcsinh(zr),
                  zr, barrel], axis=1)
    if not np.isfinite(f).all():
        msg = "hit positions contain NaN or inf"
        raise ValueError(msg)
    return f.astype(np.float32), rows
