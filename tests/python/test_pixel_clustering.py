"""Pixel clustering (``graph.cluster_pixels``) against scipy.ndimage on dense module images."""

from __future__ import annotations

import numpy as np
import pytest
from helixkit import graph

CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def _event(rng, n_modules, shape, occupancy, module_ids=None):
    """Random fired pixels: per module a Bernoulli(occupancy) image; shuffled order."""
    ids = np.arange(n_modules) if module_ids is None else np.asarray(module_ids)
    fired = rng.random((len(ids), *shape)) < occupancy
    m, r, c = np.nonzero(fired)
    order = rng.permutation(len(m))
    q = rng.gamma(2.0, 10.0, size=len(m)) + 0.1
    return ids[m][order], r[order].astype(np.int32), c[order].astype(np.int32), q


def _scipy(module, row, col, charge, connectivity):
    """The reference: per module a dense image, ndimage.label + center_of_mass + sum.
    Returns per-pixel (module-local label, module) and per-(module, label) properties."""
    ndimage = pytest.importorskip("scipy.ndimage")
    structure = np.ones((3, 3)) if connectivity == 8 else CROSS
    key = np.zeros(len(module), np.int64)  # a global cluster key per pixel
    props = {}
    offset = 0
    for m in np.unique(module):
        sel = np.flatnonzero(module == m)
        img = np.zeros((row[sel].max() + 1, col[sel].max() + 1))
        img[row[sel], col[sel]] = charge[sel]
        lab, n = ndimage.label(img > 0, structure=structure)
        index = np.arange(1, n + 1)
        com = np.array(ndimage.center_of_mass(img, lab, index)).reshape(-1, 2)
        q = ndimage.sum_labels(img, lab, index)
        size = ndimage.sum_labels(np.ones_like(img), lab, index)
        ext = [(s[0].stop - s[0].start, s[1].stop - s[1].start)
               for s in ndimage.find_objects(lab)]
        key[sel] = offset + lab[row[sel], col[sel]] - 1
        for k in range(n):
            props[offset + k] = (m, size[k], *ext[k], q[k], *com[k])
        offset += n
    return key, props


