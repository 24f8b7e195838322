"""The learned tracking pipeline: noise filter → metric-learning embedding → graph → GNN → DBSCAN,
or noise filter → embedding → graph → edge classifier → track building (``method="edge"``).

``find_tracks(event)`` gives a track label per hit (−1 = none), by default with
the shipped ``pretrained("learned_tracking")`` model. Graph building and
clustering run in helixkit's C++ kernels. Training: :func:`train_gc` (hinge or
InfoNCE embedding), :func:`train_oc` (object-condensation GNN on the GC graph),
:func:`train_edge` (edge classifier), :func:`train_track_filter` (track-candidate filter
of the edge route), :func:`train_noise` (noise-hit classifier); evaluation:
:func:`evaluate_gc`, :func:`evaluate_oc`, :func:`evaluate_edge`,
:func:`evaluate_track_filter`, :func:`evaluate_noise`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .features import feature_columns, hit_features


def _extra(model: Any) -> tuple[str, ...]:
    """The extra hit-feature groups a GC or noise model was trained with."""
    return tuple(getattr(model.config, "extra_features", ()) or ())


def _event_batch(event: Any, volumes: tuple[int, ...] | None, cfg: Any) -> tuple[Any, ...]:
    import torch  # noqa: PLC0415

    from .graph import hits_of_interest  # noqa: PLC0415

    feats, rows = hit_features(event, volumes=volumes, extra=tuple(cfg.extra_features))
    pt_thld = cfg.pt_thld
    pid = event.hit_particle_id[rows]
    oi = hits_of_interest(event, pt_min=pt_thld)[rows]
    return torch.from_numpy(feats), torch.from_numpy(pid.astype(np.int64)), torch.from_numpy(oi)


def train_gc(events: list[Any], val_events: list[Any], gc_config: Any = None,
             train_config: Any = None, out_dir: str | Path | None = None, *,
             volumes: tuple[int, ...] | None = (7, 8, 9)) -> Any:
    """Train the embedding with the hinge loss, one event per step."""
    from .models.gc import GCConfig, GraphConstructionNet, gc_loss  # noqa: PLC0415
    from .training import TrainConfig, Trainer, seed_everything  # noqa: PLC0415

    cfg = gc_config or GCConfig()
    tcfg = train_config or TrainConfig(epochs=10, lr=1e-3, progress=False)
    seed_everything(tcfg.seed)
    model = GraphConstructionNet(cfg)
    train = [_event_batch(ev, volumes, cfg) for ev in events]
    val = [_event_batch(ev, volumes, cfg) for ev in val_events]

    def loss_fn(m: Any, batch: tuple[Any, ...]) -> Any:
        feats, pid, oi = batch
        return gc_loss(m(feats), pid, oi, m.config)[0]

    Trainer(model, loss_fn, tcfg, out_dir).fit(train, val)
    return model


def find_tracks(event: Any, model: Any = None, *, eps: float | None = None,
                min_samples: int | None = None, volumes: tuple[int, ...] | None = (7, 8, 9),
                n_threads: int = 0) -> np.ndarray:
    """Track label per hit of ``event`` (−1 = not in a track or outside the model's volumes).

    ``model``: a :class:`~helixkit.models.learned.LearnedTracking` (default: the
    shipped ``pretrained("learned_tracking")``), or a bare GC embedding model, which
    is clustered directly with DBSCAN (``eps`` default 0.1, ``min_samples`` 1, ``volumes``).
    """
    from .graph import dbscan  # noqa: PLC0415
    from .models import pretrained  # noqa: PLC0415

    if model is None:
        model = pretrained("learned_tracking")
    if hasattr(model, "find_tracks"):
        return model.find_tracks(event, eps=eps, min_samples=min_samples, n_threads=n_threads)
    feats, rows = hit_features(event, volumes=volumes, extra=_extra(model))
    emb = model.embed(feats)
    labels = np.full(event.n_hits, -1, dtype=np.int64)
    labels[rows] = dbscan(emb, 0.1 if eps is None else eps,
                          1 if min_samples is None else min_samples, n_threads=n_threads)
    return labels


def evaluate_gc(model: Any, events: list[Any], *, k: int = 10, max_radius: float | None = None,
                eps_grid: Any = None, min_samples: int = 1,
                volumes: tuple[int, ...] | None = (7, 8, 9), n_threads: int = 0) -> dict[str, Any]:
    """GC figures of merit (kNN graph of the embedding) and tracking metrics of DBSCAN clusters,
    with a DM-guided eps scan on one cached neighbour graph per event; timing breakdown.

    ``eps_grid`` defaults to the scale the loss trains the embedding to: 0.05–0.8 × the
    model's ``r_emb`` (the hinge loss pushes other particles' hits beyond r_emb)."""
    from .evaluation import tracking_metrics  # noqa: PLC0415
    from .graph import DbscanRescan, graph_metrics, hits_of_interest, knn_graph  # noqa: PLC0415

    if eps_grid is None:
        eps_grid = tuple(f * model.config.r_emb for f in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8))
    gc_rows: list[dict[str, float]] = []
    per_eps: dict[float, list[Any]] = {float(e): [] for e in eps_grid}
    t = {"features": 0.0, "embedding": 0.0, "graph": 0.0, "clustering": 0.0}
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes, extra=_extra(model))
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


# --- object condensation -------------------------------------------------------------------


def _layer_key(event: Any, rows: np.ndarray) -> np.ndarray:
    return event.hits["volume_id"][rows].astype(np.int64) * 1000 + event.hits["layer_id"][rows]


def _hit_geometry(event: Any, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """x, y, z (mm) and layer id of the hits ``rows`` (geometric doublets, track filter)."""
    hits = event.hits
    return (*(np.asarray(hits[c], np.float64)[rows] for c in ("x", "y", "z")),
            _layer_key(event, rows))


def _score_labels(event: Any, all_rows: np.ndarray, rows: np.ndarray, labels: np.ndarray,
                  pt_thld: float) -> tuple[Any, float]:
    """Tracking metrics and TrackML score of ``labels`` (for ``rows``) over ``all_rows``, all
    hits of the selected volumes: hits not in ``rows`` (removed as noise) count as unassigned."""
    from .evaluation import trackml_score, tracking_metrics  # noqa: PLC0415

    pid = event.hit_particle_id[all_rows]
    full = np.full(len(all_rows), -1, np.int64)
    full[np.searchsorted(all_rows, rows)] = labels
    m = tracking_metrics(full, pid, event.particles, layer_key=_layer_key(event, all_rows),
                         pt_thld=pt_thld)
    return m, trackml_score(full, pid, event.truth["weight"][all_rows])


def _add_times(t: dict[str, float], stamps: tuple[float, ...], n_grid: int) -> None:
    """Add the intervals between ``stamps`` to the stages of ``t`` in order; the last stage
    ran once per grid point, so it counts one run."""
    dts = np.diff(stamps)
    dts[-1] /= n_grid
    for key, dt in zip(t, dts):
        t[key] += float(dt)


def _score_grid(event: Any, volumes: tuple[int, ...] | None, rows: np.ndarray,
                labels: dict[Any, np.ndarray], pt_thld: float, per: dict[Any, list[Any]],
                scores: dict[Any, list[float]]) -> None:
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


def _metric_row(ms: list[Any], scores: list[float]) -> dict[str, float]:
    return {**{f: float(np.mean([getattr(m, f) for m in ms])) for f in
               ("double_majority", "perfect", "lhc", "fake_double_majority", "fake_perfect",
                "fake_lhc")},
            "trackml_score": float(np.mean(scores))}


def oc_batch(event: Any, gc_model: Any, oc_config: Any, *,
             volumes: tuple[int, ...] | None = (7, 8, 9), noise_model: Any = None,
             n_threads: int = 0) -> tuple[Any, ...]:
    """Inputs of the OC GNN for one event: (node, edge, edge_index, particle_id, of_interest,
    rows); the GC embedding is frozen (computed without gradients)."""
    import torch  # noqa: PLC0415

    from .graph import hits_of_interest  # noqa: PLC0415
    from .models.oc import graph_inputs  # noqa: PLC0415

    feats, rows = hit_features(event, volumes=volumes, extra=_extra(gc_model))
    if noise_model is not None:
        keep = noise_mask(feats, noise_model, n_threads=n_threads)
        feats, rows = feats[keep], rows[keep]
    emb = gc_model.embed(feats)
    node, edge, ei = graph_inputs(feats, emb, oc_config, n_threads=n_threads)
    pid = torch.from_numpy(event.hit_particle_id[rows].astype(np.int64))
    oi = torch.from_numpy(hits_of_interest(event, pt_min=oc_config.pt_thld)[rows])
    return node, edge, ei, pid, oi, rows


def train_oc(events: list[Any], val_events: list[Any], gc_model: Any, oc_config: Any = None,
             train_config: Any = None, out_dir: str | Path | None = None, *,
             volumes: tuple[int, ...] | None = (7, 8, 9), noise_model: Any = None) -> Any:
    """Train the condensation GNN on the (frozen) GC model's graph, one event per step."""
    from .models.oc import CondensationNet, OCConfig, condensation_loss  # noqa: PLC0415
    from .training import TrainConfig, Trainer, seed_everything  # noqa: PLC0415

    d = gc_model.config.out_dim
    cfg = oc_config or OCConfig(emb_dim=d, out_dim=d)
    tcfg = train_config or TrainConfig(epochs=10, lr=1e-3, progress=False)
    seed_everything(tcfg.seed)
    model = CondensationNet(cfg)
    gc_model.eval()
    train = [oc_batch(ev, gc_model, cfg, volumes=volumes, noise_model=noise_model)
             for ev in events]
    val = [oc_batch(ev, gc_model, cfg, volumes=volumes, noise_model=noise_model)
           for ev in val_events]

    def loss_fn(m: Any, batch: tuple[Any, ...]) -> Any:
        node, edge, ei, pid, oi, _ = batch
        beta, x = m(node, edge, ei)
        return condensation_loss(beta, x, pid, oi, m.config)[0]

    Trainer(model, loss_fn, tcfg, out_dir).fit(train, val)
    return model


