"""helixkit: fast native kernels, ML models and metrics for charged-particle tracking."""

from __future__ import annotations

from typing import Any

from . import units
from ._core import hardware_threads

__version__ = "0.1.0"
__all__ = ["__version__", "hardware_threads", "reconstruct", "units"]


def __getattr__(name: str) -> Any:
    # helixkit.reconstruct: the classical chain, imported on first use
    if name == "reconstruct":
        from .finding import reconstruct

        return reconstruct
    msg = f"module 'helixkit' has no attribute {name!r}"
    raise AttributeError(msg)
