"""Track-finding metrics: perfect / double-majority / LHC efficiencies and the TrackML score.

Definitions follow gnn_tracking's ``metrics/cluster_metrics.py`` and the
TrackML library's ``score_event``, computed with vectorised numpy (one
``np.unique`` over (track, particle) pairs), so a 10^5-hit event takes
milliseconds.

Per reconstructed cluster (label >= 0):

- ``maj_pid``: the particle with most hits in the cluster (ties: the lower
  particle id), ``maj_hits`` its count, ``maj_frac = maj_hits / size``,
  ``maj_pid_frac = maj_hits / total_hits(maj_pid)``.
- A cluster counts if it has >= ``min_cluster_size`` (3) hits and its majority
  particle is *of interest*: pT >= ``pt_thld``, reconstructable (hits on >= 3
  distinct layers, particle_id > 0) and |η| < ``max_abs_eta`` (4).
- ``perfect`` = #clusters with all of the particle's hits and maj_frac > 0.99,
  ``double_majority`` = #clusters with maj_pid_frac > 0.5 and maj_frac > 0.5,
  both divided by the number of particles of interest; ``lhc`` = #clusters
  with maj_frac > 0.75 divided by the number of counted clusters;
  ``fake_X = (n_clusters - n_X) / n_clusters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._hep import bin_counts
from .._validation import as_float_array, as_int_array, check_float, check_int, same_length


@dataclass(frozen=True)
class _Clusters:
    label: np.ndarray
    size: np.ndarray
    maj_pid: np.ndarray
    maj_hits: np.ndarray


def _majority(labels: np.ndarray, pid: np.ndarray) -> _Clusters:
    assigned = labels >= 0
    lab, p = labels[assigned].astype(np.int64), pid[assigned].astype(np.int64)
    if len(lab) == 0:
        z = np.zeros(0, np.int64)
        return _Clusters(z, z, z, z)
    pairs, counts = np.unique(np.stack([lab, p]), axis=1, return_counts=True)
    # per label: the pair with most hits, ties to the lower pid (pairs sorted by pid)
    order = np.lexsort((pairs[1], -counts, pairs[0]))
    first = np.r_[True, pairs[0][order][1:] != pairs[0][order][:-1]]
    best = order[first]
    labels_u, sizes = np.unique(lab, return_counts=True)
    return _Clusters(labels_u, sizes, pairs[1][best], counts[best])


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """``values`` at the position of each query in the sorted ``keys`` (0 where absent), and
    the position itself (-1 where absent)."""
    if len(keys) == 0:
        return np.zeros(len(queries), dtype=values.dtype), np.full(len(queries), -1)
    pos = np.clip(np.searchsorted(keys, queries), 0, len(keys) - 1)
    found = keys[pos] == queries
    return np.where(found, values[pos], 0), np.where(found, pos, -1)


def _particle_table(
    pid: np.ndarray, particles: Any, layer_key: np.ndarray | None, min_layers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ppid = as_int_array(particles["particle_id"], "particles['particle_id']", np.int64)
    px, py, pz = (as_float_array(particles[c], f"particles[{c!r}]", ndim=1)
                  for c in ("px", "py", "pz"))
    same_length(particle_id=ppid, px=px, py=py, pz=pz)
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    order = np.argsort(ppid, kind="stable")
    ppid, pt, eta = ppid[order], pt[order], eta[order]
    dup = np.flatnonzero(ppid[1:] == ppid[:-1])
    if len(dup):
        msg = (f"particles has duplicated particle_id rows ({len(dup)} duplicates, first "
               f"particle_id {int(ppid[dup[0]])}); each particle must appear once")
        raise ValueError(msg)
    real = pid > 0
    pid_u, n_hits = np.unique(pid[real], return_counts=True)
    if layer_key is not None:
        pairs = np.unique(np.stack([pid[real], layer_key[real]]), axis=1)
        lp, n_layers = np.unique(pairs[0], return_counts=True)
    else:
        lp, n_layers = pid_u, n_hits
    hits_of, _ = _lookup(pid_u, n_hits, ppid)
    recon = (_lookup(lp, n_layers, ppid)[0] >= min_layers) & (ppid > 0)
    return ppid, pt, eta, hits_of, recon


@dataclass(frozen=True)
class TrackingMetrics:
    n_particles: int
    n_clusters: int
    perfect: float
    double_majority: float
    lhc: float
    fake_perfect: float
    fake_double_majority: float
    fake_lhc: float

    def as_dict(self, suffix: str = "") -> dict[str, float]:
        return {f"{k}{suffix}": v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class _Counted:
    """What :func:`tracking_metrics` counts, before counting: the particles of interest and
    the counted clusters (with their majority particle's row) and which of them pass."""

    pt: np.ndarray             # (P,) particles, sorted by particle_id
    eta: np.ndarray
    interest: np.ndarray       # (P,) bool
    row: np.ndarray            # (C,) majority particle's row of each counted cluster
    perfect: np.ndarray        # (C,) bool, per counted cluster
    double_majority: np.ndarray
    lhc: np.ndarray


def _counted(
    labels: Any, particle_id: Any, particles: Any, *, pt_thld: float, max_abs_eta: float,
    min_cluster_size: int, layer_key: Any, min_layers: int,
    pt_range: tuple[float, float] | None, eta_range: tuple[float, float] | None,
) -> _Counted:
    lab = as_int_array(labels, "labels", np.int64)
    pid = as_int_array(particle_id, "particle_id", np.int64)
    if lab.shape != pid.shape:
        msg = f"labels and particle_id must be 1-D of equal length, got {lab.shape}, {pid.shape}"
        raise ValueError(msg)
    key = None if layer_key is None else as_int_array(layer_key, "layer_key", np.int64)
    if key is not None and key.shape != pid.shape:
        msg = "layer_key must have the same length as particle_id"
        raise ValueError(msg)
    pt_thld = check_float(pt_thld, "pt_thld", finite=False)
    max_abs_eta = check_float(max_abs_eta, "max_abs_eta", finite=False)
    if np.isnan(pt_thld) or np.isnan(max_abs_eta):
        msg = f"pt_thld (={pt_thld}) and max_abs_eta (={max_abs_eta}) must not be NaN"
        raise ValueError(msg)
    min_cluster_size = check_int(min_cluster_size, "min_cluster_size", lo=0)
    min_layers = check_int(min_layers, "min_layers", lo=0)
    ppid, pt, eta, hits_of, recon = _particle_table(pid, particles, key, min_layers)
    interest = (pt >= pt_thld) & recon & (np.abs(eta) < max_abs_eta)
    if pt_range is not None:
        interest &= (pt >= pt_range[0]) & (pt < pt_range[1])
    if eta_range is not None:
        interest &= (eta >= eta_range[0]) & (eta < eta_range[1])

    cl = _majority(lab, pid)
    total, pos = _lookup(ppid, hits_of, cl.maj_pid)
    known = pos >= 0
    counted = known & (cl.size >= min_cluster_size)
    if len(ppid):
        counted &= interest[np.maximum(pos, 0)]
    maj_frac = cl.maj_hits / np.maximum(cl.size, 1)
    maj_pid_frac = cl.maj_hits / np.maximum(total, 1)
    return _Counted(
        pt=pt, eta=eta, interest=interest, row=pos[counted],
        perfect=((cl.maj_hits == total) & (maj_frac > 0.99))[counted],
        double_majority=((maj_pid_frac > 0.5) & (maj_frac > 0.5))[counted],
        lhc=(maj_frac > 0.75)[counted],
    )


def tracking_metrics(
    labels: Any,
    particle_id: Any,
    particles: Any,
    *,
    pt_thld: float = 0.9,
    max_abs_eta: float = 4.0,
    min_cluster_size: int = 3,
    layer_key: Any = None,
    min_layers: int = 3,
    pt_range: tuple[float, float] | None = None,
    eta_range: tuple[float, float] | None = None,
) -> TrackingMetrics:
    """Perfect / double-majority / LHC efficiencies and fake rates of a clustering.

    Parameters
    ----------
    labels : (N,) int, track label per hit, -1 = unassigned
    particle_id : (N,) int, truth particle per hit, 0 = noise
    particles : table with particle_id, px, py, pz
    layer_key : (N,) int, optional
        A distinct id per detector layer (e.g. ``volume_id * 1000 + layer_id``);
        "reconstructable" needs hits on >= ``min_layers`` distinct layers. If
        omitted, hits are counted instead of layers.
    pt_range, eta_range : optional
        Restrict particles of interest (and counted clusters) further, to
        ``[low, high)``.
    """
    c = _counted(labels, particle_id, particles, pt_thld=pt_thld, max_abs_eta=max_abs_eta,
                 min_cluster_size=min_cluster_size, layer_key=layer_key, min_layers=min_layers,
                 pt_range=pt_range, eta_range=eta_range)
    n_particles = int(c.interest.sum())
    n_clusters = len(c.row)
    n_perfect, n_dm, n_lhc = int(c.perfect.sum()), int(c.double_majority.sum()), int(c.lhc.sum())

    def ratio(a: float, b: float) -> float:
        return a / b if b else 0.0

    return TrackingMetrics(
        n_particles=n_particles, n_clusters=n_clusters,
        perfect=ratio(n_perfect, n_particles), double_majority=ratio(n_dm, n_particles),
        lhc=ratio(n_lhc, n_clusters),
        fake_perfect=ratio(n_clusters - n_perfect, n_clusters),
        fake_double_majority=ratio(n_clusters - n_dm, n_clusters),
        fake_lhc=ratio(n_clusters - n_lhc, n_clusters),
    )


def tracking_metrics_binned(
    labels: Any, particle_id: Any, particles: Any, *, variable: str = "pt", edges: Any = None,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """:func:`tracking_metrics` in bins of the majority particle's pT or η.

    Bin ``i`` holds the particles of interest with the variable in ``[edges[i], edges[i+1])``
    and the clusters whose majority particle is one of them: the numbers
    ``tracking_metrics(..., pt_range=(edges[i], edges[i+1]))`` gives, counted in one pass
    with histograms (boost-histogram when installed, else numpy). ``kwargs`` go to
    :func:`tracking_metrics` (the other variable's range included).
    """
    if variable not in ("pt", "eta"):
        msg = f"variable must be 'pt' or 'eta', got {variable!r}"
        raise ValueError(msg)
    key = "pt_range" if variable == "pt" else "eta_range"
    if key in kwargs:
        msg = f"tracking_metrics_binned(variable={variable!r}) bins in {variable}: {key} cannot be given"
        raise TypeError(msg)
    if edges is None:
        edges = [0.9, 1.5, 2, 3, 5, 10, 100] if variable == "pt" else np.linspace(-4, 4, 17)
    edges = as_float_array(edges, "edges", ndim=1)
    if len(edges) < 2 or not (np.diff(edges) > 0).all():
        msg = f"edges must hold >= 2 finite, strictly increasing values, got {edges.tolist()}"
        raise ValueError(msg)
    opts = {"pt_thld": 0.9, "max_abs_eta": 4.0, "min_cluster_size": 3, "layer_key": None,
            "min_layers": 3, "pt_range": None, "eta_range": None}
    unknown = sorted(set(kwargs) - set(opts))
    if unknown:
        msg = f"tracking_metrics() got unexpected keyword argument(s) {unknown}"
        raise TypeError(msg)
    c = _counted(labels, particle_id, particles, **{**opts, **kwargs})
    var = c.pt if variable == "pt" else c.eta
    n_particles = bin_counts(var[c.interest], edges).astype(np.float64)
    cl_var = var[c.row]
    n_clusters = bin_counts(cl_var, edges)
    out = {"edges": edges, "n_particles": n_particles}
    for f, denom in (("perfect", n_particles), ("double_majority", n_particles),
                     ("lhc", n_clusters)):
        num = bin_counts(cl_var, edges, getattr(c, f))
        out[f] = np.divide(num, denom, out=np.zeros(len(num)), where=denom > 0)
    return out


def trackml_score(labels: Any, particle_id: Any, weight: Any) -> float:
    """The TrackML score of a submission (``labels``: track id per hit, -1 = none).

    A track is good if its majority particle holds > 50 % of the track's hits
    and the track holds > 50 % of that particle's hits (both strict); the
    score is the summed truth weight of the majority particle's hits in good
    tracks (weights are normalised to 1 per event, so a perfect submission
    scores 1). Noise hits (particle_id 0) carry no weight.
    """
    lab = as_int_array(labels, "labels", np.int64)
    pid = as_int_array(particle_id, "particle_id", np.int64)
    w = as_float_array(weight, "weight", finite=False)
    if not (lab.shape == pid.shape == w.shape) or lab.ndim != 1:
        msg = "labels, particle_id and weight must be 1-D arrays of equal length"
        raise ValueError(msg)
    if not np.isfinite(w).all() or (w < 0).any():
        msg = "weight must be finite and >= 0"
        raise ValueError(msg)
    cl = _majority(lab, pid)
    if len(cl.label) == 0:
        return 0.0
    pid_u, n_hits = np.unique(pid, return_counts=True)
    total = n_hits[np.searchsorted(pid_u, cl.maj_pid)]
    good = (cl.maj_hits / cl.size > 0.5) & (cl.maj_hits / total > 0.5)
    # weight of the majority particle's hits inside good tracks
    assigned = lab >= 0
    row = np.searchsorted(cl.label, lab[assigned])  # cl.label is sorted and holds every label
    mask = np.zeros(len(lab), bool)
    mask[assigned] = good[row] & (cl.maj_pid[row] == pid[assigned]) & (pid[assigned] > 0)
    total_w = w.sum()
    return float(w[mask].sum() / total_w) if total_w > 0 else 0.0