def evaluate_oc(gc_model: Any, oc_model: Any, events: list[Any], *,
                eps_grid: Any = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8),
                min_samples_grid: Any = (1, 2, 3), volumes: tuple[int, ...] | None = (7, 8, 9),
                noise_model: Any = None, n_threads: int = 0) -> dict[str, Any]:
    """DM / perfect / LHC efficiencies and fake rates (pT > pt_thld) of DBSCAN on the OC
    clustering space over an (eps, min_samples) grid (one cached neighbour graph per event:
    :class:`~helixkit.graph.DbscanRescan`), the best point by DM, the TrackML score there and
    the inference time per event by stage."""
    from .graph import DbscanRescan  # noqa: PLC0415
    from .models.oc import embed_clusters, graph_inputs  # noqa: PLC0415

    grid = [(float(e), int(m)) for e in eps_grid for m in min_samples_grid]
    per: dict[tuple[float, int], list[Any]] = {g: [] for g in grid}
    scores: dict[tuple[float, int], list[float]] = {g: [] for g in grid}
    t = {"features": 0.0, "noise_filter": 0.0, "embedding": 0.0, "graph": 0.0, "gnn": 0.0,
         "clustering": 0.0}
    thld = oc_model.config.pt_thld
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes, extra=_extra(gc_model))
        t1 = time.perf_counter()
        if noise_model is not None:
            keep = noise_mask(feats, noise_model, n_threads=n_threads)
            feats, rows = feats[keep], rows[keep]
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


