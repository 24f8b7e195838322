"""Track-level finding metrics with ACTS's definitions, for tracks that may share hits.

A track (a list of hit rows) is **matched** to the particle that owns more than
``matching_ratio`` (50 %) of its hits (ties: the lower particle id; noise is no
particle); with ``double_matching`` that particle must also have more than that
fraction of its own hits on the track. For the **selected particles** (pT ≥
``pt_min``, |η| < ``max_abs_eta``, ≥ ``min_hits`` hits, charged, particle_id > 0):

- efficiency = selected particles with ≥ 1 matched track / selected particles;
- fake rate = unmatched tracks / tracks;
- duplicate rate = matched tracks beyond the first of their particle / matched tracks;

(as ACTS's ``TrackFinderPerformanceWriter``: ``efficiencyParticles``, ``fakeRatioTracks``,
``duplicateRatioTracks`` restricted to matched tracks), binned in pT and η with binomial
errors: efficiency in the particle's, fake and duplicate rates in the track's (its fitted
parameters when given, else its particle's). The learned pipeline's perfect /
double-majority / LHC efficiencies (:mod:`helixkit.evaluation.tracking`) are computed for
the same tracks and particles, so that both kinds of tracking fill one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._hep import check_edges, pass_total
from .._validation import as_numpy

DEFAULT_PT_EDGES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0)
DEFAULT_ETA_EDGES = tuple(np.round(np.linspace(-3.0, 3.0, 13), 6))


@dataclass(frozen=True)
class TrackFindingMetrics:
    """Pooled metrics; ``binned["pt"]`` / ``binned["eta"]``: per-bin arrays (``edges``,
    ``efficiency``, ``efficiency_err``, ``n_particles``, ``n_found``, ``fake_rate``,
    ``fake_rate_err``, ``n_tracks``, ``n_fake``, ``duplicate_rate``, ``duplicate_rate_err``,
    ``n_matched``, ``n_duplicate``): each rate is its pass count over its total count
    (``n_found / n_particles``, ``n_fake / n_tracks``, ``n_duplicate / n_matched``), the
    ``_err`` its binomial standard error."""

    n_particles: int
    n_tracks: int
    n_matched: int
    efficiency: float
    efficiency_err: float
    fake_rate: float
    fake_rate_err: float
    duplicate_rate: float
    duplicate_rate_err: float
    perfect: float
    double_majority: float
    lhc: float
    binned: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if k != "binned"}


def _ratio(a: np.ndarray | float, b: np.ndarray | float) -> Any:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)
    return out if out.ndim else float(out)


def _binomial_err(p: Any, n: Any) -> Any:
    p, n = np.asarray(p, np.float64), np.asarray(n, np.float64)
    out = np.sqrt(np.divide(p * (1 - p), n, out=np.zeros(np.broadcast(p, n).shape), where=n > 0))
    return out if out.ndim else float(out)


def labels_to_tracks(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, hits) of a per-hit track labelling (-1 = no track), tracks in label order."""
    lab = np.asarray(as_numpy(labels)).astype(np.int64)
    rows = np.flatnonzero(lab >= 0)
    order = rows[np.argsort(lab[rows], kind="stable")]
    _, counts = np.unique(lab[order], return_counts=True)
    off = np.zeros(len(counts) + 1, dtype=np.int64)
    off[1:] = np.cumsum(counts)
    return off, order


