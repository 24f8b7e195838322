"""kNN / radius graphs and DBSCAN against brute force and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from helixkit import graph


def _brute_d2(q, x):
    return ((q[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1)


def _lattice(rng, n, d):
    """Integer coordinates: exact distances, many duplicates and ties."""
    return rng.integers(0, 4, size=(n, d)).astype(np.float64)


@pytest.mark.parametrize("d", [1, 2, 3, 8, 12, 32])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_knn_equals_brute_force_with_ties(rng, d, dtype):
    x = _lattice(rng, 300, d).astype(dtype)
    k = 7
    ei, dist = graph.knn_graph(x, k, return_distances=True)
    d2 = _brute_d2(x, x)
    np.fill_diagonal(d2, np.inf)
    # reference: sort by (distance, index)
    ref = np.lexsort((np.broadcast_to(np.arange(len(x)), d2.shape), d2), axis=1)[:, :k]
    assert ei.dtype == np.int64 and ei.shape == (2, len(x) * k)
    np.testing.assert_array_equal(ei[1], np.repeat(np.arange(len(x)), k))
    np.testing.assert_array_equal(ei[0].reshape(-1, k), ref)
    np.testing.assert_allclose(dist, np.sqrt(np.take_along_axis(d2, ref, 1)).ravel(), rtol=1e-6)


def test_knn_loop_max_radius_and_query_form(rng):
    x = rng.normal(size=(400, 5))
    ei = graph.knn_graph(x, 3, loop=True)
    assert (ei[0].reshape(-1, 3)[:, 0] == np.arange(400)).all()  # self is nearest
    ei, dist = graph.knn_graph(x, 10, max_radius=0.8, return_distances=True)
    assert (dist <= 0.8).all()
    d2 = _brute_d2(x, x)
    np.fill_diagonal(d2, np.inf)
    expected = np.minimum((d2 <= 0.64).sum(1), 10)
    np.testing.assert_array_equal(np.bincount(ei[1], minlength=400), expected)
    q = rng.normal(size=(50, 5))
    ei = graph.knn(x, q, 4)
    ref = np.argsort(_brute_d2(q, x), axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(ei[0].reshape(-1, 4), ref)
    np.testing.assert_array_equal(ei[1], np.repeat(np.arange(50), 4))


@pytest.mark.parametrize("d", [2, 3, 8, 24])
def test_radius_graph_equals_brute_force(rng, d):
    x = _lattice(rng, 250, d)
    r = 1.5 if d < 8 else 2.0
    ei, dist = graph.radius_graph(x, r, return_distances=True)
    d2 = _brute_d2(x, x)
    np.fill_diagonal(d2, np.inf)
    tgt, src = np.nonzero(d2 <= r * r)
    got = set(zip(ei[0].tolist(), ei[1].tolist()))
    assert got == set(zip(src.tolist(), tgt.tolist()))
    assert (np.diff(ei[1]) >= 0).all()
    np.testing.assert_allclose(dist, np.sqrt(d2[ei[1], ei[0]]))


def test_radius_max_num_neighbors_keeps_the_nearest(rng):
    x = rng.normal(size=(300, 3))
    ei, dist = graph.radius_graph(x, 1.0, max_num_neighbors=5, return_distances=True)
    d2 = _brute_d2(x, x)
    np.fill_diagonal(d2, np.inf)
    for i in range(0, 300, 17):
        within = np.flatnonzero(d2[i] <= 1.0)
        nearest = within[np.lexsort((within, d2[i, within]))][:5]
        np.testing.assert_array_equal(ei[0][ei[1] == i], nearest)


def test_thread_count_invariance(rng):
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    a = graph.knn_graph(x, 9, n_threads=1)
    for t in (2, 3, 8):
        np.testing.assert_array_equal(graph.knn_graph(x, 9, n_threads=t), a)
    b = graph.radius_graph(x, 0.7, n_threads=1)
    np.testing.assert_array_equal(graph.radius_graph(x, 0.7, n_threads=4), b)
    c = graph.dbscan(x, 0.6, 4, n_threads=1)
    np.testing.assert_array_equal(graph.dbscan(x, 0.6, 4, n_threads=3), c)


def test_torch_tensors_are_accepted(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(100, 4)).astype(np.float32)
    np.testing.assert_array_equal(graph.knn_graph(torch.from_numpy(x), 3), graph.knn_graph(x, 3))


def _blobs(rng, n, d, n_centers, spread):
    centers = rng.normal(size=(n_centers, d)) * 3
    return centers[rng.integers(0, n_centers, n)] + rng.normal(size=(n, d)) * spread


@pytest.mark.parametrize("min_samples", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("kind", ["blobs", "uniform"])
def test_dbscan_matches_sklearn(rng, min_samples, kind):
    sk = pytest.importorskip("sklearn.cluster")
    if kind == "blobs":
        x, eps = _blobs(rng, 1500, 3, 12, 0.4), 0.3
    else:
        x, eps = rng.uniform(size=(1500, 2)), 0.03
    ours = graph.dbscan(x, eps, min_samples)
    ref = sk.DBSCAN(eps=eps, min_samples=min_samples).fit(x)
    np.testing.assert_array_equal(ours == -1, ref.labels_ == -1)
    core = np.zeros(len(x), bool)
    core[ref.core_sample_indices_] = True
    # identical labels on core points (same numbering) and, with sklearn's
    # sequential expansion, on border points too
    np.testing.assert_array_equal(ours[core], ref.labels_[core])
    np.testing.assert_array_equal(ours, ref.labels_)


def test_dbscan_min_samples_one_is_connected_components(rng):
    x = _blobs(rng, 800, 4, 20, 0.3)
    labels = graph.dbscan(x, 0.4, 1)
    ei = graph.radius_graph(x, 0.4)
    # every edge joins one cluster, and clusters are connected via edges
    assert (labels[ei[0]] == labels[ei[1]]).all()
    assert (labels >= 0).all()
    from scipy.sparse import coo_matrix  # noqa: PLC0415
    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415

    n_cc, _ = connected_components(coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])),
                                              shape=(800, 800)))
    assert labels.max() + 1 == n_cc


def test_dbscan_rescan_equals_direct(rng):
    x = _blobs(rng, 2000, 3, 15, 0.4)
    scan = graph.DbscanRescan(x, max_eps=0.5)
    for eps, ms in [(0.2, 1), (0.3, 3), (0.5, 5), (0.45, 2)]:
        np.testing.assert_array_equal(scan.labels(eps, ms), graph.dbscan(x, eps, ms))
    with pytest.raises(ValueError, match="max_eps"):
        scan.labels(0.6, 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: graph.knn_graph(x, 0), "k must be"),
        (lambda x: graph.knn_graph(x, 10), "k \\(=10\\) must be <="),
        (lambda x: graph.knn_graph(x[:, :, None], 2), "shape \\(N, D\\)"),
        (lambda x: graph.knn_graph(x.astype(str), 2), "float32/float64"),
        (lambda x: graph.radius_graph(x, 0.0), "r must be"),
        (lambda x: graph.radius_graph(x, float("nan")), "r must be"),
        (lambda x: graph.radius_graph(x, 1.0, max_num_neighbors=0), "max_num_neighbors"),
        (lambda x: graph.dbscan(x, -1.0), "eps must be"),
        (lambda x: graph.dbscan(x, 0.5, 0), "min_samples"),
        (lambda x: graph.knn(x, np.zeros((2, 3)), 2), "columns"),
    ],
)
def test_bad_input_is_a_value_error(rng, call, match):
    x = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match=match):
        call(x)


def test_nan_and_empty_inputs(rng):
    x = rng.normal(size=(10, 2))
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        graph.knn_graph(x, 2)
    with pytest.raises(ValueError, match="NaN"):
        graph.dbscan(x, 0.5)
    assert graph.dbscan(np.zeros((0, 3)), 0.5).shape == (0,)
    assert graph.radius_graph(np.zeros((0, 3)), 0.5).shape == (2, 0)


def test_graph_metrics_on_a_hand_made_graph():
    # particle 1: hits 0,1,2,3; particle 2: hits 4,5; noise: hit 6
    pid = np.array([1, 1, 1, 1, 2, 2, 0])
    good = pid == 1
    ei = np.array([[1, 0, 3, 4, 6, 5], [0, 1, 2, 5, 0, 4]])
    m = graph.graph_metrics(ei, pid, good)
    # true good edges: (1->0), (0->1), (3->2) = 3 of 4*3 = 12 possible
    assert m.edge_efficiency == pytest.approx(3 / 12)
    # edges with >= 1 good endpoint: 1->0, 0->1, 3->2, 6->0 ; true: 3
    assert m.edge_purity == pytest.approx(3 / 4)
    # particle 1 segments {0,1},{2,3}: largest 2/4 = 50 %
    assert (m.frac_segment50, m.frac_segment75, m.frac_segment100) == (1.0, 0.0, 0.0)
    full = np.array([[0, 1, 2], [1, 2, 3]])
    assert graph.graph_metrics(full, pid, good).frac_segment100 == 1.0


def test_k_scan_on_simulated_hits():
    from helixkit.data import simulate_event  # noqa: PLC0415

    ev = simulate_event(mu=5, seed=4)
    # a trivially good "embedding": true track direction + small noise
    pid = ev.hit_particle_id
    good = graph.hits_of_interest(ev, pt_min=0.9)
    x = np.stack([ev.hits["x"], ev.hits["y"], ev.hits["z"]], 1) / 1000.0
    scan = graph.k_scan(x, pid, good, ks=[1, 2, 4, 8], max_radius=None)
    assert scan.n_edges.tolist() == [ev.n_hits * k for k in (1, 2, 4, 8)]
    assert np.all(np.diff(scan.frac_segment50) >= -1e-12)
    assert 0 <= scan.max_frac_segment50 <= 1


@pytest.mark.parametrize("d", [1, 4, 16, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_duplicates_beyond_one_leaf_block(rng, d, dtype):
    # 150 copies of one point form a single leaf larger than a scan block
    # (64 points); static-D (<= 16) and run-time-D (17) searches.
    x = np.concatenate([np.ones((150, d)), _lattice(rng, 150, d)]).astype(dtype)
    d2 = _brute_d2(x, x)
    np.fill_diagonal(d2, np.inf)
    k = 9
    ei = graph.knn_graph(x, k)
    ref = np.lexsort((np.broadcast_to(np.arange(len(x)), d2.shape), d2), axis=1)[:, :k]
    np.testing.assert_array_equal(ei[0].reshape(-1, k), ref)
    ei = graph.radius_graph(x, 1.0)
    tgt, src = np.nonzero(d2 <= 1.0)
    assert set(zip(ei[0].tolist(), ei[1].tolist())) == set(zip(src.tolist(), tgt.tolist()))
    ei = graph.radius_graph(x, 1.0, max_num_neighbors=4)
    for i in (0, 149, 150, 299):
        within = np.flatnonzero(d2[i] <= 1.0)
        np.testing.assert_array_equal(ei[0][ei[1] == i], within[np.lexsort((within, d2[i, within]))][:4])


def test_thread_count_invariance_with_a_parallel_build(rng):
    # large enough for the k-d tree build to split across threads
    centers = rng.normal(size=(2000, 8))
    x = (centers[rng.integers(0, 2000, 20000)] + rng.normal(size=(20000, 8)) * 0.05).astype(np.float32)
    a = graph.knn_graph(x, 6, n_threads=1, return_distances=True)
    b = graph.radius_graph(x, 0.3, n_threads=1, return_distances=True)
    c = graph.dbscan(x, 0.15, 4, n_threads=1)
    for t in (2, 5):
        for ref, got in zip(a, graph.knn_graph(x, 6, n_threads=t, return_distances=True)):
            np.testing.assert_array_equal(got, ref)
        for ref, got in zip(b, graph.radius_graph(x, 0.3, n_threads=t, return_distances=True)):
            np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(graph.dbscan(x, 0.15, 4, n_threads=t), c)
    # and the kNN graph equals brute force on a subset of queries
    q = np.arange(0, 20000, 997)
    d2 = _brute_d2(x[q], x)
    d2[np.arange(len(q)), q] = np.inf
    ref = np.argsort(d2, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(a[0][0].reshape(-1, 6)[q], ref)


def test_simd_paths_give_identical_graphs(simd_outputs):
    """The run-time AVX2 leaf scan and the SSE2 one give the same kNN and radius
    graphs and distances (HELIXKIT_SIMD=sse2 forces the latter; chosen once per
    process, hence the subprocesses)."""
    script = (
        "import hashlib, numpy as np\n"
        "from helixkit import graph\n"
        "rng = np.random.default_rng(3)\n"
        "h = hashlib.sha256()\n"
        "for d in (3, 8, 13):\n"
        "    x = (rng.normal(size=(3000, d)) * np.array([1.0, 0.1] * 7)[:d]).astype(np.float32)\n"
        "    x[100:110] = x[5]\n"
        "    for out in (graph.knn_graph(x, 12, return_distances=True), "
        "graph.radius_graph(x, 0.4, return_distances=True)):\n"
        "        h.update(out[0].tobytes()); h.update(out[1].tobytes())\n"
        "    h.update(graph.dbscan(x, 0.2, 4).tobytes())\n"
        "    for out in (graph.knn_graph(x, 7, return_distances=True, algorithm='brute'),):\n"
        "        h.update(out[0].tobytes()); h.update(out[1].tobytes())\n"
        "print(h.hexdigest())\n"
    )
    digests = simd_outputs(script)
    assert len(digests["auto"]) == 64
    assert digests["auto"] == digests["sse2"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [1, 5, 12, 17, 24])
def test_brute_force_knn_equals_the_tree_bit_for_bit(dtype, dim, rng):
    """algorithm="brute" (every point scanned) gives the k-d tree's neighbours and
    distances exactly: integer lattices (many ties, resolved to the lower index),
    query form, loops, a radius cap, and clustered data across tile boundaries."""
    lattice = rng.integers(0, 4, size=(1500, dim)).astype(dtype)
    queries = rng.integers(0, 4, size=(70, dim)).astype(dtype)
    centres = rng.normal(size=(300, dim))
    clustered = (centres[rng.integers(0, 300, 2600)]
                 + rng.normal(size=(2600, dim)) * 0.05).astype(dtype)
    cases = [(lattice, {}), (lattice, {"loop": True}), (lattice, {"query": queries}),
             (lattice, {"max_radius": 1.5}), (clustered, {}), (clustered, {"n_threads": 1})]
    for x, kw in cases:
        tree = graph.knn_graph(x, 9, algorithm="kd_tree", return_distances=True, **kw)
        brute = graph.knn_graph(x, 9, algorithm="brute", return_distances=True, **kw)
        np.testing.assert_array_equal(brute[0], tree[0])
        assert brute[1].tobytes() == tree[1].tobytes()
    # and against the definition (stable sort of brute-force squared distances)
    d2 = _brute_d2(lattice, lattice)
    np.fill_diagonal(d2, np.inf)
    ref = np.argsort(d2, axis=1, kind="stable")[:, :9]
    out = graph.knn_graph(lattice, 9, algorithm="brute")
    np.testing.assert_array_equal(out[0].reshape(-1, 9), ref)


def test_auto_algorithm_is_brute_force_from_its_dimension(rng):
    """"auto" scans every point from BRUTE_FORCE_MIN_DIM dimensions on (same output as
    both explicit choices), and bad values of ``algorithm`` name the argument."""
    assert graph.BRUTE_FORCE_MIN_DIM >= 8
    for dim in (graph.BRUTE_FORCE_MIN_DIM - 1, graph.BRUTE_FORCE_MIN_DIM):
        x = rng.normal(size=(900, dim)).astype(np.float32)
        auto = graph.knn_graph(x, 5, return_distances=True)
        for alg in ("kd_tree", "brute"):
            other = graph.knn_graph(x, 5, return_distances=True, algorithm=alg)
            np.testing.assert_array_equal(auto[0], other[0])
            assert auto[1].tobytes() == other[1].tobytes()
    x = rng.normal(size=(50, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="algorithm"):
        graph.knn_graph(x, 3, algorithm="ball_tree")
    with pytest.raises(TypeError, match="algorithm"):
        graph.knn_graph(x, 3, algorithm=2)