# --- edge classifier ------------------------------------------------------------------------


def _filter_noise(feats: np.ndarray, rows: np.ndarray, extra: tuple[str, ...], noise_model: Any,
                  n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    if noise_model is None:
        return feats, rows
    cols = feature_columns(extra, _extra(noise_model))
    keep = noise_mask(feats[:, cols], noise_model, n_threads=n_threads)
    return feats[keep], rows[keep]


def edge_batch(event: Any, gc_model: Any, edge_config: Any, *,
               volumes: tuple[int, ...] | None = (7, 8, 9), noise_model: Any = None,
               n_threads: int = 0) -> tuple[np.ndarray, ...]:
    """Edge-classifier inputs of one event: ``(X, y, inner, outer, rows)``; ``y`` marks edges
    between two hits of the same particle (not noise)."""
    from .models.edge import edge_graph, edge_inputs  # noqa: PLC0415

    extra = tuple(edge_config.extra_features)
    feats, rows = hit_features(event, volumes=volumes, extra=extra)
    feats, rows = _filter_noise(feats, rows, extra, noise_model, n_threads)
    emb = gc_model.embed(feats[:, feature_columns(extra, _extra(gc_model))])
    pairs = edge_graph(emb, edge_config, _hit_geometry(event, rows), n_threads=n_threads)
    x, inner, outer = edge_inputs(feats, emb, edge_config, edges=pairs)
    pid = event.hit_particle_id[rows]
    y = (pid[inner] == pid[outer]) & (pid[inner] > 0)
    return x, y, inner, outer, rows


def train_edge(events: list[Any], val_events: list[Any], gc_model: Any, edge_config: Any = None,
               train_config: Any = None, out_dir: str | Path | None = None, *,
               volumes: tuple[int, ...] | None = (7, 8, 9), noise_model: Any = None,
               init: Any = None, stages: tuple[int, ...] | None = None) -> Any:
    """Train the edge classifier on the (frozen) GC model's graph: class-weighted BCE over
    the edges of all events, in shuffled mini-batches of ``train_config.batch_size``; with
    ``refine``, then each refinement pass in turn on the scores of the passes before it
    (same settings; checkpoints of pass 1 in ``out_dir``, of pass 2 in ``out_dir/refine``,
    of pass p > 2 in ``out_dir/refine{p}``). ``init``: a trained classifier to fine-tune, with
    at most ``edge_config``'s passes — its weights and input standardisation are the start
    (e.g. on a graph that ``edge_config.doublets`` widens); a pass p > 2 that ``init`` lacks
    starts as a copy of the (trained) pass before it (same inputs, better scores), a second
    pass that ``init`` lacks and every pass without ``init`` start fresh, standardised on
    their training inputs. ``stages``: the passes to train (default: all, see
    :func:`check_edge_stages`); the others are kept as ``init`` has them — e.g.
    ``(3,)`` adds a third pass to a trained two-pass classifier."""
    import torch  # noqa: PLC0415

    from .models.edge import EdgeClassifier, EdgeConfig  # noqa: PLC0415
    from .training import TrainConfig, Trainer, seed_everything  # noqa: PLC0415

    cfg = edge_config or EdgeConfig(emb_dim=gc_model.config.out_dim)
    tcfg = train_config or TrainConfig(epochs=10, lr=2e-3, batch_size=8192, progress=False)
    n_init = 0 if init is None else init.config.n_passes
    stages = check_edge_stages(cfg, n_init, stages)
    seed_everything(tcfg.seed)
    model = EdgeClassifier(cfg)
    if init is not None:
        _load_edge_init(model, init)
    gc_model.eval()

    def stack(parts: list[tuple[np.ndarray, ...]]) -> tuple[Any, Any]:
        return (torch.from_numpy(np.concatenate([p[0] for p in parts])),
                torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.float32)))

    def pass_data(p: int, batch: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        x, y, i, j = batch[:4]
        if p == 1:
            return x, y
        xp, keep = model.pass_inputs(x, i, j, p)
        return xp, y[keep]

    # each event is reduced to the first trained pass's inputs as it is built; its pair
    # inputs are kept only while a later pass still needs them (views of the pass-1 stack
    # when pass 1 trains)
    order = sorted(stages)
    raw: dict[str, list[Any]] = {"train": [], "val": []}
    data: dict[str, list[Any]] = {"train": [], "val": []}
    for name, evs in (("train", events), ("val", val_events)):
        for ev in evs:
            batch = edge_batch(ev, gc_model, cfg, volumes=volumes, noise_model=noise_model)
            data[name].append(pass_data(order[0], batch))
            if len(order) > 1:
                raw[name].append(batch[:4])
    for p in order:
        if p != order[0]:
            data = {name: [pass_data(p, b) for b in bs] for name, bs in raw.items()}
        full = {name: stack(data[name]) for name in data}
        if p == 1 and len(order) > 1:   # the events become views of the stack: the
            for name, bs in raw.items():  # per-event copies are freed
                start = 0
                for k, b in enumerate(bs):
                    bs[k] = (full[name][0].numpy()[start:start + len(b[0])], *b[1:])
                    start += len(b[0])
        data = {}
        if p == order[-1]:
            raw = {}        # no later pass: the pair inputs (and the pass-1 stack) can go
        frac = float(full["train"][1].mean())
        if not 0 < frac < 1:
            where = "" if p == 1 else f" of pass {p} (after pruning at {cfg.prune})"
            msg = (f"the training graph{where} needs true and false edges, got a true "
                   f"fraction of {frac}")
            raise ValueError(msg)
        if init is not None and p > max(n_init, 2):
            _copy_pass(model, p - 1, p)        # start from the (trained) pass before it
        elif p > n_init:
            model.set_standardisation(full["train"][0].numpy(), stage=p)
        pos_weight = torch.tensor((1 - frac) / frac)

        def loss_fn(m: Any, batch: tuple[Any, ...], pos_weight: Any = pos_weight) -> Any:
            return torch.nn.functional.binary_cross_entropy_with_logits(
                m(batch[0]), batch[1], pos_weight=pos_weight)

        sub = None if out_dir is None else (
            Path(out_dir) if p == 1 else Path(out_dir) / ("refine" if p == 2 else f"refine{p}"))
        model.stage = p
        try:
            Trainer(model, loss_fn, tcfg, sub).fit(full["train"], full["val"])
        finally:
            model.stage = 1
        del full
    return model


def check_edge_stages(cfg: Any, n_init: int | None, stages: Any = None, *,
                      where: str = "stages", init_name: str = "init") -> tuple[int, ...]:
    """The passes ``train_edge`` trains (default: all of ``cfg``'s), checked: a non-empty
    selection of the passes 1..n of ``cfg`` without repeats, and — given the passes
    ``n_init`` of the classifier to start from (0: none; None: not known yet) — every pass
    left out must come trained from it, and it may not have more passes than ``cfg``.
    ``where`` / ``init_name`` name the two in the errors (config keys for a config file)."""
    n_passes = cfg.n_passes
    stages = tuple(range(1, n_passes + 1)) if stages is None else tuple(stages)
    if (not stages or len(set(stages)) != len(stages)
            or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                       and 1 <= p <= n_passes for p in stages)):
        msg = (f"{where} must be a non-empty selection of the passes 1..{n_passes} of the "
               f"edge classifier (refine, refine_passes) without repeats, got {list(stages)}")
        raise ValueError(msg)
    stages = tuple(int(p) for p in stages)
    if n_init is None:
        return stages
    if n_init > n_passes:
        msg = (f"{init_name}: the classifier to fine-tune has {n_init} scoring passes, the "
               f"edge config {n_passes} (set refine_passes to at least {n_init - 1})")
        raise ValueError(msg)
    kept = [p for p in range(1, n_passes + 1) if p not in stages and p > n_init]
    if kept:
        msg = (f"{where}: leaving out passes {kept} needs {init_name} (a trained classifier "
               f"with them; it has {n_init})")
        raise ValueError(msg)
    stale = [p for p in range(min(stages) + 1, n_init + 1) if p not in stages]
    if stale:
        warnings.warn(f"{where}: passes {stale} are kept from {init_name}, but they were "
                      "trained on the scores of passes this run retrains", stacklevel=3)
    return stages


