"""Property-based fuzzing of the public entry points that take user data (issue 32).

Every example asserts: a correct result (checked against a brute-force or
library reference where one exists), or a ``TypeError`` / ``ValueError`` whose
message names the argument. Anything else (another exception, a wrong answer)
fails. Native kernels run in this process; a separate test replays extreme
inputs in a subprocess so that a crash there is reported, not fatal.

Profiles: the default is seeded (``derandomize``) and bounded to keep CI fast;
``HELIXKIT_FUZZ=deep`` runs many more, random examples.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from helixkit import evaluation, fitting, graph  # noqa: E402
from helixkit import units as u  # noqa: E402
from helixkit.fitting import _toy  # noqa: E402
from helixkit.seeding import SeedFinderConfig, find_seeds  # noqa: E402

settings.register_profile(
    "ci", max_examples=40, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "deep", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("deep" if os.environ.get("HELIXKIT_FUZZ") == "deep" else "ci")


def _rejects(exc: BaseException, *names: str) -> None:
    """A rejection must be a TypeError/ValueError naming one of ``names``."""
    assert isinstance(exc, (TypeError, ValueError)), f"{type(exc).__name__}: {exc}"
    # snake_case (Python) or camelCase (the C++ validate()) spelling of a field
    text = str(exc).replace("_", "").lower()
    assert any(n.replace("_", "").lower() in text for n in names), (
        f"message names none of {names}: {exc}")


# ------------------------------------------------------------------ strategies

_special = st.sampled_from([0.0, -0.0, 1.0, np.nan, np.inf, -np.inf, 1e20, -1e20, 1e200, 5e-324])
_finite_small = st.floats(-100, 100, allow_nan=False, width=32)


@st.composite
def points(draw, *, bad: bool = True):  # noqa: ANN001, ANN201
    """(N, D) float arrays, mostly well-formed, sometimes with NaN/inf/huge values."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(0, 30))
    d = draw(st.integers(1, 4))
    arr = draw(hnp.arrays(np.float64, (n, d), elements=_finite_small))
    if bad and n and draw(st.booleans()):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
        arr[i, j] = draw(_special)
    with np.errstate(over="ignore"):  # 1e200 in float32 is inf: a valid hostile input
        return arr.astype(dtype)


_weird_scalars = st.one_of(
    st.integers(-5, 40), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([None, "3", 2**32, 2**64, True, 1.5, [1]]),
)


# ------------------------------------------------------------------ references

