"""``helixkit interpret gc|edge|trackformer``: what the shipped models compute.

On simulated events (:func:`helixkit.data.generate_events`): permutation importance
of the inputs and of the neurons of every hidden layer with an objective-dependent
metric, activation maps and symbolic fits of the most important neurons, the
single-neuron MI table and the layer proficiency of each layer for pT, q/pT, η, φ,
d0, z0 of each hit's particle, and the random-variable calibration. Printed, and
written to ``OUT/report.md`` (+ ``report.json`` and PNGs).

This module imports torch (``helixkit.interpret.cli`` loads it when the command runs).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data import Event, generate_events
from ..evaluation import clipped_std
from ..fitting import perigee_from_momenta
from ..graph import graph_metrics, hits_of_interest, knn_graph
from ..learned.batches import edge_batch
from ..learned.gc import GraphConstructionNet
from ..nn.features import EXTRA_FEATURES, FEATURE_NAMES, hit_features
from ..nn.registry import pretrained
from ..trackformer.model import TrackFormer, build_sequences, targets_to_pt
from .activations import plot_activation_map, plot_activation_vs
from .importance import Importance, layer_activations, permutation_importance, permutation_scores
from .mi import layer_proficiency, neuron_mi_table, random_calibration
from .symbolic import symbolic_fit

#: the high-level variables of a hit's particle (per hit / per track)
VARIABLES = ("pt", "qopt", "eta", "phi", "d0", "z0")
TRACKFORMER_INPUTS = ("r", "dphi", "z", "kappa_beam", "kappa_3pt", "cot_theta",
                      "dev_kappa_beam", "dev_kappa_3pt")


@dataclass
class Sample:
    """What a model sees and what it is studied against: the model inputs, the metric
    (``metric(output) -> float``, with its orientation), per-sample positions and
    particle variables."""

    model_name: str
    description: str
    inputs: torch.Tensor
    forward: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]
    metric: Callable[[torch.Tensor, torch.Tensor | None], float]
    metric_name: str
    greater_is_better: bool
    input_names: tuple[str, ...]
    layers: tuple[str, ...]
    # per unit of the activation maps / MI (hits, edge midpoints, track tokens)
    xyz: np.ndarray
    variables: dict[str, np.ndarray]
    unit_rows: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] = field(
        default=lambda acts: acts)
    baseline_extra: dict[str, float] = field(default_factory=dict)
    input_score: Callable[[int, np.ndarray], float] | None = None
    # the units the MI may use (None: all); TrackFormer: one token per track (no duplicates)
    mi_candidates: np.ndarray | None = None
    unit: str = "hits"           # what one row of the activations is
    mi_unit: str = "hits"        # what one row of the MI sample is


def particle_variables(event: Event, rows: np.ndarray) -> dict[str, np.ndarray]:
    """pT [GeV], q/pT [1/GeV], η, φ, d0 [mm], z0 [mm] of the particle of each hit
    ``rows`` (true production vertex and momentum; perigee w.r.t. the z axis)."""
    p = event.particles
    pid = event.hit_particle_id[rows]
    idx = np.searchsorted(p["particle_id"], pid)
    idx = np.clip(idx, 0, len(p["particle_id"]) - 1)
    px, py, pz, q = (np.asarray(p[c], np.float64)[idx] for c in ("px", "py", "pz", "q"))
    pos = np.stack([np.asarray(p[c], np.float64)[idx] for c in ("vx", "vy", "vz")], 1)
    pt = np.hypot(px, py)
    per, _ = perigee_from_momenta(pos, np.stack([px, py, pz], 1), q,
                                  b_field_z=event.geometry.b_field_z)
    per = np.asarray(per, np.float64)
    return {"pt": pt, "qopt": q / pt, "eta": np.arcsinh(pz / pt), "phi": np.arctan2(py, px),
            "d0": per[:, 0], "z0": per[:, 1]}


def _valid(event: Event, rows: np.ndarray) -> np.ndarray:
    """Rows whose hit belongs to a charged particle (not noise)."""
    pid = event.hit_particle_id[rows]
    p = event.particles
    known = np.isin(pid, p["particle_id"]) & (pid > 0)
    idx = np.clip(np.searchsorted(p["particle_id"], pid), 0, len(p["particle_id"]) - 1)
    return known & (np.asarray(p["q"])[idx] != 0)


def _one_per_particle(keys: np.ndarray, seed: int) -> np.ndarray:
    """One random row per distinct key (event, particle), sorted. The MI sample takes one
    hit / edge / token per particle: a particle's variables repeat on all its rows, and its
    rows sit close together in any activation, so duplicated points would inflate the KSG
    estimate with 'information' that only says which particle a hit belongs to."""
    order = np.random.default_rng(seed).permutation(len(keys))
    _, first = np.unique(keys[order], return_index=True)
    return np.sort(order[first])


def _f1(eff: float, pur: float) -> float:
    return 2 * eff * pur / (eff + pur) if eff + pur > 0 else 0.0


# ----------------------------------------------------------------------------- samples


def gc_sample(events: list[Event], max_hits: int, seed: int) -> tuple[GraphConstructionNet, Sample]:
    """The GC embedding on the hits of ``events`` (volumes of the shipped model); metric:
    F1 of edge efficiency and purity of the k = 10 nearest-neighbour graph in the
    embedding, per event (what DBSCAN then clusters)."""
    lt = pretrained("learned_tracking")
    model = lt.gc
    vols = tuple(lt.config.volumes) if lt.config.volumes is not None else None
    feats, xyz, pids, good, variables, offsets, keys = [], [], [], [], [], [0], []
    rng = np.random.default_rng(seed)
    per_event = max(1, max_hits // len(events))
    for ev in events:
        f, rows = hit_features(ev, volumes=vols, extra=tuple(model.config.extra_features))
        keep = np.flatnonzero(_valid(ev, rows))
        if len(keep) > per_event:
            keep = np.sort(rng.choice(keep, per_event, replace=False))
        rows = rows[keep]
        feats.append(f[keep])
        xyz.append(np.stack([np.asarray(ev.hits[c], np.float64)[rows] for c in "xyz"], 1))
        pids.append(ev.hit_particle_id[rows])
        keys.append(len(keys) * (1 << 40) + ev.hit_particle_id[rows].astype(np.int64))
        good.append(hits_of_interest(ev, pt_min=model.config.pt_thld)[rows])
        variables.append(particle_variables(ev, rows))
        offsets.append(offsets[-1] + len(rows))

    def metric_parts(emb: torch.Tensor) -> tuple[float, float]:
        e = emb.numpy()
        eff, pur = [], []
        for k, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
            gm = graph_metrics(knn_graph(np.ascontiguousarray(e[a:b]), 10), pids[k], good[k])
            eff.append(gm.edge_efficiency)
            pur.append(gm.edge_purity)
        return float(np.mean(eff)), float(np.mean(pur))

    def metric(emb: torch.Tensor, _y: torch.Tensor | None) -> float:
        return _f1(*metric_parts(emb))

    x = torch.from_numpy(np.concatenate(feats).astype(np.float32))
    with torch.no_grad():
        eff, pur = metric_parts(model(x))
    n_in = model.config.in_dim
    names = (FEATURE_NAMES + tuple(n for g in model.config.extra_features
                                   for n in EXTRA_FEATURES[g]))[:n_in]
    depth = len(model.blocks)
    return model, Sample(
        "learned_tracking.gc", f"{len(events)} event(s), {len(x):,} hits of charged particles "
        f"in volumes {vols}", x, lambda m, t: m(t), metric,
        "F1 of edge efficiency and purity of the kNN (k = 10) graph of the embedding",
        True, names, ("encoder", *(f"blocks.{i}" for i in range(depth))),
        np.concatenate(xyz), {k: np.concatenate([v[k] for v in variables]) for k in VARIABLES},
        baseline_extra={"edge_efficiency": eff, "edge_purity": pur},
        mi_candidates=_one_per_particle(np.concatenate(keys), seed),
        mi_unit="hits (one per particle)")


#: the pair columns of the edge classifier's inputs (learned.edge._pair_inputs), in order
EDGE_PAIR_INPUTS = ("dr", "dphi", "dz", "deta", "log_length", "emb_distance")
EDGE_CLUSTER_INPUTS = ("align_inner", "align_outer", "dpolar_inner", "dpolar_outer",
                       "cluster_dir_dot")


def _edge_input_names(extra: list[str], pair_dim: int, width: int) -> tuple[str, ...]:
    """Names of the edge inputs: pair columns, then the inner and the outer hit's features
    (x<i> where the layout is not the one these names describe)."""
    pair = EDGE_PAIR_INPUTS + (EDGE_CLUSTER_INPUTS if "cluster" in extra else ())
    hit = FEATURE_NAMES + tuple(n for g in extra for n in EXTRA_FEATURES[g])
    names = (*pair, *(f"inner_{h}" for h in hit), *(f"outer_{h}" for h in hit))
    if len(pair) != pair_dim or len(names) != width:
        return tuple(f"x{i}" for i in range(width))
    return names


def edge_sample(events: list[Event], max_edges: int, seed: int) -> tuple[torch.nn.Module, Sample]:
    """The edge classifier's first scoring pass on the edges of the shipped pipeline's
    graph (GC embedding + doublets, no noise filter); metric: F1 of efficiency and
    purity of the first pass at the model's working-point threshold."""
    lt = pretrained("learned_tracking")
    model = lt.edge
    cfg = model.config
    vols = tuple(lt.config.volumes) if lt.config.volumes is not None else None
    rng = np.random.default_rng(seed)
    xs, ys, xyz, variables, keys = [], [], [], [], []
    per_event = max(1, max_edges // len(events))
    for ev in events:
        x, y, inner, outer, rows = edge_batch(ev, lt.gc, cfg, volumes=vols)
        keep = np.arange(len(x))
        if len(keep) > per_event:
            keep = np.sort(rng.choice(keep, per_event, replace=False))
        xs.append(x[keep])
        ys.append(y[keep])
        hx = np.stack([np.asarray(ev.hits[c], np.float64)[rows] for c in "xyz"], 1)
        xyz.append(0.5 * (hx[inner[keep]] + hx[outer[keep]]))
        # the particle of the inner hit (on true edges that of both)
        ok = _valid(ev, rows[inner[keep]])
        pv = particle_variables(ev, rows[inner[keep]])
        variables.append({k: np.where(ok & y[keep], v, np.nan) for k, v in pv.items()})
        keys.append(len(keys) * (1 << 40)
                    + ev.hit_particle_id[rows[inner[keep]]].astype(np.int64))
    x = torch.from_numpy(np.concatenate(xs).astype(np.float32))
    y = torch.from_numpy(np.concatenate(ys))
    thr = float(cfg.threshold)

    def parts(logit: torch.Tensor) -> tuple[float, float]:
        sel = torch.sigmoid(logit) > thr
        tp = float((sel & y).sum())
        return tp / max(float(y.sum()), 1.0), tp / max(float(sel.sum()), 1.0)

    def metric(logit: torch.Tensor, _y: torch.Tensor | None) -> float:
        return _f1(*parts(logit))

    model.eval()
    model.stage = 1
    with torch.no_grad():
        eff, pur = parts(model(x))
    names = _edge_input_names(cfg.extra_features, cfg.pair_dim, x.shape[1])
    hidden = tuple(f"net.{i}" for i, m in enumerate(model.net) if isinstance(m, torch.nn.Linear))
    return model, Sample(
        "learned_tracking.edge", f"{len(events)} event(s), {len(x):,} edges "
        f"({int(y.sum()):,} true) of the shipped graph", x, lambda m, t: m(t), metric,
        f"F1 of edge efficiency and purity, first pass, threshold {thr:g}", True, names,
        hidden[:-1], np.concatenate(xyz),
        {k: np.concatenate([v[k] for v in variables]) for k in VARIABLES},
        baseline_extra={"efficiency": eff, "purity": pur}, unit="edges (midpoints)",
        mi_candidates=_one_per_particle(np.concatenate(keys), seed),
        mi_unit="true edges (one per particle)")


def trackformer_sample(events: list[Event]) -> tuple[TrackFormer, Sample]:
    """TrackFormer on the truth track sequences of ``events``; metric: relative pT
    resolution (3σ-clipped std of (pT_pred − pT)/pT), lower is better. Activations
    and MI per valid hit token (token layers) or per track (head)."""
    model = copy.deepcopy(pretrained("trackformer")).eval()
    # the encoder's fast path turns padded batches into nested tensors: keep them dense
    model.encoder.enable_nested_tensor = False
    model.encoder.use_nested_tensor = False
    seq = build_sequences(events, model.config, strict_length=False)
    width = max(int(np.flatnonzero(seq.mask.any(0)).max()) + 1, 1)
    hits = torch.from_numpy(np.ascontiguousarray(seq.hits[:, :width], np.float32))
    mask = torch.from_numpy(np.ascontiguousarray(seq.mask[:, :width]))
    pt_true = torch.from_numpy(seq.pt)

    def forward(m: torch.nn.Module, t: torch.Tensor) -> torch.Tensor:
        p = m.physical(m(t, mask), t, mask)
        if p.dim() == 3:
            p = p[..., int(np.argmin(np.abs(np.array(m.config.quantiles) - 0.5)))]
        return torch.from_numpy(targets_to_pt(p.double().numpy(), m.config.targets))

    def metric(pt: torch.Tensor, _y: torch.Tensor | None) -> float:
        return clipped_std(((pt - pt_true) / pt_true).numpy())

    def input_score(j: int, order: np.ndarray) -> float:
        t = hits.clone()
        t[..., j] = hits[torch.from_numpy(order), :, j]
        with torch.no_grad():
            return metric(forward(model, t), None)

    # per-particle variables, from the first hit of each sequence's particle
    pvars: dict[str, list[np.ndarray]] = {k: [] for k in VARIABLES}
    for k, ev in enumerate(events):
        sel = seq.event_index == k
        pid = seq.particle_id[sel]
        order = np.argsort(ev.hit_particle_id, kind="stable")
        pos = np.searchsorted(ev.hit_particle_id[order], pid)
        pv = particle_variables(ev, order[np.clip(pos, 0, len(order) - 1)])
        for name in VARIABLES:
            pvars[name].append(pv[name])
    per_track = {k: np.concatenate(v) for k, v in pvars.items()}
    m = seq.mask[:, :width]
    tok_vars = {k: np.broadcast_to(v[:, None], m.shape)[m] for k, v in per_track.items()}

    track_of_token = np.nonzero(m)[0]

    def unit_rows(acts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # token layers: the valid tokens; the head (one row per track): its track's row
        return {n: (a.reshape(*m.shape, -1)[m] if a.shape[0] == m.size else a[track_of_token])
                for n, a in acts.items()}

    # one random valid token per track for the MI (a track's particle variables repeat
    # on its tokens; duplicated points would break the KSG neighbour counts)
    rng = np.random.default_rng(len(seq))
    starts = np.r_[0, np.cumsum(m.sum(1))[:-1]]
    one_token = starts + (rng.random(len(seq)) * m.sum(1)).astype(np.int64)

    in_names = TRACKFORMER_INPUTS[: hits.shape[-1]]
    sample = Sample(
        "trackformer", f"{len(events)} event(s), {len(seq):,} truth tracks, {int(m.sum()):,} "
        "hit tokens", hits, forward, metric, "relative pT resolution (3σ-clipped std)", False,
        in_names, ("embed", "encoder.layers.0", "encoder.layers.1", "head.0"),
        seq.xyz[:, :width][m], tok_vars, unit_rows=unit_rows, input_score=input_score,
        mi_candidates=one_token[m.sum(1) > 0], unit="hit tokens",
        mi_unit="tracks (one hit token each)")
    sample.baseline_extra = {"tracks": float(len(seq))}
    return model, sample


# ----------------------------------------------------------------------------- report


def _finite_subset(variables: dict[str, np.ndarray], n_max: int, seed: int,
                   candidates: np.ndarray | None) -> np.ndarray:
    ok = np.ones(len(next(iter(variables.values()))), bool)
    for v in variables.values():
        ok &= np.isfinite(v)
    if candidates is not None:
        only = np.zeros_like(ok)
        only[candidates] = True
        ok &= only
    idx = np.flatnonzero(ok)
    if len(idx) > n_max:
        idx = np.sort(np.random.default_rng(seed).choice(idx, n_max, replace=False))
    return idx


def _rank_reduced(a: np.ndarray, max_dims: int = 16) -> np.ndarray:
    """The layer's activations on its leading principal components, at most ``max_dims``
    and only those above 1e-4 of the largest singular value. ``layer_proficiency``
    standardises each component: on a layer of low numerical rank (the GC encoder is a
    linear map of 7 inputs to 128 neurons) the rounding-noise components would become
    unit-variance noise dimensions and drag the KSG estimate down."""
    c = a - a.mean(axis=0)
    _, sv, vt = np.linalg.svd(c, full_matrices=False)
    keep = min(max_dims, int((sv > 1e-4 * sv[0]).sum())) if len(sv) and sv[0] > 0 else 0
    return c @ vt[:keep].T


def _symbolic_variables(xyz: np.ndarray, variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    rho = np.hypot(x, y)
    return {"rho": rho, "z": z, "R": np.hypot(rho, z), "phi_hit": np.arctan2(y, x),
            "theta": np.arctan2(rho, z), "eta_hit": np.arcsinh(z / np.maximum(rho, 1e-6)),
            "pt": variables["pt"], "qopt": variables["qopt"]}


def interpret_model(which: str, *, n_events: int = 2, mu: float = 50.0, seed: int = 2024,
                    out_dir: str | Path = "interpret-output", n_repeats: int = 2,
                    max_units: int = 8000, mi_samples: int = 8000, top: int = 3,
                    torch_threads: int = 1, progress: bool = True) -> dict[str, object]:
    """The interpretability report of one shipped model (``gc``, ``edge`` or
    ``trackformer``); returns the numbers and writes ``report.md``, ``report.json`` and
    PNGs in ``out_dir``.

    ``torch_threads``: torch's intra-op threads during the run (restored after). One by
    default: the thousands of small forward passes of the permutation loop run ~50x
    slower with 2 threads on a busy 2-core machine (threads waiting for each other)."""
    if torch_threads < 1:
        msg = f"torch_threads (={torch_threads}) must be >= 1"
        raise ValueError(msg)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        return _interpret(which, n_events=n_events, mu=mu, seed=seed, out_dir=out_dir,
                          n_repeats=n_repeats, max_units=max_units, mi_samples=mi_samples,
                          top=top, progress=progress)
    finally:
        torch.set_num_threads(old_threads)


def _interpret(which: str, *, n_events: int, mu: float, seed: int, out_dir: str | Path,
               n_repeats: int, max_units: int, mi_samples: int, top: int,
               progress: bool) -> dict[str, object]:
    if which not in ("gc", "edge", "trackformer"):
        msg = f"model (={which!r}) must be one of gc, edge, trackformer"
        raise ValueError(msg)
    for name, value in (("n_events", n_events), ("n_repeats", n_repeats), ("top", top),
                        ("max_units", max_units), ("mi_samples", mi_samples)):
        if value < 1:
            msg = f"{name} (={value}) must be >= 1"
            raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    def say(s: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - t_start:6.1f} s] {s}", flush=True)

    events = list(generate_events(n_events, mu=mu, seed=seed))
    say(f"simulated {n_events} events (mu = {mu:g}, seed {seed})")
    if which == "gc":
        model, s = gc_sample(events, max_units, seed)
    elif which == "edge":
        model, s = edge_sample(events, max_units, seed)
    else:
        model, s = trackformer_sample(events)
    say(f"sample: {s.description}")
    md = [f"# Interpretability report: {s.model_name}", "",
          f"`helixkit interpret {which} --events {n_events} --mu {mu:g} --seed {seed}` "
          f"(permutation repeats {n_repeats}, MI on <= {mi_samples} samples, k = 3)", "",
          f"Sample: {s.description}. Metric: {s.metric_name} "
          f"({'higher' if s.greater_is_better else 'lower'} is better).", ""]
    result: dict[str, object] = {"model": s.model_name, "sample": s.description,
                                 "metric": s.metric_name}

    # 1. permutation importance of the inputs
    if s.input_score is not None:
        with torch.no_grad():
            base = float(s.metric(s.forward(model, s.inputs), None))
        imp_in = permutation_scores(s.input_score, base, len(s.input_names), len(s.inputs),
                                    names=s.input_names, greater_is_better=s.greater_is_better,
                                    n_repeats=n_repeats, random_state=seed)
    else:
        imp_in = permutation_importance(model, s.inputs, None, s.metric, names=s.input_names,
                                        greater_is_better=s.greater_is_better,
                                        n_repeats=n_repeats, random_state=seed,
                                        forward=s.forward)
    extra = ", ".join(f"{k} {v:.4g}" for k, v in s.baseline_extra.items())
    md += ["## Permutation importance of the inputs", "",
           f"Baseline metric {imp_in.baseline:.4g} ({extra}); importance = baseline − "
           "permuted, oriented so that positive = needed.", "", "```", imp_in.table(), "```", ""]
    result["baseline"] = imp_in.baseline
    result["baseline_extra"] = s.baseline_extra
    result["input_importance"] = dict(zip(imp_in.names, imp_in.mean.tolist()))
    say("input importance done")

    # 2. permutation importance of the neurons of each layer
    imps: dict[str, Importance] = {}
    for layer in s.layers:
        imps[layer] = permutation_importance(
            model, s.inputs, None, s.metric, layer=layer, greater_is_better=s.greater_is_better,
            n_repeats=n_repeats, random_state=seed, forward=s.forward)
        say(f"neuron importance of {layer} done")
    ranked = sorted(((float(imp.mean[j]), layer, j) for layer, imp in imps.items()
                     for j in range(len(imp.names))), reverse=True)
    top_neurons = [(layer, j, v) for v, layer, j in ranked[:top]]
    md += ["## Permutation importance of the neurons", "",
           "Most important neurons over all hidden layers (output of the named submodule):", "",
           "| layer | neuron | importance | 95 % CI |", "|---|---|---|---|"]
    for v, layer, j in ranked[:10]:
        lo, hi = imps[layer].interval
        md.append(f"| {layer} | {j} | {v:.4g} | [{lo[j]:.4g}, {hi[j]:.4g}] |")
    md += ["", "Per layer: neurons whose importance exceeds 10 % of the layer's largest, and "
           "the sum of all neuron importances:", "", "| layer | neurons | > 10 % of max | "
           "sum |", "|---|---|---|---|"]
    for layer, imp in imps.items():
        mx = float(imp.mean.max())
        md.append(f"| {layer} | {len(imp.names)} | {int((imp.mean > 0.1 * mx).sum()) if mx > 0 else 0}"
                  f" | {float(imp.mean.sum()):.4g} |")
    md.append("")
    result["top_neurons"] = [{"layer": la, "neuron": j, "importance": v}
                             for la, j, v in top_neurons]

    # 3. activations: maps, symbolic fits, MI
    with torch.no_grad():
        acts = layer_activations(model, s.inputs, list(s.layers), forward=s.forward)
    units = s.unit_rows(acts)
    idx = _finite_subset(s.variables, mi_samples, seed, s.mi_candidates)
    variables = {k: v[idx] for k, v in s.variables.items()}
    sym_vars = _symbolic_variables(s.xyz[idx], variables)
    md += ["## The most important neurons", ""]
    formulas = []
    for rank, (layer, j, v) in enumerate(top_neurons, 1):
        a = units[layer][:, j]
        tag = f"{which}_{layer.replace('.', '')}_n{j}"
        plot_activation_map(a, s.xyz[:, 0], s.xyz[:, 1], s.xyz[:, 2], model=s.model_name,
                            layer=layer, neuron=j, sample=s.description,
                            out=out / f"{tag}_map.png", unit=s.unit)
        hl = {"log10 pT [GeV]": np.log10(variables["pt"]), "q/pT [1/GeV]": variables["qopt"],
              "eta": variables["eta"], "phi": variables["phi"], "d0 [mm]": variables["d0"],
              "z0 [mm]": variables["z0"]}
        plot_activation_vs(a[idx], hl, model=s.model_name, layer=layer, neuron=j,
                           sample=f"{s.description}; the MI sample",
                           out=out / f"{tag}_vs.png", unit=s.mi_unit)
        if a[idx].std() > 0:
            fit = symbolic_fit(a[idx], sym_vars, seed=seed)
            best = fit.best
            formulas.append({"layer": layer, "neuron": j, "formula": best.expression,
                             "r2": best.r2, "complexity": best.complexity})
            md += [f"### {rank}. {layer} neuron {j} (importance {v:.4g})", "",
                   f"![map]({tag}_map.png)", "", f"![vs]({tag}_vs.png)", "",
                   "Symbolic fits (rho, z, R = sqrt(rho² + z²), phi_hit, theta, eta_hit: the "
                   "hit, mm; pt [GeV], qopt: its particle):", "", "```", fit.table(5), "```", ""]
        else:
            md += [f"### {rank}. {layer} neuron {j}: constant on the sample (dead)", ""]
        say(f"maps and symbolic fit of {layer} neuron {j} done")
    result["formulas"] = formulas

    layer_units = {la: a[idx] for la, a in units.items() if len(a) == len(s.xyz)}
    md += ["## Mutual information with the particle's variables (nats, KSG k = 3)", "",
           f"On {len(idx):,} {s.mi_unit}. pt, qopt, eta, phi, d0, z0 of the particle.", ""]
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for la, a in layer_units.items():
        t0 = time.perf_counter()
        tab = neuron_mi_table(a, variables)
        tables[la] = tab.to_dict()
        best_rows = [f"| {c} | " + ", ".join(f"n{r[1:]} {v:.3f}" if r.startswith("n") else
                                             f"{r} {v:.3f}" for r, v in tab.top(c, 3)) + " |"
                     for c in tab.columns]
        md += [f"### Single neurons of {la}: the 3 most informative per variable", "",
               "| variable | neuron MI |", "|---|---|", *best_rows, ""]
        say(f"single-neuron MI of {la} done ({time.perf_counter() - t0:.1f} s)")
    result["neuron_mi"] = tables
    if top_neurons:
        rows = [f"{la}:{j}" for la, j, _ in top_neurons]
        top_tab = neuron_mi_table(np.stack([layer_units[la][:, j] for la, j, _ in top_neurons
                                            if la in layer_units], 1), variables, names=rows)
        md += ["### The most important neurons", "", "```", top_tab.table(), "```", ""]
    prof = layer_proficiency({la: _rank_reduced(a) for la, a in layer_units.items()}, variables)
    cal = random_calibration(variables, seed=seed)
    say("layer proficiency and calibration done")
    md += ["## Layer proficiency (MI of the whole layer, nats)", "",
           "The layer as one variable: its leading principal components, at most 16 and "
           "only those above 1e-4 of the largest singular value (a lower bound when the "
           "layer has more).", "", "```", prof.table(), "```", "",
           "Random-variable calibration (MI of independent random variables with the same "
           "variables, same N: the estimator's noise floor):", "", "```", cal.table(), "```", ""]
    result["proficiency"] = prof.to_dict()
    result["calibration"] = cal.to_dict()
    result["seconds"] = time.perf_counter() - t_start
    md.append(f"Run time {result['seconds']:.0f} s.")
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "report.json").write_text(json.dumps(result, indent=1))
    return {**result, "text": "\n".join(md), "tables": (imp_in, imps, prof, cal)}


def _print_tables(res: dict[str, object]) -> None:
    imp_in, imps, prof, cal = res["tables"]  # type: ignore[misc]
    print(f"{res['model']}: {res['sample']}; metric {res['metric']}, baseline "
          f"{res['baseline']:.4g}")
    print("\ninput importance\n" + imp_in.table())
    for layer, imp in imps.items():
        print(f"\nneuron importance, {layer} (top 5)\n" + imp.table(5))
    for f in res["formulas"]:  # type: ignore[union-attr]
        print(f"\n{f['layer']} neuron {f['neuron']}: {f['formula']}  (R² {f['r2']:.3f})")
    print("\nlayer proficiency (nats)\n" + prof.table())
    print("\nrandom calibration (nats)\n" + cal.table())


def command(args: argparse.Namespace) -> int:
    """The ``helixkit interpret`` handler."""
    res = interpret_model(args.model, n_events=args.events, mu=args.mu, seed=args.seed,
                          out_dir=args.out, n_repeats=args.repeats, max_units=args.max_units,
                          mi_samples=args.mi_samples, top=args.top,
                          torch_threads=args.torch_threads, progress=not args.no_progress)
    _print_tables(res)
    print(f"\nwrote {Path(args.out) / 'report.md'}")
    return 0


__all__ = ["VARIABLES", "Sample", "command", "edge_sample", "gc_sample", "interpret_model",
           "particle_variables", "trackformer_sample"]