def _copy_pass(model: Any, src: int, dst: int) -> None:
    """Pass ``dst`` of an edge classifier becomes a copy of pass ``src`` (same shapes)."""
    import torch  # noqa: PLC0415

    with torch.no_grad():
        a, b = model.pass_modules(src), model.pass_modules(dst)
        for t, f in zip(b[0].parameters(), a[0].parameters()):
            t.copy_(f)
        b[1].copy_(a[1])
        b[2].copy_(a[2])


def _load_edge_init(model: Any, init: Any) -> None:
    """Start ``model`` from ``init``'s weights (``init`` has at most ``model``'s passes, see
    :func:`check_edge_stages`); the refinement passes ``init`` lacks keep their own
    initialisation (``train_edge`` starts them when it trains them)."""
    n_init = init.config.n_passes
    theirs = init.state_dict()
    if not init.config.refine:      # its unused second-pass standardisation is not a pass
        theirs = {k: v for k, v in theirs.items() if not k.startswith("x2_")}
    err = ""
    try:
        missing, unexpected = model.load_state_dict(theirs, strict=False)
    except RuntimeError as exc:
        err = str(exc)
    else:
        added = {k for p in range(n_init + 1, model.config.n_passes + 1)
                 for k in model.state_dict() if k.startswith((f"net{p}.", f"x{p}_"))}
        if set(missing) - added or unexpected:
            err = f"missing {sorted(set(missing) - added)}, unexpected {sorted(unexpected)}"
    if err:
        msg = (f"init: the classifier to fine-tune does not match edge_config (in_dim, "
               f"hidden_dim, n_hidden, refine, refine_passes, triplet_context): {err}")
        raise ValueError(msg)


