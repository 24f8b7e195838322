"""What the tokeniser's CLI handlers do (imported by :mod:`helixkit.tokens.cli` when one runs,
so that ``helixkit --help`` does not import torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..nn.config import load_json_config
from ..nn.registry import load, pretrained
from .evaluate import codebook_study, evaluate_hit_tokenizer
from .train import train_hit_tokenizer


def train(args: argparse.Namespace) -> int:
    """``helixkit train hit_tokenizer --config FILE --out DIR [--resume]``."""
    args.out = args.out or "runs/hit_tokenizer"
    cfg = load_json_config(args.config) if args.config else {}
    train_hit_tokenizer(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"best model: {Path(args.out) / 'best.pt'}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``helixkit evaluate hit_tokenizer``: resolution per coordinate, codebook use."""
    model = load(args.checkpoint, expect="hit_tokenizer") if args.checkpoint else \
        pretrained("hit_tokenizer")
    res = evaluate_hit_tokenizer(model, n_events=args.events, mu=args.mu, seed=args.seed,
                                 out_dir=args.out)
    m = res["metrics"]
    print(res["table"])
    print("code use per level: " + ", ".join(f"{100 * u:.1f} %" for u in m["code_usage"])
          + f"; same-token tracks (level 0) {100 * m['same_token_tracks_level0']:.1f} %; "
          f"{m['hits_per_second']:.3g} hits/s")
    return 0


def study(args: argparse.Namespace) -> int:
    """``helixkit study codebook``."""
    codebook_study(args.out, n_train_events=args.events, epochs=args.epochs, mu=args.mu,
                   seed=args.seed, progress=not args.no_progress)
    return 0


__all__ = ["evaluate", "study", "train"]
