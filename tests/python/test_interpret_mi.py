"""KSG mutual information on the native max-norm k-d tree (issue 30)."""

from __future__ import annotations

import numpy as np
import pytest
from helixkit.graph import ksg_counts, max_norm_count_within, max_norm_kth_distance
from helixkit.interpret import (
    conditional_entropy,
    entropy,
    gaussian_mi,
    layer_proficiency,
    mutual_information,
    neuron_mi_table,
    random_calibration,
)


def _gaussians(n, d, rho, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(n, d))
    return x, y


def _scipy_ksg(x, y, k):
    """The reference: KSG estimator 1 on scipy's cKDTree with p = inf."""
    spatial = pytest.importorskip("scipy.spatial")
    special = pytest.importorskip("scipy.special")
    x = x / x.std(axis=0)
    y = y / y.std(axis=0)
    joint = np.hstack([x, y])
    eps = spatial.cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1]
    r = np.nextafter(eps, 0)
    nx = spatial.cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True) - 1
    ny = spatial.cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True) - 1
    n = len(x)
    return special.digamma(k) + special.digamma(n) - np.mean(
        special.digamma(nx + 1) + special.digamma(ny + 1)
    )


def test_max_norm_kernels_match_brute_force_and_threads():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(300, 3)).astype(float)  # many ties
    d = np.abs(x[:, None, :] - x[None, :, :]).max(axis=2)
    np.fill_diagonal(d, np.inf)
    k = 5
    want = np.sort(d, axis=1)[:, k - 1]
    for threads in (1, 3):
        np.testing.assert_array_equal(max_norm_kth_distance(x, k, n_threads=threads), want)
    r = np.arange(300) % 3 * 1.0
    np.fill_diagonal(d, np.inf)
    for strict in (True, False):
        inside = d < r[:, None] if strict else d <= r[:, None]
        for threads in (1, 4):
            got = max_norm_count_within(x, r, strict=strict, n_threads=threads)
            np.testing.assert_array_equal(got, inside.sum(axis=1))


def test_one_dimensional_equals_sklearn():
    fs = pytest.importorskip("sklearn.feature_selection")
    rng = np.random.default_rng(1)
    n = 4000
    x = rng.normal(size=n)
    for y in (np.sin(x) + 0.5 * rng.normal(size=n), x**2 + rng.uniform(size=n)):
        want = fs.mutual_info_regression(x[:, None], y, n_neighbors=4, random_state=0)[0]
        got = mutual_information(x, y, k=4)
        assert want > 0.1
        assert got == pytest.approx(want, rel=1e-6)


def test_discrete_continuous_equals_sklearn_classif():
    fs = pytest.importorskip("sklearn.feature_selection")
    rng = np.random.default_rng(2)
    q = rng.choice([-1, 1], size=3000)
    c = 0.8 * q + rng.normal(size=3000)
    want = fs.mutual_info_classif(c[:, None], q, random_state=0)[0]
    assert mutual_information(c, q, y_discrete=True) == pytest.approx(want, rel=1e-6)
    assert mutual_information(q, c, x_discrete=True) == pytest.approx(want, rel=1e-6)


def test_multidimensional_equals_scipy_reference():
    x, y = _gaussians(1500, 3, 0.5, 3)
    y2 = np.hstack([y, np.tanh(x[:, :2])])
    assert mutual_information(x, y2, k=3) == pytest.approx(_scipy_ksg(x, y2, 3), rel=1e-9)


@pytest.mark.parametrize(("d", "rho"), [(1, 0.6), (2, 0.3), (2, 0.5)])
def test_correlated_gaussians_within_002_nats(d, rho):
    x, y = _gaussians(10_000, d, rho, 10 * d)
    assert abs(mutual_information(x, y) - gaussian_mi(rho, d)) < 0.02


@pytest.mark.parametrize(("d", "tol"), [(1, 0.02), (8, 0.03)])
def test_independent_is_near_zero(d, tol):
    # 8 + 8 dims at N = 10^4: the estimator's spread is ~0.01-0.02 nats (measured)
    x, _ = _gaussians(10_000, d, 0.0, 5)
    _, y = _gaussians(10_000, d, 0.0, 6)
    assert abs(mutual_information(x, y)) < tol