def evaluate_edge(gc_model: Any, edge_model: Any, events: list[Any], *,
                  thresholds: Any = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                  volumes: tuple[int, ...] | None = (7, 8, 9), noise_model: Any = None,
                  n_threads: int = 0) -> dict[str, Any]:
    """DM / perfect / LHC efficiencies and fake rates of the edge route over a threshold
    scan, the best threshold by DM, the TrackML score there and the time per event by stage
    (``graph``: kNN graph; ``edge_features``; ``gnn``: edge classifier; ``clustering``: track
    building)."""
    from .models.edge import build_tracks, edge_graph, edge_inputs  # noqa: PLC0415

    cfg = edge_model.config
    extra = tuple(cfg.extra_features)
    thr = [float(x) for x in thresholds]
    per: dict[float, list[Any]] = {x: [] for x in thr}
    scores: dict[float, list[float]] = {x: [] for x in thr}
    t = {"features": 0.0, "noise_filter": 0.0, "embedding": 0.0, "graph": 0.0,
         "edge_features": 0.0, "gnn": 0.0, "clustering": 0.0}
    pt_thld = cfg.pt_thld
    for ev in events:
        t0 = time.perf_counter()
        feats, rows = hit_features(ev, volumes=volumes, extra=extra)
        t1 = time.perf_counter()
        feats, rows = _filter_noise(feats, rows, extra, noise_model, n_threads)
        t2 = time.perf_counter()
        emb = gc_model.embed(feats[:, feature_columns(extra, _extra(gc_model))])
        t3 = time.perf_counter()
        pairs = edge_graph(emb, cfg, _hit_geometry(ev, rows), n_threads=n_threads)
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


