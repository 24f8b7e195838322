"""``helixkit interpret gc|edge|trackformer``: the interpretability report on a shipped model
(argparse only at import time; the handler imports torch when it runs)."""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Any


def _run() -> ModuleType:
    from . import run  # noqa: PLC0415  (torch and the systems: only when the command runs)

    return run


def interpret_command(args: argparse.Namespace) -> int:
    return _run().command(args)


def register(sub: Any) -> None:
    """Add ``interpret`` to the top-level sub-commands."""
    p = sub.add_parser(
        "interpret", help="what a shipped model computes: important inputs and neurons, "
                          "activation maps, formulas, MI / layer proficiency",
        description="Interpretability report on a shipped model, on simulated events: "
                    "permutation importance of inputs and neurons (gc: F1 of the embedding's "
                    "kNN graph; edge: F1 at the working point; trackformer: pT resolution), "
                    "activation maps and symbolic fits of the top neurons, single-neuron MI "
                    "and layer proficiency for pT, q/pT, eta, phi, d0, z0, random calibration. "
                    "Writes OUT/report.md, report.json and PNGs.")
    p.add_argument("model", choices=("gc", "edge", "trackformer"))
    p.add_argument("--events", type=int, default=2, help="simulated events (default: %(default)s)")
    p.add_argument("--mu", type=float, default=50.0, help="pile-up (default: %(default)s)")
    p.add_argument("--seed", type=int, default=2024, help="random seed (default: %(default)s)")
    p.add_argument("--out", default="interpret-output", help="output directory (default: "
                   "%(default)s)")
    p.add_argument("--repeats", type=int, default=2,
                   help="permutation repeats per input / neuron (default: %(default)s)")
    p.add_argument("--max-units", type=int, default=8000,
                   help="hits (gc) or edges (edge) kept for the study (default: %(default)s)")
    p.add_argument("--mi-samples", type=int, default=8000,
                   help="samples of the MI tables (default: %(default)s)")
    p.add_argument("--top", type=int, default=3,
                   help="neurons with maps and formulas (default: %(default)s)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (default: %(default)s; the many small forward "
                        "passes do not gain from more)")
    p.add_argument("--no-progress", action="store_true", help="hide progress lines")
    p.set_defaults(func=interpret_command)


__all__ = ["interpret_command", "register"]