def _brute_knn(x: np.ndarray, k: int) -> list[set[int]]:
    d = np.linalg.norm(x[:, None, :].astype(np.float64) - x[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    return [set(np.argsort(row, kind="stable")[:k].tolist()) for row in d], d


# ------------------------------------------------------------------ kNN / radius / DBSCAN


@given(x=points(), k=_weird_scalars)
def test_knn_graph_fuzz(x: np.ndarray, k: object) -> None:
    try:
        ei = graph.knn_graph(x, k)
    except Exception as exc:  # noqa: BLE001
        _rejects(exc, "x", "k")
        return
    kk = int(k)
    assert ei.shape == (2, len(x) * kk)
    _, d = _brute_knn(x, kk)
    for i in range(len(x)):
        nb = ei[0][ei[1] == i]
        # the k found are among the k nearest (ties may pick either index)
        kth = np.sort(d[i])[kk - 1]
        assert (d[i][nb] <= kth * (1 + 1e-5) + 1e-6).all()


@given(x=points(), r=_weird_scalars)
def test_radius_graph_fuzz(x: np.ndarray, r: object) -> None:
    try:
        ei = graph.radius_graph(x, r)
    except Exception as exc:  # noqa: BLE001
        _rejects(exc, "x", "r")
        return
    rr = float(r)
    xd = x.astype(np.float64)
    d = np.linalg.norm(xd[:, None, :] - xd[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    got = {(int(a), int(b)) for a, b in ei.T}
    # pairs clearly inside / outside r must agree; at |d - r| ~ rounding either is fine
    tol = 1e-5 * max(rr, 1.0) if x.dtype == np.float32 else 1e-12 * max(rr, 1.0)
    inside = {(int(j), int(i)) for i, j in zip(*np.nonzero(d <= rr - tol))}
    outside = {(int(j), int(i)) for i, j in zip(*np.nonzero(d > rr + tol))}
    assert inside <= got
    assert not (got & outside)


@given(x=points(), eps=_weird_scalars, min_samples=_weird_scalars)
def test_dbscan_fuzz(x: np.ndarray, eps: object, min_samples: object) -> None:
    try:
        labels = graph.dbscan(x, eps, min_samples)
    except Exception as exc:  # noqa: BLE001
        _rejects(exc, "x", "eps", "min_samples")
        return
    assert labels.shape == (len(x),) and labels.dtype == np.int32
    cluster = pytest.importorskip("sklearn.cluster")
    if len(x) and float(eps) < 1e10:
        ref = cluster.DBSCAN(eps=float(eps), min_samples=int(min_samples)).fit_predict(
            x.astype(np.float64))
        # same noise set (border points may go to another cluster; ε at rounding aside)
        assert ((labels == -1) == (ref == -1)).mean() >= 0.9


# ------------------------------------------------------------------ seeding


_seed_fields = st.fixed_dictionaries({}, optional={
    "num_phi_neighbors": st.one_of(st.integers(-2, 2**31 - 1), st.sampled_from([2**40, 1.5, "1"])),
    "phi_bin_deflection_coverage": st.integers(-1, 10**6),
    "max_phi_bins": st.integers(-1, 2**31 - 1),
    "z_min": st.one_of(st.floats(-3e38, 0), st.sampled_from([np.nan, -np.inf])),
    "z_max": st.one_of(st.floats(0, 3e38), st.sampled_from([np.nan, np.inf])),
    "cot_theta_max": st.one_of(st.floats(1e-6, 100), st.just(np.nan)),
    "delta_r_min": st.floats(0, 10),
    "max_seeds_per_spm": st.one_of(st.integers(-1, 2**33), st.sampled_from([1.5, None])),
    "r_max": st.one_of(st.floats(1, 2000), st.sampled_from(["600", None, np.inf])),
})


@given(kwargs=_seed_fields)
def test_seed_finder_config_fuzz(kwargs: dict) -> None:
    try:
        cfg = SeedFinderConfig(**kwargs)
    except Exception as exc:  # noqa: BLE001
        names = [*kwargs, "numPhiNeighbors", "phiBinDeflectionCoverage", "maxPhiBins", "zMax",
                 "zMin", "cotThetaMax", "deltaR", "rMax", "minPt", "zBin"]
        _rejects(exc, *names)
        return
    # a config that validates must run quickly on a few points
    rng = np.random.default_rng(0)
    phi = rng.uniform(-np.pi, np.pi, 30)
    r = np.repeat([40.0, 80.0, 120.0], 10)
    z = rng.uniform(-200, 200, 30)
    res = find_seeds(r * np.cos(phi), r * np.sin(phi), z, cfg, n_threads=1)
    assert res.triplets.shape[1] == 3


@given(n=st.integers(0, 12), bad=_special, where=st.integers(0, 2))
def test_find_seeds_inputs_fuzz(n: int, bad: float, where: int) -> None:
    rng = np.random.default_rng(n)
    xyz = [rng.uniform(-100, 100, n) for _ in range(3)]
    if n:
        xyz[where][0] = bad
    try:
        res = find_seeds(*xyz, n_threads=1)
    except Exception as exc:  # noqa: BLE001
        _rejects(exc, "x", "y", "z", "space points")
        return
    assert res.triplets.ndim == 2


# ------------------------------------------------------------------ metrics


_labels = st.one_of(
    hnp.arrays(np.int64, st.integers(0, 20), elements=st.integers(-1, 4)),
    hnp.arrays(np.float64, st.integers(0, 20),
               elements=st.one_of(st.floats(-2, 5), st.just(np.nan))),
)


@given(labels=_labels, pid_shift=st.integers(0, 2), dup=st.booleans())
def test_tracking_metrics_fuzz(labels: np.ndarray, pid_shift: int, dup: bool) -> None:
    n = len(labels)
    pid = (np.arange(n) // 3 + pid_shift).astype(np.int64)
    ids = np.unique(pid[pid > 0])
    if dup and len(ids):
        ids = np.concatenate([ids, ids[:1]])
    parts = {"particle_id": ids, "px": np.full(len(ids), 2.0), "py": np.zeros(len(ids)),
             "pz": np.zeros(len(ids))}
    try:
        m = evaluation.tracking_metrics(labels, pid, parts)
        s = evaluation.trackml_score(labels, pid, np.full(n, 1.0 / max(n, 1)))
    except Exception as exc:  # noqa: BLE001
        _rejects(exc, "labels", "particle_id", "particles")
        return
    assert 0.0 <= m.double_majority <= 1.0 and 0.0 <= m.perfect <= 1.0
    assert 0.0 <= s <= 1.0 + 1e-12


# ------------------------------------------------------------------ fitting inputs


@functools.cache
def _toy_fit() -> tuple:
    radii = (32.0, 72.0, 116.0, 172.0)
    t = _toy.make_toy_tracks(2, seed=1, radii=radii, pt_range=(2.0, 5.0))
    init, _ = fitting.estimate_track_params(t.xyz[0::4], t.xyz[1::4], t.xyz[3::4],
                                            b_field_z=_BZ)
    return t, _toy.barrel_surfaces(radii), init


_BZ = 2.0 * u.T


@given(
    sid=st.sampled_from([None, 2**32 + 5, -(2**31) - 1, 1.5, np.nan]),
    off=st.sampled_from([None, 0.5, 1e30]),
    bz=st.sampled_from([_BZ, 0.0, np.inf, 2.0, "2"]),
    mmin=st.sampled_from([3, -1, 2**32, np.nan]),
)
def test_fit_tracks_inputs_fuzz(sid: object, off: object, bz: object, mmin: object) -> None:
    t, surf, init = _toy_fit()
    layer = t.layer.astype(np.float64)
    if sid is not None:
        layer[0] = sid
    offsets = t.offsets.astype(np.float64)
    if off is not None:
        offsets[1] += off
    try:
        res = fitting.fit_tracks(surf, offsets, layer, t.local, t.local_cov, init, b_field_z=bz,
                                 min_measurements=mmin)
    except Exception as exc:  # noqa: BLE001
        _rejects(exc, "surface_id", "track_offsets", "b_field_z", "min_measurements")
        return
    assert sid is None and off is None
    assert res.params.shape == (2, 5)


# ------------------------------------------------------------------ native crashes, in a subprocess

_EXTREME = textwrap.dedent("""
    import numpy as np
    from helixkit import graph
    from helixkit.seeding import SeedFinderConfig, find_seeds
    rng = np.random.default_rng(0)
    cases = [
        lambda: graph.knn_graph(np.zeros((1, 1), np.float32), 1, loop=True),
        lambda: graph.knn_graph(np.full((50, 3), 7.0), 49),
        lambda: graph.radius_graph(np.zeros((200, 2)), 1.0, max_num_neighbors=1),
        lambda: graph.dbscan(np.zeros((500, 1), np.float32), 1e-3, 1),
        lambda: graph.dbscan(rng.normal(size=(300, 8)).astype(np.float32), 1e-19, 2),
        lambda: graph.knn(np.zeros((3, 2)), np.zeros((0, 2)), 1),
        lambda: graph.radius_graph(np.zeros((0, 3)), 1.0),
        lambda: find_seeds(np.zeros(3), np.zeros(3), np.zeros(3)),
        lambda: find_seeds(np.full(5, 100.0), np.zeros(5), np.zeros(5),
                           SeedFinderConfig(num_phi_neighbors=100000)),
        lambda: find_seeds(np.full(3, 1e30), np.zeros(3), np.zeros(3)),
    ]
    for i, c in enumerate(cases):
        try:
            c()
        except (TypeError, ValueError) as exc:
            print(i, "rejected:", exc)
        else:
            print(i, "ok")
    print("done")
""")


def test_extreme_inputs_do_not_crash_the_process() -> None:
    env = dict(os.environ)
    # the child imports the helixkit this process imported (an installed one in CI, the
    # source tree with PYTHONPATH=python here)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    res = subprocess.run([sys.executable, "-c", _EXTREME], capture_output=True, text=True,
                         timeout=120, env=env, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("done"), res.stdout
