"""Sub-commands of the ``helixkit`` CLI (each registers its own parser)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("info", help="print build information (threads, versions)")
    p.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415

    from . import __version__, hardware_threads  # noqa: PLC0415

    print(f"helixkit {__version__}; numpy {np.__version__}; threads {hardware_threads()}")
    return 0