# --- track-candidate filter (edge route) --------------------------------------------------

TRACK_FILTER_CUTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def track_filter_batch(model: Any, event: Any) -> dict[str, Any] | None:
    """The unfiltered track candidates of one event under ``model`` (a
    :class:`~helixkit.models.learned.LearnedTracking`, edge route): their features, truth
    (1 = double-majority match), ids and the candidate labels per model hit; None for an
    event too small for the graph."""
    from .models.track_filter import candidate_features, candidate_truth  # noqa: PLC0415

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


def evaluate_track_filter(model: Any, track_filter: Any, batches: list[dict[str, Any]], *,
                          cuts: Any = TRACK_FILTER_CUTS, events: list[Any]) -> dict[str, Any]:
    """Tracking metrics over a scan of the filter's cut (with its repair rounds, see
    :func:`~helixkit.models.track_filter.refine_tracks`) on precomputed
    :func:`track_filter_batch` outputs of ``events``; ``best``: the highest DM efficiency
    among the cuts whose DM fake rate is <= ``track_filter.config.max_fake`` (none: the
    lowest fake rate among the cuts within 1 point of the best DM)."""
    from .models.track_filter import refine_tracks  # noqa: PLC0415

    pt_thld = model.gc.config.pt_thld
    per: dict[float, list[Any]] = {float(c): [] for c in cuts}
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


