"""Benchmark: the CKF (helixkit) on the built-in simulation, windowed search vs the ACTS-style
search that χ²-tests every measurement on a surface (the same tracks, measured in one run).

pytest form (CI smoke-runs it with --benchmark-disable)::

    pytest benchmarks/bench_finding.py

Report form (time per event vs ⟨μ⟩, number of seeds and measurements, thread speed-up, the
chain's stages)::

    PYTHONPATH=python python benchmarks/bench_finding.py

ACTS's own chain (seeding → CKF → ambiguity resolution) on Fatras GenericDetector events,
side by side with helixkit's on the same events, is ``benchmarks/bench_finding_acts.py``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from _timing import best_time
from helixkit import finding
from helixkit.data.simulation import simulate_event
from helixkit.seeding import SeedFinderConfig, find_seeds_in_event


def _inputs(mu: float, seed: int = 0):
    ev = simulate_event(mu=mu, seed=seed)
    seeds = find_seeds_in_event(ev, SeedFinderConfig.acts_odd(), volumes=ev.geometry.pixel_volumes)
    return ev, seeds, finding.detector_for(ev)


@pytest.fixture(scope="module")
def event50():
    return _inputs(50.0)


def _ckf(inputs, *, window: bool = True, n_threads: int = 1, fit: bool = False):
    ev, seeds, det = inputs
    return finding.find_tracks_ckf(ev, seeds, config=finding.CkfConfig(search_window=window),
                                   detector=det, fit=fit, n_threads=n_threads)


def test_ckf_windowed(benchmark, event50):
    tr = benchmark(_ckf, event50)
    assert len(tr) > 500


def test_ckf_every_measurement_tested(benchmark, event50):
    # the peer: ACTS's measurement selection tests every measurement on the surface
    tr = benchmark(_ckf, event50, window=False)
    assert len(tr) > 500


def test_chain(benchmark, event50):
    ev = event50[0]
    tr = benchmark(finding.reconstruct, ev, n_threads=1)
    assert len(tr) > 500


def _report() -> None:
    print("CKF on the built-in simulation (pixels + strips), single thread unless stated; "
          "best of 3")
    print(f"{'<mu>':>5} {'hits':>7} {'seeds':>7} {'tracks':>7} {'CKF ms':>8} {'no-window ms':>12} "
          f"{'ratio':>6} {'chi2 tests w/ / w/o':>21} {'2 threads ms':>12} {'speed-up':>8}")
    for mu in (10, 50, 100, 200):
        inp = _inputs(float(mu))
        t1 = best_time(lambda inp=inp: _ckf(inp), 3)
        tn = best_time(lambda inp=inp: _ckf(inp, window=False), 2 if mu >= 200 else 3)
        t2 = best_time(lambda inp=inp: _ckf(inp, n_threads=2), 3)
        a, b = _ckf(inp), _ckf(inp, window=False)
        assert np.array_equal(a.hits, b.hits)
        print(f"{mu:>5} {inp[0].n_hits:>7} {len(inp[1]):>7} {len(a):>7} {1e3 * t1:>8.1f} "
              f"{1e3 * tn:>12.1f} {tn / t1:>6.1f} "
              f"{a.info['n_chi2_tests']:>10}/{b.info['n_chi2_tests']:<10} {1e3 * t2:>12.1f} "
              f"{t1 / t2:>8.2f}")
    print("\nCKF time vs number of seeds (<mu> = 200 event, seeds subsampled)")
    ev, seeds, det = _inputs(200.0)
    trip = seeds.triplets
    for frac in (0.125, 0.25, 0.5, 1.0):
        sub = trip[: int(frac * len(trip))]
        t = best_time(lambda sub=sub: finding.find_tracks_ckf(ev, sub, detector=det, fit=False,
                                                              n_threads=1), 3)
        print(f"  {len(sub):>7} seeds: {1e3 * t:8.1f} ms ({1e6 * t / len(sub):.1f} us/seed)")
    print("\nWhole chain per event, <mu> = 200 (ms, single thread)")
    t0 = time.perf_counter()
    tr = finding.reconstruct(ev, n_threads=1)
    wall = time.perf_counter() - t0
    print("  " + ", ".join(f"{k} {1e3 * v:.1f}" for k, v in tr.timing.items())
          + f"; wall {1e3 * wall:.1f}")


if __name__ == "__main__":
    sys.exit(_report())