def test_thread_count_invariant():
    x, y = _gaussians(3000, 4, 0.7, 7)
    a = ksg_counts(x, y, 3, n_threads=1)
    b = ksg_counts(x, y, 3, n_threads=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("case", ["saturated", "ties", "gaussian"])
def test_1d_grid_equals_brute_force_on_dense_coordinates(case):
    """The 1-D x 1-D path (rank-space grid, row ranges by binary search) against the
    definition: the k-th smallest max-norm distance and the counts strictly within it,
    where one coordinate is dense (a saturated tanh: the k-th distance spans many grid
    columns) or has ties."""
    rng = np.random.default_rng(11)
    n, k = 2500, 3
    u = rng.normal(size=n)
    if case == "saturated":
        x = np.tanh(4.0 * u)
    elif case == "ties":
        x = np.round(u, 1)
    else:
        x = u
    y = 0.5 * u + rng.normal(size=n)
    radius, nx, ny = ksg_counts(x[:, None], y[:, None], k, n_threads=2)
    d = np.maximum(np.abs(x[:, None] - x[None, :]), np.abs(y[:, None] - y[None, :]))
    np.fill_diagonal(d, np.inf)
    ref = np.sort(d, axis=1)[:, k - 1]
    np.testing.assert_array_equal(radius, ref)
    np.testing.assert_array_equal(nx, (np.abs(x[:, None] - x[None, :]) < ref[:, None]).sum(1) - 1)
    np.testing.assert_array_equal(ny, (np.abs(y[:, None] - y[None, :]) < ref[:, None]).sum(1) - 1)


def test_neuron_table_is_thread_count_invariant():
    """The table runs neurons side by side, one thread each: any n_threads, same table."""
    rng = np.random.default_rng(12)
    v = rng.normal(size=(2000, 3))
    acts = np.tanh(v @ rng.normal(size=(3, 5)) + 0.3 * rng.normal(size=(2000, 5)))
    acts[:, 2] = 1.0                         # a dead neuron: MI 0
    variables = {"a": v[:, 0], "b": v[:, 1], "label": (v[:, 2] > 0).astype(np.int64)}
    one = neuron_mi_table(acts, variables, discrete=("label",), n_threads=1)
    for nt in (2, 3, 0):
        other = neuron_mi_table(acts, variables, discrete=("label",), n_threads=nt)
        np.testing.assert_array_equal(other.values, one.values)
    assert (one.values[2] == 0).all() and (one.values[[0, 1, 3, 4]] > 0).any()


def test_bad_input_names_the_field():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    with pytest.raises(ValueError, match="X has 100 samples but Y has 99"):
        mutual_information(x, x[:99])
    with pytest.raises(ValueError, match=r"k \(=100\) must be smaller"):
        mutual_information(x, x, k=100)
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="Y contains NaN"):
        mutual_information(x, bad)
    const = x.copy()
    const[:, 1] = 3.0
    with pytest.raises(ValueError, match="X column 1 is constant"):
        mutual_information(const, x)
    with pytest.raises(ValueError, match="single value"):
        mutual_information(x, np.ones(100), y_discrete=True)
    with pytest.raises(TypeError, match="k must be an int"):
        mutual_information(x, x, k=2.5)


def test_entropy_and_conditional_entropy_of_gaussians():
    rng = np.random.default_rng(4)
    y = 2.0 * rng.normal(size=10_000)
    h = 0.5 * np.log(2 * np.pi * np.e * 4.0)
    assert entropy(y) == pytest.approx(h, abs=0.02)
    x = y + rng.normal(size=10_000)  # I = 0.5 log(1 + 4)
    want = h - 0.5 * np.log(5.0)
    assert conditional_entropy(y, x) == pytest.approx(want, abs=0.04)
    q = rng.choice([-1, 1], size=10_000)
    assert entropy(q, discrete=True) == pytest.approx(np.log(2), abs=1e-3)
    # knowing q exactly from its sign-carrying copy leaves (almost) nothing
    assert conditional_entropy(q, q * (1 + rng.uniform(size=10_000)), y_discrete=True) < 0.01


def test_tables_rank_the_informative_neuron_and_layer():
    rng = np.random.default_rng(5)
    n = 4000
    pt = rng.exponential(size=n) + 0.5
    q = rng.choice([-1, 1], size=n)
    acts = np.stack(
        [rng.normal(size=n), np.log(pt) + 0.1 * rng.normal(size=n), np.zeros(n), q + 0.3 * rng.normal(size=n)],
        axis=1,
    )
    table = neuron_mi_table(acts, {"pt": pt, "q": q}, discrete=["q"])
    assert table.top("pt", 1)[0][0] == "n1"
    assert table.values[2].tolist() == [0.0, 0.0]  # dead neuron
    assert table.top("q", 1)[0][0] == "n3"
    prof = layer_proficiency({"layer": acts}, {"pt": pt, "q": q, "qopt": q / pt}, discrete=["q"])
    assert prof.values[0, 2] > 2.0
    calib = random_calibration({"pt": pt, "q": q}, discrete=["q"])
    assert np.abs(calib.values).max() < 0.02
    assert "n1" in table.table()
