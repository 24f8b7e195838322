"""Tests of helixkit._core.AnnoyForest: Annoy's random-projection forest in C++."""

from __future__ import annotations

import numpy as np
import pytest

from helixkit._core import AnnoyForest


def circle(n, seed, dim=2):
    """n points on the unit circle with 1% radial noise (plus eta if dim == 3), float32."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-np.pi, np.pi, n)
    r = 1 + rng.normal(0, 0.01, n)
    cols = [r * np.cos(phi), r * np.sin(phi)]
    if dim == 3:
        cols.append(rng.uniform(-2.5, 2.5, n))
    return np.stack(cols, axis=1).astype(np.float32)


def brute_knn(pts, q, k):
    """Exact k nearest of each query item, sorted by (squared distance, index)."""
    d = ((pts[None, :, :] - pts[q][:, None, :]) ** 2).sum(axis=2, dtype=np.float32)
    idx = np.broadcast_to(np.arange(len(pts)), d.shape)
    return np.lexsort((idx, d), axis=1)[:, :k]


def recall(got, ref):
    return np.mean([len(set(a.tolist()) & set(b.tolist())) / len(b) for a, b in zip(got, ref)])


@pytest.fixture(scope="module")
def pts():
    return circle(3000, seed=1)


@pytest.fixture(scope="module")
def forest(pts):
    return AnnoyForest(pts, n_trees=2, seed=7)


# --------------------------------------------------------------------------- results


def test_properties_shape_dtype(pts, forest):
    assert (forest.size, forest.dim, forest.n_trees) == (3000, 2, 2)
    assert forest.leaf_size == 32  # automatic in 2-D
    assert forest.n_nodes > 2 * (2 * 3000 // 32 - 1)
    out = forest.query_items(np.arange(10, 20), 25)
    assert out.shape == (10, 25)
    assert out.dtype == np.uint32
    assert out.flags.c_contiguous
    assert type(out.base).__name__ == "PyCapsule"  # handed over, not copied
    np.testing.assert_array_equal(out[:, 0], np.arange(10, 20))  # itself first
    assert forest.query_items(np.array([], dtype=np.int64), 5).shape == (0, 5)
    small = AnnoyForest(pts[:4])
    assert small.query_items([0, 3], 10).shape == (2, 4)


def test_exhaustive_search_is_exact(pts):
    q = np.arange(0, 3000, 37)
    f = AnnoyForest(pts, n_trees=3, leaf_size=8)
    np.testing.assert_array_equal(f.query_items(q, 20, search_k=3 * 3000), brute_knn(pts, q, 20))


def test_recall_vs_brute_force_and_annoy(pts, forest):
    q = np.arange(0, 3000, 10)
    ref = brute_knn(pts, q, 50)
    r = recall(forest.query_items(q, 50), ref)
    assert r >= 0.93
    assert recall(AnnoyForest(pts, n_trees=4).query_items(q, 50, search_k=1000), ref) >= 0.99
    annoy = pytest.importorskip("annoy")
    index = annoy.AnnoyIndex(2, "euclidean")
    index.set_seed(7)
    for i, v in enumerate(pts.tolist()):
        index.add_item(i, v)
    index.build(2, n_jobs=1)
    peer = recall(np.array([index.get_nns_by_item(int(i), 50) for i in q]), ref)
    assert r >= peer - 0.02


def test_periodic_neighbours_across_pi():
    n = 2000
    phi = np.linspace(-np.pi, np.pi, n, endpoint=False) + np.pi / n
    phi[0], phi[1] = np.pi - 0.001, -np.pi + 0.001
    pts = np.stack([np.cos(phi), np.sin(phi)], axis=1)  # float64: converted once
    out = AnnoyForest(pts, n_trees=2).query_items([0, 1], 10)
    assert 1 in out[0]  # across +-pi, 0.002 rad away
    assert 0 in out[1]


def test_deterministic_and_thread_invariant(pts):
    q = np.arange(0, 3000, 3)
    a = AnnoyForest(pts, n_trees=4, seed=3, n_threads=1)
    b = AnnoyForest(pts, n_trees=4, seed=3, n_threads=2)
    ref = a.query_items(q, 40, n_threads=1)
    assert a.n_nodes == b.n_nodes
    np.testing.assert_array_equal(ref, a.query_items(q, 40, n_threads=2))
    np.testing.assert_array_equal(ref, b.query_items(q, 40, n_threads=0))
    other = AnnoyForest(pts, n_trees=4, seed=4)
    assert not np.array_equal(ref, other.query_items(q, 40))


def test_input_conversions(pts):
    f32 = AnnoyForest(pts, n_trees=2, seed=1)
    q = np.arange(0, 3000, 50)
    ref = f32.query_items(q, 10)
    for points in (pts.astype(np.float64), np.asfortranarray(pts)):
        again = AnnoyForest(points, n_trees=2, seed=1)
        np.testing.assert_array_equal(ref, again.query_items(q, 10))
    for dtype in (np.uint16, np.int32, np.uint32, np.uint64, np.int64):
        np.testing.assert_array_equal(f32.query_items(q.astype(dtype), 10), ref, err_msg=str(dtype))
    int8 = np.array([0, 100], dtype=np.int8)
    np.testing.assert_array_equal(f32.query_items(int8, 10), ref[[0, 2]])
    np.testing.assert_array_equal(f32.query_items([0, 100], 10), ref[[0, 2]])


def test_degenerate_inputs():
    same = np.zeros((500, 3), dtype=np.float32)
    f = AnnoyForest(same, n_trees=2, leaf_size=4)
    np.testing.assert_array_equal(f.query_items([499], 5, search_k=1000), [[0, 1, 2, 3, 4]])
    assert f.query_items(np.arange(500), 20).shape == (500, 20)
    one = AnnoyForest(np.ones((1, 2)))
    np.testing.assert_array_equal(one.query_items([0, 0], 3), [[0], [0]])


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("points", "match"),
    [
        (np.zeros((10, 2), dtype=np.int64), "points must be float32 or float64"),
        (np.zeros((10, 2), dtype=np.float16), "points must be float32 or float64"),
        (np.array([["a", "b"]]), "points must be float32 or float64"),
        (np.zeros(10, dtype=np.float32), r"points must have shape \(n, d\)"),
        (np.zeros((2, 3, 4), dtype=np.float32), r"points must have shape \(n, d\)"),
        (np.zeros((10, 0), dtype=np.float32), r"points must have shape \(n, d\) with d >= 1"),
        (np.array([[0.0, np.nan]], dtype=np.float32), "points must be finite"),
        (np.array([[0.0, 1.0], [np.inf, 1.0]]), "points must be finite, row 1 column 0"),
    ],
)
def test_bad_points(points, match):
    with pytest.raises(ValueError, match=match):
        AnnoyForest(points)


def test_bad_config():
    with pytest.raises(ValueError, match="n_trees"):
        AnnoyForest(np.zeros((5, 2), dtype=np.float32), n_trees=0)


@pytest.mark.parametrize(
    ("items", "k", "match"),
    [
        (np.array([0.0, 1.0]), 3, "items must be a 1-D integer array"),
        (np.array([True, False]), 3, "items must be a 1-D integer array"),
        (np.zeros((2, 2), dtype=np.int64), 3, "items must be a 1-D integer array"),
        (np.array([0, -1]), 3, r"items\[1\] \(=-1\)"),
        (np.array([0, 3000], dtype=np.uint32), 3, r"items\[1\] \(=3000\) must be in \[0, 3000\)"),
        (np.array([2**40], dtype=np.uint64), 3, "items"),
        (np.array([0]), 0, r"k \(=0\) must be >= 1"),
        (np.array([0]), -5, "k"),
    ],
)
def test_bad_query(forest, items, k, match):
    with pytest.raises(ValueError, match=match):
        forest.query_items(items, k)


def test_unsorted_query_returns_the_same_sets(pts, forest):
    items = np.arange(0, len(pts), 3)
    srt = forest.query_items(items, 40, n_threads=1)
    uns1 = forest.query_items(items, 40, n_threads=1, sorted=False)
    uns2 = forest.query_items(items, 40, n_threads=2, sorted=False)
    assert uns1.shape == srt.shape and uns1.dtype == np.uint32
    assert np.array_equal(uns1, uns2)  # deterministic, thread-independent order
    assert np.array_equal(np.sort(uns1, axis=1), np.sort(srt, axis=1))
    # a larger search_k than k * n_trees still yields the k nearest candidates
    wide = forest.query_items(items, 10, search_k=400, sorted=False)
    ref = forest.query_items(items, 10, search_k=400)
    assert np.array_equal(np.sort(wide, axis=1), np.sort(ref, axis=1))
