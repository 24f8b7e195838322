"""DeepCore data throughput: jet regions simulated and cut into 30 x 30 windows, per second.

``deepcore.simulate_jets`` (jets + pile-up as helices through BPIX1-4, each crossing
rasterised into pixels: Landau-like charge, Lorentz drift, diffusion, noise, threshold, ADC)
followed by ``deepcore.jet_windows`` (clustering, one window per BPIX2 cluster within ΔR 0.1
of the jet axis, inputs and TCP / parameter targets). Single-threaded numpy; the jets are
independent, so the rate scales with processes over chunks of jets (``first_jet``).

pytest form (CI smoke-runs it with --benchmark-disable; 20 jets, 100 with
``HELIXKIT_BENCH_FULL=1``)::

    pytest benchmarks/bench_deepcore_simulation.py

Report form (docs/deepcore.md; 400 jets per configuration, 2,000 with
``HELIXKIT_BENCH_FULL=1``)::

    PYTHONPATH=python python benchmarks/bench_deepcore_simulation.py
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np
import pytest
from helixkit.deepcore import PixelBarrel, jet_windows, simulate_jets, simulate_particles

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N_JETS = 100 if FULL else 20


@pytest.fixture(scope="module")
def events():
    return simulate_jets(N_JETS, seed=29)


@pytest.mark.benchmark(group="deepcore-simulation")
def test_simulate_jets(benchmark):
    seeds = iter(range(10**6))
    evs = benchmark(lambda: simulate_jets(N_JETS, seed=next(seeds)))
    benchmark.extra_info.update(jets=N_JETS,
                                pixels_per_jet=float(np.mean([e.n_pixels for e in evs])))
    assert all(e.n_pixels > 0 for e in evs)


@pytest.mark.benchmark(group="deepcore-simulation")
def test_jet_windows(benchmark, events):
    w = benchmark(jet_windows, events)
    benchmark.extra_info.update(jets=N_JETS, windows=len(w))
    assert len(w) > N_JETS


@pytest.mark.benchmark(group="deepcore-simulation")
def test_simulate_and_window(benchmark):
    seeds = iter(range(10**6))
    w = benchmark(lambda: jet_windows(simulate_jets(N_JETS, seed=next(seeds))))
    benchmark.extra_info.update(jets=N_JETS, windows=len(w))
    assert len(w) > N_JETS


def _run(n_jets: int, **kwargs: object) -> dict[str, float]:
    t0 = time.perf_counter()
    evs = simulate_jets(n_jets, seed=29, **kwargs)
    t1 = time.perf_counter()
    w = jet_windows(evs)
    t2 = time.perf_counter()
    return {"sim": t1 - t0, "win": t2 - t1, "windows": len(w),
            "pixels": float(np.mean([e.n_pixels for e in evs])),
            "particles": float(np.mean([e.particles.n_rows for e in evs])),
            "crossings": float(np.mean([e.crossings.n_rows for e in evs])),
            "targets": float(w.tcp.sum() / max(len(w), 1))}


def core_occupancy(jet_pt: float, n_jets: int) -> list[tuple[float, float, float]]:
    """Per layer: clusters per jet within ΔR < 0.1 of the axis (direction from the primary
    vertex), their mean size [pixels] and the fraction of merged clusters (>= 2 particles
    depositing >= 2,000 e each)."""
    det = PixelBarrel()
    n = np.zeros(4)
    m = np.zeros(4)
    size = np.zeros(4)
    for ev in simulate_jets(n_jets, seed=31, jet_pt=jet_pt):
        cl = ev.clusters()
        k = ev.cluster_particles(cl)
        lx, ly = det.from_pixel(cl.module, cl.row, cl.col)
        d = np.stack(det.to_global(cl.module, lx, ly), 1) - ev.vertex
        eta = np.arcsinh(d[:, 2] / np.hypot(d[:, 0], d[:, 1]))
        dphi = (np.arctan2(d[:, 1], d[:, 0]) - ev.jet_phi + np.pi) % (2 * np.pi) - np.pi
        core = np.hypot(eta - ev.jet_eta, dphi) < 0.1
        layer = det.module_layer(cl.module)
        for li in range(4):
            s = core & (layer == li)
            n[li] += s.sum()
            m[li] += (k[s] >= 2).sum()
            size[li] += cl.size[s].sum()
    return [(n[li] / n_jets, size[li] / max(n[li], 1), m[li] / max(n[li], 1))
            for li in range(4)]


def single_tracks(n_tracks: int) -> str:
    """Cluster shape and charge of isolated 50 GeV tracks at normal incidence (η = 0 at a
    ladder centre, z at a pixel centre)."""
    rng = np.random.default_rng(1)
    rows, cols, q = [], [], []
    for seed in range(n_tracks):
        ev = simulate_particles([50.0], [0.0], [rng.uniform(-0.01, 0.01)], [1.0],
                                vertex=(0.0, 0.0, 32.575 + rng.uniform(-0.04, 0.04)),
                                seed=seed, noise=0.0)
        cl = ev.clusters()
        rows += list(cl.size_row)
        cols += list(cl.size_col)
        q += list(cl.charge)
    rows, cols, q = np.asarray(rows), np.asarray(cols), np.asarray(q)
    hist, edges = np.histogram(q, bins=60, range=(10e3, 70e3))
    mode = edges[np.argmax(hist)] + 0.5 * (edges[1] - edges[0])
    return (f"{n_tracks} isolated 50 GeV tracks at normal incidence, {len(q)} clusters: "
            f"size along r·φ (rows) 1 / 2 / 3 = "
            f"{np.mean(rows == 1):.0%} / {np.mean(rows == 2):.0%} / {np.mean(rows == 3):.0%}, "
            f"along z (columns) 1 / 2 = {np.mean(cols == 1):.0%} / {np.mean(cols == 2):.0%}; "
            f"cluster charge (ADC x gain): most probable {mode / 1e3:.1f} ke, median "
            f"{np.median(q) / 1e3:.1f} ke, 10-90 % {np.percentile(q, 10) / 1e3:.1f}-"
            f"{np.percentile(q, 90) / 1e3:.1f} ke (285 µm x 80 e/µm = 22.8 ke).")


def report() -> str:
    n = 2000 if FULL else 400
    simulate_jets(2, seed=0)  # first-call overheads (imports, detector tables) not timed
    configs = [
        ("default: jet pT 500-3000 GeV, 40 pile-up tracks per unit η·φ", {}),
        ("no pile-up", {"pileup_tracks": 0.0}),
        ("80 pile-up tracks per unit η·φ", {"pileup_tracks": 80.0}),
        ("jet pT 2-3 TeV", {"jet_pt": (2000.0, 3000.0)}),
    ]
    lines = [
        (f"{n} jets per row, seed 29, one process on {platform.processor() or 'CPU'} "
         f"({os.cpu_count()} cores)."),
        "",
        "| configuration | particles / jet | pixels / jet | windows / jet | targets / window "
        "| simulate [ms/jet] | windows [ms/jet] | windows/s | 10^5 windows [s] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, kwargs in configs:
        r = _run(n, **kwargs)
        total = r["sim"] + r["win"]
        rate = r["windows"] / total
        lines.append(
            f"| {name} | {r['particles']:.0f} | {r['pixels']:.0f} | {r['windows'] / n:.1f} | "
            f"{r['targets']:.1f} | {r['sim'] / n * 1e3:.2f} | {r['win'] / n * 1e3:.2f} | "
            f"{rate:,.0f} | {1e5 / rate:.0f} |")
    n_core = 500 if FULL else 100
    lines += [
        "",
        (f"Jet cores ({n_core} jets per row, default pile-up): per layer, clusters per jet "
         "within ΔR < 0.1 of the axis / their mean size [pixels] / the fraction merged "
         "(>= 2 particles with >= 2 ke each)."),
        "",
        "| jet pT [GeV] | BPIX1 | BPIX2 | BPIX3 | BPIX4 |",
        "|---|---|---|---|---|",
    ]
    for pt in (200.0, 500.0, 1000.0, 2000.0, 3000.0):
        occ = core_occupancy(pt, n_core)
        lines.append(f"| {pt:.0f} | " + " | ".join(f"{a:.1f} / {b:.1f} / {c:.1%}"
                                                   for a, b, c in occ) + " |")
    lines += ["", single_tracks(500 if FULL else 200)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    sys.exit(0)
