"""Study: the seeding choices judged at track level (``helixkit study tracking``).

Standard seeding with ``max_seeds_per_spm`` 1, 5 and uncapped, and hashing seeding with
``max_seeds_per_spm`` 1, each followed by the same CKF (its own parameters, as
``reconstruct``) → greedy ambiguity resolution: track efficiency, fake and duplicate rates
(before and after ambiguity resolution; ACTS definitions, particles pT > 0.5 GeV, |η| <
2.5, ≥ 9 hits), seeds and tracks per event and the time per event of every stage, single
thread. On the built-in simulation at each ⟨μ⟩ (pixels + strips, its own geometry) and,
with ``--acts`` (needs pyacts), on ACTS Fatras events of the GenericDetector (muons, pT
0.5–10 GeV, |η| < 2.5; helixkit measures on ACTS's module planes), where ACTS's own chain
(GridTriplet seeding, maxSeedsPerSpM 1 → CKF → ambiguity resolution) is one more row.
Writes ``tracking_study.md``, ``tracking_study.json`` and one PNG per sample. The question
it answers: which seeding gives the best tracks per unit time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import data
from .. import units as u
from .._table import format_table
from ..data import Event
from ..evaluation import pool_track_metrics
from ..seeding import (
    HashingConfig,
    SeedFinderConfig,
    find_seeds_hashing_in_event,
    find_seeds_in_event,
)
from . import acts_reference  # (imports pyacts only when a run is made)
from .ckf import Tracks, find_tracks_ckf, resolve_ambiguities
from .config import AmbiguityConfig, CkfConfig
from .detector import (
    DEFAULT_PIXEL_VOLUMES,
    detector_for,
    seeding_variances,
    seeds_on_distinct_surfaces,
)
from .plots import plot_track_finding

#: "uncapped": more seeds per middle space point than any event here has.
UNCAPPED = 10_000
#: (label, seeding, max_seeds_per_spm, HashingConfig fields)
DEFAULT_CONFIGS: tuple[tuple[str, str, int, dict[str, Any]], ...] = (
    ("standard, maxSeedsPerSpM 1", "standard", 1, {}),
    ("standard, maxSeedsPerSpM 5", "standard", 5, {}),
    ("standard, uncapped", "standard", UNCAPPED, {}),
    ("hashing, maxSeedsPerSpM 1 (ACTS defaults: bucket 100, 100 phi bins)", "hashing", 1, {}),
    ("hashing, maxSeedsPerSpM 1 (bucket 300, 800 phi bins: docs/hashing.md)", "hashing", 1,
     {"bucket_size": 300, "phi_bins": 800}),
)
SELECTION = {"pt_min": 0.5, "max_abs_eta": 2.5, "min_hits": 9}
ACTS_LABEL = "ACTS chain (GridTriplet, maxSeedsPerSpM 1; pyacts 48)"


@dataclass
class _Sample:
    """Events of one density, with what the chain needs to run on them."""

    name: str                 # table label
    key: str                  # file-name suffix
    events: list[Event]
    volumes: tuple[int, ...]  # seeding volumes
    b_field_z: float
    detector_options: dict[str, Any] = field(default_factory=dict)
    acts: Any = None          # ActsCkfRun: ACTS's own chain on the same events
    mu: float | None = None


def _run_one(ev: Event, sample: _Sample, seeding: str, max_seeds: int, hashing: dict[str, Any],
             ckf: CkfConfig, amb: AmbiguityConfig) -> tuple[Tracks, Tracks, dict[str, float], int]:
    scfg = SeedFinderConfig.acts_odd(max_seeds_per_spm=max_seeds, b_field_z=sample.b_field_z)
    det = detector_for(ev, **sample.detector_options)
    t0 = time.perf_counter()
    var_r, var_z = seeding_variances(ev, det, sample.volumes)
    if seeding == "standard":
        seeds = find_seeds_in_event(ev, scfg, volumes=sample.volumes, var_r=var_r, var_z=var_z,
                                    n_threads=1)
    else:
        seeds = find_seeds_hashing_in_event(ev, scfg, HashingConfig(**hashing), 1,
                                            volumes=sample.volumes, var_r=var_r, var_z=var_z)
    t_seed = time.perf_counter() - t0
    trip = np.asarray(seeds.triplets, dtype=np.int64).reshape(-1, 3)
    usable = seeds_on_distinct_surfaces(det, trip)  # (as reconstruct)
    # (as reconstruct: the CKF's own parameters, no refit before ambiguity resolution)
    before = find_tracks_ckf(ev, trip[usable], config=ckf, detector=det, fit=False,
                             n_threads=1)
    after = resolve_ambiguities(before, amb)
    timing = {"seeding": t_seed, **after.timing}
    return before, after, timing, len(trip)


def _simulated(mu_values: Sequence[float], n_events: int, seed: int) -> list[_Sample]:
    out = []
    for mu in mu_values:
        # (data's lazy attribute: the simulation, numba, is imported here, not at --help)
        events = [data.simulate_event(mu=mu, seed=seed + i, event_id=i) for i in range(n_events)]
        geo = events[0].geometry
        out.append(_Sample(f"sim <mu>={mu:g}", f"mu{mu:g}", events, tuple(geo.pixel_volumes),
                           geo.b_field_z, mu=float(mu)))
    return out


def _fatras(particles: Sequence[int], n_events: int, seed: int) -> list[_Sample]:
    out = []
    for n in particles:
        run = acts_reference.run_acts_ckf_chain(n_events=n_events, particles_per_event=int(n),
                                                seed=seed + 7)
        out.append(_Sample(f"Fatras {n} muons", f"fatras{n}", run.events, DEFAULT_PIXEL_VOLUMES,
                           2.0 * u.T, {"modules": run.modules, "passive": run.passive},
                           acts=run))
    return out


def _acts_row(sample: _Sample) -> dict[str, Any]:
    """ACTS's own chain on the sample's events, scored and timed like helixkit's rows."""
    run = sample.acts

    def metrics(key: str, binned_by_track: bool) -> Any:
        per, pt, eta = run.scoring_inputs(key)
        kw = {"track_pt": pt, "track_eta": eta} if binned_by_track else {}
        return pool_track_metrics(per, **kw, **SELECTION)

    st = {k: 1e3 * v for k, v in run.stage_seconds().items()}
    ms = {"seeding": st["spacepoints"] + st["seeding"], "parameters": st["parameters"],
          "ckf": st["ckf"], "ambiguity": st["ambiguity"]}
    return {"before": metrics("ckf", False), "after": metrics("ambi", True), "ms": ms,
            "seeds": float(np.mean(run.n_seeds))}


