"""Evaluation of the learned-tracking stages and of the assembled pipeline: working-point
scans (DBSCAN eps, edge threshold, track-filter cut), tracking metrics, timing, plots."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .._table import format_table
from ..data import Event, generate_events, layer_key
from ..data.sources import Mapper, simulated_events
from ..evaluation import TrackingMetrics, tracking_metrics, tracking_metrics_binned, trackml_score
from ..graph import DbscanRescan, graph_metrics, hits_of_interest, knn_graph
from ..nn.features import feature_columns, hit_features
from ..plots import pyplot, save_figure
from .batches import feature_groups, filter_noise, hit_geometry, noise_batch
from .edge import EdgeClassifier, build_tracks, edge_graph, edge_inputs
from .gc import GraphConstructionNet
from .model import LearnedTracking
from .noise import NoiseClassifier, roc_auc, roc_curve, working_point
from .oc import CondensationNet, embed_clusters, graph_inputs
from .track_filter import TrackFilter, candidate_features, candidate_truth, refine_tracks

#: the edge-score thresholds evaluate_edge scans
EDGE_THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def evaluate_gc(model: GraphConstructionNet, events: list[Event], *, k: int = 10,
                max_radius: float | None = None, eps_grid: Sequence[float] | None = None,
                min_samples: int = 1, volumes: tuple[int, ...] | None = (7, 8, 9),
                n_threads: int = 0) -> dict[str, Any]:
    """GC figures of merit (kNN graph of the embedding) and tracking metrics of DBSCAN clusters,
    with a DM-guided eps scan on one cached neighbour graph per event; timing breakdown.

    ``eps_grid`` defaults to the scale the loss trains the embedding to: 0.05–0.8 × the
    model's ``r_emb`` (the hinge loss pushes other particles' hits beyond r_emb)."""
    if eps_grid is None:
        eps_grid = tuple(f * model.config.r_emb for f in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8))
    gc_rows: list[dict[str, float]] = []
    per_eps: dict[float, list[TrackingMetrics]] = {float(e): [] for e in eps_grid}
    t = {"features": 0.0, "embedding": 0.0, "graph": 0.0, "clustering": 0.0}
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes, extra=feature_groups(model))
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


def _score_labels(event: Event, all_rows: np.ndarray, rows: np.ndarray, labels: np.ndarray,
                  pt_thld: float) -> tuple[TrackingMetrics, float]:
    """Tracking metrics and TrackML score of ``labels`` (for ``rows``) over ``all_rows``, all
    hits of the selected volumes: hits not in ``rows`` (removed as noise) count as unassigned."""
    pid = event.hit_particle_id[all_rows]
    full = np.full(len(all_rows), -1, np.int64)
    full[np.searchsorted(all_rows, rows)] = labels
    m = tracking_metrics(full, pid, event.particles, layer_key=layer_key(event, all_rows),
                         pt_thld=pt_thld)
    return m, trackml_score(full, pid, event.truth["weight"][all_rows])


def _add_times(t: dict[str, float], stamps: tuple[float, ...], n_grid: int) -> None:
    """Add the intervals between ``stamps`` to the stages of ``t`` in order; the last stage
    ran once per grid point, so it counts one run."""
    dts = np.diff(stamps)
    dts[-1] /= n_grid
    for key, dt in zip(t, dts):
        t[key] += float(dt)


def _score_grid(event: Event, volumes: tuple[int, ...] | None, rows: np.ndarray,
                labels: dict[Any, np.ndarray], pt_thld: float,
                per: dict[Any, list[TrackingMetrics]], scores: dict[Any, list[float]]) -> None:
    _, all_rows = hit_features(event, volumes=volumes)   # the selection, once per event
    for key, lab in labels.items():
        m, sc = _score_labels(event, all_rows, rows, lab, pt_thld)
        per[key].append(m)
        scores[key].append(sc)


def _summary(rows_out: list[dict[str, Any]], t: dict[str, float], n: int) -> dict[str, Any]:
    # the working point: highest DM efficiency; within 0.1 % of it, the lowest DM fake rate
    top = max(r["double_majority"] for r in rows_out)
    best = min((r for r in rows_out if r["double_majority"] >= top - 1e-3),
               key=lambda r: r["fake_double_majority"])
    ms_ev = {key: 1e3 * v / n for key, v in t.items()}
    total = sum(ms_ev.values())
    return {"scan": rows_out, "best": best, "ms_per_event": ms_ev, "ms_total": total,
            "graph_and_clustering_fraction": (ms_ev["graph"] + ms_ev["clustering"]) / total}


def _metric_row(ms: list[TrackingMetrics], scores: list[float]) -> dict[str, float]:
    return {**{f: float(np.mean([getattr(m, f) for m in ms])) for f in
               ("double_majority", "perfect", "lhc", "fake_double_majority", "fake_perfect",
                "fake_lhc")},
            "trackml_score": float(np.mean(scores))}


def evaluate_oc(gc_model: GraphConstructionNet, oc_model: CondensationNet, events: list[Event], *,
                eps_grid: Sequence[float] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8),
                min_samples_grid: Sequence[int] = (1, 2, 3),
                volumes: tuple[int, ...] | None = (7, 8, 9),
                noise_model: NoiseClassifier | None = None, n_threads: int = 0) -> dict[str, Any]:
    """DM / perfect / LHC efficiencies and fake rates (pT > pt_thld) of DBSCAN on the OC
    clustering space over an (eps, min_samples) grid (one cached neighbour graph per event:
    :class:`~helixkit.graph.DbscanRescan`), the best point by DM, the TrackML score there and
    the inference time per event by stage."""
    grid = [(float(e), int(m)) for e in eps_grid for m in min_samples_grid]
    per: dict[tuple[float, int], list[TrackingMetrics]] = {g: [] for g in grid}
    scores: dict[tuple[float, int], list[float]] = {g: [] for g in grid}
    t = {"features": 0.0, "noise_filter": 0.0, "embedding": 0.0, "graph": 0.0, "gnn": 0.0,
         "clustering": 0.0}
    thld = oc_model.config.pt_thld
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes, extra=feature_groups(gc_model))
        t1 = time.perf_counter()
        feats, rows = filter_noise(feats, rows, feature_groups(gc_model), noise_model,
                                   n_threads)
        t2 = time.perf_counter()
        emb = gc_model.embed(feats)
        t3 = time.perf_counter()
        node, edge, ei = graph_inputs(feats, emb, oc_model.config, n_threads=n_threads)
        t4 = time.perf_counter()
        _, x = embed_clusters(oc_model, node, edge, ei)
        t5 = time.perf_counter()
        scan = DbscanRescan(x, max_eps=max(e for e, _ in grid), n_threads=n_threads)
        labs = {g: scan.labels(*g) for g in grid}
        t6 = time.perf_counter()
        _add_times(t, (t0, t1, t2, t3, t4, t5, t6), len(grid))
        _score_grid(ev, volumes, rows, labs, thld, per, scores)
    rows_out = [{"eps": g[0], "min_samples": g[1], **_metric_row(per[g], scores[g])}
                for g in grid]
    return _summary(rows_out, t, len(events))


def evaluate_edge(gc_model: GraphConstructionNet, edge_model: EdgeClassifier, events: list[Event],
                  *, thresholds: Sequence[float] = EDGE_THRESHOLDS,
                  volumes: tuple[int, ...] | None = (7, 8, 9),
                  noise_model: NoiseClassifier | None = None, n_threads: int = 0) -> dict[str, Any]:
    """DM / perfect / LHC efficiencies and fake rates of the edge route over a threshold
    scan, the best threshold by DM, the TrackML score there and the time per event by stage
    (``graph``: kNN graph; ``edge_features``; ``gnn``: edge classifier; ``clustering``: track
    building)."""
    cfg = edge_model.config
    extra = tuple(cfg.extra_features)
    thr = [float(x) for x in thresholds]
    per: dict[float, list[TrackingMetrics]] = {x: [] for x in thr}
    scores: dict[float, list[float]] = {x: [] for x in thr}
    t = {"features": 0.0, "noise_filter": 0.0, "embedding": 0.0, "graph": 0.0,
         "edge_features": 0.0, "gnn": 0.0, "clustering": 0.0}
    pt_thld = cfg.pt_thld
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes, extra=extra)
        t1 = time.perf_counter()
        feats, rows = filter_noise(feats, rows, extra, noise_model, n_threads)
        t2 = time.perf_counter()
        emb = gc_model.embed(feats[:, feature_columns(extra, feature_groups(gc_model))])
        t3 = time.perf_counter()
        pairs = edge_graph(emb, cfg, hit_geometry(ev, rows), n_threads=n_threads)
        t4 = time.perf_counter()
        x, inner, outer = edge_inputs(feats, emb, cfg, edges=pairs)
        t5 = time.perf_counter()
        p = edge_model.score(x, inner, outer)
        t6 = time.perf_counter()
        labs = {x_: build_tracks(p, inner, outer, len(rows), x_, linking=cfg.linking)
                for x_ in thr}
        t7 = time.perf_counter()
        _add_times(t, (t0, t1, t2, t3, t4, t5, t6, t7), len(thr))
        _score_grid(ev, volumes, rows, labs, pt_thld, per, scores)
    rows_out = [{"threshold": x_, **_metric_row(per[x_], scores[x_])} for x_ in thr]
    return _summary(rows_out, t, len(events))

TRACK_FILTER_CUTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def track_filter_batch(model: LearnedTracking, event: Event) -> dict[str, Any] | None:
    """The unfiltered track candidates of one event under ``model`` (a
    :class:`~helixkit.models.learned.LearnedTracking`, edge route): their features, truth
    (1 = double-majority match), ids and the candidate labels per model hit; None for an
    event too small for the graph."""
    cand = model.edge_candidates(event)
    if cand is None:
        return None
    geometry = model.hit_geometry(event, cand["rows"])
    f, ids = candidate_features(cand["labels"], cand["links"], cand["score"], cand["inner"],
                                cand["outer"], cand["threshold"], *geometry)
    vols = None if model.config.volumes is None else tuple(model.config.volumes)
    _, sel = hit_features(event, volumes=vols)
    pid_u, n_hits = np.unique(event.hit_particle_id[sel], return_counts=True)
    y = candidate_truth(cand["labels"], ids, event.hit_particle_id[cand["rows"]],
                        lambda p: n_hits[np.searchsorted(pid_u, p)])
    return {**cand, "features": f, "truth": y, "ids": ids, "all_rows": sel,
            "geometry": geometry}


def evaluate_track_filter(model: LearnedTracking, track_filter: TrackFilter,
                          batches: list[dict[str, Any]], *, cuts: Any = TRACK_FILTER_CUTS,
                          events: list[Event]) -> dict[str, Any]:
    """Tracking metrics over a scan of the filter's cut (with its repair rounds, see
    :func:`~helixkit.models.track_filter.refine_tracks`) on precomputed
    :func:`track_filter_batch` outputs of ``events``; ``best``: the highest DM efficiency
    among the cuts whose DM fake rate is <= ``track_filter.config.max_fake`` (none: the
    lowest fake rate among the cuts within 1 point of the best DM)."""
    pt_thld = model.gc.config.pt_thld
    per: dict[float, list[TrackingMetrics]] = {float(c): [] for c in cuts}
    scores: dict[float, list[float]] = {float(c): [] for c in cuts}
    for ev, b in zip(events, batches):
        if b is None:
            continue
        first = (b["features"], b["ids"], track_filter.probability(b["features"]))
        for c in per:
            lab = refine_tracks(track_filter, b["labels"], b["links"], b["score"], b["inner"],
                                b["outer"], b["threshold"], *b["geometry"], cut=c,
                                linking=model.edge.config.linking, first=first)
            m, sc = _score_labels(ev, b["all_rows"], b["rows"], lab, pt_thld)
            per[c].append(m)
            scores[c].append(sc)
    scan = [{"cut": c, **_metric_row(per[c], scores[c])} for c in per if per[c]]
    if not scan:
        msg = "events: no event large enough for the graph"
        raise ValueError(msg)
    ok = [r for r in scan if r["fake_double_majority"] <= track_filter.config.max_fake]
    if ok:
        best = max(ok, key=lambda r: (r["double_majority"], -r["fake_double_majority"]))
    else:
        top = max(r["double_majority"] for r in scan)
        best = min((r for r in scan if r["double_majority"] >= top - 1e-2),
                   key=lambda r: r["fake_double_majority"])
    return {"scan": scan, "best": best}


def evaluate_noise(model: NoiseClassifier, events: list[Event], *,
                   volumes: tuple[int, ...] | None | Literal['model'] = 'model',
                   max_fpr: float | None = None,
                   out_dir: str | Path | None = None) -> dict[str, Any]:
    """ROC / AUC of the noise classifier, and the working point: the threshold with
    false-positive rate on real hits <= ``max_fpr`` (default: the model's) and the fraction of
    noise hits it removes; also the rates at the model's own threshold. ``volumes``: default
    the ones the model was trained on."""
    if isinstance(volumes, str) and volumes == "model":
        volumes = None if model.config.volumes is None else tuple(model.config.volumes)

    scores, labels = [], []
    for ev in events:
        x, y = noise_batch(ev, volumes, feature_groups(model), model.config.direction_features)
        model.eval()
        with torch.no_grad():
            scores.append(torch.sigmoid(model(x)).numpy())
        labels.append(y.numpy())
    s, y = np.concatenate(scores), np.concatenate(labels)
    fpr_max = model.config.max_fpr if max_fpr is None else float(max_fpr)
    thr, fpr, tpr = working_point(s, y, fpr_max)
    cut = s >= model.config.threshold
    res = {"auc": roc_auc(s, y), "threshold": thr, "fpr": fpr, "noise_removed": tpr,
           "max_fpr": fpr_max, "noise_fraction": float(y.mean()), "n_hits": len(y),
           "model_threshold_fpr": float(cut[~y].mean()),
           "model_threshold_noise_removed": float(cut[y].mean())}
    if out_dir is not None:

        f, t_, _ = roc_curve(s, y)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
        ax.plot(f, t_, "-", label=f"AUC = {res['auc']:.3f}")
        ax.axvline(fpr_max, color="grey", ls=":", label=f"FPR = {fpr_max:g}")
        ax.set(xscale="log", xlim=(1e-4, 1), xlabel="false-positive rate (real hits called noise)",
               ylabel="noise hits removed (TPR)",
               title=f"noise classifier ROC: {len(events)} events, volumes "
                     f"{'all' if volumes is None else list(volumes)}\n{len(y):,} hits, "
                     f"{100 * float(y.mean()):.2f} % noise; at FPR {fpr_max:g}: "
                     f"{100 * tpr:.1f} % of the noise removed")
        ax.legend()
        res["roc_png"] = str(save_figure(fig, Path(out_dir) / "noise_roc.png"))
    return res


def evaluate_event(model: LearnedTracking, event: Event, *, n_threads: int = 0,
                   binned: bool = False) -> dict[str, Any]:
    """Run a :class:`LearnedTracking` on one event and score it on the model's hits.

    Returns ``metrics`` (:class:`~helixkit.evaluation.TrackingMetrics` as a dict plus
    ``trackml_score`` on those hits), ``timing`` (seconds by stage and ``total``), ``labels``
    (the track label of every hit of the event, -1 = none) and, with
    ``binned``, ``binned_pt`` / ``binned_eta`` efficiencies."""
    vols = None if model.config.volumes is None else tuple(model.config.volumes)
    thld = model.gc.config.pt_thld
    t0 = time.perf_counter()
    labels = model.find_tracks(event, n_threads=n_threads)
    timing = {**model.last_timing, "total": time.perf_counter() - t0}
    _, sel = hit_features(event, volumes=vols)
    pid = event.hit_particle_id[sel]
    key = layer_key(event, sel)
    m = tracking_metrics(labels[sel], pid, event.particles, layer_key=key, pt_thld=thld)
    out: dict[str, Any] = {
        "metrics": {**m.as_dict(),
                    "trackml_score": trackml_score(labels[sel], pid, event.truth["weight"][sel])},
        "timing": timing,
        "labels": labels,
    }
    if binned:
        for var in ("pt", "eta"):
            out[f"binned_{var}"] = tracking_metrics_binned(
                labels[sel], pid, event.particles, variable=var, layer_key=key, pt_thld=thld)
    return out


_WARM: set[int] = set()


def _evaluate_one(event: Event, *, n_threads: int, model: LearnedTracking,
                  warm_seed: int, binned: bool = True) -> dict[str, Any]:
    """One event of :func:`evaluate_learned` (where a mapper runs it), after a warm-up
    per process."""
    if id(model) not in _WARM:
        model.find_tracks(next(generate_events(1, mu=5, seed=warm_seed)), n_threads=n_threads)
        _WARM.add(id(model))
    return evaluate_event(model, event, n_threads=n_threads, binned=binned)


def evaluate_learned(model: LearnedTracking, *, n_events: int = 3, mu: float = 200.0,
                     seed: int = 12345, out_dir: str | Path | None = None,
                     n_threads: int = 0, mapper: Mapper | None = None) -> dict[str, Any]:
    """Tracking metrics of a :class:`LearnedTracking` on fresh simulated events (the model's
    own working point), efficiencies vs pT and η, and the time per event by stage.

    ``mapper``: how the events are spread (:mod:`helixkit.data.sources`; e.g. a Dask one from
    :func:`helixkit.distributed.event_mapper`): each event is simulated and evaluated where
    the mapper runs it, with the same metrics as the serial run (default: here, in turn)."""
    if mapper is not None:
        sources = simulated_events(n_events, mu=mu, seed=seed, first_event_id=20_000)
        per_event = mapper(functools.partial(_evaluate_one, model=model, warm_seed=seed + 1),
                           sources)
    else:
        events = list(generate_events(n_events, mu=mu, seed=seed, first_event_id=20_000))
        # warm-up on a small event: numba kernels compile or load their cache on the first
        # call, which is not per-event inference time
        model.find_tracks(next(generate_events(1, mu=5, seed=seed + 1)), n_threads=n_threads)
        per_event = [evaluate_event(model, ev, n_threads=n_threads, binned=True)
                     for ev in events]
    rows = [e["metrics"] for e in per_event]
    timing = [e["timing"] for e in per_event]
    binned_pt = [e["binned_pt"] for e in per_event]
    binned_eta = [e["binned_eta"] for e in per_event]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    ms = {k: 1e3 * float(np.mean([t.get(k, 0.0) for t in timing])) for k in timing[0]}
    stage = {k: v for k, v in ms.items() if k != "total"}
    frac = (stage.get("graph", 0.0) + stage.get("clustering", 0.0)) / max(sum(stage.values()),
                                                                         1e-12)
    text = format_table(
        [[f"{100 * mean['double_majority']:.1f}", f"{100 * mean['fake_double_majority']:.1f}",
          f"{100 * mean['perfect']:.1f}", f"{100 * mean['lhc']:.1f}",
          f"{mean['trackml_score']:.3f}", f"{ms['total']:.0f}"]],
        ["DM eff %", "fake DM %", "perfect %", "LHC %", "TrackML score", "ms/event"])
    text += "\n" + format_table([[k, f"{v:.1f}"] for k, v in stage.items()],
                                ["stage", "ms/event"])
    res = {"metrics": mean, "ms_per_event": ms, "graph_and_clustering_fraction": frac,
           "n_events": n_events, "mu": mu, "table": text,
           "method": model.method, "working_point": (
               {"threshold": model.edge.config.threshold,
                "linking": model.edge.config.linking,
                "edge_passes": model.edge.config.n_passes} if model.edge is not None else
               {"eps": model.config.eps, "min_samples": model.config.min_samples})}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "learned_tracking_eval.json").write_text(json.dumps(res, indent=1))
        _plot_binned(binned_pt, binned_eta, out)
    return res


def _plot_binned(binned_pt: list[dict[str, Any]], binned_eta: list[dict[str, Any]],
                 out: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, binned, xlabel, logx in ((axes[0], binned_pt, "pT [GeV]", True),
                                     (axes[1], binned_eta, "η", False)):
        edges = binned[0]["edges"]
        c = 0.5 * (edges[1:] + edges[:-1])
        n = np.array([b["n_particles"] for b in binned])
        n_sum = n.sum(0)
        for f, mk in (("double_majority", "o"), ("perfect", "s"), ("lhc", "^")):
            vals = np.array([b[f] for b in binned])
            if f == "lhc":   # a fraction of clusters: plain mean over events with particles
                cnt = (n > 0).sum(0)
                v = np.where(n > 0, vals, 0.0).sum(0) / np.where(cnt > 0, cnt, np.nan)
            else:            # a fraction of particles: pool the events
                v = (vals * n).sum(0) / np.where(n_sum > 0, n_sum, np.nan)
            ax.plot(c, v, mk + "-", label=f)
        ax.set(xlabel=xlabel, ylabel="efficiency", ylim=(0, 1.02),
               xscale="log" if logx else "linear")
        ax.legend()
    fig.suptitle("learned tracking: efficiencies (particles pT > 0.9 GeV)")
    return save_figure(fig, out / "learned_tracking_efficiency.png")
