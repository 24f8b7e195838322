"""Exact kNN / radius graphs and DBSCAN on native k-d trees."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _core
from .._validation import as_numpy, check_float, check_int, check_n_threads, make_config


def _points(x: Any, name: str = "x") -> np.ndarray:
    arr = as_numpy(x)
    if arr.dtype not in (np.float32, np.float64):
        if arr.dtype.kind not in "iub":
            msg = f"{name} must be a float32/float64 array, got dtype {arr.dtype}"
            raise ValueError(msg)
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        msg = f"{name} must have shape (N, D), got shape {arr.shape}"
        raise ValueError(msg)
    if arr.shape[1] < 1:
        msg = f"{name} must have at least one column (D >= 1)"
        raise ValueError(msg)
    arr = np.ascontiguousarray(arr)
    if arr.size and not np.isfinite(arr).all():
        msg = f"{name} contains NaN or inf"
        raise ValueError(msg)
    return arr


def _check_span(x: np.ndarray, q: np.ndarray | None) -> None:
    """Reject coordinates whose squared distances overflow the working dtype.

    The kernels compare squared distances in the points' dtype; with a
    coordinate span s per column and D columns, D * s**2 must stay finite, or
    neighbours come out wrong without any error.
    """
    if x.size == 0:
        return
    lo = x.min(axis=0).astype(np.float64)
    hi = x.max(axis=0).astype(np.float64)
    if q is not None and q.size:
        lo = np.minimum(lo, q.min(axis=0))
        hi = np.maximum(hi, q.max(axis=0))
    with np.errstate(over="ignore"):
        span = float(np.max(hi - lo))
    bound = math.sqrt(float(np.finfo(x.dtype).max) / x.shape[1]) / 2
    if not span <= bound:
        name = "x" if q is None else "x and query"
        msg = (
            f"{name}: a column spans {span:.3g}, so squared distances overflow "
            f"{x.dtype.name} (the span must be <= {bound:.3g} for D={x.shape[1]}); "
            "rescale the coordinates" + (" or pass float64" if x.dtype == np.float32 else "")
        )
        raise ValueError(msg)


def _check_radius(r: Any, name: str, dtype: np.dtype) -> float:
    """A radius whose square is a finite, normal number of ``dtype``."""
    v = check_float(r, name, positive=True)
    fi = np.finfo(dtype)
    lo, hi = math.sqrt(float(fi.tiny)), math.sqrt(float(fi.max))
    if not lo <= v <= hi:
        msg = f"{name} must be in [{lo:.3g}, {hi:.3g}] for {np.dtype(dtype).name} points (its square must be a normal number), got {r!r}"
        raise ValueError(msg)
    return v


def _query(query: Any, x: np.ndarray) -> np.ndarray | None:
    if query is None:
        return None
    q = _points(query, "query").astype(x.dtype, copy=False)
    if q.shape[1] != x.shape[1]:
        msg = f"query has {q.shape[1]} columns but x has {x.shape[1]}"
        raise ValueError(msg)
    return q


def _finish(res: tuple[np.ndarray, np.ndarray], return_distances: bool) -> Any:
    edge_index, dist = res
    return (edge_index, dist) if return_distances else edge_index


def knn_graph(
    x: Any,
    k: int,
    *,
    max_radius: float | None = None,
    loop: bool = False,
    query: Any = None,
    n_threads: int = 0,
    return_distances: bool = False,
    algorithm: str = "auto",
) -> Any:
    """Exact k-nearest-neighbour graph.

    Parameters
    ----------
    x : (N, D) float32/float64 array or CPU torch.Tensor
        Points (the database). float32 stays float32 (no copy if contiguous).
    k : int
        Neighbours per query point, ``1 <= k < N`` for a self-graph without loops.
    max_radius : float, optional
        Drop neighbours farther than this (torch_cluster's ``knn`` + radius cut).
    loop : bool
        Self-graph only: allow a point to be its own neighbour.
    query : (M, D) array, optional
        Query points; neighbours are searched among ``x`` (the query-vs-database
        form). Default: ``x`` itself.
    n_threads : int
        0 means all cores. The result does not depend on it.
    return_distances : bool
        Also return the (E,) Euclidean distances.
    algorithm : {"auto", "kd_tree", "brute"}
        How the neighbours are searched (scikit-learn's names): a k-d tree, a
        blocked scan of every point (cost N·M·D: it wins where the tree prunes
        little), or ``"auto"`` = brute force from
        ``graph.BRUTE_FORCE_MIN_DIM`` dimensions on. The result is the same,
        distances included, bit for bit.

    Returns
    -------
    edge_index : (2, E) int64
        ``edge_index[0]`` = neighbour (source, index into ``x``),
        ``edge_index[1]`` = query point (target). Grouped by target in ascending
        order; neighbours of a target sorted by (distance, index) — ties go to
        the lower index. This is torch_geometric's ``flow="source_to_target"``.
    """
    pts = _points(x)
    q = _query(query, pts)
    k = check_int(k, "k", lo=1)
    n_cand = pts.shape[0] - (1 if (q is None and not loop) else 0)
    if k > n_cand:
        msg = f"k (={k}) must be <= the number of candidate neighbours ({n_cand})"
        raise ValueError(msg)
    _check_span(pts, q)
    radius = 0.0
    if max_radius is not None:
        radius = _check_radius(max_radius, "max_radius", pts.dtype)
    if not isinstance(algorithm, str):
        msg = f"algorithm must be a string, got {type(algorithm).__name__} {algorithm!r}"
        raise TypeError(msg)
    if algorithm not in _KNN_ALGORITHMS:
        msg = f"algorithm (={algorithm!r}) must be one of {sorted(_KNN_ALGORITHMS)}"
        raise ValueError(msg)
    cfg = make_config(
        _core.NeighborGraphConfig, k=k, radius=radius, loop=bool(loop),
        n_threads=check_n_threads(n_threads), algorithm=_KNN_ALGORITHMS[algorithm],
    )
    return _finish(_core.knn_graph(pts, q, cfg), return_distances)


#: The kNN search of :func:`knn_graph` (the native config's codes).
_KNN_ALGORITHMS = {"auto": 0, "kd_tree": 1, "brute": 2}
#: Dimensions from which ``algorithm="auto"`` scans every point instead of a k-d tree.
BRUTE_FORCE_MIN_DIM: int = int(_core.NeighborGraphConfig.brute_force_min_dim)


def radius_graph(
    x: Any,
    r: float,
    *,
    max_num_neighbors: int | None = None,
    loop: bool = False,
    query: Any = None,
    n_threads: int = 0,
    return_distances: bool = False,
) -> Any:
    """Exact fixed-radius graph: all pairs with distance <= r.

    With ``max_num_neighbors`` only the **nearest** neighbours of each query
    point are kept (ties to the lower index), unlike torch_cluster's CPU
    path, which keeps an arbitrary subset. Layout as in :func:`knn_graph`.
    """
    pts = _points(x)
    q = _query(query, pts)
    r = _check_radius(r, "r", pts.dtype)
    _check_span(pts, q)
    max_nb = 0
    if max_num_neighbors is not None:
        max_nb = check_int(max_num_neighbors, "max_num_neighbors", lo=1, hi=2**31 - 1)
    cfg = make_config(
        _core.NeighborGraphConfig, radius=float(r), max_neighbors=max_nb, loop=bool(loop),
        n_threads=check_n_threads(n_threads),
    )
    return _finish(_core.radius_graph(pts, q, cfg), return_distances)


def knn(x: Any, query: Any, k: int, **kwargs: Any) -> Any:
    """Neighbours of ``query`` points among ``x`` (see :func:`knn_graph`)."""
    return knn_graph(x, k, query=query, **kwargs)


def radius(x: Any, query: Any, r: float, **kwargs: Any) -> Any:
    """Neighbours of ``query`` points among ``x`` within ``r`` (see :func:`radius_graph`)."""
    return radius_graph(x, r, query=query, **kwargs)


def _dbscan_config(eps: float, min_samples: int, n_threads: int, dtype: Any = np.float32) -> Any:
    eps = _check_radius(eps, "eps", np.dtype(dtype))
    min_points = check_int(min_samples, "min_samples", lo=1, hi=2**31 - 1)
    return make_config(
        _core.DbscanConfig, epsilon=eps, min_points=min_points,
        n_threads=check_n_threads(n_threads),
    )


def dbscan(x: Any, eps: float, min_samples: int = 5, *, n_threads: int = 0) -> np.ndarray:
    """DBSCAN with scikit-learn's semantics; returns int32 labels, -1 for noise.

    The noise set and the partition of core points equal
    ``sklearn.cluster.DBSCAN(eps, min_samples=min_samples)``; clusters are
    numbered in the order of their lowest-index core point, as sklearn does. A
    border point (non-core, within ``eps`` of a core point) takes the lowest
    label among its core neighbours — the label sklearn's sequential expansion
    gives it. ``min_samples`` counts the point itself.
    """
    pts = _points(x)
    cfg = _dbscan_config(eps, min_samples, n_threads, pts.dtype)
    _check_span(pts, None)
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=np.int32)
    return _core.dbscan(pts, cfg)


class DbscanRescan:
    """Fast DBSCAN re-clustering for hyper-parameter scans.

    The eps-neighbour graph is built once at ``max_eps``; each
    :meth:`labels` call then costs one pass over its edges, no search.

    >>> scan = DbscanRescan(embedding, max_eps=1.0)
    >>> for eps, ms in [(0.2, 2), (0.5, 3)]:
    ...     labels = scan.labels(eps, ms)
    """

    def __init__(self, x: Any, max_eps: float, *, n_threads: int = 0) -> None:
        pts = _points(x)
        self.max_eps = _check_radius(max_eps, "max_eps", pts.dtype)
        self.dtype = pts.dtype
        self.n_threads = check_n_threads(n_threads)
        self.n_points = pts.shape[0]
        if self.n_points:
            edge_index, dist = radius_graph(
                pts, max_eps, n_threads=n_threads, return_distances=True
            )
        else:
            edge_index, dist = np.zeros((2, 0), np.int64), np.zeros(0, pts.dtype)
        # Edges are grouped by target (ascending): CSR by target.
        counts = np.bincount(edge_index[1], minlength=self.n_points)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.neighbors = np.ascontiguousarray(edge_index[0])
        self.distances = np.ascontiguousarray(dist)

    @property
    def n_edges(self) -> int:
        return len(self.neighbors)

    def labels(self, eps: float, min_samples: int = 5) -> np.ndarray:
        eps = check_float(eps, "eps", positive=True)
        if eps > self.max_eps:
            msg = f"eps (={eps}) must be <= max_eps (={self.max_eps}) of this rescan"
            raise ValueError(msg)
        cfg = _dbscan_config(eps, min_samples, self.n_threads, self.dtype)
        if self.n_points == 0:
            return np.zeros(0, dtype=np.int32)
        return _core.dbscan_graph(self.offsets, self.neighbors, self.distances, cfg)
