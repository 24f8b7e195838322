"""``helixkit train deepcore`` and ``helixkit evaluate deepcore``: DeepCore's part of the CLI
(argparse only at import time; handlers import the system when they run)."""

from __future__ import annotations

import argparse
from typing import Any

from .._commands import SystemCommands


def _run() -> Any:
    from . import run  # noqa: PLC0415  (torch: only when a command runs)

    return run


def train_command(args: argparse.Namespace) -> int:
    """``helixkit train deepcore --config FILE --out DIR [--resume]`` (configs/deepcore.json
    reproduces the shipped weights)."""
    return _run().train(args)


def _jet_pt(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        msg = f"--jet-pt (={text!r}) must be MIN,MAX in GeV, e.g. 1000,3000"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 < lo <= hi:
        msg = f"--jet-pt (={text!r}) must satisfy 0 < MIN <= MAX"
        raise argparse.ArgumentTypeError(msg)
    return lo, hi


def evaluate_command(args: argparse.Namespace) -> int:
    """``helixkit evaluate deepcore [--events N] [--jet-pt MIN,MAX]``: DeepCore vs the
    standard seeding and the JetCore-like splitting on N fresh jets."""
    return _run().evaluate(args)


def _evaluate_options(p: argparse.ArgumentParser) -> list[tuple[str, str]]:
    p.add_argument("--jet-pt", type=_jet_pt, default=None, metavar="MIN,MAX",
                   help="deepcore: jet pT range of the test jets in GeV (default: 1000,3000; "
                        "--events is the number of jets)")
    return [("--jet-pt", "jet_pt")]


COMMANDS = SystemCommands(
    train_models=("deepcore",),
    train_help="deepcore: config sections data/model/train (configs/deepcore.json)",
    train=train_command,
    evaluate_models=("deepcore",),
    evaluate_help="deepcore: vs the standard and JetCore-like seeding in jet cores",
    evaluate_mu=0.0,
    evaluate=evaluate_command,
    add_evaluate_options=_evaluate_options,
    options_for=("deepcore",),
)

__all__ = ["COMMANDS", "evaluate_command", "train_command"]
