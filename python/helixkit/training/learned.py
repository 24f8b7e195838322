"""Train and evaluate the learned tracking pipeline (GC embedding, OC GNN, noise classifier).

``helixkit train gc|oc|edge|noise|learned_tracking|track_filter --config cfg.json --out DIR`` and
``helixkit evaluate noise|learned_tracking --checkpoint ...``. A config
file holds optional sections, each checked strictly (unknown keys are errors)::

    {"data":  {"n_train_events": 8, "n_val_events": 2, "mu": 200, "seed": 0,
               "volumes": [7, 8, 9]},
     "gc":    {"hidden_dim": 128, "loss": "hinge",
               "extra_features": ["cluster"]},        "gc_train":    {"epochs": 20},
     "oc":    {"hidden_dim": 64},                     "oc_train":    {"epochs": 20},
     "noise": {"hidden_dim": 64},                     "noise_train": {"epochs": 20},
     "use_noise_filter": false, "gc_checkpoint": null, "noise_checkpoint": null}

``train learned_tracking`` trains noise classifier → GC → OC in turn, picks the
DBSCAN working point (eps, min_samples) by double-majority efficiency on the
validation events and writes one ``learned_tracking.pt`` that
``models.load`` / ``models.pretrained("learned_tracking")`` restore. With
``"method": "edge"`` the OC stage is replaced by the edge classifier
(sections ``edge`` / ``edge_train``, see :mod:`helixkit.models.edge`), whose
threshold is picked the same way.

With a ``track_filter`` section (``{}`` for the defaults, see
:mod:`helixkit.models.track_filter`) the edge route ends with a track-candidate filter,
trained on its own events (``track_filter_train``: ``n_train_events`` 6, ``n_val_events``
2, ``epochs``, ``lr``, ``batch_size``, ``seed``) with its cut picked for ``max_fake``;
``train track_filter`` adds one to the edge-route model in ``model_checkpoint`` (default:
the shipped model).

``gc_checkpoint`` / ``noise_checkpoint`` reuse trained stages instead of
training them (``train oc|edge`` needs the GC; with both, ``train
learned_tracking`` trains only the route after the graph), so the last stage
can be studied without paying for the first ones again. ``edge_checkpoint``
starts the edge classifier from trained weights of the same architecture, with at most
its scoring passes (fine-tuning, e.g. on the wider graph of ``"doublets": true``); ``"edge_stages": [2]``
then trains only its second pass, and with ``"refine_passes": 2`` in ``edge``,
``"edge_stages": [3]`` adds a third pass to a trained two-pass classifier. Each of the
three takes a checkpoint of that stage or a ``learned_tracking`` one (the
shipped bundle included), whose part is used.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import TrainConfig, load_json_config
from .trackformer import DataConfig

SECTIONS = ("data", "gc", "gc_train", "oc", "oc_train", "noise", "noise_train",
            "use_noise_filter", "gc_checkpoint", "noise_checkpoint", "method", "edge",
            "edge_train", "track_filter", "track_filter_train", "model_checkpoint",
            "edge_checkpoint", "edge_stages")
EDGE_TRAIN_DEFAULTS = {"lr": 2e-3, "batch_size": 8192, "epochs": 20}


@dataclass
class LearnedDataConfig(DataConfig):
    """Simulated training data: TrackFormer's data section plus the detector volumes used."""

    n_train_events: int = 8
    n_val_events: int = 2
    mu: float = 200.0
    seed: int = 0
    volumes: list[int] | None = field(default_factory=lambda: [7, 8, 9])


@dataclass
class TrackFilterTrainConfig:
    """Training of the track-candidate filter: its own simulated events (seeds ``data.seed``
    + 2 and + 3, never the edge classifier's), then a short full-batch-style MLP fit."""

    n_train_events: int = 6
    n_val_events: int = 2
    epochs: int = 60
    lr: float = 3e-3
    batch_size: int = 1024
    seed: int = 0

    def validate(self) -> None:
        from .._validation import require  # noqa: PLC0415

        for name in ("n_train_events", "n_val_events", "epochs", "batch_size"):
            require(getattr(self, name) >= 1, self, name, "must be >= 1")
        require(self.lr > 0, self, "lr", "must be > 0")