def run_tracking_study(out_dir: str | Path, *, mu_values: Sequence[float] = (50.0, 200.0),
                       n_events: int = 3, seed: int = 0,
                       configs: Sequence[tuple[str, str, int, dict[str, Any]]] = DEFAULT_CONFIGS,
                       acts_particles: Sequence[int] = (), acts_events: int | None = None,
                       progress: bool = True) -> dict[str, Any]:
    """Run the study (see the module docstring); returns the results written to JSON.

    ``mu_values``: built-in simulation samples, ``n_events`` each. ``acts_particles``:
    ACTS Fatras GenericDetector samples of that many muons per event (pyacts), with
    ``acts_events`` events each (default ``n_events``).
    """
    if n_events < 1:
        msg = f"n_events must be >= 1, got {n_events}"
        raise ValueError(msg)
    n_acts = n_events if acts_events is None else acts_events
    if acts_particles and n_acts < 1:
        msg = f"acts_events must be >= 1, got {n_acts}"
        raise ValueError(msg)
    bad = [n for n in acts_particles if int(n) < 1]
    if bad:
        msg = f"acts_particles must be >= 1 muons per event, got {bad[0]}"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckf, amb = CkfConfig(), AmbiguityConfig.acts_generic()
    results: dict[str, Any] = {"selection": SELECTION, "n_events": n_events, "runs": []}
    rows = []
    samples = _simulated(mu_values, n_events, seed) + _fatras(acts_particles, n_acts, seed)
    bar = _progress(sum(len(configs) * len(smp.events) for smp in samples), progress)

    def add_row(smp: _Sample, label: str, m_b: Any, m_a: Any, ms: dict[str, float],
                seeds: float) -> None:
        n_ev = len(smp.events)
        run = {"sample": smp.name, "mu": smp.mu, "config": label, "seeds_per_event": seeds,
               "tracks_per_event": m_a.n_tracks / n_ev,
               "before_ambiguity": m_b.as_dict(), "after_ambiguity": m_a.as_dict(),
               "ms_per_event": ms, "ms_total": sum(ms.values())}
        results["runs"].append(run)
        rows.append([smp.name, label, f"{seeds:.0f}", f"{run['tracks_per_event']:.0f}",
                     f"{100 * m_a.efficiency:.2f} ± {100 * m_a.efficiency_err:.2f}",
                     f"{100 * m_b.fake_rate:.2f} / {100 * m_a.fake_rate:.2f}",
                     f"{100 * m_b.duplicate_rate:.2f} / {100 * m_a.duplicate_rate:.2f}",
                     f"{ms['seeding']:.0f}", f"{ms['ckf']:.0f}",
                     f"{ms['parameters'] + ms['ambiguity']:.0f}",
                     f"{run['ms_total']:.0f}"])

    for smp in samples:
        series = {}
        for label, seeding, max_seeds, hashing in configs:
            per_before, per_after, t_pt, t_eta, timing, n_seeds = [], [], [], [], [], []
            for ev in smp.events:
                before, after, tm, ns = _run_one(ev, smp, seeding, max_seeds, hashing, ckf, amb)
                pid = ev.hit_particle_id
                per_before.append((before.offsets, before.hits, pid, ev.particles))
                per_after.append((after.offsets, after.hits, pid, ev.particles))
                t_pt.append(after.pt)
                t_eta.append(after.eta)
                timing.append(tm)
                n_seeds.append(ns)
                bar.update(1)
            m_b = pool_track_metrics(per_before, **SELECTION)
            m_a = pool_track_metrics(per_after, track_pt=t_pt, track_eta=t_eta, **SELECTION)
            ms = {k: 1e3 * float(np.mean([t[k] for t in timing])) for k in timing[0]}
            add_row(smp, label, m_b, m_a, ms, float(np.mean(n_seeds)))
            series[label] = m_a
        if smp.acts is not None:
            ref = _acts_row(smp)
            add_row(smp, ACTS_LABEL, ref["before"], ref["after"], ref["ms"], ref["seeds"])
            series[ACTS_LABEL] = ref["after"]
        plot_track_finding(series, out / f"tracking_study_{smp.key}.png",
                           title=f"Seeding choices at track level, {smp.name} "
                                 f"({len(smp.events)} events, after ambiguity resolution)")
    bar.close()
    headers = ["events", "seeding", "seeds/event", "tracks/event", "efficiency %",
               "fake % (before / after ambi.)", "duplicate % (before / after)",
               "seeding ms", "CKF ms", "params+ambi. ms", "total ms"]
    text = format_table(rows, headers, markdown=True)
    results["table"] = text
    counts = "; ".join(f"{smp.name}: {len(smp.events)} events" for smp in samples)
    (out / "tracking_study.md").write_text(
        f"Particles pT > 0.5 GeV, |eta| < 2.5, >= 9 hits; {counts}; single thread; times per "
        "event (ACTS's from its Sequencer, seeding including its space points).\n\n"
        + text + "\n")
    (out / "tracking_study.json").write_text(json.dumps(results, indent=1))
    print(format_table(rows, headers))
    return results


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc="tracking study", unit="event")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="tracking-study", help="output directory (default: %(default)s)")
    p.add_argument("--mu", type=float, nargs="+", default=[50.0, 200.0],
                   help="pile-up values (default: 50 200)")
    p.add_argument("--events", type=int, default=3, help="events per <mu> (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--acts", type=int, nargs="*", default=[], metavar="MUONS",
                   help="also ACTS Fatras GenericDetector events with this many muons each "
                        "(needs pyacts), with ACTS's own chain as a reference row")
    p.add_argument("--acts-events", type=int, default=None,
                   help="events per ACTS sample (default: --events)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _handler(args: argparse.Namespace) -> int:
    run_tracking_study(args.out, mu_values=args.mu, n_events=args.events, seed=args.seed,
                       acts_particles=args.acts, acts_events=args.acts_events,
                       progress=not args.no_progress)
    return 0


def register(sub: Any) -> None:
    """Add ``tracking`` to the sub-parsers of ``helixkit study``."""
    p = sub.add_parser("tracking", help="seeding choices judged at track level (CKF chain)",
                       description=__doc__)
    _add_arguments(p)
    p.set_defaults(func=_handler)


__all__ = ["DEFAULT_CONFIGS", "register", "run_tracking_study"]
