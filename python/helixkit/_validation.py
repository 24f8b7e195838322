"""Input conversion and validation shared by the public modules.

Every public function converts its inputs here, so bad input is a
``ValueError`` that names the argument and the rule, never a crash in C++.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(a: Any) -> np.ndarray:
    """Return a numpy view of an array-like or a CPU torch tensor (no copy where possible)."""
    if type(a).__module__.startswith("torch"):
        if a.device.type != "cpu":
            msg = f"expected a CPU tensor, got one on {a.device}; call .cpu() first"
            raise ValueError(msg)
        return a.detach().numpy()
    return np.asarray(a)


def as_float_array(
    a: Any, name: str, *, dtype: Any = np.float64, ndim: int | None = None, finite: bool = True
) -> np.ndarray:
    """Convert to a C-contiguous floating array of ``dtype``; copy only if needed."""
    arr = as_numpy(a)
    if arr.dtype.kind not in "fiu":
        msg = f"{name} must be numeric, got dtype {arr.dtype}"
        raise ValueError(msg)
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if ndim is not None and arr.ndim != ndim:
        msg = f"{name} must be {ndim}-D, got shape {arr.shape}"
        raise ValueError(msg)
    if finite and arr.size and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0])
        msg = f"{name} contains NaN or inf (first at flat index {bad})"
        raise ValueError(msg)
    return arr


def require_instance(value: Any, cls: type, name: str, what: str | None = None) -> None:
    """``TypeError("<name> must be a <what>, got <type>")`` unless ``value`` is a ``cls``."""
    if not isinstance(value, cls):
        kind = what or f"{cls.__module__.split('.')[0]}.{cls.__qualname__}"
        msg = f"{name} must be a {kind}, got {type(value).__name__}"
        raise TypeError(msg)


def same_length(**arrays: np.ndarray) -> int:
    """Check that all named arrays have the same first dimension and return it."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        msg = f"inconsistent lengths: {desc}"
        raise ValueError(msg)
    return next(iter(lengths.values())) if lengths else 0


def make_config(cls: type, /, **kwargs: Any) -> Any:
    """Build a native config object strictly: unknown field names are an error."""
    cfg = cls()
    for name, value in kwargs.items():
        if name.startswith("_") or not hasattr(cfg, name):
            msg = f"{cls.__name__} has no field {name!r}"
            raise TypeError(msg)
        setattr(cfg, name, value)
    cfg.validate()
    return cfg


def check_n_threads(n_threads: int) -> int:
    n = int(n_threads)
    if n < 0:
        msg = f"n_threads must be >= 0 (0 = all cores), got {n_threads}"
        raise ValueError(msg)
    return n


def require(ok: bool, owner: Any, name: str, rule: str) -> None:
    """Raise ``ValueError("<Config>: <field> (=<value>) <rule>")`` unless ``ok``."""
    if not ok:
        msg = f"{type(owner).__name__}: {name} (={getattr(owner, name)!r}) {rule}"
        raise ValueError(msg)