def _check_against_scipy(module, row, col, charge, connectivity):
    res = graph.cluster_pixels(module, row, col, charge, connectivity=connectivity)
    key, props = _scipy(module, row, col, charge, connectivity)
    # Same partition: the (ours, scipy) pairs are a bijection.
    pairs = np.unique(np.stack([res.labels, key]), axis=1)
    assert len(res) == len(props) == pairs.shape[1]
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]
    ref = np.array([props[k] for k in pairs[1]])  # scipy's properties in our cluster order
    np.testing.assert_array_equal(pairs[0], np.arange(len(res)))
    np.testing.assert_array_equal(res.module, ref[:, 0])
    np.testing.assert_array_equal(res.size, ref[:, 1])
    np.testing.assert_array_equal(res.size_row, ref[:, 2])
    np.testing.assert_array_equal(res.size_col, ref[:, 3])
    np.testing.assert_allclose(res.charge, ref[:, 4], rtol=1e-12)
    np.testing.assert_allclose(res.row, ref[:, 5], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(res.col, ref[:, 6], rtol=1e-12, atol=1e-9)
    return res


def _check_numbering(res, module, row, col):
    """Clusters in (module, smallest (row, col) pixel) order; labels 0..C-1 all used."""
    order = np.lexsort((col, row, module))
    first = np.unique(res.labels[order], return_index=True)[1]  # first pixel of each cluster
    assert np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(res.module, module[order][first])


@pytest.mark.parametrize("connectivity", [8, 4])
@pytest.mark.parametrize(("shape", "occupancy"), [((100, 200), 0.02), ((20, 30), 0.45),
                                                  ((8, 500), 0.6)])
def test_equals_scipy_ndimage(rng, connectivity, shape, occupancy):
    pytest.importorskip("scipy")
    ev = _event(rng, 6, shape, occupancy, module_ids=[-5, 0, 3, 10**12, 7, 8])
    res = _check_against_scipy(*ev, connectivity)
    _check_numbering(res, ev[0], ev[1], ev[2])
    assert res.labels.dtype == np.int32
    assert res.module.dtype == np.int64
    assert res.size.dtype == res.size_row.dtype == res.size_col.dtype == np.int32
    assert res.charge.dtype == res.row.dtype == res.col.dtype == np.float64


@pytest.mark.parametrize("seed", range(12))
def test_properties_on_random_events(seed):
    """Seeded property test (hypothesis is not a dependency): scipy agreement, invariance
    under input order, translation and dtype, and size / charge conservation."""
    pytest.importorskip("scipy")
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 40, size=2))
    ev = _event(rng, int(rng.integers(1, 5)), shape, float(rng.uniform(0.01, 0.9)))
    module, row, col, charge = ev
    conn = int(rng.choice([4, 8]))
    if len(module) == 0:
        assert len(graph.cluster_pixels(*ev)) == 0
        return
    res = _check_against_scipy(*ev, conn)
    _check_numbering(res, module, row, col)
    assert res.size.sum() == len(module)
    np.testing.assert_allclose(res.charge.sum(), charge.sum(), rtol=1e-12)
    assert (res.size_row * res.size_col >= res.size).all()
    assert (res.row >= 0).all()
    assert (res.col >= 0).all()
    # input order: the same clusters, labels follow the pixels
    perm = rng.permutation(len(module))
    shuffled = graph.cluster_pixels(module[perm], row[perm], col[perm], charge[perm],
                                    connectivity=conn)
    np.testing.assert_array_equal(shuffled.labels, res.labels[perm])
    np.testing.assert_array_equal(shuffled.size, res.size)
    np.testing.assert_allclose(shuffled.row, res.row, rtol=1e-12)
    # translation by whole pixels moves centroids only
    moved = graph.cluster_pixels(module, row + 7, col + 1000, charge, connectivity=conn)
    np.testing.assert_array_equal(moved.labels, res.labels)
    np.testing.assert_allclose(moved.row, res.row + 7, rtol=1e-12)
    np.testing.assert_allclose(moved.col, res.col + 1000, rtol=1e-12)
    # dtypes: int64 rows, float32 charge
    f32 = graph.cluster_pixels(module, row.astype(np.int64), col, charge.astype(np.float32),
                               connectivity=conn)
    np.testing.assert_array_equal(f32.labels, res.labels)
    np.testing.assert_allclose(f32.charge, res.charge, rtol=1e-6)


def test_connectivity_diagonal_and_shapes():
    # a diagonal pair, an L and a lone pixel in module 2; the same diagonal in module 1
    module = [2, 2, 2, 2, 2, 2, 1, 1]
    row = [0, 1, 5, 6, 6, 9, 0, 1]
    col = [0, 1, 5, 5, 6, 0, 0, 1]
    charge = [1, 3, 1, 1, 2, 5, 1, 1]
    c8 = graph.cluster_pixels(module, row, col, charge)
    np.testing.assert_array_equal(c8.labels, [1, 1, 2, 2, 2, 3, 0, 0])
    np.testing.assert_array_equal(c8.module, [1, 2, 2, 2])
    np.testing.assert_array_equal(c8.size, [2, 2, 3, 1])
    np.testing.assert_array_equal(c8.size_row, [2, 2, 2, 1])
    np.testing.assert_array_equal(c8.size_col, [2, 2, 2, 1])
    np.testing.assert_allclose(c8.row, [0.5, 0.75, 5.75, 9.0])
    np.testing.assert_allclose(c8.col, [0.5, 0.75, 5.5, 0.0])
    np.testing.assert_allclose(c8.charge, [2, 4, 4, 5])
    c4 = graph.cluster_pixels(module, row, col, charge, connectivity=4)
    np.testing.assert_array_equal(c4.labels, [2, 3, 4, 4, 4, 5, 0, 1])
    assert len(c4) == 6


def test_thread_count_invariance(rng):
    # many modules (parallel work items) and a dense jet-core-like module
    ev = _event(rng, 400, (40, 60), 0.05)
    core = _event(rng, 1, (200, 200), 0.5, module_ids=[400])
    ev = tuple(np.concatenate([a, b]) for a, b in zip(ev, core, strict=True))
    ref = graph.cluster_pixels(*ev, n_threads=1)
    assert len(ref) > 10_000
    for t in (2, 3, 0):
        got = graph.cluster_pixels(*ev, n_threads=t)
        for name in ("labels", "module", "size", "size_row", "size_col", "charge", "row", "col"):
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)