def train_track_filter(model: Any, events: list[Any], val_events: list[Any],
                       config: Any = None, *, epochs: int = 60, lr: float = 3e-3,
                       batch_size: int = 1024, seed: int = 0,
                       progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """Train a :class:`~helixkit.models.track_filter.TrackFilter` for ``model`` (edge route)
    on the candidates it builds on ``events`` — events its edge classifier was not trained
    on, or the candidates look better than they will at inference — and pick its cut on
    ``val_events``. Returns ``(filter, validation scan)``; attach it with
    ``model.set_track_filter(filter)``."""
    import torch  # noqa: PLC0415
    from tqdm.auto import tqdm  # noqa: PLC0415

    from .models import config_from_dict  # noqa: PLC0415
    from .models.track_filter import TrackFilter, TrackFilterConfig  # noqa: PLC0415

    if getattr(model, "edge", None) is None:
        msg = "model: the track filter needs a learned_tracking model of the edge route"
        raise ValueError(msg)
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if int(v) < 1:
            msg = f"{name}: must be >= 1, got {v}"
            raise ValueError(msg)
    if not lr > 0:
        msg = f"lr: must be > 0, got {lr}"
        raise ValueError(msg)
    if not events or not val_events:
        msg = "events and val_events: need at least one event each"
        raise ValueError(msg)
    cfg = config if isinstance(config, TrackFilterConfig) else config_from_dict(
        TrackFilterConfig, dict(config or {}), where="config.track_filter")
    batches = [track_filter_batch(model, ev) for ev in
               tqdm(events, desc="track candidates", disable=not progress)]
    batches = [b for b in batches if b is not None and len(b["ids"])]
    if not batches:
        msg = "events: no track candidates (events too small)"
        raise ValueError(msg)
    x = np.concatenate([b["features"] for b in batches]).astype(np.float32)
    y = np.concatenate([b["truth"] for b in batches]).astype(np.float32)
    torch.manual_seed(seed)
    tf = TrackFilter(cfg)
    tf.set_standardisation(x)
    opt = torch.optim.Adam(tf.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=epochs * ((len(x) + batch_size - 1) // batch_size))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    tf.train()
    bar = tqdm(range(epochs), desc="training track filter", disable=not progress)
    for _ in bar:
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = loss_fn(tf(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        bar.set_postfix(loss=round(total / len(xt), 4))
    tf.eval()
    val = [track_filter_batch(model, ev) for ev in val_events]
    res = evaluate_track_filter(model, tf, val, events=val_events)
    tf.config.cut = float(res["best"]["cut"])
    res["n_train_candidates"] = len(x)
    res["train_bad_fraction"] = float(1 - y.mean())
    return tf, res


# --- noise classifier ----------------------------------------------------------------------


def noise_mask(features: np.ndarray, noise_model: Any, *, n_threads: int = 0) -> np.ndarray:
    """True for hits the classifier keeps (noise probability below its threshold)."""
    from .models.noise import noise_features  # noqa: PLC0415

    p = noise_model.noise_probability(noise_features(features, n_threads=n_threads))
    return p < noise_model.config.threshold


def _noise_batch(event: Any, volumes: tuple[int, ...] | None,
                 extra: tuple[str, ...] = ()) -> tuple[Any, ...]:
    import torch  # noqa: PLC0415

    from .models.noise import noise_features  # noqa: PLC0415

    feats, rows = hit_features(event, volumes=volumes, extra=extra)
    x = noise_features(feats)
    y = torch.from_numpy(event.hit_particle_id[rows] == 0)
    return torch.from_numpy(x), y


def train_noise(events: list[Any], val_events: list[Any], noise_config: Any = None,
                train_config: Any = None, out_dir: str | Path | None = None, *,
                volumes: tuple[int, ...] | None = (7, 8, 9)) -> Any:
    """Train the noise classifier (one event per step) and set its threshold at the working
    point ``max_fpr`` on the validation events; the checkpoint ``best.pt`` gets the threshold."""
    from .models import save  # noqa: PLC0415
    from .models.noise import NoiseClassifier, NoiseConfig, weighted_bce  # noqa: PLC0415
    from .training import TrainConfig, Trainer, seed_everything  # noqa: PLC0415

    cfg = noise_config or NoiseConfig()
    cfg.volumes = None if volumes is None else list(volumes)
    tcfg = train_config or TrainConfig(epochs=10, lr=1e-3, progress=False)
    seed_everything(tcfg.seed)
    model = NoiseClassifier(cfg)
    train = [_noise_batch(ev, volumes, _extra(model)) for ev in events]
    val = [_noise_batch(ev, volumes, _extra(model)) for ev in val_events]
    for name, batches in (("training", train), ("validation", val)):
        if not any(bool(b[1].any()) for b in batches):
            msg = f"the {name} events have no noise hits in volumes {volumes}"
            raise ValueError(msg)
    Trainer(model, lambda m, b: weighted_bce(m(b[0]), b[1]), tcfg, out_dir).fit(train, val)
    res = evaluate_noise(model, val_events, volumes=volumes)
    model.config.threshold = res["threshold"]
    if out_dir is not None:
        save(model, Path(out_dir) / "best.pt", metrics={k: v for k, v in res.items()
                                                       if isinstance(v, float)})
    return model


def evaluate_noise(model: Any, events: list[Any], *, volumes: Any = "model",
                   max_fpr: float | None = None, out_dir: str | Path | None = None
                   ) -> dict[str, Any]:
    """ROC / AUC of the noise classifier, and the working point: the threshold with
    false-positive rate on real hits <= ``max_fpr`` (default: the model's) and the fraction of
    noise hits it removes; also the rates at the model's own threshold. ``volumes``: default
    the ones the model was trained on."""
    import torch  # noqa: PLC0415

    if isinstance(volumes, str) and volumes == "model":
        volumes = None if model.config.volumes is None else tuple(model.config.volumes)

    from .models.noise import roc_auc, roc_curve, working_point  # noqa: PLC0415

    scores, labels = [], []
    for ev in events:
        x, y = _noise_batch(ev, volumes, _extra(model))
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
        from .plots import _pyplot, save_figure  # noqa: PLC0415

        f, t_, _ = roc_curve(s, y)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(f, t_, "-", label=f"AUC = {res['auc']:.3f}")
        ax.axvline(fpr_max, color="grey", ls=":", label=f"FPR = {fpr_max:g}")
        ax.set(xscale="log", xlim=(1e-4, 1), xlabel="false-positive rate (real hits called noise)",
               ylabel="noise hits removed (TPR)", title="noise classifier ROC")
        ax.legend()
        res["roc_png"] = str(save_figure(fig, Path(out_dir) / "noise_roc.png"))
    return res