def _parse(config: dict[str, Any], progress: bool) -> dict[str, Any]:
    from ..models import config_from_dict  # noqa: PLC0415
    from ..models.gc import GCConfig  # noqa: PLC0415
    from ..features import n_features  # noqa: PLC0415
    from ..models.edge import EdgeConfig  # noqa: PLC0415
    from ..models.noise import NEIGHBOUR_RANKS, NoiseConfig  # noqa: PLC0415
    from ..models.oc import OCConfig  # noqa: PLC0415
    from ..models.track_filter import TrackFilterConfig  # noqa: PLC0415
    from ..pipeline import check_edge_stages  # noqa: PLC0415

    unknown = sorted(set(config) - set(SECTIONS))
    if unknown:
        msg = f"config: unknown section(s) {unknown}; valid: {list(SECTIONS)}"
        raise ValueError(msg)
    out = {"data": config_from_dict(LearnedDataConfig, config.get("data", {}),
                                    where="config.data")}
    # the extra hit-feature groups (gc.extra_features) set every stage's input width
    gc = dict(config.get("gc", {}))
    extra = gc.get("extra_features", [])
    if not isinstance(extra, list) or not all(isinstance(g, str) for g in extra):
        msg = f"config.gc.extra_features must be a list of strings, got {extra!r}"
        raise ValueError(msg)
    try:
        width = n_features(tuple(extra))
    except ValueError as e:
        raise ValueError(f"config.gc.extra_features: {e}") from None
    out["gc"] = config_from_dict(GCConfig, {"in_dim": width, **gc}, where="config.gc")
    oc = {"emb_dim": out["gc"].out_dim, "out_dim": out["gc"].out_dim, "hit_dim": width,
          **config.get("oc", {})}
    out["oc"] = config_from_dict(OCConfig, oc, where="config.oc")
    noise = {"in_dim": width + len(NEIGHBOUR_RANKS), "extra_features": list(extra),
             **config.get("noise", {})}
    out["noise"] = config_from_dict(NoiseConfig, noise, where="config.noise")
    edge = {"emb_dim": out["gc"].out_dim, "pt_thld": out["gc"].pt_thld, **config.get("edge", {})}
    out["edge"] = config_from_dict(EdgeConfig, edge, where="config.edge")
    for name in ("gc_train", "oc_train", "noise_train", "edge_train"):
        defaults = EDGE_TRAIN_DEFAULTS if name == "edge_train" else {}
        out[name] = config_from_dict(TrainConfig, {"progress": progress, **defaults,
                                                   **config.get(name, {})},
                                     where=f"config.{name}")
    out["method"] = config.get("method", "oc")
    if out["method"] not in ("oc", "edge"):
        msg = f"config.method must be 'oc' or 'edge', got {out['method']!r}"
        raise ValueError(msg)
    out["use_noise_filter"] = bool(config.get("use_noise_filter", False))
    out["track_filter"] = (None if config.get("track_filter") is None else
                           config_from_dict(TrackFilterConfig, config["track_filter"],
                                            where="config.track_filter"))
    out["track_filter_train"] = config_from_dict(
        TrackFilterTrainConfig, config.get("track_filter_train", {}),
        where="config.track_filter_train")
    for name in ("gc_checkpoint", "noise_checkpoint", "model_checkpoint", "edge_checkpoint"):
        out[name] = config.get(name)
        if out[name] is not None and not isinstance(out[name], str):
            msg = f"config.{name} must be a file path or null, got {out[name]!r}"
            raise ValueError(msg)
    stages = config.get("edge_stages")
    if stages is not None and not isinstance(stages, list):
        msg = f"config.edge_stages must be a list of pass numbers, got {stages!r}"
        raise ValueError(msg)
    # with edge_checkpoint, train_learned checks the passes it has before any event is made
    stages = check_edge_stages(out["edge"], None if out["edge_checkpoint"] else 0, stages,
                               where="config.edge_stages", init_name="config.edge_checkpoint")
    out["edge_stages"] = tuple(stages)
    if out["edge_checkpoint"] and out["method"] != "edge":
        msg = "config.edge_checkpoint: needs \"method\": \"edge\" (it starts the edge classifier)"
        raise ValueError(msg)
    if out["noise_checkpoint"] and not out["use_noise_filter"]:
        msg = "config.noise_checkpoint is given but use_noise_filter is false"
        raise ValueError(msg)
    return out


def _events(data: LearnedDataConfig) -> tuple[list[Any], list[Any]]:
    from ..data import generate_events  # noqa: PLC0415

    n_tr = data.n_train_events
    train = list(generate_events(n_tr, mu=data.mu, seed=data.seed))
    val = list(generate_events(data.n_val_events, mu=data.mu, seed=data.seed + 1,
                               first_event_id=n_tr))
    return train, val


