"""Pixel clustering: connected components of fired pixels per module (ACTS ``Clusterization``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from .._validation import as_numpy, check_n_threads, make_config, same_length


@dataclass(frozen=True, eq=False)
class PixelClusters:
    """Clusters of fired pixels (the result of :func:`cluster_pixels`).

    Clusters are numbered in the order of (module id, then the smallest (row, col)
    pixel of the cluster); ``len(clusters)`` is their number.

    Attributes
    ----------
    labels : (N,) int32
        Cluster index of every input pixel, in input order.
    module : (C,) int64
        Module id of each cluster.
    size : (C,) int32
        Number of pixels.
    size_row, size_col : (C,) int32
        Extent in rows and in columns (max - min + 1), in pixels.
    charge : (C,) float64
        Total charge, in the units of the input charge.
    row, col : (C,) float64
        Charge-weighted centroid in pixel units (pixel centres at integer
        coordinates); the plain mean of the pixels if the total charge is 0.
    """

    labels: np.ndarray
    module: np.ndarray
    size: np.ndarray
    size_row: np.ndarray
    size_col: np.ndarray
    charge: np.ndarray
    row: np.ndarray
    col: np.ndarray

    def __len__(self) -> int:
        return len(self.module)


def _index_array(a: Any, name: str, dtype: type, lowest: int) -> np.ndarray:
    """A 1-D C-contiguous integer array of ``dtype``; values outside
    [``lowest``, max of dtype] are an error (never wrapped by the cast)."""
    arr = as_numpy(a)
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        # (an empty list arrives as float64)
        msg = f"{name} must be an integer array, got dtype {arr.dtype}"
        raise TypeError(msg)
    if arr.ndim != 1:
        msg = f"{name} must be 1-D, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.dtype != dtype and arr.size:
        # Compare in the input's own type: no wrap-around before the check.
        highest = np.iinfo(dtype).max
        for bad, rule in ((arr < lowest, f">= {lowest}"), (arr > highest, f"<= {highest}")):
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                msg = f"{name}[{i}] (={arr[i]}) must be {rule}"
                raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=dtype)


def _charge_array(a: Any) -> np.ndarray:
    arr = as_numpy(a)
    if arr.dtype.kind not in "fiu":
        msg = f"charge must be a real-valued (float or integer) array, got dtype {arr.dtype}"
        raise TypeError(msg)
    if arr.ndim != 1:
        msg = f"charge must be 1-D, got shape {arr.shape}"
        raise ValueError(msg)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def cluster_pixels(
    module: Any, row: Any, col: Any, charge: Any, *, connectivity: int = 8,
    n_threads: int = 0,
) -> PixelClusters:
    """Cluster fired pixels: connected components per module, with their charge centroids.

    The ACTS ``Clusterization`` step, in C++ with the GIL released: the pixels of each
    module are sorted by (row, col) and linked run by run to the previous row, so no
    dense module image is built and the cost depends only on the number of fired pixels.
    Modules are processed in parallel; the result does not depend on ``n_threads``.

    Parameters
    ----------
    module : (N,) integer array_like or CPU torch.Tensor
        Module id of each fired pixel (any int64 value).
    row, col : (N,) integer array_like
        Pixel row and column, >= 0.
    charge : (N,) float or integer array_like
        Pixel charge (any unit), finite and >= 0. float32 stays float32.
    connectivity : {8, 4}
        8: pixels sharing an edge or a corner are neighbours (``scipy.ndimage.label``
        with ``structure=np.ones((3, 3))``); 4: an edge only (its default cross).
    n_threads : int
        Worker threads, 0 = all cores.

    Returns
    -------
    PixelClusters
        Per-pixel ``labels`` and per-cluster ``module, size, size_row, size_col, charge,
        row, col``; clusters ordered by (module, smallest (row, col) pixel).

    Raises
    ------
    TypeError
        An argument of non-integer (``module``, ``row``, ``col``) or non-numeric
        (``charge``) dtype.
    ValueError
        Arrays of different lengths or not 1-D, a negative row or column, a NaN, infinite
        or negative charge, a pixel given twice, or ``connectivity`` not 4 or 8.

    Examples
    --------
    >>> c = cluster_pixels([0, 0, 0, 1], [5, 6, 9, 5], [3, 4, 0, 3], [1.0, 3.0, 2.0, 1.0])
    >>> c.labels.tolist(), c.size.tolist(), c.col.tolist()
    ([0, 0, 1, 2], [2, 1, 1], [3.75, 0.0, 3.0])
    """
    mod = _index_array(module, "module", np.int64, np.iinfo(np.int64).min)
    r = _index_array(row, "row", np.int32, 0)
    c = _index_array(col, "col", np.int32, 0)
    q = _charge_array(charge)
    same_length(module=mod, row=r, col=c, charge=q)
    if (isinstance(connectivity, bool) or not isinstance(connectivity, (int, np.integer))
            or connectivity not in (4, 8)):
        msg = f"connectivity must be 4 or 8, got {connectivity!r}"
        raise ValueError(msg)
    cfg = make_config(_core.PixelClusterizerConfig, connectivity=int(connectivity),
                      n_threads=check_n_threads(n_threads))
    return PixelClusters(*_core.cluster_pixels(mod, r, c, q, cfg))
