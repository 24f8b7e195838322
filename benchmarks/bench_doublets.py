"""Geometric doublets (``helixkit.learned.edge.doublet_edges``, numba, one pass over the hits
sorted by azimuth) vs what one writes with scipy: a ``cKDTree`` of the hits' directions on
the unit circle, ``query_pairs`` within the widest azimuth window, then the doublet rule on
the candidate pairs as whole-array numpy.

Data: a simulated ⟨μ⟩ = 200 event (smoke mode: ⟨μ⟩ = 10), pixel volumes, the doublet
settings of ``configs/learned_tracking_doublets.json`` (pT >= 0.9 GeV in 2 T, |z0| <= 200 mm,
Δr <= 200 mm, 0.01 rad margin). Both give the same pairs (asserted).
``HELIXKIT_BENCH_FULL=1`` for the full event.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from helixkit.data import simulate_event
from helixkit.learned.edge import EdgeConfig, doublet_edges
from helixkit.learned.batches import hit_geometry as _hit_geometry

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
MU = 200 if FULL else 10
CFG = EdgeConfig(doublets=True)


def scipy_doublets(x: np.ndarray, y: np.ndarray, z: np.ndarray, layer: np.ndarray,
                   cfg: EdgeConfig) -> np.ndarray:
    """The doublet rule of ``doublet_edges`` on the pairs of a k-d tree range query."""
    from scipy.spatial import cKDTree  # noqa: PLC0415

    r = np.hypot(x, y)
    two_r = 2 * cfg.doublet_pt_min / (0.299792458e-3 * cfg.doublet_b_field)
    window = math.asin(min(1.0, r.max() / two_r)) + cfg.doublet_dphi_margin
    unit = np.stack([x / r, y / r], 1)
    pairs = cKDTree(unit).query_pairs(2 * math.sin(window / 2) + 1e-12, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    swap = r[i] > r[j]
    lo, hi = np.where(swap, j, i), np.where(swap, i, j)
    dr = r[hi] - r[lo]
    phi = np.arctan2(y, x)
    dphi = np.abs(phi[hi] - phi[lo])
    dphi = np.minimum(dphi, 2 * np.pi - dphi)
    bend = np.arcsin(np.minimum(1.0, r / two_r))
    keep = ((layer[i] != layer[j]) & (dr > 1.0) & (dr <= cfg.doublet_dr_max)
            & (dphi <= bend[hi] - bend[lo] + cfg.doublet_dphi_margin)
            & (np.abs(z[lo] * dr - r[lo] * (z[hi] - z[lo])) <= cfg.doublet_z_max * dr))
    a, b = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
    key = np.sort(a * len(x) + b)
    return np.stack([key // len(x), key % len(x)])


@pytest.fixture(scope="module")
def hits() -> tuple[np.ndarray, ...]:
    ev = simulate_event(mu=MU, seed=3)
    rows = np.flatnonzero(np.isin(ev.hits["volume_id"], (7, 8, 9)))
    return _hit_geometry(ev, rows)


@pytest.mark.benchmark(group="doublets")
def test_doublets_helixkit(benchmark, hits):
    doublet_edges(*(h[:50] for h in hits), CFG)            # numba compile / cache
    out = benchmark(doublet_edges, *hits, CFG)
    benchmark.extra_info.update(n_hits=len(hits[0]), n_edges=out.shape[1])


@pytest.mark.benchmark(group="doublets")
def test_doublets_scipy(benchmark, hits):
    pytest.importorskip("scipy")
    ref = benchmark(scipy_doublets, *hits, CFG)
    assert np.array_equal(doublet_edges(*hits, CFG), ref)
