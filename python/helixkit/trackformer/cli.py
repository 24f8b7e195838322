"""``helixkit train trackformer`` and ``helixkit evaluate trackformer``: the TrackFormer's
part of the CLI (argparse only at import time; handlers import the system when they run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._commands import SystemCommands


def train_command(args: argparse.Namespace) -> int:
    """``helixkit train trackformer --config FILE --out DIR [--resume]``."""
    from ..nn.config import load_json_config  # noqa: PLC0415
    from .train import train_trackformer  # noqa: PLC0415

    args.out = args.out or "runs/trackformer"
    cfg = load_json_config(args.config) if args.config else {}
    train_trackformer(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"best model: {Path(args.out) / 'best.pt'}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """``helixkit evaluate trackformer``: resolution table against the Kalman fit."""
    from ..nn.registry import load, pretrained  # noqa: PLC0415
    from .evaluate import evaluate_trackformer  # noqa: PLC0415

    model = load(args.checkpoint, expect="trackformer") if args.checkpoint else \
        pretrained("trackformer")
    res = evaluate_trackformer(model, n_events=args.events, mu=args.mu, seed=args.seed,
                               out_dir=args.out, mapper=getattr(args, "mapper", None))
    print(res["table"])
    print(f"charge mis-ID: {res['charge_misid']:.4f}; "
          f"inference: {res['tracks_per_second']:.0f} tracks/s")
    return 0


COMMANDS = SystemCommands(
    train_models=("trackformer",),
    train_help="trackformer: config sections data/model/train",
    train=train_command,
    evaluate_models=("trackformer",),
    evaluate_help="trackformer: against the Kalman fit",
    evaluate_mu=50.0,
    evaluate=evaluate_command,
)

__all__ = ["COMMANDS", "evaluate_command", "train_command"]
