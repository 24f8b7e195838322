"""Input conversion and validation shared by the public modules.

Every public function converts its inputs here, so bad input is a
``ValueError`` that names the argument and the rule, never a crash in C++.
"""

from __future__ import annotations

import math
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
    src = arr
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if ndim is not None and arr.ndim != ndim:
        msg = f"{name} must be {ndim}-D, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.size and not np.isfinite(arr).all():
        flat = arr.reshape(-1)
        was = np.asarray(src).reshape(-1)
        lost = np.isinf(flat) & np.isfinite(was) if was.dtype.kind == "f" else np.isinf(flat)
        if lost.any():
            i = int(np.flatnonzero(lost)[0])
            msg = (f"{name} holds {was[i]!r} at flat index {i}, beyond the "
                   f"{np.dtype(dtype).name} range (|x| <= {np.finfo(dtype).max:.3g})")
            raise ValueError(msg)
        if finite:
            bad = int(np.flatnonzero(~np.isfinite(flat))[0])
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


_INT_LOWS = (-(2**63), -(2**31), 0)
_INT_HIGHS = (2**64 - 1, 2**63 - 1, 2**32 - 1, 2**31 - 1, 2**16 - 1, 2**15 - 1, 2**8 - 1)


def _native_int_range(native: type, name: str) -> tuple[int, int]:
    """Bounds of a native integer field, found by probing a fresh instance."""
    probe = native()
    ok = []
    for v in (*_INT_LOWS, *_INT_HIGHS):
        try:
            setattr(probe, name, v)
        except TypeError:
            continue
        ok.append(v)
    return (min(ok), max(ok)) if ok else (0, 0)


def set_native_field(obj: Any, owner: str, name: str, value: Any, setter: Any = None) -> None:
    """Set a field of a pybind11 config; a rejected value names the field.

    pybind11 answers a wrong type or an out-of-range integer with a bare
    ``TypeError: incompatible function arguments``. Here a wrong type is a
    ``TypeError`` and an integer outside the C++ field's range a ``ValueError``,
    both naming ``<owner>: <name>``, the value and the rule.
    """
    put = setter or (lambda n, v: setattr(obj, n, v))
    try:
        put(name, value)
    except TypeError:
        pass
    else:
        return
    current = getattr(obj, name)
    got = f"{type(value).__name__} {value!r}"
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if isinstance(current, bool):
        msg = f"{owner}: {name} must be a bool, got {got}"
        raise TypeError(msg)
    if isinstance(current, int):
        if isinstance(value, (float, np.floating)):
            if math.isfinite(value) and value == math.floor(value):
                set_native_field(obj, owner, name, int(value), setter)
                return
            msg = f"{owner}: {name} must be a whole number, got {value!r}"
            raise ValueError(msg)
        if is_int:
            native = next(c for c in type(obj).__mro__ if c.__module__.endswith("_core"))
            lo, hi = _native_int_range(native, name)
            msg = f"{owner}: {name} must be an integer in [{lo}, {hi}], got {value!r}"
            raise ValueError(msg)
        msg = f"{owner}: {name} must be an integer, got {got}"
        raise TypeError(msg)
    if isinstance(current, float):
        msg = f"{owner}: {name} must be a number, got {got}"
        raise TypeError(msg)
    msg = f"{owner}: {name} must be like {current!r} ({type(current).__name__}), got {got}"
    raise TypeError(msg)


def make_config(cls: type, /, **kwargs: Any) -> Any:
    """Build a native config object strictly: unknown field names are an error."""
    cfg = cls()
    for name, value in kwargs.items():
        if name.startswith("_") or not hasattr(cfg, name):
            msg = f"{cls.__name__} has no field {name!r}"
            raise TypeError(msg)
        set_native_field(cfg, cls.__name__, name, value)
    cfg.validate()
    return cfg


#: Largest thread count accepted (the native kernels take an unsigned 32-bit count).
MAX_THREADS = 65536


