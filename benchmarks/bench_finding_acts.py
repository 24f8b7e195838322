"""Benchmark: helixkit's classical chain vs ACTS's CKF chain on the same GenericDetector events.

Needs ``pyacts`` (skipped without it). ACTS simulates muons (pT 0.5-10 GeV,
|eta| < 2.5) in its GenericDetector (Fatras, smearing digitisation) and runs
its classical chain on one thread: space points on the pixel volumes, grid
triplet seeding, track parameter estimation, CKF, greedy ambiguity resolution
(:mod:`helixkit.finding.acts_reference`). helixkit's ``reconstruct`` then runs
on exactly ACTS's measurements (as hits, with their variances) in the same
process; both are scored with ``track_finding_metrics`` (particles with pT >
0.5 GeV, |eta| < 2.5, >= 9 hits; events pooled).

pytest form (CI smoke-runs it with --benchmark-disable; 1 event x 200 muons)::

    pytest benchmarks/bench_finding_acts.py

Report form (the table)::

    PYTHONPATH=python python benchmarks/bench_finding_acts.py [n_events [particles_per_event [repeat]]]

default 3 events x 1000 muons, helixkit's chain timed as the best of 3 passes. ACTS's times are the Sequencer's timing.csv rows
(per event); helixkit's are ``Tracks.timing`` (per event, one pass).
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("acts.examples")

from helixkit.finding import acts_reference as far


@pytest.fixture(scope="module")
def acts_run():
    return far.run_acts_ckf_chain(n_events=1, particles_per_event=200, seed=7)


@pytest.mark.benchmark(group="finding-acts")
def test_compare_chains(benchmark, acts_run):
    cmp = benchmark.pedantic(far.compare_chains, args=(acts_run,), rounds=1, iterations=1)
    assert cmp["metrics"]["acts_ambi"]["efficiency"] > 0.9
    benchmark.extra_info["acts_ckf_ms"] = cmp["ms_per_event"]["acts"]["ckf"]
    benchmark.extra_info["helixkit_ckf_ms"] = cmp["ms_per_event"]["helixkit"]["ckf"]


# --------------------------------------------------------------------------- report
_ROWS = (("efficiency", "efficiency"), ("fake rate", "fake_rate"),
         ("duplicate rate", "duplicate_rate"), ("perfect-track efficiency", "perfect"),
         ("tracks (pooled)", "n_tracks"))


def _pct(m: dict, key: str) -> str:
    if key == "n_tracks":
        return f"{int(m[key])}"
    err = m.get(f"{key}_err")
    return f"{100 * m[key]:.2f}" + (f" ± {100 * err:.2f}" if err is not None else "")


def _print_comparison(run, cmp) -> None:
    m = cmp["metrics"]
    print(f"\n## helixkit surfaces: {cmp['surfaces']}")
    print(f"hits/event {cmp['n_hits']:.0f}; selected particles {m['acts_ckf']['n_particles']}; "
          f"seeds/event ACTS {cmp['n_seeds']['acts']:.0f}, helixkit {cmp['n_seeds']['helixkit']:.0f}"
          f" ({100 * cmp['n_seeds']['acts_found_by_helixkit']:.1f} % of ACTS's seeds also "
          f"helixkit's; {cmp['n_seeds']['helixkit_unusable']:.1f}/event not followed: two hits "
          "on one helixkit surface)")
    cols = (("ACTS CKF", "acts_ckf"), ("ACTS + ambiguity", "acts_ambi"),
            ("helixkit CKF", "helixkit_ckf"), ("helixkit + ambiguity", "helixkit"))
    print("\n| [%] | " + " | ".join(c for c, _ in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, key in _ROWS:
        print(f"| {label} | " + " | ".join(_pct(m[k], key) for _, k in cols) + " |")
    mm = cmp["mean_measurements"]
    print("| measurements / track | " + " | ".join(f"{mm[k]:.2f}" for _, k in cols) + " |")
    s = m["helixkit_on_acts_seeds"]
    print(f"\nhelixkit CKF + ambiguity on ACTS's own seeds: efficiency {100 * s['efficiency']:.2f} "
          f"± {100 * s['efficiency_err']:.2f} %, fake {100 * s['fake_rate']:.2f} %, duplicates "
          f"{100 * s['duplicate_rate']:.2f} %")
    a, h = cmp["ms_per_event"]["acts"], cmp["ms_per_event"]["helixkit"]
    print("\n| stage [ms / event] | ACTS | helixkit | helixkit / ACTS |\n|---|---|---|---|")
    stages = (("space points", a["spacepoints"], None), ("seeding", a["seeding"], h["seeding"]),
              ("track parameters", a["parameters"], h["parameters"]),
              ("CKF (ACTS's smooths and extrapolates inside)", a["ckf"], h["ckf"]),
              ("ambiguity resolution", a["ambiguity"], h["ambiguity"]),
              ("chain (sum)", a["chain"], h["chain"]),
              ("refit of the kept tracks (`refit=True`; in the chain above only with it)",
               None, h["refit"]),
              ("helixkit reconstruct wall", None, h["wall"]))
    for name, x, y in stages:
        xs = "-" if x is None else f"{x:.2f}"
        ys = "-" if y is None else f"{y:.2f}"
        rs = f"{y / x:.2f}" if x and y else "-"
        print(f"| {name} | {xs} | {ys} | {rs} |")
    r = cmp["ratio_helixkit_over_acts"]
    print(f"\nhelixkit / ACTS: CKF {r['ckf']:.3f}, chain {r['chain']:.3f}, chain with the "
          f"refit {r['chain_refit']:.3f}, reconstruct wall / ACTS chain {r['chain_wall']:.3f}")


def report(n_events: int = 3, particles: int = 1000, repeat: int = 3) -> None:
    print(f"# ACTS GenericDetector, {n_events} events x {particles} muons (pT 0.5-10 GeV, "
          f"|eta| < 2.5), 2 T, one thread; helixkit's times: best of {repeat} passes over the "
          "events, ACTS's: its Sequencer timing.csv (one pass)", flush=True)
    run = far.run_acts_ckf_chain(n_events=n_events, particles_per_event=particles, seed=42)
    for modules in (True, False):
        _print_comparison(run, far.compare_chains(run, n_threads=1, modules=modules,
                                                  repeat=repeat))
    other = {k: 1e3 * v for k, v in run.timing.items()
             if k not in far.ACTS_STAGES.values()}
    print("\nACTS other sequencer elements [ms / event]: "
          + ", ".join(f"{k} {v:.1f}" for k, v in other.items()))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    report(*args)
    sys.exit(0)
