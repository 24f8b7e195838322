"""Graph's ``helixkit demo`` stage: the TrackML DBSCAN clustering baseline."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..data import Event, layer_key
from ..data.sources import Mapper
from ..evaluation import TrackingMetrics, tracking_metrics, trackml_score
from ..report import Report
from ._neighbors import DbscanRescan


def baseline_features(event: Event) -> np.ndarray:
    """The TrackML DBSCAN baseline features: (x/|r3|, y/|r3|, z/r) of every hit, standardised.

    Hits of a high-momentum track from the origin share these values, so
    DBSCAN on them is the classical non-ML clustering baseline.
    """
    x, y, z = (np.asarray(event.hits[c], np.float64) for c in "xyz")
    r3 = np.sqrt(x * x + y * y + z * z)
    r = np.hypot(x, y)
    f = np.stack([x / r3, y / r3, z / np.maximum(r, 1e-9)], axis=1)
    f = (f - f.mean(0)) / np.maximum(f.std(0), 1e-12)
    return f.astype(np.float32)


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """The classical clustering baseline: DBSCAN on :func:`baseline_features`, eps scan."""
    eps_grid = np.array([0.004, 0.006, 0.008, 0.011, 0.015, 0.02])
    rows = []
    best_summary: dict[str, Any] = {}
    t_scan = 0.0
    scores: dict[float, list[float]] = {float(e): [] for e in eps_grid}
    metrics: dict[float, list[TrackingMetrics]] = {float(e): [] for e in eps_grid}
    for ev in events:
        feats = baseline_features(ev)
        pid = ev.hit_particle_id
        key = layer_key(ev)
        t0 = time.perf_counter()
        scan = DbscanRescan(feats, max_eps=float(eps_grid.max()), n_threads=n_threads)
        labels_per_eps = {float(e): scan.labels(float(e), 1) for e in eps_grid}
        t_scan += time.perf_counter() - t0
        for e, labels in labels_per_eps.items():
            metrics[e].append(tracking_metrics(labels, pid, ev.particles, layer_key=key))
            scores[e].append(trackml_score(labels, pid, ev.truth["weight"]))
    for e in eps_grid:
        e = float(e)
        dm = float(np.mean([m.double_majority for m in metrics[e]]))
        rows.append([e, dm, float(np.mean([m.perfect for m in metrics[e]])),
                     float(np.mean([m.lhc for m in metrics[e]])),
                     float(np.mean([m.fake_double_majority for m in metrics[e]])),
                     float(np.mean(scores[e]))])
        if not best_summary or dm > best_summary["double_majority"]:
            best_summary = {"eps": e, "double_majority": dm, "trackml_score": rows[-1][-1]}
    report.table(
        "Clustering baseline: DBSCAN (min_samples=1) on (x/r3, y/r3, z/r), eps scan with one "
        f"neighbour graph per event ({1e3 * t_scan / len(events):.0f} ms/event for all eps), "
        "particles pT > 0.9 GeV",
        rows, ["eps", "DM eff", "perfect eff", "LHC", "fake DM", "TrackML score"],
    )
    report.results["clustering"] = {"scan": rows, "best": best_summary,
                                    "ms_per_event_scan": 1e3 * t_scan / len(events)}


__all__ = ["baseline_features", "demo_stage"]
