"""Lazy public APIs for packages whose modules import torch (SPEC 1, as scikit-image does).

A system package's ``__init__`` names its public API without importing it::

    __getattr__, __dir__, __all__ = attach(__name__, {"model": ["LearnedTracking"], ...})

so that ``import helixkit.learned.cli`` (what ``helixkit --help`` needs) does not import
torch, while ``from helixkit.learned import LearnedTracking`` works as usual. Each name
is imported from its module on first access and then cached in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def attach(package: str, names: Mapping[str, Sequence[str]], submodules: Sequence[str] = (),
           ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``: ``names`` maps a module of the
    package (relative name) to the public names it defines; ``submodules`` are modules
    reachable as attributes (``helixkit.learned.edge``)."""
    where = {name: module for module, mods in names.items() for name in mods}
    subs = set(submodules)
    everything = sorted(set(where) | subs)

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        elif name in subs:
            value = importlib.import_module(f"{package}.{name}")
        else:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(everything))

    return __getattr__, __dir__, list(everything)
