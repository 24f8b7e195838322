"""Seeding's ``helixkit demo`` stage: triplet seeding (ACTS ODD config) on the demo events.
(The hashing stage is :func:`helixkit.seeding.hashing_study.demo_stage`.)"""

from __future__ import annotations

import time

import numpy as np

from ..data import Event
from ..data.sources import Mapper
from ..report import Report, describe_sample
from .metrics import pool_events, pool_positions, seeding_metrics
from .plots import plot_seeding_performance
from .triplet import SeedFinderConfig, find_seeds_in_event


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """Efficiency, fake rate, duplication and time of standard triplet seeding."""
    cfg = SeedFinderConfig.acts_odd()
    triplets, times = [], []
    for ev in events:
        t0 = time.perf_counter()
        res = find_seeds_in_event(ev, cfg, volumes=ev.geometry.pixel_volumes, n_threads=n_threads)
        times.append(time.perf_counter() - t0)
        triplets.append(res.triplets)
    trip, sp_pid, particles, sel = pool_events(events, triplets)
    m = seeding_metrics(trip, sp_pid, particles, sel, sp_xyz=pool_positions(events),
                        b_field_z=events[0].geometry.b_field_z)
    d = m.as_dict()
    d["ms_per_event"] = 1e3 * float(np.mean(times))
    report.results["seeding"] = d
    report.table(
        "Triplet seeding (ACTS ODD config, pixel volumes; particles pT > 1 GeV, |eta| < 2.5, "
        ">= 3 pixel layers)",
        [[d["n_seeds"] / len(events), d["efficiency"], d["fake_rate"], d["duplication_rate"],
          d["ms_per_event"]]],
        ["seeds/event", "efficiency", "fake rate", "duplication rate", "ms/event"],
    )
    caption = (f"{describe_sample(report.results, len(events))} · selection: {SELECTION} · "
               f"seeds: ACTS ODD config, pixel volumes")
    report.plot(plot_seeding_performance({"helixkit": m}, report.out_dir / "seeding.png",
                                         title="triplet seeding", caption=caption))


#: the particles :func:`seeding_particles` selects, in words
SELECTION = "particles pT > 1 GeV, |η| < 2.5, ≥ 3 pixel layers"


__all__ = ["demo_stage"]
