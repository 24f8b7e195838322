"""What the tokens system's CLI handlers do (imported by :mod:`helixkit.tokens.cli` when one runs,
so that ``helixkit --help`` does not import torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..nn.config import load_json_config
from ..nn.registry import load, pretrained
from .evaluate import codebook_study, evaluate_hit_tokenizer, evaluate_next_hit
from .train import train_hit_tokenizer, train_next_hit


def train(args: argparse.Namespace) -> int:
    """``helixkit train hit_tokenizer|next_hit|next_hit_tokens --config FILE --out DIR
    [--resume]`` (the next-hit models read the shipped tokeniser's tokens)."""
    args.out = args.out or f"runs/{args.model}"
    cfg = load_json_config(args.config) if args.config else {}
    if args.model == "hit_tokenizer":
        train_hit_tokenizer(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    else:
        train_next_hit(cfg, args.out, resume=args.resume, progress=not args.no_progress,
                       model_name=args.model)
    print(f"best model: {Path(args.out) / 'best.pt'}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``helixkit evaluate hit_tokenizer``: resolution per coordinate, codebook use;
    ``helixkit evaluate next_hit|next_hit_tokens``: the next-hit model, the token-only model
    and the helix side by side, and track following at <mu> = 50 and 200 (``--checkpoint``
    replaces the model named; the other is the shipped one)."""
    if args.model != "hit_tokenizer":
        return _evaluate_next_hit(args)
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


def _evaluate_next_hit(args: argparse.Namespace) -> int:
    chosen = load(args.checkpoint, expect=args.model) if args.checkpoint else None
    model = chosen if chosen is not None and args.model == "next_hit" else \
        pretrained("next_hit")
    token_model = chosen if chosen is not None and args.model == "next_hit_tokens" else None
    res = evaluate_next_hit(model, token_model=token_model, n_events=args.events, mu=args.mu,
                            seed=args.seed, out_dir=args.out)
    m = res["metrics"]
    print(res["table"])
    print(res["following_table"])
    print(f"next-hit model: {m['tracks_per_second']:.3g} tracks/s (all steps of a track in "
          f"one pass); helix: {m['helix_tracks_per_second']:.3g} tracks/s")
    return 0


def study(args: argparse.Namespace) -> int:
    """``helixkit study codebook``."""
    codebook_study(args.out, n_train_events=args.events, epochs=args.epochs, mu=args.mu,
                   seed=args.seed, progress=not args.no_progress)
    return 0


__all__ = ["evaluate", "study", "train"]
