"""helixkit: fast native kernels, ML models and metrics for charged-particle tracking."""

from __future__ import annotations

from . import units
from ._core import hardware_threads

__version__ = "0.1.0"
__all__ = ["__version__", "hardware_threads", "units"]
