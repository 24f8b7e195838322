"""Training of the learned-tracking stages — :func:`train_gc` (hinge or InfoNCE embedding),
:func:`train_oc` (object-condensation GNN on the GC graph), :func:`train_edge` (edge
classifier), :func:`train_noise` (noise-hit classifier), :func:`train_track_filter`
(track-candidate filter of the edge route) — and of the whole pipeline from a config
(:func:`train_learned`, what ``helixkit train`` runs)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import Event, generate_events
from ..nn.config import config_from_dict
from ..nn.registry import load, pretrained, save
from ..nn.training import TrainConfig, Trainer, is_main_process, seed_everything
from .batches import edge_batch, feature_groups, gc_batch, noise_batch, oc_batch
from .config import LearnedDataConfig, parse_config
from .edge import EdgeClassifier, EdgeConfig, check_edge_stages
from .evaluate import (
    evaluate_edge,
    evaluate_noise,
    evaluate_oc,
    evaluate_track_filter,
    track_filter_batch,
)
from .gc import GCConfig, GraphConstructionNet, gc_loss
from .model import LearnedTracking
from .noise import NoiseClassifier, NoiseConfig, weighted_bce
from .oc import CondensationNet, OCConfig, condensation_loss
from .track_filter import TrackFilter, TrackFilterConfig


def train_gc(events: list[Event], val_events: list[Event], gc_config: GCConfig | None = None,
             train_config: TrainConfig | None = None, out_dir: str | Path | None = None, *,
             volumes: tuple[int, ...] | None = (7, 8, 9)) -> GraphConstructionNet:
    """Train the embedding with the hinge loss, one event per step."""
    cfg = gc_config or GCConfig()
    tcfg = train_config or TrainConfig(epochs=10, lr=1e-3, progress=False)
    seed_everything(tcfg.seed)
    model = GraphConstructionNet(cfg)
    train = [gc_batch(ev, volumes, cfg) for ev in events]
    val = [gc_batch(ev, volumes, cfg) for ev in val_events]

    def loss_fn(m: Any, batch: tuple[Any, ...]) -> Any:
        feats, pid, oi = batch
        return gc_loss(m(feats), pid, oi, m.config)[0]

    Trainer(model, loss_fn, tcfg, out_dir).fit(train, val)
    return model


def train_oc(events: list[Event], val_events: list[Event], gc_model: GraphConstructionNet,
             oc_config: OCConfig | None = None, train_config: TrainConfig | None = None,
             out_dir: str | Path | None = None, *, volumes: tuple[int, ...] | None = (7, 8, 9),
             noise_model: NoiseClassifier | None = None) -> CondensationNet:
    """Train the condensation GNN on the (frozen) GC model's graph, one event per step."""
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


def train_edge(events: list[Event], val_events: list[Event], gc_model: GraphConstructionNet,
               edge_config: EdgeConfig | None = None, train_config: TrainConfig | None = None,
               out_dir: str | Path | None = None, *, volumes: tuple[int, ...] | None = (7, 8, 9),
               noise_model: NoiseClassifier | None = None, init: EdgeClassifier | None = None,
               stages: tuple[int, ...] | None = None) -> EdgeClassifier:
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


def _copy_pass(model: EdgeClassifier, src: int, dst: int) -> None:
    """Pass ``dst`` of an edge classifier becomes a copy of pass ``src`` (same shapes)."""
    with torch.no_grad():
        a, b = model.pass_modules(src), model.pass_modules(dst)
        for t, f in zip(b[0].parameters(), a[0].parameters()):
            t.copy_(f)
        b[1].copy_(a[1])
        b[2].copy_(a[2])


def _load_edge_init(model: EdgeClassifier, init: EdgeClassifier) -> None:
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