def track_finding_metrics(
    offsets: Any,
    hits: Any,
    particle_id: Any,
    particles: Any,
    *,
    pt_min: float = 0.5,
    max_abs_eta: float = 2.5,
    min_hits: int = 9,
    matching_ratio: float = 0.5,
    double_matching: bool = False,
    track_pt: Any = None,
    track_eta: Any = None,
    pt_edges: Any = DEFAULT_PT_EDGES,
    eta_edges: Any = DEFAULT_ETA_EDGES,
) -> TrackFindingMetrics:
    """ACTS-style efficiency, fake and duplicate rates of tracks (see the module docstring).

    Parameters
    ----------
    offsets : (T + 1,) int
        Track i is ``hits[offsets[i]:offsets[i + 1]]``.
    hits : (H,) int
        Hit rows (indices into ``particle_id``).
    particle_id : (N,) int
        Truth particle of every hit, 0 = noise.
    particles : table with particle_id, px, py, pz (and q, if present)
    track_pt, track_eta : (T,) float, optional
        The tracks' own pT and η for the binned fake and duplicate rates.
    """
    off = np.asarray(as_numpy(offsets)).astype(np.int64)
    h = np.asarray(as_numpy(hits)).astype(np.int64)
    pid = np.asarray(as_numpy(particle_id)).astype(np.int64)
    if off.ndim != 1 or len(off) < 1 or off[0] != 0 or off[-1] != len(h) or (np.diff(off) < 0).any():
        msg = f"offsets must start at 0, not decrease and end at len(hits) = {len(h)}"
        raise ValueError(msg)
    if len(h) and (h.min() < 0 or h.max() >= len(pid)):
        msg = f"hits must index particle_id (length {len(pid)}), got values in [{h.min()}, {h.max()}]"
        raise ValueError(msg)
    if not 0 < matching_ratio < 1:
        msg = f"matching_ratio must be in (0, 1), got {matching_ratio}"
        raise ValueError(msg)
    n_t = len(off) - 1
    size = np.diff(off)
    if (size == 0).any():
        msg = f"tracks must not be empty (track {int(np.flatnonzero(size == 0)[0])} is)"
        raise ValueError(msg)
    track = np.repeat(np.arange(n_t), size)

    # particles
    ppid = np.asarray(particles["particle_id"], dtype=np.int64)
    px, py, pz = (np.asarray(particles[c], dtype=np.float64) for c in ("px", "py", "pz"))
    ppt = np.hypot(px, py)
    peta = np.arcsinh(pz / np.maximum(ppt, 1e-12))
    order = np.argsort(ppid)
    ppid, ppt, peta = ppid[order], ppt[order], peta[order]
    charged = (np.asarray(particles["q"])[order] != 0) if "q" in particles else np.ones(
        len(ppid), bool)
    real = pid > 0
    upid, n_hits_u = np.unique(pid[real], return_counts=True)
    pos = np.clip(np.searchsorted(upid, ppid), 0, max(len(upid) - 1, 0))
    n_hits = np.where((len(upid) > 0) & (upid[pos] == ppid), n_hits_u[pos] if len(upid) else 0, 0)
    selected = ((ppt >= pt_min) & (np.abs(peta) < max_abs_eta) & (n_hits >= min_hits) & charged
                & (ppid > 0))

    # majority particle per track (ties: lower particle id)
    if n_t:
        pairs, counts = np.unique(np.stack([track, pid[h]]), axis=1, return_counts=True)
        o = np.lexsort((pairs[1], -counts, pairs[0]))
        first = np.r_[True, pairs[0][o][1:] != pairs[0][o][:-1]]
        maj_pid = pairs[1][o][first]
        maj_hits = counts[o][first]
    else:
        maj_pid = maj_hits = np.zeros(0, np.int64)
    maj_frac = maj_hits / np.maximum(size, 1)
    ppos = np.clip(np.searchsorted(ppid, maj_pid), 0, max(len(ppid) - 1, 0))
    known = (len(ppid) > 0) & (ppid[ppos] == maj_pid) & (maj_pid > 0)
    p_hits = np.where(known, n_hits[ppos] if len(ppid) else 0, 0)
    matched = known & (maj_frac > matching_ratio)
    if double_matching:
        matched &= maj_hits > matching_ratio * np.maximum(p_hits, 1)

    # efficiency (selected particles with a matched track)
    matched_p = np.unique(maj_pid[matched])
    found = selected & np.isin(ppid, matched_p)
    n_sel = int(selected.sum())
    eff = _ratio(found.sum(), n_sel)
    # fake and duplicate rates
    n_matched = int(matched.sum())
    first_of = np.zeros(n_t, dtype=bool)
    if n_matched:
        mt = np.flatnonzero(matched)
        _, first_idx = np.unique(maj_pid[mt], return_index=True)
        first_of[mt[first_idx]] = True
    duplicate = matched & ~first_of
    fake = ~matched
    # learned-pipeline definitions on the same particles (distinct particles counted)
    sel_track = known & (size >= 3) & selected[ppos] if len(ppid) else np.zeros(n_t, bool)
    perfect_p = np.unique(maj_pid[sel_track & (maj_hits == p_hits) & (maj_frac > 0.99)])
    dm_p = np.unique(maj_pid[sel_track & (maj_hits > 0.5 * p_hits) & (maj_frac > 0.5)])
    n_counted = int(sel_track.sum())

    # binned
    tpt = (np.asarray(track_pt, np.float64) if track_pt is not None
           else np.where(known, ppt[ppos] if len(ppid) else np.nan, np.nan))
    teta = (np.asarray(track_eta, np.float64) if track_eta is not None
            else np.where(known, peta[ppos] if len(ppid) else np.nan, np.nan))
    if len(tpt) != n_t or len(teta) != n_t:
        msg = f"track_pt and track_eta must have one value per track ({n_t})"
        raise ValueError(msg)
    binned = {}
    for var, pv, tv, edges in (("pt", ppt, tpt, pt_edges), ("eta", peta, teta, eta_edges)):
        e = check_edges(edges, f"{var}_edges")
        # pass / total histograms (boost-histogram when installed, else numpy)
        n_f, n_p = pass_total(pv[selected], found[selected], e)
        n_fake, n_tr = pass_total(tv, fake, e)
        n_d, n_m = pass_total(tv[matched], duplicate[matched], e)
        effb, fakeb, dupb = _ratio(n_f, n_p), _ratio(n_fake, n_tr), _ratio(n_d, n_m)
        binned[var] = {
            "edges": e, "n_particles": n_p, "n_found": n_f, "n_fake": n_fake,
            "n_matched": n_m, "n_duplicate": n_d, "efficiency": effb,
            "efficiency_err": _binomial_err(effb, n_p), "n_tracks": n_tr, "fake_rate": fakeb,
            "fake_rate_err": _binomial_err(fakeb, n_tr), "duplicate_rate": dupb,
            "duplicate_rate_err": _binomial_err(dupb, n_m),
        }
    fr = _ratio(fake.sum(), n_t)
    dr = _ratio(duplicate.sum(), n_matched)
    return TrackFindingMetrics(
        n_particles=n_sel, n_tracks=n_t, n_matched=n_matched, efficiency=eff,
        efficiency_err=_binomial_err(eff, n_sel), fake_rate=fr, fake_rate_err=_binomial_err(fr, n_t),
        duplicate_rate=dr, duplicate_rate_err=_binomial_err(dr, n_matched),
        perfect=_ratio(len(perfect_p), n_sel), double_majority=_ratio(len(dm_p), n_sel),
        lhc=_ratio((sel_track & (maj_frac > 0.75)).sum(), n_counted), binned=binned,
    )