def _add_track_filter(full: Any, cfg: dict[str, Any], progress: bool,
                      ) -> tuple[dict[str, Any], float]:
    """Train the track-candidate filter for ``full`` on its own events and attach it."""
    from .. import pipeline  # noqa: PLC0415
    from ..data import generate_events  # noqa: PLC0415
    from ..models.track_filter import TrackFilterConfig  # noqa: PLC0415

    data, tcfg = cfg["data"], cfg["track_filter_train"]
    first = data.n_train_events + data.n_val_events
    train = list(generate_events(tcfg.n_train_events, mu=data.mu, seed=data.seed + 2,
                                 first_event_id=first))
    val = list(generate_events(tcfg.n_val_events, mu=data.mu, seed=data.seed + 3,
                               first_event_id=first + tcfg.n_train_events))
    t0 = time.perf_counter()
    tf, res = pipeline.train_track_filter(
        full, train, val, cfg["track_filter"] or TrackFilterConfig(), epochs=tcfg.epochs,
        lr=tcfg.lr, batch_size=tcfg.batch_size, seed=tcfg.seed, progress=progress)
    full.set_track_filter(tf)
    return res, time.perf_counter() - t0


def _checkpoint_part(path: str, name: str, field: str) -> Any:
    """The ``name`` model (gc, noise, edge) of checkpoint ``path``: a checkpoint of that
    model or the part of a ``learned_tracking`` one (e.g. the shipped bundle)."""
    from ..models import load  # noqa: PLC0415

    part = load(path)
    if getattr(part, "model_name", None) == "learned_tracking":
        part = getattr(part, name, None)
    if getattr(part, "model_name", None) != name:
        msg = f"config.{field}: {path} holds no {name} model"
        raise ValueError(msg)
    return part


