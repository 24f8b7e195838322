"""Train and evaluate the TrackFormer on the built-in simulation.

``helixkit train trackformer --config cfg.json`` and
``helixkit evaluate trackformer --model run/best.pt``. A config file holds
three optional sections, each checked strictly::

    {"data":  {"n_train_events": 40, "n_val_events": 5, "mu": 50, "seed": 0},
     "model": {"inputs": "r_dphi_z", "targets": "qopt_pz", "loss": "mse"},
     "train": {"epochs": 30, "batch_size": 1024, "lr": 5e-4}}
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import TrainConfig, Trainer, load_json_config, seed_everything


@dataclass
class DataConfig:
    n_train_events: int = 40
    n_val_events: int = 5
    mu: float = 50.0
    seed: int = 0

    def validate(self) -> None:
        for name in ("n_train_events", "n_val_events"):
            if getattr(self, name) < 1:
                msg = f"DataConfig: {name} (={getattr(self, name)}) must be >= 1"
                raise ValueError(msg)
        if self.mu <= 0:
            msg = f"DataConfig: mu (={self.mu}) must be > 0"
            raise ValueError(msg)


def _events(n: int, mu: float, seed: int, first: int) -> list[Any]:
    from ..data import generate_events  # noqa: PLC0415

    return list(generate_events(n, mu=mu, seed=seed, first_event_id=first))


def _tensors(seq: Any) -> tuple[Any, ...]:
    import torch  # noqa: PLC0415

    return (torch.from_numpy(seq.hits), torch.from_numpy(seq.mask),
            torch.from_numpy(seq.targets.astype(np.float32)))


def train_trackformer(config: dict[str, Any], out_dir: str | Path, *, resume: bool = False,
                      progress: bool = True) -> Any:
    """Simulate, build sequences, train with early stopping; returns the best model."""
    from ..models import config_from_dict  # noqa: PLC0415
    from ..models.trackformer import (  # noqa: PLC0415
        TrackFormer, TrackFormerConfig, build_sequences, middle_hit_curvature)

    unknown = sorted(set(config) - {"data", "model", "train"})
    if unknown:
        msg = f"config: unknown section(s) {unknown}; valid: ['data', 'model', 'train']"
        raise ValueError(msg)
    data = config_from_dict(DataConfig, config.get("data", {}), where="config.data")
    mcfg = config_from_dict(TrackFormerConfig, config.get("model", {}), where="config.model")
    tcfg = config_from_dict(TrainConfig, {"progress": progress, **config.get("train", {})},
                            where="config.train")
    seed_everything(tcfg.seed)
    n_tr, n_va = data.n_train_events, data.n_val_events
    train_seq = build_sequences(_events(n_tr, data.mu, data.seed, 0), mcfg, strict_length=False)
    val_seq = build_sequences(_events(n_va, data.mu, data.seed + 1, n_tr), mcfg,
                              strict_length=False)
    targets = train_seq.targets.copy()
    if mcfg.prior == "helix":  # least-squares q/pT = c·κ(three-point), then the residual's scale
        kappa = middle_hit_curvature(train_seq.hits, train_seq.mask)
        if not np.any(kappa):
            msg = "prior='helix': the training tracks have no curvature (all κ = 0)"
            raise ValueError(msg)
        mcfg.prior_coef = float(np.dot(kappa, targets[:, 0]) / np.dot(kappa, kappa))
        targets[:, 0] -= mcfg.prior_coef * kappa
    mcfg.target_mean = [float(v) for v in targets.mean(0)]
    mcfg.target_std = [float(v) for v in targets.std(0) + 1e-12]
    model = TrackFormer(mcfg)
    out = Path(out_dir)
    trainer = Trainer(model, lambda m, b: m.loss(b), tcfg, out)
    if resume:
        trainer.resume(out / "last.pt")
    trainer.fit(_tensors(train_seq), _tensors(val_seq))
    (out / "run_config.json").write_text(json.dumps(
        {"data": asdict(data), "model": asdict(mcfg), "train": asdict(tcfg)}, indent=1))
    return model


def evaluate_trackformer(model: Any, *, n_events: int = 5, mu: float = 50.0, seed: int = 12345,
                         out_dir: str | Path | None = None, n_threads: int = 0) -> dict[str, Any]:
    """Relative pT and q/pT resolution per pT bin: TrackFormer vs Kalman fit vs 3-point helix.

    Residuals are taken on the *same* particles (those that all three methods
    reconstruct); widths by iterative 3σ clipping.
    """
    from .. import fitting  # noqa: PLC0415
    from .._table import format_table  # noqa: PLC0415
    from ..evaluation import binned_resolution, charge_misid_rate  # noqa: PLC0415
    from ..models.trackformer import build_sequences, targets_to_pt, three_point_estimate  # noqa: PLC0415

    events = _events(n_events, mu, seed, 10_000)
    seq = build_sequences(events, model.config, strict_length=False)
    t0 = time.perf_counter()
    pred = model.predict_arrays(seq.hits, seq.mask)
    t_tf = time.perf_counter() - t0
    pt_tf = targets_to_pt(pred, model.config.targets)
    q_tf = np.sign(pred[:, 0]) if model.config.targets != "pt_pz" else seq.q
    b = events[0].geometry.b_field_z
    pt_3p, _ = three_point_estimate(seq.xyz, seq.mask, b)

    # Kalman fit of the same particles (truth tracking, event by event)
    key: dict[tuple[int, int], np.ndarray] = {}
    for k, ev in enumerate(events):
        res = fitting.fit_truth_tracks(ev, min_hits=3, n_threads=n_threads)
        ok = res.status == 0
        key.update({(k, int(p)): v for p, v in zip(res.particle_id[ok], res.params[ok])})
    nan5 = np.full(5, np.nan)
    kf = np.array([key.get((int(e), int(p)), nan5)
                   for e, p in zip(seq.event_index, seq.particle_id)]).reshape(-1, 5)
    pt_kf = np.abs(np.sin(kf[:, 3]) / kf[:, 4])
    common = np.isfinite(pt_kf) & np.isfinite(pt_3p)
    edges = np.array([0.5, 1.0, 2.0, 5.0, 10.0])
    rows, table = [], {}
    for name, ptp in (("trackformer", pt_tf), ("kalman", pt_kf), ("three_point", pt_3p)):
        rel = (ptp[common] - seq.pt[common]) / seq.pt[common]
        qopt_rel = (seq.pt[common] / ptp[common]) - 1.0
        br = binned_resolution(rel, seq.pt[common], edges, min_count=5)
        bq = binned_resolution(qopt_rel, seq.pt[common], edges, min_count=5)
        table[name] = {"pt_rel": br.width.tolist(), "qopt_rel": bq.width.tolist()}
        rows.append([name, *[f"{100 * w:.2f}" for w in br.width],
                     *[f"{100 * w:.2f}" for w in bq.width]])
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    text = format_table(rows, ["method", *[f"pT/pT % {s}" for s in labels],
                               *[f"q/pT % {s}" for s in labels]])
    if model.config.targets == "perigee":
        text += "\n\n" + _perigee_table(seq, pred, kf, common, table)
    results = {
        "n_particles": int(common.sum()), "edges": edges.tolist(), "resolution": table,
        "charge_misid": charge_misid_rate(q_tf, seq.q),
        "tracks_per_second": len(seq) / max(t_tf, 1e-9), "table": text,
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "trackformer_eval.json").write_text(json.dumps(results, indent=1))
        _plot(seq, pt_tf, pt_kf, common, table, edges, out)
    return results


def _perigee_table(seq: Any, pred: np.ndarray, kf: np.ndarray, common: np.ndarray,
                   table: dict[str, Any]) -> str:
    """Widths (iterative 3σ clipping) of d0, z0, φ0, θ residuals: TrackFormer vs Kalman fit.

    Fills ``table["perigee"]`` and returns a text table (all pT, and 1–2 GeV).
    """
    from .._table import format_table  # noqa: PLC0415
    from ..evaluation import clipped_std  # noqa: PLC0415

    from ..models.trackformer import first_hit_phi, perigee_from_targets  # noqa: PLC0415

    truth = seq.perigee
    tf = perigee_from_targets(pred, first_hit_phi(seq.xyz))
    names = [("d0", 1e3, "um"), ("z0", 1e3, "um"), ("phi0", 1e3, "mrad"), ("theta", 1e3, "mrad")]
    rows, out = [], {}
    for method, est in (("trackformer", tf), ("kalman", kf[:, :4])):
        res = est[:, :4] - truth[:, :4]
        res[:, 2] = np.angle(np.exp(1j * res[:, 2]))  # periodic phi
        row = [method]
        for sel_name, sel in (("all", common), ("1-2", common & (seq.pt >= 1) & (seq.pt < 2))):
            for j, (name, scale, _) in enumerate(names):
                w = clipped_std(res[sel, j]) if sel.sum() >= 5 else float("nan")
                out.setdefault(method, {})[f"{name}_{sel_name}"] = w
                row.append(f"{scale * w:.1f}")
        rows.append(row)
    table["perigee"] = out
    headers = ["method"] + [f"{n} [{unit}] {s}" for s in ("all pT", "1-2 GeV") for n, _, unit in names]
    return format_table(rows, headers)


def _plot(seq: Any, pt_tf: np.ndarray, pt_kf: np.ndarray, common: np.ndarray,
          table: dict[str, Any], edges: np.ndarray, out: Path) -> None:
    from ..plots import _pyplot, save_figure  # noqa: PLC0415

    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    bins = np.geomspace(0.5, 10.0, 61)
    counts, _, _ = np.histogram2d(seq.pt[common], pt_tf[common], bins=[bins, bins])
    if counts.max() > 0:  # a LogNorm of an empty histogram has no valid range
        img = a1.pcolormesh(bins, bins, np.ma.masked_equal(counts.T, 0), norm=LogNorm())
        fig.colorbar(img, ax=a1, label="tracks")
    a1.plot([0.5, 10], [0.5, 10], "r--", lw=1)
    a1.set(xlabel="true pT [GeV]", ylabel="TrackFormer pT [GeV]", title="true vs predicted",
           xscale="log", yscale="log")
    centers = 0.5 * (edges[1:] + edges[:-1])
    for name, vals in table.items():
        if "pt_rel" in vals:  # not the perigee table
            a2.plot(centers, 100 * np.asarray(vals["pt_rel"]), "o-", label=name)
    a2.set(xlabel="true pT [GeV]", ylabel="σ(pT)/pT [%] (3σ-clipped)",
           title="relative pT resolution (|η| < 1)")
    a2.set_ylim(bottom=0)
    a2.grid(alpha=0.3)
    a2.legend()
    save_figure(fig, out / "trackformer_resolution.png")


def register(sub: Any) -> None:
    """Add ``train trackformer`` / ``evaluate trackformer`` to the CLI."""
    models = ["trackformer", "gc", "oc", "edge", "noise", "learned_tracking", "track_filter"]
    p = sub.add_parser(
        "train", help="train a model (trackformer, gc, oc, edge, noise, learned_tracking, "
        "track_filter)",
        description="Train on the built-in simulation. trackformer: config sections "
        "data/model/train; gc|oc|edge|noise|learned_tracking|track_filter: see "
        "helixkit.training.learned (learned_tracking trains noise filter -> GC -> OC, or -> "
        "edge classifier with \"method\": \"edge\" [-> track filter with a \"track_filter\" "
        "section], and writes OUT/learned_tracking.pt; track_filter adds a track-candidate "
        "filter to the edge-route model in \"model_checkpoint\" (default: the shipped one)).")
    p.add_argument("model", choices=models)
    p.add_argument("--config", help="JSON config file (sections checked strictly)")
    p.add_argument("--out", default=None, help="run directory (default: runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train_cmd)
    p = sub.add_parser("evaluate", help="evaluate a trained model (trackformer: against the "
                       "Kalman fit; learned_tracking: DM/perfect/LHC, TrackML score, timing)")
    p.add_argument("model", choices=["trackformer", "noise", "learned_tracking"])
    p.add_argument("--checkpoint", default=None,
                   help="model checkpoint (default: the shipped pretrained model)")
    p.add_argument("--events", type=int, default=5)
    p.add_argument("--mu", type=float, default=None,
                   help="pile-up of the test events (default: 50 trackformer, 200 otherwise)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", default=None, help="write JSON + plots here")
    p.add_argument("--threshold", type=float, default=None,
                   help="learned_tracking, edge route: edge-score threshold (default: the "
                        "model's working point)")
    p.add_argument("--linking", choices=["matching", "greedy"], default=None,
                   help="learned_tracking, edge route: track building (default: the model's)")
    p.add_argument("--filter-cut", type=float, default=None,
                   help="learned_tracking with a track filter: dissolve candidates with "
                        "p(good) below this (default: the model's; 0 = no filtering)")
    p.add_argument("--edge-passes", type=int, default=None,
                   help="learned_tracking, edge route: score with only the first N passes of "
                        "the edge classifier (faster; default: all)")
    p.set_defaults(func=_evaluate_cmd)


def _train_cmd(args: Any) -> int:
    if args.model != "trackformer":
        from .learned import train_command  # noqa: PLC0415

        return train_command(args)
    args.out = args.out or "runs/trackformer"
    cfg = load_json_config(args.config) if args.config else {}
    train_trackformer(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"best model: {Path(args.out) / 'best.pt'}")
    return 0


def _evaluate_cmd(args: Any) -> int:
    from ..models import load, pretrained  # noqa: PLC0415

    if args.model != "learned_tracking" and (args.threshold is not None
                                             or args.linking is not None
                                             or args.filter_cut is not None
                                             or args.edge_passes is not None):
        msg = ("--threshold / --linking / --filter-cut / --edge-passes: only for 'evaluate "
               f"learned_tracking', not {args.model}")
        raise ValueError(msg)
    if args.model != "trackformer":
        from .learned import evaluate_command  # noqa: PLC0415

        args.mu = 200.0 if args.mu is None else args.mu
        return evaluate_command(args)
    args.mu = 50.0 if args.mu is None else args.mu
    model = load(args.checkpoint, expect="trackformer") if args.checkpoint else \
        pretrained("trackformer")
    res = evaluate_trackformer(model, n_events=args.events, mu=args.mu, seed=args.seed,
                               out_dir=args.out)
    print(res["table"])
    print(f"charge mis-ID: {res['charge_misid']:.4f}; "
          f"inference: {res['tracks_per_second']:.0f} tracks/s")
    return 0
