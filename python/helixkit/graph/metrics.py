"""Graph-construction figures of merit (gnn_tracking definitions).

All functions take plain arrays so they work with any event source:
``edge_index`` (2, E) int64 as produced by :func:`helixkit.graph.knn_graph`,
``particle_id`` per hit (0 = noise) and ``good`` per hit: True for hits of
*particles of interest* (e.g. pT > 0.9 GeV, reconstructable, |η| < 4; see
:func:`hits_of_interest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import as_int_array, as_numpy
from ._neighbors import knn_graph

if TYPE_CHECKING:
    from ..data import Event


def _edges(edge_index: Any, n_hits: int) -> tuple[np.ndarray, np.ndarray]:
    ei = as_int_array(edge_index, "edge_index", np.int64, ndim=2)
    if ei.shape[0] != 2:
        msg = f"edge_index must have shape (2, E), got {ei.shape}"
        raise ValueError(msg)
    if ei.size and (ei.min() < 0 or ei.max() >= n_hits):
        msg = f"edge_index refers to hits outside [0, {n_hits})"
        raise ValueError(msg)
    return ei[0], ei[1]


def hits_of_interest(
    event: Event, *, pt_min: float = 0.9, max_abs_eta: float = 4.0, min_layers: int = 3
) -> np.ndarray:
    """Per-hit mask: hit of a particle with pT > pt_min, |η| < max_abs_eta, hits on >= min_layers
    distinct layers ("reconstructable") and particle_id > 0."""
    pid = event.hit_particle_id
    parts = event.particles
    pt = np.hypot(parts["px"], parts["py"])
    eta = np.arcsinh(parts["pz"] / np.maximum(pt, 1e-12))
    key = event.hits["volume_id"].astype(np.int64) * 1000 + event.hits["layer_id"]
    real = pid > 0
    pairs = np.unique(np.stack([pid[real], key[real]]), axis=1)
    pid_u, n_layers = np.unique(pairs[0], return_counts=True)
    ok_pid = pid_u[n_layers >= min_layers]
    good_particle = np.isin(parts["particle_id"], ok_pid) & (pt > pt_min) & (np.abs(eta) < max_abs_eta)
    return np.isin(pid, parts["particle_id"][good_particle]) & real


def _find(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected-component label per node (label = smallest node index), vectorised."""
    parent = np.arange(n, dtype=np.int64)
    if len(src) == 0:
        return parent
    while True:
        ps, pd = parent[src], parent[dst]
        lo = np.minimum(ps, pd)
        changed = ps != pd
        if not changed.any():
            return _find(parent)
        np.minimum.at(parent, ps[changed], lo[changed])
        np.minimum.at(parent, pd[changed], lo[changed])
        parent = _find(parent)


@dataclass(frozen=True)
class GraphMetrics:
    n_edges: int
    edge_efficiency: float
    edge_purity: float
    frac_segment50: float
    frac_segment75: float
    frac_segment100: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def graph_metrics(edge_index: Any, particle_id: Any, good: Any) -> GraphMetrics:
    """Edge efficiency / purity and frac_segment{50,75,100} of a graph.

    - *edge efficiency*: true directed edges whose endpoints are good hits,
      divided by all possible ones, ``sum_p n_p (n_p - 1)`` over particles of
      interest (2 x the undirected count);
    - *edge purity*: true edges / all edges, among edges with >= 1 good endpoint;
    - *frac_segmentX*: fraction of particles of interest whose largest segment
      (connected component of the subgraph induced on their own hits by true
      edges) holds >= X % of their hits.
    """
    pid = as_int_array(particle_id, "particle_id", np.int64)
    good = np.asarray(as_numpy(good)).astype(bool)
    if pid.shape != good.shape or pid.ndim != 1:
        msg = f"particle_id and good must be 1-D of equal length, got {pid.shape}, {good.shape}"
        raise ValueError(msg)
    n = len(pid)
    src, dst = _edges(edge_index, n)
    true = (pid[src] == pid[dst]) & (pid[src] > 0) & (src != dst)
    any_good = good[src] | good[dst]
    good_pids, n_p = np.unique(pid[good], return_counts=True)
    possible = float((n_p * (n_p - 1)).sum())
    n_true_good = float((true & good[src]).sum())
    eff = n_true_good / possible if possible else float("nan")
    n_any = float(any_good.sum())
    purity = float((true & any_good).sum()) / n_any if n_any else float("nan")
    frac = {50: float("nan"), 75: float("nan"), 100: float("nan")}
    if len(good_pids):
        sel = true & good[src]
        comp = _components(n, src[sel], dst[sel])
        gh = np.flatnonzero(good)
        # size of each (particle, component) segment
        _, inv, seg_size = np.unique(comp[gh], return_inverse=True, return_counts=True)
        seg_of_hit = seg_size[inv]
        order = np.argsort(pid[gh], kind="stable")
        p_sorted = pid[gh][order]
        starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
        largest = np.maximum.reduceat(seg_of_hit[order], starts)
        ratio = largest / n_p
        frac = {x: float(np.mean(ratio >= x / 100 - 1e-12)) for x in (50, 75, 100)}
    return GraphMetrics(
        n_edges=len(src), edge_efficiency=eff, edge_purity=purity,
        frac_segment50=frac[50], frac_segment75=frac[75], frac_segment100=frac[100],
    )


@dataclass(frozen=True)
class KScan:
    k: np.ndarray
    n_edges: np.ndarray
    frac_segment50: np.ndarray
    edge_efficiency: np.ndarray
    edge_purity: np.ndarray
    max_frac_segment50: float
    n_edges_at_max_frac_segment50: float
    n_edges_frac_segment50_95: float


def k_scan(
    x: Any, particle_id: Any, good: Any, *, ks: Any = range(1, 10), max_radius: float | None = 1.0,
    n_threads: int = 0,
) -> KScan:
    """Scan k of the kNN graph of embedding ``x`` (gnn_tracking's GraphConstructionKNNScanner).

    ``n_edges_frac_segment50_95`` is the number of edges, linearly interpolated
    in (frac_segment50, n_edges) between scanned k, at which frac_segment50
    first reaches 0.95 (NaN if it never does); ``max_frac_segment50`` is the
    best value over the scan.
    """
    ks = np.array(sorted(set(int(k) for k in ks)), dtype=np.int64)
    rows = []
    for k in ks:
        ei = knn_graph(x, int(k), max_radius=max_radius, n_threads=n_threads)
        m = graph_metrics(ei, particle_id, good)
        rows.append((m.n_edges, m.frac_segment50, m.edge_efficiency, m.edge_purity))
    arr = np.array(rows, dtype=np.float64)
    f50 = arr[:, 1]
    best = int(np.nanargmax(f50)) if np.isfinite(f50).any() else 0
    at95 = float("nan")
    above = np.flatnonzero(f50 >= 0.95)
    if len(above):
        j = above[0]
        if j == 0:
            at95 = arr[0, 0]
        else:
            f0, f1 = f50[j - 1], f50[j]
            t = (0.95 - f0) / (f1 - f0) if f1 != f0 else 1.0
            at95 = float(arr[j - 1, 0] + t * (arr[j, 0] - arr[j - 1, 0]))
    return KScan(
        k=ks, n_edges=arr[:, 0], frac_segment50=f50, edge_efficiency=arr[:, 2],
        edge_purity=arr[:, 3], max_frac_segment50=float(f50[best]),
        n_edges_at_max_frac_segment50=float(arr[best, 0]), n_edges_frac_segment50_95=at95,
    )
