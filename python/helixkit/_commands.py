"""What an ML system contributes to the ``helixkit`` CLI (collected by :mod:`helixkit.cli`).

Each system's ``cli.py`` defines ``COMMANDS = SystemCommands(...)``: the models it trains
and evaluates (``helixkit train MODEL`` / ``helixkit evaluate MODEL``), its handlers, the
``evaluate`` options it adds, and any sub-commands of its own. A system's ``cli.py`` imports
no torch at module level (handlers import their system when they run), so ``helixkit
--help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class SystemCommands:
    """A system's part of the CLI.

    ``train_help`` / ``evaluate_help``: its fragment of the ``train`` / ``evaluate`` help;
    ``evaluate_mu``: the default pile-up of its test events; ``add_evaluate_options(parser)``
    adds its own ``evaluate`` options and returns their (flag, dest) pairs, which apply only
    to the models in ``options_for`` (elsewhere they are an error); ``register(subparsers)``
    adds sub-commands of its own.
    """

    train_models: tuple[str, ...] = ()
    train_help: str = ""
    train: Handler | None = None
    evaluate_models: tuple[str, ...] = ()
    evaluate_help: str = ""
    evaluate_mu: float = 50.0
    evaluate: Handler | None = None
    add_evaluate_options: Callable[[argparse.ArgumentParser], list[tuple[str, str]]] | None = None
    options_for: tuple[str, ...] = ()
    register: Callable[[Any], None] | None = None


__all__ = ["Handler", "SystemCommands"]