def train_track_filter(model: LearnedTracking, events: list[Event], val_events: list[Event],
                       config: TrackFilterConfig | dict[str, Any] | None = None, *,
                       epochs: int = 60, lr: float = 0.003, batch_size: int = 1024, seed: int = 0,
                       progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """Train a :class:`~helixkit.models.track_filter.TrackFilter` for ``model`` (edge route)
    on the candidates it builds on ``events`` — events its edge classifier was not trained
    on, or the candidates look better than they will at inference — and pick its cut on
    ``val_events``. Returns ``(filter, validation scan)``; attach it with
    ``model.set_track_filter(filter)``."""
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


def train_noise(events: list[Event], val_events: list[Event],
                noise_config: NoiseConfig | None = None, train_config: TrainConfig | None = None,
                out_dir: str | Path | None = None, *,
                volumes: tuple[int, ...] | None = (7, 8, 9)) -> NoiseClassifier:
    """Train the noise classifier (one event per step) and set its threshold at the working
    point ``max_fpr`` on the validation events; the checkpoint ``best.pt`` gets the threshold."""
    cfg = noise_config or NoiseConfig()
    cfg.volumes = None if volumes is None else list(volumes)
    tcfg = train_config or TrainConfig(epochs=10, lr=1e-3, progress=False)
    seed_everything(tcfg.seed)
    model = NoiseClassifier(cfg)
    direction = cfg.direction_features
    train = [noise_batch(ev, volumes, feature_groups(model), direction) for ev in events]
    val = [noise_batch(ev, volumes, feature_groups(model), direction) for ev in val_events]
    for name, batches in (("training", train), ("validation", val)):
        if not any(bool(b[1].any()) for b in batches):
            msg = f"the {name} events have no noise hits in volumes {volumes}"
            raise ValueError(msg)
    Trainer(model, lambda m, b: weighted_bce(m(b[0]), b[1]), tcfg, out_dir).fit(train, val)
    res = evaluate_noise(model, val_events, volumes=volumes)
    model.config.threshold = res["threshold"]
    if out_dir is not None and is_main_process():
        save(model, Path(out_dir) / "best.pt", metrics={k: v for k, v in res.items()
                                                       if isinstance(v, float)})
    return model


def _events(data: LearnedDataConfig) -> tuple[list[Event], list[Event]]:
    n_tr = data.n_train_events
    train = list(generate_events(n_tr, mu=data.mu, seed=data.seed))
    val = list(generate_events(data.n_val_events, mu=data.mu, seed=data.seed + 1,
                               first_event_id=n_tr))
    return train, val


def _add_track_filter(full: LearnedTracking, cfg: dict[str, Any], progress: bool,
                      ) -> tuple[dict[str, Any], float]:
    """Train the track-candidate filter for ``full`` on its own events and attach it."""
    data, tcfg = cfg["data"], cfg["track_filter_train"]
    first = data.n_train_events + data.n_val_events
    train = list(generate_events(tcfg.n_train_events, mu=data.mu, seed=data.seed + 2,
                                 first_event_id=first))
    val = list(generate_events(tcfg.n_val_events, mu=data.mu, seed=data.seed + 3,
                               first_event_id=first + tcfg.n_train_events))
    t0 = time.perf_counter()
    tf, res = train_track_filter(
        full, train, val, cfg["track_filter"] or TrackFilterConfig(), epochs=tcfg.epochs,
        lr=tcfg.lr, batch_size=tcfg.batch_size, seed=tcfg.seed, progress=progress)
    full.set_track_filter(tf)
    return res, time.perf_counter() - t0


def _checkpoint_part(path: str, name: str, field: str) -> torch.nn.Module:
    """The ``name`` model (gc, noise, edge) of checkpoint ``path``: a checkpoint of that
    model or the part of a ``learned_tracking`` one (e.g. the shipped bundle)."""
    part = load(path)
    if getattr(part, "model_name", None) == "learned_tracking":
        part = getattr(part, name, None)
    if getattr(part, "model_name", None) != name:
        msg = f"config.{field}: {path} holds no {name} model"
        raise ValueError(msg)
    return part


def train_learned(model: str, config: dict[str, Any], out_dir: str | Path, *,
                  progress: bool = True) -> torch.nn.Module:
    """Train one stage (``gc``, ``oc``, ``noise``), the whole pipeline
    (``learned_tracking``; with a ``track_filter`` section and the edge route, its
    track-candidate filter last) or only the track filter of a trained edge-route model
    (``track_filter``: ``model_checkpoint``, default the shipped model)."""
    if model not in ("gc", "oc", "edge", "noise", "learned_tracking", "track_filter"):
        msg = ("model must be gc, oc, edge, noise, learned_tracking or track_filter, got "
               f"{model!r}")
        raise ValueError(msg)
    cfg = parse_config(config, progress)
    data = cfg["data"]
    if model == "track_filter":
        full = (load(cfg["model_checkpoint"], expect="learned_tracking")
                if cfg["model_checkpoint"] else pretrained("learned_tracking"))
        if full.edge is None:
            msg = "config.model_checkpoint: the track filter needs an edge-route model"
            raise ValueError(msg)
        full.set_track_filter(None)
        res, dt = _add_track_filter(full, cfg, progress)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if is_main_process():
            save(full, out / "learned_tracking.pt",
                 metrics={"validation": res["best"], "timing_s": {"track_filter_s": dt}})
            (out / "run_config.json").write_text(json.dumps(
                {"config": config, "track_filter_validation": res}, indent=1, default=float))
        return full
    vols = None if data.volumes is None else tuple(data.volumes)
    if model in ("oc", "edge") and not cfg["gc_checkpoint"]:
        msg = f"config: 'gc_checkpoint' (a trained gc model) is required to train {model}"
        raise ValueError(msg)
    method = model if model in ("oc", "edge") else cfg["method"]
    if model == "learned_tracking" and cfg["track_filter"] is not None and method != "edge":
        msg = "config.track_filter: needs \"method\": \"edge\" (it judges the edge route's tracks)"
        raise ValueError(msg)
    init = None
    if method == "edge" and cfg["edge_checkpoint"]:     # checked before any event is made
        init = _checkpoint_part(cfg["edge_checkpoint"], "edge", "edge_checkpoint")
        check_edge_stages(cfg["edge"], init.config.n_passes, cfg["edge_stages"],
                                   where="config.edge_stages",
                                   init_name="config.edge_checkpoint")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train, val = _events(data)
    log: dict[str, Any] = {"simulation_s": time.perf_counter() - t0}
    noise_model = gc_model = None
    if model != "noise" and cfg["noise_checkpoint"]:
        noise_model = _checkpoint_part(cfg["noise_checkpoint"], "noise", "noise_checkpoint")
    elif model in ("noise", "learned_tracking") and (model == "noise" or cfg["use_noise_filter"]):
        t0 = time.perf_counter()
        noise_model = train_noise(train, val, cfg["noise"], cfg["noise_train"],
                                           out / "noise", volumes=vols)
        log["noise_s"] = time.perf_counter() - t0
        if model == "noise":
            return noise_model
    if model == "gc" or (model == "learned_tracking" and not cfg["gc_checkpoint"]):
        t0 = time.perf_counter()
        gc_model = train_gc(train, val, cfg["gc"], cfg["gc_train"], out / "gc",
                                     volumes=vols)
        log["gc_s"] = time.perf_counter() - t0
        if model == "gc":
            return gc_model
    if gc_model is None:
        gc_model = _checkpoint_part(cfg["gc_checkpoint"], "gc", "gc_checkpoint")
    t0 = time.perf_counter()
    if method == "edge":
        part = train_edge(train, val, gc_model, cfg["edge"], cfg["edge_train"],
                                   out / "edge", volumes=vols, noise_model=noise_model,
                                   init=init, stages=cfg["edge_stages"])
        log["edge_s"] = time.perf_counter() - t0
        res = evaluate_edge(gc_model, part, val, volumes=vols, noise_model=noise_model)
        part.config.threshold = res["best"]["threshold"]
    else:
        part = train_oc(train, val, gc_model, cfg["oc"], cfg["oc_train"], out / "oc",
                                 volumes=vols, noise_model=noise_model)
        log["oc_s"] = time.perf_counter() - t0
        res = evaluate_oc(gc_model, part, val, volumes=vols, noise_model=noise_model)
    best = res["best"]
    if model in ("oc", "edge"):
        return part
    if method == "edge":
        full = LearnedTracking.from_parts(gc_model, None, noise_model, edge=part, volumes=vols)
        if cfg["track_filter"] is not None:
            tres, log["track_filter_s"] = _add_track_filter(full, cfg, progress)
            res = {**res, "track_filter": tres}
            best = {**tres["best"], "threshold": best["threshold"], "unfiltered": best}
    else:
        full = LearnedTracking.from_parts(gc_model, part, noise_model, eps=best["eps"],
                                          min_samples=best["min_samples"], volumes=vols)
    if is_main_process():        # rank 0 of a distributed training writes
        save(full, out / "learned_tracking.pt", metrics={"validation": best, "timing_s": log})
        (out / "run_config.json").write_text(json.dumps(
            {"config": config, "validation": res, "timing_s": log}, indent=1, default=float))
    return full
