"""Old import paths (before the one-package-per-system layout) as thin forwarding modules.

``helixkit.pipeline``, ``helixkit.models[.*]``, ``helixkit.training[.*]`` and
``helixkit.features`` keep working for one release: each attribute is fetched from its
new home and a ``DeprecationWarning`` names that home. They go in helixkit 0.3.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

REMOVED_IN = "0.3"


def forward(old: str, new: str, moved: Mapping[str, str] | None = None,
            modules: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the old module ``old``: names come from module ``new``,
    or from ``moved[name]`` where they went elsewhere; ``modules`` maps the old package's
    submodules (``helixkit.models.edge``) to their new modules."""
    moved = dict(moved or {})
    modules = dict(modules or {})

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in modules:
            warnings.warn(f"{old}.{name} is deprecated and goes in helixkit {REMOVED_IN}; use "
                          f"{modules[name]}", DeprecationWarning, stacklevel=2)
            return importlib.import_module(modules[name])
        target = moved.get(name, new)
        module = importlib.import_module(target)
        try:
            value = getattr(module, name)
        except AttributeError:
            msg = f"module {old!r} has no attribute {name!r} (it moved to {new!r})"
            raise AttributeError(msg) from None
        warnings.warn(f"{old}.{name} is deprecated and goes in helixkit {REMOVED_IN}; use "
                      f"{target}.{name}", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__