def train_learned(model: str, config: dict[str, Any], out_dir: str | Path, *,
                  progress: bool = True) -> Any:
    """Train one stage (``gc``, ``oc``, ``noise``), the whole pipeline
    (``learned_tracking``; with a ``track_filter`` section and the edge route, its
    track-candidate filter last) or only the track filter of a trained edge-route model
    (``track_filter``: ``model_checkpoint``, default the shipped model)."""
    from .. import pipeline  # noqa: PLC0415
    from ..models import load, pretrained, save  # noqa: PLC0415
    from ..models.learned import LearnedTracking  # noqa: PLC0415

    if model not in ("gc", "oc", "edge", "noise", "learned_tracking", "track_filter"):
        msg = ("model must be gc, oc, edge, noise, learned_tracking or track_filter, got "
               f"{model!r}")
        raise ValueError(msg)
    cfg = _parse(config, progress)
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
        pipeline.check_edge_stages(cfg["edge"], init.config.n_passes, cfg["edge_stages"],
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
        noise_model = pipeline.train_noise(train, val, cfg["noise"], cfg["noise_train"],
                                           out / "noise", volumes=vols)
        log["noise_s"] = time.perf_counter() - t0
        if model == "noise":
            return noise_model
    if model == "gc" or (model == "learned_tracking" and not cfg["gc_checkpoint"]):
        t0 = time.perf_counter()
        gc_model = pipeline.train_gc(train, val, cfg["gc"], cfg["gc_train"], out / "gc",
                                     volumes=vols)
        log["gc_s"] = time.perf_counter() - t0
        if model == "gc":
            return gc_model
    if gc_model is None:
        gc_model = _checkpoint_part(cfg["gc_checkpoint"], "gc", "gc_checkpoint")
    t0 = time.perf_counter()
    if method == "edge":
        part = pipeline.train_edge(train, val, gc_model, cfg["edge"], cfg["edge_train"],
                                   out / "edge", volumes=vols, noise_model=noise_model,
                                   init=init, stages=cfg["edge_stages"])
        log["edge_s"] = time.perf_counter() - t0
        res = pipeline.evaluate_edge(gc_model, part, val, volumes=vols, noise_model=noise_model)
        part.config.threshold = res["best"]["threshold"]
    else:
        part = pipeline.train_oc(train, val, gc_model, cfg["oc"], cfg["oc_train"], out / "oc",
                                 volumes=vols, noise_model=noise_model)
        log["oc_s"] = time.perf_counter() - t0
        res = pipeline.evaluate_oc(gc_model, part, val, volumes=vols, noise_model=noise_model)
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
    save(full, out / "learned_tracking.pt", metrics={"validation": best, "timing_s": log})
    (out / "run_config.json").write_text(json.dumps(
        {"config": config, "validation": res, "timing_s": log}, indent=1, default=float))
    return full


def evaluate_event(model: Any, event: Any, *, n_threads: int = 0,
                   binned: bool = False) -> dict[str, Any]:
    """Run a :class:`LearnedTracking` on one event and score it on the model's hits.

    Returns ``metrics`` (:class:`~helixkit.evaluation.TrackingMetrics` as a dict plus
    ``trackml_score`` on those hits), ``timing`` (seconds by stage and ``total``) and, with
    ``binned``, ``binned_pt`` / ``binned_eta`` efficiencies."""
    from ..evaluation import trackml_score, tracking_metrics, tracking_metrics_binned  # noqa: PLC0415
    from .. import pipeline  # noqa: PLC0415
    from ..features import hit_features  # noqa: PLC0415

    vols = None if model.config.volumes is None else tuple(model.config.volumes)
    thld = model.gc.config.pt_thld
    t0 = time.perf_counter()
    labels = model.find_tracks(event, n_threads=n_threads)
    timing = {**model.last_timing, "total": time.perf_counter() - t0}
    _, sel = hit_features(event, volumes=vols)
    pid = event.hit_particle_id[sel]
    key = pipeline._layer_key(event, sel)
    m = tracking_metrics(labels[sel], pid, event.particles, layer_key=key, pt_thld=thld)
    out: dict[str, Any] = {
        "metrics": {**m.as_dict(),
                    "trackml_score": trackml_score(labels[sel], pid, event.truth["weight"][sel])},
        "timing": timing,
    }
    if binned:
        for var in ("pt", "eta"):
            out[f"binned_{var}"] = tracking_metrics_binned(
                labels[sel], pid, event.particles, variable=var, layer_key=key, pt_thld=thld)
    return out


def evaluate_learned(model: Any, *, n_events: int = 3, mu: float = 200.0, seed: int = 12345,
                     out_dir: str | Path | None = None, n_threads: int = 0) -> dict[str, Any]:
    """Tracking metrics of a :class:`LearnedTracking` on fresh simulated events (the model's
    own working point), efficiencies vs pT and η, and the time per event by stage."""
    from .._table import format_table  # noqa: PLC0415
    from ..data import generate_events  # noqa: PLC0415

    events = list(generate_events(n_events, mu=mu, seed=seed, first_event_id=20_000))
    # warm-up on a small event: numba kernels compile or load their cache on the first call,
    # which is not per-event inference time
    model.find_tracks(next(generate_events(1, mu=5, seed=seed + 1)), n_threads=n_threads)
    per_event = [evaluate_event(model, ev, n_threads=n_threads, binned=True) for ev in events]
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
    from ..plots import _pyplot, save_figure  # noqa: PLC0415

    plt = _pyplot()
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


def train_command(args: Any) -> int:
    cfg = load_json_config(args.config) if args.config else {}
    out = args.out or f"runs/{args.model}"
    train_learned(args.model, cfg, out, progress=not args.no_progress)
    print(f"wrote {out}")
    return 0


def evaluate_command(args: Any) -> int:
    from ..models import load, pretrained  # noqa: PLC0415

    if args.model == "noise":
        return _evaluate_noise(args)
    if args.model != "learned_tracking":
        msg = (f"evaluate {args.model}: run 'helixkit evaluate learned_tracking' with a "
               "checkpoint holding the stage, or use helixkit.pipeline.evaluate_gc / evaluate_oc")
        raise ValueError(msg)
    model = load(args.checkpoint, expect="learned_tracking") if args.checkpoint else \
        pretrained("learned_tracking")
    if args.edge_passes is not None:
        try:
            model = model.with_edge_passes(args.edge_passes)
        except ValueError as exc:
            raise ValueError(f"--edge-passes: {exc}") from None
    if args.threshold is not None or args.linking is not None:
        if model.edge is None:
            msg = "--threshold / --linking: only for the edge route (this model uses OC + DBSCAN)"
            raise ValueError(msg)
        cfg = model.edge.config
        if args.threshold is not None:
            cfg.threshold = float(args.threshold)
        if args.linking is not None:
            cfg.linking = args.linking
        cfg.validate()
    if args.filter_cut is not None:
        if model.track_filter is None:
            msg = "--filter-cut: this model has no track filter"
            raise ValueError(msg)
        model.track_filter.config.cut = float(args.filter_cut)
        model.track_filter.config.validate()
    res = evaluate_learned(model, n_events=args.events, mu=args.mu, seed=args.seed,
                           out_dir=args.out)
    print(res["table"])
    print(f"graph building + clustering: {100 * res['graph_and_clustering_fraction']:.1f} % "
          "of inference time")
    return 0


def _evaluate_noise(args: Any) -> int:
    from .. import pipeline  # noqa: PLC0415
    from ..data import generate_events  # noqa: PLC0415
    from ..models import load  # noqa: PLC0415

    if not args.checkpoint:
        msg = "evaluate noise needs --checkpoint (a trained noise model)"
        raise ValueError(msg)
    model = load(args.checkpoint, expect="noise")
    events = list(generate_events(args.events, mu=args.mu, seed=args.seed,
                                  first_event_id=20_000))
    res = pipeline.evaluate_noise(model, events, out_dir=args.out)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, str)}, indent=1))
    return 0


__all__ = ["LearnedDataConfig", "TrackFilterTrainConfig", "evaluate_event", "evaluate_learned", "train_learned"]

