"""Study: the seeding choices judged at track level (``helixkit study tracking``).

Standard seeding with ``max_seeds_per_spm`` 1, 5 and uncapped, and hashing seeding with
``max_seeds_per_spm`` 1, each followed by the same CKF → Kalman fit → greedy ambiguity
resolution, on simulated events at each ⟨μ⟩: track efficiency, fake and duplicate rates
(before and after ambiguity resolution; ACTS definitions, particles pT > 0.5 GeV,
|η| < 2.5, ≥ 9 hits), seeds and tracks per event and the time per event of every stage,
single thread. Writes ``tracking_study.md``, ``tracking_study.json`` and one PNG per ⟨μ⟩.
The question it answers: which seeding gives the best tracks per unit time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import data
from .._table import format_table
from ..data import Event
from ..evaluation import pool_track_metrics
from ..seeding import (
    HashingConfig,
    SeedFinderConfig,
    find_seeds_hashing_in_event,
    find_seeds_in_event,
)
from .ckf import Tracks, find_tracks_ckf, resolve_ambiguities
from .config import AmbiguityConfig, CkfConfig
from .detector import detector_for
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


def _run_one(ev: Event, seeding: str, max_seeds: int, hashing: dict[str, Any], ckf: CkfConfig,
             amb: AmbiguityConfig) -> tuple[Tracks, Tracks, dict[str, float], int]:
    scfg = SeedFinderConfig.acts_odd(max_seeds_per_spm=max_seeds, b_field_z=ev.geometry.b_field_z)
    det = detector_for(ev)
    t0 = time.perf_counter()
    if seeding == "standard":
        seeds = find_seeds_in_event(ev, scfg, volumes=ev.geometry.pixel_volumes, n_threads=1)
    else:
        seeds = find_seeds_hashing_in_event(ev, scfg, HashingConfig(**hashing), 1,
                                            volumes=ev.geometry.pixel_volumes)
    t_seed = time.perf_counter() - t0
    before = find_tracks_ckf(ev, seeds, config=ckf, detector=det, n_threads=1)
    after = resolve_ambiguities(before, amb)
    timing = {"seeding": t_seed, **after.timing}
    return before, after, timing, len(seeds)


def run_tracking_study(out_dir: str | Path, *, mu_values: Sequence[float] = (50.0, 200.0),
                       n_events: int = 3, seed: int = 0,
                       configs: Sequence[tuple[str, str, int, dict[str, Any]]] = DEFAULT_CONFIGS,
                       progress: bool = True) -> dict[str, Any]:
    """Run the study (see the module docstring); returns the results written to JSON."""
    if n_events < 1:
        msg = f"n_events must be >= 1, got {n_events}"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckf, amb = CkfConfig(), AmbiguityConfig.acts_generic()
    results: dict[str, Any] = {"selection": SELECTION, "n_events": n_events, "runs": []}
    rows = []
    total = len(mu_values) * len(configs) * n_events
    bar = _progress(total, progress)
    for mu in mu_values:
        # (data's lazy attribute: the simulation, numba, is imported here, not at --help)
        events = [data.simulate_event(mu=mu, seed=seed + i, event_id=i) for i in range(n_events)]
        series = {}
        for label, seeding, max_seeds, hashing in configs:
            per_before, per_after, t_pt, t_eta, timing, n_seeds = [], [], [], [], [], []
            for ev in events:
                before, after, tm, ns = _run_one(ev, seeding, max_seeds, hashing, ckf, amb)
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
            run = {"mu": mu, "config": label, "seeds_per_event": float(np.mean(n_seeds)),
                   "tracks_per_event": m_a.n_tracks / n_events,
                   "before_ambiguity": m_b.as_dict(), "after_ambiguity": m_a.as_dict(),
                   "ms_per_event": ms, "ms_total": sum(ms.values())}
            results["runs"].append(run)
            series[label] = m_a
            rows.append([f"{mu:g}", label, f"{run['seeds_per_event']:.0f}",
                         f"{run['tracks_per_event']:.0f}",
                         f"{100 * m_a.efficiency:.2f} ± {100 * m_a.efficiency_err:.2f}",
                         f"{100 * m_b.fake_rate:.2f} / {100 * m_a.fake_rate:.2f}",
                         f"{100 * m_b.duplicate_rate:.2f} / {100 * m_a.duplicate_rate:.2f}",
                         f"{ms['seeding']:.0f}", f"{ms['ckf']:.0f}",
                         f"{ms['fit'] + ms['parameters'] + ms['ambiguity']:.0f}",
                         f"{run['ms_total']:.0f}"])
        plot_track_finding(series, out / f"tracking_study_mu{mu:g}.png",
                           title=f"Seeding choices at track level, <mu> = {mu:g} "
                                 f"({n_events} events, after ambiguity resolution)")
    bar.close()
    headers = ["<mu>", "seeding", "seeds/event", "tracks/event", "efficiency %",
               "fake % (before / after ambi.)", "duplicate % (before / after)",
               "seeding ms", "CKF ms", "params+fit+ambi. ms", "total ms"]
    text = format_table(rows, headers, markdown=True)
    results["table"] = text
    (out / "tracking_study.md").write_text(
        f"Particles pT > 0.5 GeV, |eta| < 2.5, >= 9 hits; {n_events} events per <mu>; "
        "single thread; times per event.\n\n" + text + "\n")
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
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _handler(args: argparse.Namespace) -> int:
    run_tracking_study(args.out, mu_values=args.mu, n_events=args.events, seed=args.seed,
                       progress=not args.no_progress)
    return 0


def register(sub: Any) -> None:
    """Add ``tracking`` to the sub-parsers of ``helixkit study``."""
    p = sub.add_parser("tracking", help="seeding choices judged at track level (CKF chain)",
                       description=__doc__)
    _add_arguments(p)
    p.set_defaults(func=_handler)


__all__ = ["DEFAULT_CONFIGS", "register", "run_tracking_study"]
