"""What DeepCore's CLI handlers do (imported by :mod:`helixkit.deepcore.cli` when one runs,
so that ``helixkit --help`` does not import torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..nn.config import load_json_config
from ..nn.registry import load, pretrained
from .study import evaluate_deepcore
from .train import train_deepcore


def train(args: argparse.Namespace) -> int:
    """``helixkit train deepcore --config FILE --out DIR [--resume]``."""
    args.out = args.out or "runs/deepcore"
    cfg = load_json_config(args.config) if args.config else {}
    train_deepcore(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"best model: {Path(args.out) / 'best.pt'}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``helixkit evaluate deepcore``: DeepCore (``--checkpoint`` or the shipped model) vs
    the standard seeding and the JetCore-like splitting on ``--events`` fresh jets."""
    model = load(args.checkpoint, expect="deepcore") if args.checkpoint else \
        pretrained("deepcore")
    jet_pt = args.jet_pt if args.jet_pt is not None else (1000.0, 3000.0)
    res = evaluate_deepcore(model, n_jets=args.events, jet_pt=jet_pt, seed=args.seed,
                            out_dir=args.out)
    m = res["metrics"]
    print(res["table"])
    print(res["resolution_table"])
    gain = m["target"]["efficiency_gain"]
    print(f"{m['n_windows']:,} windows; DeepCore - standard efficiency (pT > 10 GeV): "
          f"{100 * gain:+.1f} points; inference {m['windows_per_second']:.3g} windows/s")
    return 0


__all__ = ["evaluate", "train"]
