"""kNN / radius graphs and DBSCAN vs scipy, pykdtree and scikit-learn, same groups.

Data: a clustered "track embedding": N/10 clusters of ~10 points (one per
particle) with centres ~N(0, 1) in D dimensions and a within-cluster spread of
0.05. Smoke mode uses N = 2,000; ``HELIXKIT_BENCH_FULL=1`` uses 10^5 (8-D) plus
a scaling scan in N (10^4..10^6) and D (3, 8, 12, 24).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from helixkit import graph

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N = 100_000 if FULL else 2_000
K = 16
RADIUS = 0.5  # ~10 neighbours per point (the hits of the same particle)
DBSCAN_EPS, DBSCAN_MIN = 0.15, 5


def embedding(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(n // 10, 1), d))
    pts = centers[rng.integers(0, len(centers), n)] + rng.normal(size=(n, d)) * 0.05
    return pts.astype(np.float32)


@pytest.fixture(scope="module")
def x8() -> np.ndarray:
    return embedding(N, 8)


# --- kNN ------------------------------------------------------------------------------
@pytest.mark.benchmark(group="knn-8d")
@pytest.mark.parametrize("n_threads", [1, 0])
def test_knn_helixkit(benchmark, x8, n_threads):
    ei = benchmark(graph.knn_graph, x8, K, n_threads=n_threads)
    assert ei.shape == (2, len(x8) * K)


@pytest.mark.benchmark(group="knn-8d")
def test_knn_scipy_ckdtree(benchmark, x8):
    spatial = pytest.importorskip("scipy.spatial")
    benchmark(lambda: spatial.cKDTree(x8).query(x8, K + 1, workers=-1))


@pytest.mark.benchmark(group="knn-8d")
def test_knn_pykdtree(benchmark, x8):
    kdtree = pytest.importorskip("pykdtree.kdtree")
    benchmark(lambda: kdtree.KDTree(x8).query(x8, k=K + 1))


@pytest.mark.benchmark(group="knn-8d")
def test_knn_sklearn(benchmark, x8):
    nb = pytest.importorskip("sklearn.neighbors")
    benchmark(lambda: nb.NearestNeighbors(n_neighbors=K + 1, n_jobs=-1).fit(x8).kneighbors(x8))


# --- radius -----------------------------------------------------------------------------
@pytest.mark.benchmark(group="radius-8d")
def test_radius_helixkit(benchmark, x8):
    benchmark(graph.radius_graph, x8, RADIUS)


@pytest.mark.benchmark(group="radius-8d")
def test_radius_scipy_ckdtree(benchmark, x8):
    spatial = pytest.importorskip("scipy.spatial")
    benchmark(lambda: spatial.cKDTree(x8).query_ball_point(x8, RADIUS, workers=-1))


# --- DBSCAN -----------------------------------------------------------------------------
@pytest.mark.benchmark(group="dbscan-8d")
def test_dbscan_helixkit(benchmark, x8):
    benchmark(graph.dbscan, x8, DBSCAN_EPS, DBSCAN_MIN)


@pytest.mark.benchmark(group="dbscan-8d")
def test_dbscan_helixkit_rescan(benchmark, x8):
    scan = graph.DbscanRescan(x8, max_eps=DBSCAN_EPS)
    benchmark(scan.labels, DBSCAN_EPS, DBSCAN_MIN)


@pytest.mark.benchmark(group="dbscan-8d")
def test_dbscan_sklearn(benchmark, x8):
    cluster = pytest.importorskip("sklearn.cluster")
    benchmark(lambda: cluster.DBSCAN(eps=DBSCAN_EPS, min_samples=DBSCAN_MIN).fit(x8))


# --- scaling ----------------------------------------------------------------------------
# One pytest-benchmark group per (N, D), helixkit next to its peers: pykdtree everywhere,
# --- kNN in high dimension: the k-d tree, the brute-force scan and "auto" ----------------
# next to scikit-learn's BLAS brute force (squared norms + a GEMM, then argpartition) and
# pykdtree; one pytest-benchmark group per dimension.
HIGH_D = (12, 16, 24)
N_HIGH = 100_000 if FULL else 2_000


@pytest.fixture(scope="module", params=HIGH_D)
def x_high(request) -> np.ndarray:
    return embedding(N_HIGH, request.param)


@pytest.mark.parametrize("algorithm", ["kd_tree", "brute", "auto"])
def test_knn_highdim_helixkit(benchmark, x_high, algorithm):
    benchmark.group = f"knn-highdim-{x_high.shape[1]}d"
    benchmark.pedantic(graph.knn_graph, args=(x_high, K), kwargs={"algorithm": algorithm},
                       rounds=1 if FULL else 3, iterations=1)


def test_knn_highdim_sklearn_brute(benchmark, x_high):
    nb = pytest.importorskip("sklearn.neighbors")
    benchmark.group = f"knn-highdim-{x_high.shape[1]}d"
    benchmark.pedantic(lambda: nb.NearestNeighbors(n_neighbors=K + 1, algorithm="brute",
                                                   n_jobs=-1).fit(x_high).kneighbors(x_high),
                       rounds=1 if FULL else 3, iterations=1)


def test_knn_highdim_pykdtree(benchmark, x_high):
    kdtree = pytest.importorskip("pykdtree.kdtree")
    benchmark.group = f"knn-highdim-{x_high.shape[1]}d"
    benchmark.pedantic(lambda: kdtree.KDTree(x_high).query(x_high, k=K + 1),
                       rounds=1 if FULL else 3, iterations=1)


# scipy's cKDTree (workers=-1) up to 10^5 points and 8-D (beyond, minutes per call).
SCALING = [(n, 8) for n in (10_000, 100_000, 1_000_000)] + [(100_000, d) for d in (3, 12, 24)]


def _scaling_case(benchmark, n: int, d: int) -> np.ndarray:
    benchmark.group = f"knn-scaling-{n}-{d}d"
    return embedding(n, d)


@pytest.mark.skipif(not FULL, reason="set HELIXKIT_BENCH_FULL=1")
@pytest.mark.parametrize(("n", "d"), SCALING)
def test_knn_scaling_helixkit(benchmark, n, d):
    x = _scaling_case(benchmark, n, d)
    benchmark.pedantic(graph.knn_graph, args=(x, K), rounds=1, iterations=1)


@pytest.mark.skipif(not FULL, reason="set HELIXKIT_BENCH_FULL=1")
@pytest.mark.parametrize(("n", "d"), SCALING)
def test_knn_scaling_pykdtree(benchmark, n, d):
    kdtree = pytest.importorskip("pykdtree.kdtree")
    x = _scaling_case(benchmark, n, d)
    benchmark.pedantic(lambda: kdtree.KDTree(x).query(x, k=K + 1), rounds=1, iterations=1)


@pytest.mark.skipif(not FULL, reason="set HELIXKIT_BENCH_FULL=1")
@pytest.mark.parametrize(("n", "d"), [c for c in SCALING if c[0] <= 100_000 and c[1] <= 8])
def test_knn_scaling_scipy_ckdtree(benchmark, n, d):
    spatial = pytest.importorskip("scipy.spatial")
    x = _scaling_case(benchmark, n, d)
    benchmark.pedantic(lambda: spatial.cKDTree(x).query(x, K + 1, workers=-1), rounds=1,
                       iterations=1)
