"""Max-norm (Chebyshev) neighbour counts on the native k-d tree: what the KSG
mutual-information estimator needs, with no edge lists."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._validation import (
    as_float_array,
    as_sample_rows,
    check_n_threads,
    check_neighbours_k,
    make_config,
)


def _config(k: int, strict: bool, n_threads: int) -> _core.MaxNormNeighborsConfig:
    check_neighbours_k(k)
    return make_config(
        _core.MaxNormNeighborsConfig, k=int(k), strict=bool(strict),
        n_threads=check_n_threads(n_threads),
    )


def max_norm_kth_distance(points: ArrayLike, k: int, *, n_threads: int = 0) -> NDArray[np.float64]:
    """Max-norm distance of each point to its k-th nearest *other* point.

    Parameters
    ----------
    points : (N,) or (N, D) array_like
        Converted to float64; NaN / inf are rejected.
    k : int
        ``1 <= k < N``.
    n_threads : int
        0 means all cores; the result does not depend on it.
    """
    pts = as_sample_rows(points, "points")
    if k >= len(pts):
        msg = f"k (={k}) must be smaller than the number of points (={len(pts)})"
        raise ValueError(msg)
    return _core.max_norm_kth_distance(pts, _config(k, True, n_threads))


def max_norm_count_within(
    points: ArrayLike, radius: ArrayLike, *, strict: bool = True, n_threads: int = 0
) -> NDArray[np.uint32]:
    """For each point i, the number of other points within ``radius[i]`` (max-norm).

    ``strict=True`` counts distances ``< radius[i]`` (as KSG needs), ``False``
    counts ``<= radius[i]``. Counts only; no neighbour lists are built.
    """
    pts = as_sample_rows(points, "points")
    r = as_float_array(radius, "radius", ndim=1)
    if len(r) != len(pts):
        msg = f"radius has {len(r)} values but points has {len(pts)} rows"
        raise ValueError(msg)
    if r.size and r.min() < 0:
        msg = f"radius must be >= 0, got {r.min()!r}"
        raise ValueError(msg)
    return _core.max_norm_count_within(pts, r, _config(1, strict, n_threads))


def ksg_counts(
    x: ArrayLike, y: ArrayLike, k: int = 3, *, n_threads: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.uint32], NDArray[np.uint32]]:
    """KSG estimator-1 counts of the pairs (x_i, y_i).

    Returns ``(radius, n_x, n_y)``: the max-norm distance to the k-th nearest other
    point in the joint space, and the number of other points strictly within it in
    the x space and in the y space.
    """
    xs = as_sample_rows(x, "x")
    ys = as_sample_rows(y, "y")
    if len(xs) != len(ys):
        msg = f"x has {len(xs)} rows but y has {len(ys)}"
        raise ValueError(msg)
    if k >= len(xs):
        msg = f"k (={k}) must be smaller than the number of samples (={len(xs)})"
        raise ValueError(msg)
    return _core.ksg_counts(xs, ys, _config(k, True, n_threads))
