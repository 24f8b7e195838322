"""The learned tracking pipeline: features → metric-learning embedding → graph → DBSCAN.

``find_tracks(event)`` gives a track label per hit (−1 = none). Graph building
and clustering run in helixkit's C++ kernels; the embedding network is the
:class:`helixkit.models.gc.GraphConstructionNet`.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .features import hit_features


def _event_batch(event: Any, volumes: tuple[int, ...] | None, pt_thld: float) -> tuple[Any, ...]:
    import torch  # noqa: PLC0415

    from .graph import hits_of_interest  # noqa: PLC0415

    feats, rows = hit_features(event, volumes=volumes)
    pid = event.hit_particle_id[rows]
    oi = hits_of_interest(event, pt_min=pt_thld)[rows]
    return torch.from_numpy(feats), torch.from_numpy(pid.astype(np.int64)), torch.from_numpy(oi)


def train_gc(events: list[Any], val_events: list[Any], gc_config: Any = None,
             train_config: Any = None, out_dir: str | Path | None = None, *,
             volumes: tuple[int, ...] | None = (7, 8, 9)) -> Any:
    """Train the embedding with the hinge loss, one event per step."""
    from .models.gc import GCConfig, GraphConstructionNet, hinge_loss  # noqa: PLC0415
    from .training import TrainConfig, Trainer, seed_everything  # noqa: PLC0415

    cfg = gc_config or GCConfig()
    tcfg = train_config or TrainConfig(epochs=10, lr=1e-3, progress=False)
    seed_everything(tcfg.seed)
    model = GraphConstructionNet(cfg)
    train = [_event_batch(ev, volumes, cfg.pt_thld) for ev in events]
    val = [_event_batch(ev, volumes, cfg.pt_thld) for ev in val_events]

    def loss_fn(m: Any, batch: tuple[Any, ...]) -> Any:
        feats, pid, oi = batch
        return hinge_loss(m(feats), pid, oi, m.config)[0]

    Trainer(model, loss_fn, tcfg, out_dir).fit(train, val)
    return model


def find_tracks(event: Any, model: Any, *, eps: float = 0.1, min_samples: int = 1,
                volumes: tuple[int, ...] | None = (7, 8, 9), n_threads: int = 0) -> np.ndarray:
    """Track label per hit of ``event`` (−1 = not in a track or outside ``volumes``)."""
    from .graph import dbscan  # noqa: PLC0415

    feats, rows = hit_features(event, volumes=volumes)
    emb = model.embed(feats)
    labels = np.full(event.n_hits, -1, dtype=np.int64)
    labels[rows] = dbscan(emb, eps, min_samples, n_threads=n_threads)
    return labels


def evaluate_gc(model: Any, events: list[Any], *, k: int = 10, max_radius: float | None = None,
                eps_grid: Any = (0.005, 0.01, 0.02, 0.05, 0.1), min_samples: int = 1,
                volumes: tuple[int, ...] | None = (7, 8, 9), n_threads: int = 0) -> dict[str, Any]:
    """GC figures of merit (kNN graph of the embedding) and tracking metrics of DBSCAN clusters,
    with a DM-guided eps scan on one cached neighbour graph per event; timing breakdown."""
    from .evaluation import tracking_metrics  # noqa: PLC0415
    from .graph import DbscanRescan, graph_metrics, hits_of_interest, knn_graph  # noqa: PLC0415

    gc_rows: list[dict[str, float]] = []
    per_eps: dict[float, list[Any]] = {float(e): [] for e in eps_grid}
    t = {"features": 0.0, "embedding": 0.0, "graph": 0.0, "clustering": 0.0}
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes)
        t1 = time.perf_counter()
        emb = model.embed(feats)
        t2 = time.perf_counter()
        ei = knn_graph(emb, k, max_radius=max_radius, n_threads=n_threads)
        t3 = time.perf_counter()
        scan = DbscanRescan(emb, max_eps=float(max(eps_grid)), n_threads=n_threads)
        labs = {e: scan.labels(e, min_samples) for e in per_eps}
        t4 = time.perf_counter()
        t["features"] += t1 - t0
        t["embedding"] += t2 - t1
        t["graph"] += t3 - t2
        t["clustering"] += (t4 - t3) / len(per_eps)
        pid = ev.hit_particle_id[rows]
        good = hits_of_interest(ev, pt_min=model.config.pt_thld)[rows]
        gc_rows.append(graph_metrics(ei, pid, good).as_dict())
        key = ev.hits["volume_id"][rows].astype(np.int64) * 1000 + ev.hits["layer_id"][rows]
        for e, lab in labs.items():
            per_eps[e].append(tracking_metrics(lab, pid, ev.particles, layer_key=key,
                                               pt_thld=model.config.pt_thld))
    gc = {key: float(np.mean([r[key] for r in gc_rows])) for key in gc_rows[0]}
    scan_rows = []
    for e, ms in per_eps.items():
        scan_rows.append({"eps": e, **{f: float(np.mean([getattr(m, f) for m in ms])) for f in
                                      ("double_majority", "perfect", "lhc",
                                       "fake_double_majority")}})
    best = max(scan_rows, key=lambda r: r["double_majority"])
    n = len(events)
    return {"gc": gc, "k": k, "scan": scan_rows, "best": best,
            "ms_per_event": {key: 1e3 * v / n for key, v in t.items()}}


def gc_config_dict(model: Any) -> dict[str, Any]:
    return asdict(model.config)
