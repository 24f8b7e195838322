"""Edge-route track building (``helixkit.learned.edge.build_tracks``) vs scipy equivalents.

Data: the kNN graph (k = 20) of a clustered 8-D "embedding" (N/10 particles of ~10 hits, as
in bench_graph), edges oriented by index, scores = 0.9 for same-cluster pairs and U(0, 0.8)
otherwise, plus noise. The peers are what one writes without helixkit:

* ``linking="greedy"``: the same greedy selection as a Python loop over the score-sorted
  edges, then scipy's ``connected_components``; both give the same partition (asserted).
* ``linking="matching"`` (the default): the exact maximum-weight matching by scipy's
  ``min_weight_full_bipartite_matching`` (LAPJVsp) on the usual 2N × 2N construction with
  an "unmatched" slot per hit, then ``connected_components``. The auction is exact to within
  ε = 10⁻² per link: its total weight must be within that of scipy's optimum (asserted; the
  partitions themselves differ where near-equal alternatives exist, as they do among this
  data's same-cluster edges).

Smoke mode N = 2,000; ``HELIXKIT_BENCH_FULL=1`` N = 10^5 (≈ 1.4M edges, a ⟨μ⟩ = 200 pixel
event has ~40k hits and ~1.6M edges at k = 40, ~0.4M above the working point).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from helixkit.learned import edge as edge_module
from helixkit.learned.edge import build_tracks, graph_edges

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N = 100_000 if FULL else 2_000
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def scored_graph() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(N // 10, 8))
    cluster = rng.integers(0, len(centers), N)
    x = (centers[cluster] + rng.normal(size=(N, 8)) * 0.05).astype(np.float32)
    inner, outer = graph_edges(x, 20, n_threads=1)
    same = cluster[inner] == cluster[outer]
    score = np.where(same, 0.9, rng.uniform(0, 0.8, len(inner))) + rng.uniform(0, 0.05,
                                                                                len(inner))
    return score, inner, outer


def scipy_tracks(score: np.ndarray, inner: np.ndarray, outer: np.ndarray, n: int,
                 threshold: float) -> np.ndarray:
    from scipy.sparse import coo_matrix  # noqa: PLC0415
    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415

    order = np.argsort(-score, kind="stable")
    order = order[score[order] > threshold]
    has_out, has_in = np.zeros(n, bool), np.zeros(n, bool)
    keep = []
    for e, a, b in zip(order.tolist(), inner[order].tolist(), outer[order].tolist()):
        if not has_out[a] and not has_in[b]:
            has_out[a] = has_in[b] = True
            keep.append(e)
    g = coo_matrix((np.ones(len(keep)), (inner[keep], outer[keep])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    size = np.bincount(lab)
    return np.where(size[lab] > 1, lab, -1)


def _weights(score: np.ndarray, threshold: float) -> np.ndarray:
    s = np.clip(score, 1e-6, 1 - 1e-6)
    return np.log(s / (1 - s)) - np.log(threshold / (1 - threshold))


def scipy_matching_tracks(score: np.ndarray, inner: np.ndarray, outer: np.ndarray, n: int,
                          threshold: float) -> tuple[np.ndarray, float]:
    """Track labels and the matching's total weight."""
    from scipy.sparse import coo_matrix, csr_matrix  # noqa: PLC0415
    from scipy.sparse.csgraph import (  # noqa: PLC0415
        connected_components,
        min_weight_full_bipartite_matching,
    )

    sel = np.flatnonzero(score > threshold)
    w = _weights(score[sel], threshold)
    a, b = inner[sel], outer[sel]
    # left: out-slots 0..n-1 (hit a links outwards) and n "unmatched" in-slots; right: in-slots
    # 0..n-1 and n "unmatched" out-slots; every real slot can stay unmatched at cost 0
    ar = np.arange(n)
    rows = np.concatenate([a, ar, n + b, n + ar])
    cols = np.concatenate([b, n + ar, n + a, ar])
    cost = np.concatenate([-w, np.zeros(n), np.zeros(len(a)), np.zeros(n)])
    cost = cost - cost.min() + 1.0              # LAPJVsp needs stored (non-zero) entries
    m = csr_matrix((cost, (rows, cols)), shape=(2 * n, 2 * n))
    r, c = min_weight_full_bipartite_matching(m)
    match = np.full(2 * n, -1)
    match[r] = c
    keep = match[a] == b
    g = coo_matrix((np.ones(keep.sum()), (a[keep], b[keep])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    size = np.bincount(lab)
    return np.where(size[lab] > 1, lab, -1), float(w[keep].sum())


def _same_track_fraction(x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of hits whose track (the set of hits sharing its label; alone = itself) is
    the same under both labellings."""
    n = len(x)
    kx = np.where(x >= 0, x, -1 - np.arange(n))
    ky = np.where(y >= 0, y, -1 - np.arange(n))
    pair = np.unique(np.stack([kx, ky], 1), axis=0, return_inverse=True)[1].ravel()
    n_pair = np.bincount(pair)
    _, ix = np.unique(kx, return_inverse=True)
    _, iy = np.unique(ky, return_inverse=True)
    nx, ny = np.bincount(ix.ravel()), np.bincount(iy.ravel())
    same = (n_pair[pair] == nx[ix.ravel()]) & (n_pair[pair] == ny[iy.ravel()])
    return float(same.mean())


@pytest.mark.benchmark(group="track-building-greedy")
def test_build_tracks_greedy_helixkit(benchmark, scored_graph):
    score, inner, outer = scored_graph
    build_tracks(score[:10], inner[:10], outer[:10], N, THRESHOLD, linking="greedy")   # compile
    lab = benchmark(build_tracks, score, inner, outer, N, THRESHOLD, linking="greedy")
    benchmark.extra_info.update(n_hits=N, n_edges=len(score), n_tracks=len(set(lab)) - 1)


@pytest.mark.benchmark(group="track-building-greedy")
def test_build_tracks_greedy_scipy(benchmark, scored_graph):
    pytest.importorskip("scipy.sparse")
    score, inner, outer = scored_graph
    lab = benchmark(scipy_tracks, score, inner, outer, N, THRESHOLD)
    ours = build_tracks(score, inner, outer, N, THRESHOLD, linking="greedy")
    # same partition: a one-to-one map between the labels of tracked hits
    assert np.array_equal(lab >= 0, ours >= 0)
    pairs = {(a, b) for a, b in zip(lab[lab >= 0], ours[ours >= 0])}
    assert len(pairs) == len(set(lab[lab >= 0])) == len(set(ours[ours >= 0]))


@pytest.mark.benchmark(group="track-building-matching")
def test_build_tracks_matching_helixkit(benchmark, scored_graph):
    score, inner, outer = scored_graph
    build_tracks(score[:10], inner[:10], outer[:10], N, THRESHOLD)   # numba compile / cache
    lab = benchmark(build_tracks, score, inner, outer, N, THRESHOLD)
    benchmark.extra_info.update(n_hits=N, n_edges=len(score), n_tracks=len(set(lab)) - 1)


@pytest.mark.benchmark(group="track-building-matching")
def test_build_tracks_matching_scipy(benchmark, scored_graph):
    pytest.importorskip("scipy.sparse")
    score, inner, outer = scored_graph
    lab, best = benchmark.pedantic(scipy_matching_tracks,
                                   args=(score, inner, outer, N, THRESHOLD),
                                   rounds=1 if FULL else 3)
    w = np.where(score > THRESHOLD, _weights(score, THRESHOLD), 0.0)
    keep, done, _ = edge_module._auction_links(w, inner, outer, N, 10**12)
    assert done
    assert best - keep.sum() * edge_module.AUCTION_EPS <= w[keep].sum() <= best + 1e-6
    ours = build_tracks(score, inner, outer, N, THRESHOLD)
    benchmark.extra_info.update(weight_scipy=best, weight_auction=float(w[keep].sum()),
                                same_track_fraction=_same_track_fraction(lab, ours),
                                n_tracks_scipy=len(set(lab)) - 1,
                                n_tracks_auction=len(set(ours)) - 1)
