"""Benchmark: helixkit's Kalman fit vs ACTS's KalmanFitter on the same GenericDetector tracks.

Needs ``pyacts`` (skipped without it). ACTS simulates muons (pT 0.5-10 GeV,
|eta| < 2.5) in its GenericDetector (Fatras, smearing digitisation), fits the
truth tracks with its KalmanFitter on one thread, and helixkit fits the very
same measurements on the same module planes in the same process
(:mod:`helixkit.fitting.acts_reference`).

pytest form (CI smoke-runs it with --benchmark-disable)::

    pytest benchmarks/bench_fitting_acts.py

Report form (resolutions, pulls, µs/track, tracks/s vs track length and threads)::

    PYTHONPATH=python python benchmarks/bench_fitting_acts.py

``HELIXKIT_BENCH_FULL=1`` uses 100 events x 50 muons (5000 tracks) and runs
ACTS once per track-length bin; the smoke mode uses 10 x 50.

ACTS's time is the TrackFittingAlgorithm entry of the Sequencer's timing.csv
(one pass, one thread); helixkit's is the median of 5 calls of ``fit_tracks``
(Python call included; surfaces and start parameters prepared once).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

pytest.importorskip("acts.examples")

from helixkit.fitting import acts_reference as ar  # noqa: E402

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N_EVENTS = 100 if FULL else 10
MUONS = 50
LENGTH_BINS = ((7, 10), (11, 11), (12, 12), (13, 13), (14, 40))


@pytest.fixture(scope="module")
def acts_run():
    data = ar.run_acts_truth_tracking(n_events=N_EVENTS, muons_per_event=MUONS, seed=7)
    start = ar.smeared_start(data)
    return data, ar.helixkit_inputs(data, start=start), start


@pytest.mark.benchmark(group="fitting-acts")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fit_helixkit_on_acts_tracks(benchmark, acts_run, n_threads):
    data, surf, start = acts_run
    res = benchmark(ar.fit_helixkit, data, n_threads=n_threads, inputs=surf, start=start)
    assert res.ok.mean() > 0.99
    benchmark.extra_info["tracks"] = len(data)
    benchmark.extra_info["acts_kf_us_per_track"] = data.acts_us_per_track


@pytest.mark.benchmark(group="fitting-acts")
def test_fit_acts_kalman(benchmark, acts_run):
    """ACTS's fitter time per track, from the Sequencer's timing (its simulation excluded)."""
    data, _, _ = acts_run
    benchmark.extra_info["acts_kf_us_per_track"] = data.acts_us_per_track
    benchmark.extra_info["tracks"] = len(data)
    # pytest-benchmark needs a callable; the measured number is the one above.
    benchmark.pedantic(lambda: data.acts_fit_seconds, rounds=1, iterations=1)
    assert (data.acts_n_fitted > 0).mean() > 0.99


# --------------------------------------------------------------------------- report
def _cols(x: dict) -> list[str]:
    out = [f"{1e3 * x['sigma_d0']:.1f} / {1e3 * x['sigma_d0_mad']:.1f}",
           f"{1e3 * x['sigma_z0']:.1f} / {1e3 * x['sigma_z0_mad']:.1f}",
           f"{100 * x['sigma_pt_rel']:.2f} / {100 * x['sigma_pt_rel_mad']:.2f}"]
    out += [f"{x[f'pull_mean_{n}']:+.3f}, {x[f'pull_width_{n}']:.3f} / "
            f"{x[f'pull_width_{n}_mad']:.3f}" for n in ar.PARAM_NAMES]
    return [*out, f"{x['chi2_ndf']:.3f}"]


def _fmt_table(cmp: dict, extra: dict[str, dict] | None = None) -> str:
    """ACTS vs helixkit (passive surfaces), plus other helixkit variants as columns."""
    names = ["σ(d0) [µm], std / MAD", "σ(z0) [µm], std / MAD", "σ(pT)/pT [%], std / MAD",
             *(f"pull {n}: mean, std / MAD" for n in ar.PARAM_NAMES), "⟨χ²/(dims − 5)⟩"]
    columns = {"ACTS KalmanFitter": cmp["acts"], "helixkit fit_tracks": cmp["helixkit"],
               **{k: v["helixkit"] for k, v in (extra or {}).items()}}
    vals = [_cols(c) for c in columns.values()]
    out = ["| quantity | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    out += [f"| {q} | " + " | ".join(v[i] for v in vals) + " |" for i, q in enumerate(names)]
    return "\n".join(out)


def _eta_split(data, res) -> None:
    eta = np.abs(data.true_eta)
    for lo, hi in ((0.0, 0.8), (0.8, 1.6), (1.6, 2.5)):
        both = (eta >= lo) & (eta < hi) & data.acts_ok & res.ok
        t, pt = data.truth[both], data.true_pt[both]
        a = ar._perf(data.acts_params[both], data.acts_cov[both],  # noqa: SLF001
                     data.acts_chi2[both], data.acts_ndf[both] - 5.0, t, pt)
        h = ar._perf(res.params[both], res.cov[both], res.chi2[both],  # noqa: SLF001
                     res.ndf[both].astype(np.float64), t, pt)
        widths = ", ".join(f"{n} {a[f'pull_width_{n}_mad']:.3f}/{h[f'pull_width_{n}_mad']:.3f}"
                           for n in ar.PARAM_NAMES)
        print(f"|η| {lo}–{hi} ({int(both.sum())} tracks): MAD pull widths ACTS / helixkit "
              f"{widths}; σ(pT)/pT MAD {100 * a['sigma_pt_rel_mad']:.2f}/"
              f"{100 * h['sigma_pt_rel_mad']:.2f} %")


def report() -> None:
    print(f"# ACTS {N_EVENTS} events x {MUONS} muons, GenericDetector, 2 T, one thread", flush=True)
    data = ar.run_acts_truth_tracking(n_events=N_EVENTS, muons_per_event=MUONS, seed=7)
    start = ar.smeared_start(data)
    surf = ar.helixkit_inputs(data, start=start)
    eff = ar.helixkit_inputs(data, material="effective")
    nobp = ar.helixkit_inputs(data, start=start, beam_pipe=False)
    res1, t1 = ar.timed_fit(data, n_threads=1, inputs=surf, start=start)
    res2, t2 = ar.timed_fit(data, n_threads=2, inputs=surf, start=start)
    res_e, t_e = ar.timed_fit(data, n_threads=1, inputs=eff, start=start)
    res_nb = ar.fit_helixkit(data, inputs=nobp, start=start)
    same = np.array_equal(res1.params, res2.params, equal_nan=True)
    cmp = ar.compare_fits(data, res1)
    cmp_e = ar.compare_fits(data, res_e)
    print(f"passive entries per track: {surf.n_passive.mean():.2f} (beam pipe included)")
    c = cmp["counts"]
    print(f"tracks {int(c['tracks'])}: ACTS complete fits {int(c['acts_ok'])} (failed "
          f"{int(c['acts_failed'])}, ended early {int(c['acts_truncated'])}), helixkit ok "
          f"{int(c['helixkit_ok'])}, compared {int(c['both'])}; "
          f"⟨measurements⟩ = {data.n_measurements.mean():.2f}")
    print(_fmt_table(cmp, {"helixkit, no beam pipe": ar.compare_fits(data, res_nb),
                           "helixkit, effective_x0 (old)": cmp_e}))
    print("\n# passive surfaces")
    _eta_split(data, res1)
    print("# effective_x0 (old)")
    _eta_split(data, res_e)
    n = len(data)
    print("\n| fitter | threads | µs/track | tracks/s |\n|---|---|---|---|")
    print(f"| ACTS KalmanFitter | 1 | {data.acts_us_per_track:.1f} | "
          f"{1e6 / data.acts_us_per_track:,.0f} |")
    for nt, t in ((1, t1), (2, t2)):
        print(f"| helixkit | {nt} | {1e6 * t / n:.1f} | {n / t:,.0f} |")
    print(f"| helixkit, effective_x0 (old) | 1 | {1e6 * t_e / n:.1f} | {n / t_e:,.0f} |")
    print(f"ACTS / helixkit (1 thread): {data.acts_us_per_track / (1e6 * t1 / n):.1f}x; "
          f"helixkit results identical for 1 and 2 threads: {same}")
    try:  # machine-load calibration: the toy of bench_fitting.py (10 barrel cylinders)
        import bench_fitting as bf  # noqa: PLC0415

        toy, tsurf, tinit = bf.toy(5000)
        tt = []
        for _ in range(5):
            t0 = time.perf_counter()
            bf.kf(toy, tsurf, tinit)
            tt.append(time.perf_counter() - t0)
        print(f"same run, bench_fitting.py toy (10 cylinders, 1 thread): "
              f"{1e6 * float(np.median(tt)) / 5000:.1f} µs/track")
    except ImportError:
        pass

    print("\n# by track length (measurements per track)")
    print("| measurements | tracks | helixkit 1 thr [µs] | tracks/s | helixkit 2 thr [µs] | "
          "tracks/s | ACTS 1 thr [µs] | tracks/s |")
    print("|---|---|---|---|---|---|---|---|")
    nm = data.n_measurements
    for lo, hi in LENGTH_BINS:
        if FULL:  # ACTS run restricted to this length
            sub = ar.run_acts_truth_tracking(n_events=N_EVENTS, muons_per_event=MUONS, seed=11,
                                             min_measurements=lo, max_measurements=hi)
            sel, d = None, sub
        else:  # subset of the main run; ACTS time not split by length
            sel, d = np.flatnonzero((nm >= lo) & (nm <= hi)), data
            if len(sel) == 0:
                continue
        ntr = len(d) if sel is None else len(sel)
        if ntr == 0:
            continue
        if sel is None:
            st = ar.smeared_start(d)
            s = ar.helixkit_inputs(d, start=st)
        else:
            s, st = surf, start
        _, a1 = ar.timed_fit(d, n_threads=1, inputs=s, start=st, tracks=sel)
        _, a2 = ar.timed_fit(d, n_threads=2, inputs=s, start=st, tracks=sel)
        acts_col = (f"{d.acts_us_per_track:.1f} | {1e6 / d.acts_us_per_track:,.0f}"
                    if sel is None else "– | –")
        label = str(lo) if lo == hi else f"{lo}–{hi}"
        print(f"| {label} | {ntr} | {1e6 * a1 / ntr:.1f} | {ntr / a1:,.0f} | "
              f"{1e6 * a2 / ntr:.1f} | {ntr / a2:,.0f} | {acts_col} |", flush=True)


if __name__ == "__main__":
    report()
    sys.exit(0)
