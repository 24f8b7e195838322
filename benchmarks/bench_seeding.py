"""Benchmark: helixkit grid triplet seeding vs ACTS's GridTripletSeedingAlgorithm.

pytest-benchmark groups (``seeding``): helixkit with 1 thread and all threads,
and ACTS (pyacts, single thread; skipped if not installed). The ACTS case
reports in ``extra_info["acts_algorithm_s"]`` the time the ACTS algorithm
itself took per event (from the ACTS Sequencer timing report); its measured
wall time also contains filling ACTS's space-point container from Python.

Events: the built-in simulation at <mu> = 20 (about 1,000 charged particles
per event; pixel volumes 7/8/9 as space points; ``HELIXKIT_SEED_EVENTS=toy``
switches to the toy pixel detector of ``helixkit.seeding._toy``) and ACTS's ODD pu200 seeding
configuration (collision region +-250 mm, deltaR 1-300 mm, minPt 0.5 GeV,
maxSeedsPerSpM 1). ``HELIXKIT_BENCH_FULL=1`` uses 10 events instead of 2.

Run ``python benchmarks/bench_seeding.py`` for the full report written into
docs/seeding.md (ratio vs ACTS, efficiencies, scaling 1k-50k space points,
peak memory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from _timing import best_time

from helixkit import seeding
from helixkit.seeding._toy import toy_event

FULL = os.environ.get("HELIXKIT_BENCH_FULL", "") == "1"
N_EVENTS = 10 if FULL else 2
N_PARTICLES = 1000


SOURCE = os.environ.get("HELIXKIT_SEED_EVENTS", "sim")  # "sim" (built-in simulation) or "toy"
MU = 20  # ~1,000 charged particles per event in the built-in simulation


def _sim_events(n_events):
    from helixkit.data import generate_events

    out = []
    for ev in generate_events(n_events, mu=MU, seed=100):
        pix = np.isin(ev.hits["volume_id"], ev.geometry.pixel_volumes)
        out.append({
            "x": ev.hits["x"][pix].astype(np.float64), "y": ev.hits["y"][pix].astype(np.float64),
            "z": ev.hits["z"][pix].astype(np.float64), "particle_id": ev.hit_particle_id[pix],
            "particles": {k: np.asarray(ev.particles[k]) for k in
                          ("particle_id", "px", "py", "pz", "nhits")},
        })
    return out


def make_events(n_events=N_EVENTS, n_particles=N_PARTICLES):
    if SOURCE == "sim":
        return _sim_events(n_events)
    return [toy_event(n_particles, seed=100 + k) for k in range(n_events)]


@pytest.fixture(scope="module")
def events():
    return make_events()


@pytest.fixture(scope="module")
def config():
    return seeding.SeedFinderConfig.acts_odd()


def run_helixkit(events, config, n_threads):
    return [seeding.find_seeds(e["x"], e["y"], e["z"], config, n_threads=n_threads) for e in events]


@pytest.mark.benchmark(group="seeding")
def test_seeding_helixkit_1thread(benchmark, events, config):
    res = benchmark(run_helixkit, events, config, 1)
    assert all(len(r) > 0 for r in res)


@pytest.mark.benchmark(group="seeding")
def test_seeding_helixkit_all_threads(benchmark, events, config):
    res = benchmark(run_helixkit, events, config, 0)
    assert all(len(r) > 0 for r in res)


@pytest.mark.benchmark(group="seeding")
def test_seeding_acts(benchmark, events, config):
    pytest.importorskip("acts.examples")
    from helixkit.seeding.acts_reference import run_acts_seeding

    inputs = [(e["x"], e["y"], e["z"]) for e in events]
    res, per_event = benchmark.pedantic(run_acts_seeding, args=(inputs, config), rounds=1, iterations=1)
    benchmark.extra_info["acts_algorithm_s"] = float(np.mean(per_event))
    assert all(len(r) > 0 for r in res)


# --- full report ---------------------------------------------------------------------------


def _metrics(events, results):
    out = []
    for e, r in zip(events, results):
        p = e["particles"]
        pt = np.hypot(p["px"], p["py"])
        out.append(seeding.seeding_metrics(r.triplets, e["particle_id"], p, (pt > 1.0) & (p["nhits"] >= 3)))
    eff = sum(m.n_matched for m in out) / sum(m.n_selected for m in out)
    fake = sum(m.n_fake_seeds for m in out) / sum(m.n_seeds for m in out)
    dup = sum(m.duplication_rate * m.n_matched for m in out) / sum(m.n_matched for m in out)
    return eff, fake, dup, sum(m.n_seeds for m in out) / len(out)


def _compare(acts_results, hk_results):
    """Seeds in only one of the two results; and how many of them are explained
    by an exact float tie: the other result holds a seed with the same bottom,
    middle and bit-identical weight instead."""
    n_diff = n_tie = 0
    for a, h in zip(acts_results, hk_results):
        sa = {tuple(t): q for t, q in zip(a.triplets.tolist(), a.quality.tolist())}
        sh = {tuple(t): q for t, q in zip(h.triplets.tolist(), h.quality.tolist())}
        for mine, other in ((sa, sh), (sh, sa)):
            keys = {(t[0], t[1], q) for t, q in other.items() if t not in mine}
            for t in set(mine) - set(other):
                n_diff += 1
                n_tie += (t[0], t[1], mine[t]) in keys
    return n_diff, n_tie


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _memory_child(path: str) -> None:
    """Peak resident memory added by one find_seeds call (Linux: VmHWM is reset
    through /proc/self/clear_refs just before the call)."""
    e = dict(np.load(path))
    cfg = seeding.SeedFinderConfig.acts_odd()
    seeding.find_seeds(e["x"][:10], e["y"][:10], e["z"][:10], cfg)  # warm-up
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    res = seeding.find_seeds(e["x"], e["y"], e["z"], cfg, n_threads=1)
    peak = _status_kib("VmHWM")
    print(json.dumps({"n_sp": len(e["x"]), "seeds": len(res), "peak_kib": peak - before}))


def report() -> str:
    cfg = seeding.SeedFinderConfig.acts_odd()
    evs = make_events(10)
    lines = ["| quantity | value |", "|---|---|"]
    n_sp = np.mean([len(e["x"]) for e in evs])
    t1 = best_time(lambda: run_helixkit(evs, cfg, 1), 15) / len(evs)
    tall = best_time(lambda: run_helixkit(evs, cfg, 0), 15) / len(evs)
    hk = run_helixkit(evs, cfg, 1)
    lines.append(f"| space points / event | {n_sp:.0f} |")
    lines.append(f"| helixkit 1 thread [ms/event] | {t1 * 1e3:.2f} |")
    lines.append(f"| helixkit {os.cpu_count()} threads [ms/event] | {tall * 1e3:.2f} |")
    eff, fake, dup, nseed = _metrics(evs, hk)
    lines.append(f"| helixkit eff / fake / dup (pT > 1 GeV) | {eff:.4f} / {fake:.4f} / {dup:.3f} ({nseed:.0f} seeds/event) |")
    try:
        from helixkit.seeding.acts_reference import run_acts_seeding

        # ACTS's own per-event time (Sequencer timing), best of 3 passes, as
        # helixkit's is the best of several.
        ta = float("inf")
        for _ in range(3):
            acts_res, per_event = run_acts_seeding([(e["x"], e["y"], e["z"]) for e in evs], cfg)
            ta = min(ta, float(np.mean(per_event)))
        eff_a, fake_a, dup_a, nseed_a = _metrics(evs, acts_res)
        n_diff, n_tie = _compare(acts_res, hk)
        lines.append(f"| ACTS 1 thread [ms/event] | {ta * 1e3:.2f} |")
        lines.append(f"| ACTS eff / fake / dup | {eff_a:.4f} / {fake_a:.4f} / {dup_a:.3f} ({nseed_a:.0f} seeds/event) |")
        lines.append(f"| ratio helixkit/ACTS, 1 thread | {t1 / ta:.2f} |")
        lines.append(f"| ratio helixkit/ACTS, all threads | {tall / ta:.2f} |")
        lines.append(f"| seeds differing from ACTS (all events) | {n_diff}, of which exact float-weight ties: {n_tie} |")
    except ImportError:
        lines.append("| ACTS | pyacts not installed |")
    lines += ["", "| particles | space points | seeds | 1 thread [ms] | all threads [ms] | peak RSS increase [MiB] |",
              "|---|---|---|---|---|---|"]
    for n_part in (220, 1100, 2200, 5500, 11000):
        e = toy_event(n_part, seed=5)
        f1 = best_time(lambda e=e: seeding.find_seeds(e["x"], e["y"], e["z"], cfg, n_threads=1), 3)
        fa = best_time(lambda e=e: seeding.find_seeds(e["x"], e["y"], e["z"], cfg, n_threads=0), 3)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "event.npz")
            np.savez(path, x=e["x"], y=e["y"], z=e["z"])
            child = subprocess.run([sys.executable, __file__, "--memory", path], capture_output=True,
                                   text=True, check=True)
        mem = json.loads(child.stdout.strip().splitlines()[-1])
        lines.append(f"| {n_part} | {mem['n_sp']} | {mem['seeds']} | {f1 * 1e3:.2f} | {fa * 1e3:.2f} | "
                     f"{mem['peak_kib'] / 1024:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        _memory_child(sys.argv[2])
    else:
        print(report())
