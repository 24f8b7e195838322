"""Edge-route track building (``helixkit.models.edge.build_tracks``) vs a scipy equivalent.

Data: the kNN graph (k = 20) of a clustered 8-D "embedding" (N/10 particles of ~10 hits, as
in bench_graph), edges oriented by index, scores = 0.9 for same-cluster pairs and U(0, 0.8)
otherwise, plus noise. The peer is what one writes without helixkit: the same greedy
selection as a Python loop over the score-sorted edges, then scipy's
``connected_components``; both give the same partition (asserted).
Smoke mode N = 2,000; ``HELIXKIT_BENCH_FULL=1`` N = 10^5 (≈ 1.4M edges, a ⟨μ⟩ = 200 pixel
event has ~55k hits and ~0.7M edges at k = 20).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from helixkit.models.edge import build_tracks, graph_edges

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


@pytest.mark.benchmark(group="track-building")
def test_build_tracks_helixkit(benchmark, scored_graph):
    score, inner, outer = scored_graph
    build_tracks(score[:10], inner[:10], outer[:10], N, THRESHOLD)   # numba compile / cache
    lab = benchmark(build_tracks, score, inner, outer, N, THRESHOLD)
    benchmark.extra_info.update(n_hits=N, n_edges=len(score), n_tracks=len(set(lab)) - 1)


@pytest.mark.benchmark(group="track-building")
def test_build_tracks_scipy(benchmark, scored_graph):
    pytest.importorskip("scipy.sparse")
    score, inner, outer = scored_graph
    lab = benchmark(scipy_tracks, score, inner, outer, N, THRESHOLD)
    ours = build_tracks(score, inner, outer, N, THRESHOLD)
    # same partition: a one-to-one map between the labels of tracked hits
    assert np.array_equal(lab >= 0, ours >= 0)
    pairs = {(a, b) for a, b in zip(lab[lab >= 0], ours[ours >= 0])}
    assert len(pairs) == len(set(lab[lab >= 0])) == len(set(ours[ours >= 0]))