def pool_track_metrics(per_event: list[tuple[Any, Any, Any, Any]], **kwargs: Any
                       ) -> TrackFindingMetrics:
    """:func:`track_finding_metrics` over several events: ``per_event`` holds
    (offsets, hits, particle_id, particles) per event (particle ids are made unique per
    event); ``track_pt`` / ``track_eta`` kwargs, if given, are per-event lists."""
    offs, hs, pids, parts = [], [], [], {"particle_id": [], "px": [], "py": [], "pz": [], "q": []}
    tpt, teta = kwargs.pop("track_pt", None), kwargs.pop("track_eta", None)
    n_hit = 0
    n_entry = 0
    for k, (off, h, pid, p) in enumerate(per_event):
        off = np.asarray(off, np.int64)
        pid = np.asarray(pid, np.int64)
        shift = np.int64(k) << np.int64(48)
        offs.append(off[:-1] + n_entry if k < len(per_event) - 1 else off + n_entry)
        hs.append(np.asarray(h, np.int64) + n_hit)
        pids.append(np.where(pid > 0, pid + shift, pid))
        ppid = np.asarray(p["particle_id"], np.int64)
        parts["particle_id"].append(np.where(ppid > 0, ppid + shift, ppid))
        for c in ("px", "py", "pz"):
            parts[c].append(np.asarray(p[c], np.float64))
        parts["q"].append(np.asarray(p["q"]) if "q" in p else np.ones(len(ppid)))
        n_hit += len(pid)
        n_entry += int(off[-1])
    pooled = {c: np.concatenate(v) for c, v in parts.items()}
    if tpt is not None:
        kwargs["track_pt"] = np.concatenate(tpt)
    if teta is not None:
        kwargs["track_eta"] = np.concatenate(teta)
    return track_finding_metrics(np.concatenate(offs), np.concatenate(hs), np.concatenate(pids),
                                 pooled, **kwargs)


__all__ = ["TrackFindingMetrics", "labels_to_tracks", "pool_track_metrics",
           "track_finding_metrics"]
