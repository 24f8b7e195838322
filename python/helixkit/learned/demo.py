"""Learned tracking's ``helixkit demo`` stage: the shipped model on the demo events."""

from __future__ import annotations

import functools

import numpy as np

from ..data import Event, generate_events
from ..data.sources import InMemoryEvent, Mapper
from ..nn.registry import pretrained
from ..report import Report
from .evaluate import _evaluate_one, evaluate_event

_ROUTE = {"edge": "edge classifier ({passes} passes) -> track building", "oc": "OC GNN -> DBSCAN"}


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """The shipped ``pretrained("learned_tracking")`` on the demo events: DM / perfect / LHC
    efficiencies, fake rate, TrackML score (pixel hits) and the time per stage."""
    model = pretrained("learned_tracking")
    if mapper is None:
        # warm-up on a small event: the numba kernels compile (fresh install) or load their
        # cache on the first call, which is not per-event inference time
        model.find_tracks(next(generate_events(1, mu=5, seed=seed + 1)), n_threads=n_threads)
        results = [evaluate_event(model, ev, n_threads=n_threads) for ev in events]
    else:       # each event where the mapper runs it (a warm-up per process there)
        results = mapper(functools.partial(_evaluate_one, model=model, warm_seed=seed + 1,
                                           binned=False), [InMemoryEvent(ev) for ev in events])
    rows, timing = [], []
    for ev, res in zip(events, results):
        m = res["metrics"]
        timing.append(res["timing"])
        rows.append([ev.event_id, m["n_particles"], m["double_majority"], m["fake_double_majority"],
                     m["perfect"], m["lhc"], m["trackml_score"]])
    ms = {k: 1e3 * float(np.mean([t.get(k, 0.0) for t in timing])) for k in timing[0]}
    stages = ", ".join(f"{k} {v:.0f}" for k, v in ms.items() if k != "total")
    passes = model.edge.config.n_passes if model.edge is not None else 0
    route = _ROUTE[model.method].format(passes=passes)
    if getattr(model, "track_filter", None) is not None:
        route += " -> track filter"
    graph = ("kNN graph + geometric doublets" if model.edge is not None
             and model.edge.config.doublets else "kNN graph")
    report.table(
        "Learned tracking (shipped pretrained('learned_tracking'): noise filter -> GC embedding "
        f"-> {graph} -> {route}; pixel hits, particles pT > 0.9 GeV; "
        f"{ms['total']:.0f} ms/event: {stages})",
        [[r[0], r[1], *(f"{v:.3f}" for v in r[2:])] for r in rows],
        ["event", "particles", "DM eff", "fake DM", "perfect eff", "LHC", "TrackML score "
         "(pixel hits)"],
    )
    report.results["learned"] = {"rows": rows, "ms_per_event": ms}
    # for the classical chain's stage: both kinds of tracking in one table
    report.artifacts["learned_labels"] = [res["labels"] for res in results]
    report.artifacts["learned_volumes"] = model.config.volumes


__all__ = ["demo_stage"]
