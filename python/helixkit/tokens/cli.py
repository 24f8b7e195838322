"""``helixkit train|evaluate hit_tokenizer|next_hit|next_hit_tokens`` and ``helixkit study
codebook`` (argparse only at import time; handlers import the system when they run)."""

from __future__ import annotations

import argparse
from typing import Any

from .._commands import SystemCommands


def _run() -> Any:
    from . import run  # noqa: PLC0415  (torch: only when a command runs)

    return run


def train_command(args: argparse.Namespace) -> int:
    """``helixkit train hit_tokenizer|next_hit|next_hit_tokens --config FILE --out DIR
    [--resume]``."""
    return _run().train(args)


def evaluate_command(args: argparse.Namespace) -> int:
    """``helixkit evaluate hit_tokenizer``: resolution per coordinate, codebook use;
    ``next_hit`` / ``next_hit_tokens``: next-hit scores and track following."""
    return _run().evaluate(args)


def _study(args: argparse.Namespace) -> int:
    return _run().study(args)


def register(sub: Any) -> None:
    """``helixkit study codebook``: tokeniser resolution vs codebook size and levels."""
    p = sub.add_parser("codebook", help="hit tokeniser resolution vs codebook size and levels",
                       description="Train one hit tokeniser per (levels, codebook size) on the "
                                   "same simulated events; resolution per coordinate, code use.")
    p.add_argument("--out", default="codebook-study", help="output directory (default: %(default)s)")
    p.add_argument("--events", type=int, default=8, help="training events (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=8, help="epochs per tokeniser (default: %(default)s)")
    p.add_argument("--mu", type=float, default=50.0, help="pile-up (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_study)


COMMANDS = SystemCommands(
    train_models=("hit_tokenizer", "next_hit", "next_hit_tokens"),
    train_help="hit_tokenizer, next_hit, next_hit_tokens: config sections data/model/train "
               "(configs/*.json)",
    train=train_command,
    evaluate_models=("hit_tokenizer", "next_hit", "next_hit_tokens"),
    evaluate_help="hit_tokenizer: reconstruction per coordinate and codebook use; next_hit, "
                  "next_hit_tokens: next-hit error vs the helix, track following",
    evaluate_mu=50.0,
    evaluate=evaluate_command,
)

__all__ = ["COMMANDS", "evaluate_command", "register", "train_command"]