def test_empty_input_and_result_type():
    res = graph.cluster_pixels([], [], [], [])
    assert isinstance(res, graph.PixelClusters)
    assert len(res) == 0
    for name in ("labels", "module", "size", "size_row", "size_col", "charge", "row", "col"):
        assert getattr(res, name).shape == (0,), name
    assert res.labels.dtype == np.int32
    assert res.module.dtype == np.int64
    with pytest.raises(AttributeError):
        res.labels = np.zeros(0)  # frozen


def test_zero_charge_cluster_uses_the_plain_mean():
    res = graph.cluster_pixels([0, 0, 0, 0], [1, 1, 2, 8], [1, 2, 2, 8], [0.0, 0.0, 0.0, 2.0])
    np.testing.assert_allclose(res.row, [4 / 3, 8.0])
    np.testing.assert_allclose(res.col, [5 / 3, 8.0])
    np.testing.assert_allclose(res.charge, [0.0, 2.0])


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    res = graph.cluster_pixels(torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([0, 1]),
                               torch.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(res.labels, [0, 0])


GOOD = {"module": [0, 0, 1], "row": [0, 1, 0], "col": [0, 0, 0], "charge": [1.0, 2.0, 3.0]}


def _call(**overrides):
    args = {**GOOD, **overrides}
    kw = {k: args.pop(k) for k in ("connectivity", "n_threads") if k in args}
    return graph.cluster_pixels(args["module"], args["row"], args["col"], args["charge"], **kw)


@pytest.mark.parametrize(("overrides", "match"), [
    ({"module": [0.0, 0.0, 1.0]}, r"module must be an integer array, got dtype float64"),
    ({"row": ["a", "b", "c"]}, r"row must be an integer array"),
    ({"col": [True, False, True]}, r"col must be an integer array, got dtype bool"),
    ({"charge": ["1", "2", "3"]}, r"charge must be a real-valued"),
    ({"charge": None}, r"charge must be a real-valued .* got dtype object"),
])
def test_wrong_types_are_type_errors(overrides, match):
    with pytest.raises(TypeError, match=match):
        _call(**overrides)


@pytest.mark.parametrize(("overrides", "match"), [
    ({"row": [0, 1]}, r"inconsistent lengths: module=3, row=2, col=3, charge=3"),
    ({"charge": [[1.0, 2.0, 3.0]]}, r"charge must be 1-D, got shape \(1, 3\)"),
    ({"module": 5}, r"module must be 1-D, got shape \(\)"),
    ({"charge": [1.0, np.nan, 3.0]}, r"charge\[1\] \(=nan\) must be finite and >= 0"),
    ({"charge": [1.0, 2.0, np.inf]}, r"charge\[2\] \(=inf\) must be finite and >= 0"),
    ({"charge": np.array([1.0, -2.0, 3.0], np.float32)}, r"charge\[1\] \(=-2\) must be finite"),
    ({"row": [0, -1, 0]}, r"row\[1\] \(=-1\) must be >= 0"),
    ({"col": np.array([0, 0, -4], np.int32)}, r"col\[2\] \(=-4\) must be >= 0"),
    ({"col": [0, 0, 2**31]}, r"col\[2\] \(=2147483648\) must be <= 2147483647"),
    ({"module": np.array([0, 0, 2**63], np.uint64)}, r"module\[2\] .* must be <= "),
    ({"row": [0, 0, 0]}, r"pixel 1 \(module 0, row 0, col 0\) duplicates pixel 0"),
    ({"connectivity": 6}, r"connectivity must be 4 or 8, got 6"),
    ({"connectivity": True}, r"connectivity must be 4 or 8, got True"),
    ({"connectivity": 8.0}, r"connectivity must be 4 or 8, got 8.0"),
    ({"n_threads": -1}, r"n_threads must be >= 0"),
])
def test_bad_values_are_value_errors(overrides, match):
    with pytest.raises(ValueError, match=match):
        _call(**overrides)
