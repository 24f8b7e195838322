"""KSG mutual information on the native max-norm k-d tree vs its peers (issue 30).

Run: HELIXKIT_BENCH_FULL=1 PYTHONPATH=python python -m pytest benchmarks/bench_interpret.py
--benchmark-only (10^5 samples; without HELIXKIT_BENCH_FULL a 2,000-sample smoke test, as CI
runs it; HK_BENCH_MI_N / HK_BENCH_MI_MD_N / HK_BENCH_PROF_N set the sizes). Groups: "mi-1d" (vs sklearn's
mutual_info_regression), "mi-8+8" (vs a NumPy/SciPy KSG on cKDTree, p = inf),
"proficiency" (a 256-neuron layer, 6 variables).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from helixkit.interpret import layer_proficiency, mutual_information, neuron_mi_table

_FULL = bool(os.environ.get("HELIXKIT_BENCH_FULL"))
_DEFAULT = 100_000 if _FULL else 2_000
N_1D = int(os.environ.get("HK_BENCH_MI_N", _DEFAULT))
N_MD = int(os.environ.get("HK_BENCH_MI_MD_N", _DEFAULT))
N_PROF = int(os.environ.get("HK_BENCH_PROF_N", _DEFAULT))


def _pair(n, d, rho=0.6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(n, d))


def scipy_ksg(x, y, k=3):
    from scipy.spatial import cKDTree
    from scipy.special import digamma

    x = x / x.std(axis=0)
    y = y / y.std(axis=0)
    joint = np.hstack([x, y])
    r = np.nextafter(cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1], 0)
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True) - 1
    n = len(x)
    return digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))


@pytest.mark.benchmark(group="mi-1d")
def test_mi_1d_helixkit(benchmark):
    x, y = _pair(N_1D, 1)
    benchmark.pedantic(mutual_information, (x, y), {"n_threads": 1}, rounds=3)


@pytest.mark.benchmark(group="mi-1d")
def test_mi_1d_helixkit_2threads(benchmark):
    x, y = _pair(N_1D, 1)
    benchmark.pedantic(mutual_information, (x, y), {"n_threads": 2}, rounds=3)


@pytest.mark.benchmark(group="mi-1d")
def test_mi_1d_sklearn(benchmark):
    fs = pytest.importorskip("sklearn.feature_selection")
    x, y = _pair(N_1D, 1)
    benchmark.pedantic(
        fs.mutual_info_regression, (x, y[:, 0]), {"random_state": 0}, rounds=1
    )


@pytest.mark.benchmark(group="mi-8+8")
def test_mi_8x8_helixkit(benchmark):
    x, y = _pair(N_MD, 8)
    benchmark.pedantic(mutual_information, (x, y), {"n_threads": 1}, rounds=1)


@pytest.mark.benchmark(group="mi-8+8")
def test_mi_8x8_helixkit_2threads(benchmark):
    x, y = _pair(N_MD, 8)
    benchmark.pedantic(mutual_information, (x, y), {"n_threads": 2}, rounds=1)


@pytest.mark.benchmark(group="mi-8+8")
def test_mi_8x8_scipy_ckdtree(benchmark):
    pytest.importorskip("scipy")
    x, y = _pair(N_MD, 8)
    benchmark.pedantic(scipy_ksg, (x, y), rounds=1)


@pytest.mark.benchmark(group="proficiency")
def test_proficiency_256_neurons_6_variables(benchmark):
    rng = np.random.default_rng(3)
    n = N_PROF
    variables = {name: rng.normal(size=n) for name in ("pt", "qopt", "eta", "phi", "d0", "z0")}
    v = np.stack(list(variables.values()), axis=1)
    acts = np.tanh(v @ rng.normal(size=(6, 256)) + 0.3 * rng.normal(size=(n, 256)))

    def table():
        neuron_mi_table(acts, variables, n_threads=2)
        layer_proficiency({"layer": acts}, variables, n_threads=2)

    benchmark.pedantic(table, rounds=1)
