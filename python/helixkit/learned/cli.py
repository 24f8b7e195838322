"""``helixkit train gc|oc|edge|noise|learned_tracking|track_filter`` and ``helixkit evaluate
noise|learned_tracking``: the learned-tracking system's part of the CLI.

Only argparse at import time (``helixkit --help`` must not import torch); each handler
imports the system when it runs.
"""

from __future__ import annotations

import argparse
import json

from .._commands import SystemCommands

TRAIN_MODELS = ("gc", "oc", "edge", "noise", "learned_tracking", "track_filter")
EVALUATE_MODELS = ("noise", "learned_tracking")


def train_command(args: argparse.Namespace) -> int:
    """``helixkit train <stage> --config FILE --out DIR`` (see :mod:`helixkit.learned.config`)."""
    from ..nn.config import load_json_config  # noqa: PLC0415
    from .train import train_learned  # noqa: PLC0415

    cfg = load_json_config(args.config) if args.config else {}
    out = args.out or f"runs/{args.model}"
    train_learned(args.model, cfg, out, progress=not args.no_progress)
    print(f"wrote {out}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """``helixkit evaluate learned_tracking|noise``: tracking metrics and timing at the model's
    working point (or the one the options move it to)."""
    from ..nn.registry import load, pretrained  # noqa: PLC0415
    from .evaluate import evaluate_learned  # noqa: PLC0415

    if args.model == "noise":
        return _evaluate_noise(args)
    if args.model != "learned_tracking":
        msg = (f"evaluate {args.model}: run 'helixkit evaluate learned_tracking' with a "
               "checkpoint holding the stage, or use helixkit.learned.evaluate_gc / evaluate_oc")
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
                           out_dir=args.out, mapper=getattr(args, "mapper", None))
    print(res["table"])
    print(f"graph building + clustering: {100 * res['graph_and_clustering_fraction']:.1f} % "
          "of inference time")
    return 0


def _evaluate_noise(args: argparse.Namespace) -> int:
    from ..data import generate_events, simulated_events  # noqa: PLC0415
    from ..data.sources import event_itself  # noqa: PLC0415
    from ..nn.registry import load  # noqa: PLC0415
    from .evaluate import evaluate_noise  # noqa: PLC0415

    if not args.checkpoint:
        msg = "evaluate noise needs --checkpoint (a trained noise model)"
        raise ValueError(msg)
    model = load(args.checkpoint, expect="noise")
    mapper = getattr(args, "mapper", None)
    if mapper is None:
        events = list(generate_events(args.events, mu=args.mu, seed=args.seed,
                                      first_event_id=20_000))
    else:       # simulated where the mapper runs
        events = mapper(event_itself, simulated_events(args.events, mu=args.mu, seed=args.seed,
                                                 first_event_id=20_000))
    res = evaluate_noise(model, events, out_dir=args.out)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, str)}, indent=1))
    return 0


def _evaluate_options(p: argparse.ArgumentParser) -> list[tuple[str, str]]:
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
    return [("--threshold", "threshold"), ("--linking", "linking"),
            ("--filter-cut", "filter_cut"), ("--edge-passes", "edge_passes")]


COMMANDS = SystemCommands(
    train_models=TRAIN_MODELS,
    train_help="gc|oc|edge|noise|learned_tracking|track_filter: see helixkit.learned.config "
    "(learned_tracking trains noise filter -> GC -> OC, or -> edge classifier with "
    "\"method\": \"edge\" [-> track filter with a \"track_filter\" section], and writes "
    "OUT/learned_tracking.pt; track_filter adds a track-candidate filter to the edge-route "
    "model in \"model_checkpoint\" (default: the shipped one))",
    train=train_command,
    evaluate_models=EVALUATE_MODELS,
    evaluate_help="learned_tracking: DM/perfect/LHC, TrackML score, timing",
    evaluate_mu=200.0,
    evaluate=evaluate_command,
    add_evaluate_options=_evaluate_options,
    options_for=("learned_tracking",),
)

__all__ = ["COMMANDS", "evaluate_command", "train_command"]
