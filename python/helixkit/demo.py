"""The main job: ``helixkit demo``.

simulate → seed → fit → cluster → learned tracking → classical chain (CKF) → TrackFormer →
tokens / next hit → DeepCore (its own TeV jets) → report, on the built-in
simulation, with a summary table (printed and written as Markdown/JSON) and PNG plots. Each
stage is its package's ``demo_stage(events, report, *, n_threads, seed)``; this module only
runs them in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._deprecated import forward
from .data import Event, generate_events
from .data.sources import Mapper, event_itself, simulated_events
from .deepcore import demo as deepcore_demo
from .finding import demo as finding_demo
from .fitting import demo as fitting_demo
from .graph import demo as graph_demo
from .learned import demo as learned_demo
from .plots import plot_event
from .report import Report
from .seeding import demo as seeding_demo
from .seeding import hashing_study
from .tokens import demo as tokens_demo
from .trackformer import demo as trackformer_demo

Stage = Callable[..., None]

#: Stage name → its ``demo_stage``, in the order they run.
STAGE_FUNCS: dict[str, Stage] = {
    "seeding": seeding_demo.demo_stage,
    "hashing": hashing_study.demo_stage,
    "fitting": fitting_demo.demo_stage,
    "clustering": graph_demo.demo_stage,
    "learned": learned_demo.demo_stage,
    "tracking": finding_demo.demo_stage,
    "trackformer": trackformer_demo.demo_stage,
    "tokens": tokens_demo.demo_stage,
    "deepcore": deepcore_demo.demo_stage,
}
STAGES = tuple(STAGE_FUNCS)


def run_demo(
    out_dir: str | Path = "demo-output",
    *,
    n_events: int = 3,
    mu: float = 50.0,
    seed: int = 0,
    n_threads: int = 0,
    stages: tuple[str, ...] = STAGES,
    progress: bool = True,
    mapper: Mapper | None = None,
) -> dict[str, Any]:
    """Run the demo chain and write ``report.md``, ``results.json`` and PNG plots to ``out_dir``.

    ``mapper`` (:mod:`helixkit.data.sources`, e.g. ``helixkit demo --workers 2``): where the
    per-event work runs — the simulation and the learned-tracking stage; the report's
    numbers are the serial run's (its timings are per event, where the events ran).
    """
    if n_events < 1:
        msg = f"n_events must be >= 1, got {n_events}"
        raise ValueError(msg)
    unknown = set(stages) - set(STAGES)
    if unknown:
        msg = f"unknown demo stage(s) {sorted(unknown)}; choose from {STAGES}"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out)

    t0 = time.perf_counter()
    if mapper is None:
        events: list[Event] = list(generate_events(n_events, mu=mu, seed=seed,
                                                   progress=progress))
    else:
        events = mapper(event_itself, simulated_events(n_events, mu=mu, seed=seed))
    t_sim = time.perf_counter() - t0
    rows = []
    for ev in events:
        s = ev.summary()
        rows.append([s["event_id"], s["hits"], s["particles"], s["noise_hits"]])
    report.table(
        f"Simulated events (<mu> = {mu:g}, {t_sim / n_events:.2f} s/event)",
        rows,
        ["event", "hits", "particles", "noise hits"],
    )
    report.results["simulation"] = {"mu": mu, "seconds_per_event": t_sim / n_events, "events": rows}
    report.plot(plot_event(events[0], out / "event_display.png"))

    for stage in stages:
        t0 = time.perf_counter()
        STAGE_FUNCS[stage](events, report, n_threads=n_threads, seed=seed, mapper=mapper)
        print(f"[{stage}: {time.perf_counter() - t0:.2f} s]")

    report.write()
    print(f"\nreport: {out / 'report.md'}")
    return report.results


__all__ = ["STAGES", "STAGE_FUNCS", "run_demo"]
# moved in 0.2 (the clustering stage went to helixkit.graph.demo)
__getattr__ = forward(__name__, "helixkit.graph.demo")
