"""helixkit: fast native kernels, ML models and metrics for charged-particle tracking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import units
from ._core import hardware_threads
from ._lazy import attach

__version__ = "0.1.0"
# helixkit.reconstruct (the classical chain) is imported on first use
__getattr__, __dir__, _lazy_all = attach(__name__, {"finding": ["reconstruct"]})
__all__ = ["__version__", "hardware_threads", "reconstruct", "units"]

if TYPE_CHECKING:
    from .finding import reconstruct
