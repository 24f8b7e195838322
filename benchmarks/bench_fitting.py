"""Benchmark: batched Kalman fit (helixkit) vs a scipy least-squares helix fit.

pytest form (CI smoke-runs it with --benchmark-disable)::

    pytest benchmarks/bench_fitting.py

Report form (tracks/s vs track length and threads, resolutions and pulls)::

    PYTHONPATH=python python benchmarks/bench_fitting.py

``HELIXKIT_BENCH_FULL=1`` uses larger samples. The peer here is an independent
least-squares helix fit (scipy); ACTS's KalmanFitter on the same ACTS
GenericDetector tracks is compared in ``benchmarks/bench_fitting_acts.py``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from helixkit import fitting
from helixkit import units as u
from helixkit.fitting import _toy

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
BZ = 2.0 * u.T
RADII = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
N_TRACKS = 20000 if FULL else 500
N_LS = 200 if FULL else 10


def toy(n: int, n_layers: int = 10, seed: int = 0):
    radii = RADII[:n_layers]
    t = _toy.make_toy_tracks(n, seed=seed, radii=radii, thickness_x0=0.03, pt_range=(0.5, 10.0),
                             eta_max=1.0)
    nl = len(radii)
    init, _ = fitting.estimate_track_params(t.xyz[0::nl], t.xyz[nl // 2::nl], t.xyz[nl - 1::nl],
                                            b_field_z=BZ)
    return t, _toy.barrel_surfaces(radii, thickness_x0=0.03), init


def kf(t, surf, init, n_threads: int = 1):
    return fitting.fit_tracks(surf, t.offsets, t.layer, t.local, t.local_cov, init, b_field_z=BZ,
                              mass=0.10566, n_threads=n_threads)


def least_squares(t, init, n: int):
    """Peer: per-track scipy least-squares helix fit (no material), numpy propagation."""
    from scipy.optimize import least_squares as lsq  # noqa: PLC0415

    radii = np.asarray(RADII)
    nl = len(radii)
    sig = np.sqrt(t.local_cov[:nl, :2])
    out = np.empty((n, 5))
    for i in range(n):
        meas = t.local[i * nl:(i + 1) * nl]

        def resid(p, meas=meas):
            st, _ = _toy.barrel_states(p[None, :], radii, BZ)
            return ((st[0, :, :2] - meas) / sig).ravel()

        out[i] = lsq(resid, init[i], x_scale="jac").x
    return out


@pytest.fixture(scope="module")
def sample():
    return toy(N_TRACKS)


@pytest.mark.benchmark(group="fitting")
@pytest.mark.parametrize("n_threads", [1, 0])
def test_fit_helixkit(benchmark, sample, n_threads):
    t, surf, init = sample
    res = benchmark(kf, t, surf, init, n_threads)
    assert res.ok.mean() > 0.99


@pytest.mark.benchmark(group="fitting")
def test_fit_scipy_least_squares(benchmark, sample):
    pytest.importorskip("scipy")
    t, _, init = sample
    out = benchmark.pedantic(least_squares, args=(t, init, N_LS), rounds=1, iterations=1)
    benchmark.extra_info["tracks"] = N_LS
    assert np.isfinite(out).all()


def _time(fn, *args, repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def _sim_performance() -> dict[str, float] | None:
    try:
        from helixkit.data.simulation import simulate_event  # noqa: PLC0415
    except ImportError:
        return None
    perfs = []
    for seed in range(4 if FULL else 1):
        ev = simulate_event(mu=0, seed=seed, hard_scatter=True, hard_scatter_particles=2000,
                            noise_fraction=0, secondary_fraction=0.0)
        res = fitting.fit_truth_tracks(ev, min_hits=7, n_threads=0, mass=0.10566)
        perf = fitting.fit_performance(res, ev)
        sel = (perf.pt > 0.5) & (perf.pt < 10) & (np.abs(perf.eta) < 2.5)
        perfs.append(fitting.FitPerformance(*[getattr(perf, f)[sel] for f in (
            "particle_id", "truth", "fitted", "residual", "pull", "pt", "eta", "chi2_ndf")]))
    cat = fitting.FitPerformance(*[np.concatenate([getattr(p, f) for p in perfs]) for f in (
        "particle_id", "truth", "fitted", "residual", "pull", "pt", "eta", "chi2_ndf")])
    return cat.summary()


def main() -> None:
    ncores = os.cpu_count()
    print(f"machine: {ncores} cores; tracks per sample: {N_TRACKS}")
    print("| layers | 1 thread [µs/track] | 1 thread [tracks/s] | all threads [µs/track] |"
          " all threads [tracks/s] |")
    print("|---|---|---|---|---|")
    for nl in (4, 7, 10):
        t, surf, init = toy(N_TRACKS, nl, seed=nl)
        t1 = _time(kf, t, surf, init, 1) / N_TRACKS
        ta = _time(kf, t, surf, init, 0) / N_TRACKS
        print(f"| {nl} | {t1 * 1e6:.2f} | {1 / t1:,.0f} | {ta * 1e6:.2f} | {1 / ta:,.0f} |")
    t, surf, init = toy(N_TRACKS)
    t_kf = _time(kf, t, surf, init, 1) / N_TRACKS
    t_ls = _time(least_squares, t, init, N_LS, repeat=1) / N_LS
    print(f"scipy least squares (10 layers): {t_ls * 1e6:.0f} µs/track; "
          f"helixkit KF 1 thread: {t_kf * 1e6:.2f} µs/track; ratio {t_kf / t_ls:.4f}")
    res = kf(t, surf, init)
    d = res.params - t.truth
    d[:, 2] = np.angle(np.exp(1j * d[:, 2]))
    pull = d / np.sqrt(np.diagonal(res.cov, axis1=1, axis2=2))
    print("toy pulls mean", np.round(pull.mean(0), 3), "width", np.round(pull.std(0), 3))
    s = _sim_performance()
    if s is not None:
        print("simulation (muon hypothesis, 0.5-10 GeV, |eta|<2.5):")
        for k, v in s.items():
            print(f"  {k}: {v:.4g}")


if __name__ == "__main__":
    main()