def check_int(value: Any, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as a Python ``int`` within ``[lo, hi]``.

    A non-number (``None``, a string, a bool, an array) is a ``TypeError``; a
    number that is not a whole number (1.7, NaN, inf) or lies outside the
    bounds is a ``ValueError``. Both name the argument.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        msg = f"{name} must be an integer, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != math.floor(value):
            msg = f"{name} must be a whole number, got {value!r}"
            raise ValueError(msg)
    n = int(value)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        lo_s = "-inf" if lo is None else str(lo)
        hi_s = "inf" if hi is None else str(hi)
        msg = f"{name} must be an integer in [{lo_s}, {hi_s}], got {value!r}"
        raise ValueError(msg)
    return n


def check_float(
    value: Any, name: str, *, finite: bool = True, positive: bool = False, nonnegative: bool = False
) -> float:
    """Return ``value`` as a Python ``float``: a non-number is a ``TypeError``; NaN/inf
    (when ``finite``) or a sign violation is a ``ValueError`` naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        msg = f"{name} must be a number, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    v = float(value)
    if finite and not math.isfinite(v):
        msg = f"{name} must be finite, got {value!r}"
        raise ValueError(msg)
    if positive and not v > 0:
        msg = f"{name} must be > 0, got {value!r}"
        raise ValueError(msg)
    if nonnegative and not v >= 0:
        msg = f"{name} must be >= 0, got {value!r}"
        raise ValueError(msg)
    return v


def as_int_array(a: Any, name: str, dtype: Any, *, ndim: int = 1) -> np.ndarray:
    """Convert to a C-contiguous integer array of ``dtype`` without silent wrapping.

    Integer input must fit ``dtype``; float input must hold whole, finite numbers
    that fit. Anything else (strings, objects, fractions, NaN, out-of-range
    values) is a ``ValueError`` naming the argument, the value and the rule.
    """
    arr = as_numpy(a)
    info = np.iinfo(dtype)
    if arr.dtype.kind not in "iubf":
        msg = f"{name} must be an integer array, got dtype {arr.dtype}"
        raise ValueError(msg)
    if arr.ndim != ndim:
        msg = f"{name} must be {ndim}-D, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.size:
        if arr.dtype.kind == "f":
            bad = ~np.isfinite(arr) | (arr != np.floor(arr))
            if bad.any():
                i = int(np.flatnonzero(bad.reshape(-1))[0])
                msg = f"{name} must hold whole numbers, got {arr.reshape(-1)[i]!r} at flat index {i}"
                raise ValueError(msg)
        if arr.dtype.kind != "b":
            lo, hi = arr.min(), arr.max()
            if lo < info.min or hi > info.max:
                v = lo if lo < info.min else hi
                msg = f"{name} must be in [{info.min}, {info.max}] ({np.dtype(dtype).name}), got {v!r}"
                raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=dtype)


def as_sample_rows(a: Any, name: str) -> np.ndarray:
    """``a`` as float samples (N, D): a 1-D array is N samples of one dimension."""
    arr = as_float_array(a, name)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] < 1:
        msg = f"{name} must have shape (N,) or (N, D) with D >= 1, got shape {arr.shape}"
        raise ValueError(msg)
    return arr


def check_neighbours_k(k: Any, n: int | None = None) -> int:
    """``k`` neighbours: an int >= 1, and < ``n`` samples when ``n`` is given."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        msg = f"k must be an int, got {type(k).__name__}"
        raise TypeError(msg)
    if k < 1:
        msg = f"k (={k}) must be >= 1"
        raise ValueError(msg)
    if n is not None and k >= n:
        msg = f"k (={k}) must be smaller than the number of samples (={n})"
        raise ValueError(msg)
    return int(k)


def check_n_threads(n_threads: Any) -> int:
    """``n_threads`` as an int in [0, MAX_THREADS] (0 = all cores)."""
    n = check_int(n_threads, "n_threads")
    if n < 0:
        msg = f"n_threads must be >= 0 (0 = all cores), got {n_threads!r}"
        raise ValueError(msg)
    if n > MAX_THREADS:
        msg = f"n_threads must be <= {MAX_THREADS}, got {n_threads!r}"
        raise ValueError(msg)
    return n


def require(ok: bool, owner: Any, name: str, rule: str) -> None:
    """Raise ``ValueError("<Config>: <field> (=<value>) <rule>")`` unless ``ok``."""
    if not ok:
        msg = f"{type(owner).__name__}: {name} (={getattr(owner, name)!r}) {rule}"
        raise ValueError(msg)
