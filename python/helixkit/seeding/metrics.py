"""Seeding performance: efficiency, fake rate and duplication, inclusive and binned.

Definitions (for seeds given as space-point index triplets):

* a seed is **true** if its three space points belong to the same particle
  (particle id != 0; 0 marks noise), otherwise it is a **fake**;
* a selected particle is **matched** if it has at least one true seed;
* efficiency = matched selected particles / selected particles;
* fake rate = fake seeds / all seeds;
* duplication rate = (true seeds of selected particles - matched particles)
  / matched particles, i.e. the mean number of extra seeds per matched particle;
* fraction duplicated = matched particles with more than one true seed /
  matched particles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._hep import bin_counts, check_edges
from .._validation import as_numpy
from ..data import Event, Table, layer_key

__all__ = ["BinnedSeedingMetrics", "SeedingMetrics", "pool_events", "pool_positions",
           "seeding_metrics",
           "seeding_particles"]


@dataclass(frozen=True)
class BinnedSeedingMetrics:
    """Metrics in bins of a particle variable (``pt`` [GeV] or ``eta``).

    ``efficiency``, ``duplication_rate`` and ``fraction_duplicated`` are per bin
    of the *particle* variable; ``fake_rate`` is per bin of the same variable
    computed from the seed itself (only when space-point positions were given,
    otherwise NaN). Empty bins are NaN. ``efficiency_error`` is the binomial
    standard error.
    """

    variable: str
    edges: np.ndarray
    n_selected: np.ndarray
    n_matched: np.ndarray
    efficiency: np.ndarray
    efficiency_error: np.ndarray
    duplication_rate: np.ndarray
    fraction_duplicated: np.ndarray
    n_seeds: np.ndarray
    fake_rate: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])


@dataclass(frozen=True)
class SeedingMetrics:
    """Inclusive seeding metrics; see the module docstring for definitions."""

    n_seeds: int
    n_true_seeds: int
    n_fake_seeds: int
    n_selected: int
    n_matched: int
    efficiency: float
    fake_rate: float
    duplication_rate: float
    fraction_duplicated: float
    #: true seeds per particle, aligned with the ``particles`` rows
    seeds_per_particle: np.ndarray = field(repr=False)
    #: particle id of each seed, 0 for fakes
    seed_particle_id: np.ndarray = field(repr=False)
    binned: dict[str, BinnedSeedingMetrics] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, float]:
        return {
            "n_seeds": self.n_seeds,
            "n_true_seeds": self.n_true_seeds,
            "n_fake_seeds": self.n_fake_seeds,
            "n_selected": self.n_selected,
            "n_matched": self.n_matched,
            "efficiency": self.efficiency,
            "fake_rate": self.fake_rate,
            "duplication_rate": self.duplication_rate,
            "fraction_duplicated": self.fraction_duplicated,
        }


def _ratio(a: Any, b: Any) -> Any:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)
    return out if out.ndim else float(out)


def _column(particles: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(particles[name])
    except (KeyError, IndexError, ValueError):
        msg = f"particles must have a {name!r} column"
        raise ValueError(msg) from None


DEFAULT_PT_EDGES = np.array([0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0])
DEFAULT_ETA_EDGES = np.linspace(-4.0, 4.0, 17)


def seeding_metrics(
    triplets: Any,
    particle_id_of_sp: Any,
    particles: Mapping[str, Any] | Any,
    selection: Any = None,
    *,
    pt_edges: Any = DEFAULT_PT_EDGES,
    eta_edges: Any = DEFAULT_ETA_EDGES,
    sp_xyz: tuple[Any, Any, Any] | None = None,
    b_field_z: float | None = None,
) -> SeedingMetrics:
    """Compute seeding efficiency, fake rate and duplication.

    Parameters
    ----------
    triplets : (M, 3) int array
        Space-point indices of each seed (e.g. ``find_seeds(...).triplets``).
    particle_id_of_sp : (N,) int array
        Particle id of every space point (0 = noise), indexed like ``triplets``.
    particles : Table or mapping
        Needs ``particle_id``, ``px``, ``py``, ``pz`` [GeV] columns.
    selection : (P,) bool array, callable or None
        Which particles count for efficiency/duplication: a mask aligned with
        ``particles``, a function ``particles -> mask``, or None for all.
        A common choice: ``pt > 1 GeV`` and at least 3 seeding-layer hits.
    pt_edges, eta_edges : array_like
        Bin edges for the binned metrics (``.binned["pt"]``, ``.binned["eta"]``).
    sp_xyz : (x, y, z), optional
        Space-point positions, to bin the fake rate in the seed's own pT-free
        variables (eta of the bottom-to-top direction); pT bins of fakes are NaN
        unless ``b_field_z`` is given too.
    b_field_z : float, optional
        Solenoid field in native units (``2 * units.T``): with ``sp_xyz``, the fake
        rate vs pT is binned in the seed's own pT, ``|B| * R`` of the circle through
        its three space points in x-y.

    Returns
    -------
    SeedingMetrics
    """
    trip = np.asarray(as_numpy(triplets))
    if trip.size == 0:
        trip = trip.reshape(0, 3)
    if trip.ndim != 2 or trip.shape[1] != 3 or (trip.size and trip.dtype.kind not in "iu"):
        msg = f"triplets must be an (M, 3) integer array, got shape {trip.shape} dtype {trip.dtype}"
        raise ValueError(msg)
    pid_sp = np.asarray(as_numpy(particle_id_of_sp)).astype(np.int64, copy=False)
    if pid_sp.ndim != 1:
        msg = f"particle_id_of_sp must be 1-D, got shape {pid_sp.shape}"
        raise ValueError(msg)
    if trip.size and (trip.min() < 0 or trip.max() >= len(pid_sp)):
        msg = (
            f"triplets index space points in [{trip.min()}, {trip.max()}] but "
            f"particle_id_of_sp has length {len(pid_sp)}"
        )
        raise ValueError(msg)
    pids = _column(particles, "particle_id").astype(np.int64)
    px = _column(particles, "px").astype(np.float64)
    py = _column(particles, "py").astype(np.float64)
    pz = _column(particles, "pz").astype(np.float64)
    n_part = len(pids)
    if callable(selection):
        selection = selection(particles)
    sel = np.ones(n_part, dtype=bool) if selection is None else np.asarray(selection)
    if sel.dtype != bool or sel.shape != (n_part,):
        msg = f"selection must be a boolean mask of shape ({n_part},), got {sel.dtype} {sel.shape}"
        raise ValueError(msg)

    ids = pid_sp[trip] if trip.size else np.zeros((0, 3), dtype=np.int64)
    is_true = (ids[:, 0] == ids[:, 1]) & (ids[:, 1] == ids[:, 2]) & (ids[:, 0] != 0)
    seed_pid = np.where(is_true, ids[:, 0], 0)

    # true seeds per particle row
    order = np.argsort(pids, kind="stable")
    sorted_ids = pids[order]
    true_ids = seed_pid[is_true]
    pos = np.searchsorted(sorted_ids, true_ids)
    pos_ok = pos < n_part
    known = np.zeros(len(true_ids), dtype=bool)
    known[pos_ok] = sorted_ids[pos[pos_ok]] == true_ids[pos_ok]
    counts_sorted = np.bincount(pos[known], minlength=n_part) if n_part else np.zeros(0, int)
    per_particle = np.zeros(n_part, dtype=np.int64)
    per_particle[order] = counts_sorted

    matched = sel & (per_particle > 0)
    n_sel = int(sel.sum())
    n_matched = int(matched.sum())
    true_of_sel = int(per_particle[sel].sum())

    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / np.where(pt > 0, pt, 1), np.sign(pz) * 1e6))

    seed_eta = seed_pt = None
    if sp_xyz is not None and len(trip):
        x, y, z = (np.asarray(as_numpy(a), dtype=np.float64) for a in sp_xyz)
        b, t = trip[:, 0], trip[:, 2]
        dr = np.hypot(x[t], y[t]) - np.hypot(x[b], y[b])
        dz = z[t] - z[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            seed_eta = np.arcsinh(dz / np.where(dr != 0, dr, np.nan))
        if b_field_z is not None:
            m_ = trip[:, 1]
            a = np.hypot(x[m_] - x[b], y[m_] - y[b])
            c = np.hypot(x[t] - x[m_], y[t] - y[m_])
            e = np.hypot(x[t] - x[b], y[t] - y[b])
            cross = np.abs((x[m_] - x[b]) * (y[t] - y[b]) - (y[m_] - y[b]) * (x[t] - x[b]))
            with np.errstate(divide="ignore", invalid="ignore"):
                radius = a * c * e / (2 * cross)  # circumradius abc / (4 * area)
            seed_pt = np.where(np.isfinite(radius), radius * abs(float(b_field_z)), np.nan)

    binned = {
        "pt": _binned("pt", pt, np.asarray(pt_edges, float), sel, per_particle, seed_pt, is_true),
        "eta": _binned("eta", eta, np.asarray(eta_edges, float), sel, per_particle, seed_eta, is_true),
    }
    n_seeds = len(trip)
    n_true = int(is_true.sum())
    return SeedingMetrics(
        n_seeds=n_seeds,
        n_true_seeds=n_true,
        n_fake_seeds=n_seeds - n_true,
        n_selected=n_sel,
        n_matched=n_matched,
        efficiency=_ratio(n_matched, n_sel),
        fake_rate=_ratio(n_seeds - n_true, n_seeds),
        duplication_rate=_ratio(true_of_sel - n_matched, n_matched),
        fraction_duplicated=_ratio(int((matched & (per_particle > 1)).sum()), n_matched),
        seeds_per_particle=per_particle,
        seed_particle_id=seed_pid,
        binned=binned,
    )


def _binned(
    name: str,
    value: np.ndarray,
    edges: np.ndarray,
    sel: np.ndarray,
    per_particle: np.ndarray,
    seed_value: np.ndarray | None,
    is_true: np.ndarray,
) -> BinnedSeedingMetrics:
    edges = check_edges(edges, f"{name}_edges")
    nb = len(edges) - 1
    # the selected particles' histograms (boost-histogram when installed, else numpy)
    value_sel, cnt = value[sel], per_particle[sel]
    n_sel = bin_counts(value_sel, edges)
    n_match = bin_counts(value_sel, edges, cnt > 0)
    n_true = bin_counts(value_sel, edges, cnt)
    n_dup = bin_counts(value_sel, edges, cnt > 1)
    eff = _ratio(n_match, n_sel)
    with np.errstate(invalid="ignore"):
        err = np.sqrt(eff * (1 - eff) / np.where(n_sel > 0, n_sel, np.nan))
    fake = np.full(nb, np.nan)
    n_seeds = np.zeros(nb, dtype=np.int64)
    if seed_value is not None:
        seed_value = np.where(np.isfinite(seed_value), seed_value, np.nan)  # +-inf: not binned
        n_seeds = bin_counts(seed_value, edges)
        fake = _ratio(bin_counts(seed_value, edges, ~is_true), n_seeds)
    return BinnedSeedingMetrics(
        variable=name,
        edges=edges,
        n_selected=n_sel,
        n_matched=n_match.astype(np.int64),
        efficiency=eff,
        efficiency_error=err,
        duplication_rate=_ratio(n_true - n_match, n_match),
        fraction_duplicated=_ratio(n_dup, n_match),
        n_seeds=np.asarray(n_seeds, dtype=np.int64),
        fake_rate=fake,
    )


def seeding_particles(event: Event, *, min_pt: float = 1.0, min_layers: int = 3,
                      max_abs_eta: float = 2.5) -> np.ndarray:
    """Mask over ``event.particles``: pT > ``min_pt`` GeV, |η| < ``max_abs_eta`` and hits on
    at least ``min_layers`` pixel layers — the particles a pixel seeding should find."""
    parts = event.particles
    pt = np.hypot(parts["px"], parts["py"])
    eta = np.arcsinh(parts["pz"] / np.maximum(pt, 1e-12))
    pix = (np.isin(event.hits["volume_id"], event.geometry.pixel_volumes)
           & (event.hit_particle_id > 0))
    pairs = np.unique(np.stack([event.hit_particle_id[pix], layer_key(event, pix)]), axis=1)
    pid_u, n_layers = np.unique(pairs[0], return_counts=True)
    pos = np.searchsorted(pid_u, parts["particle_id"])
    pos = np.clip(pos, 0, max(len(pid_u) - 1, 0))
    layers = np.where(len(pid_u) and (pid_u[pos] == parts["particle_id"]), n_layers[pos], 0)
    return (pt > min_pt) & (np.abs(eta) < max_abs_eta) & (layers >= min_layers)


def pool_positions(events: list[Event]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z of the hits of several events, concatenated as :func:`pool_events` offsets
    their hit indices (the ``sp_xyz`` of :func:`seeding_metrics` for pooled events)."""
    return tuple(np.concatenate([np.asarray(ev.hits[c], np.float64) for ev in events])
                 for c in ("x", "y", "z"))


def pool_events(events: list[Event], triplets: list[np.ndarray],
                ) -> tuple[np.ndarray, np.ndarray, Table, np.ndarray]:
    """Seeds of several events as one sample for :func:`seeding_metrics`: ``(triplets,
    space-point particle ids, particles, selection)`` with hit indices offset per event and
    particle ids made unique per event (event k + 1 in bits 48 and up); the selection is
    :func:`seeding_particles` of each event."""
    trip, sp_pid, cols, sel = [], [], {k: [] for k in ("particle_id", "px", "py", "pz")}, []
    offset = 0
    for k, (ev, t) in enumerate(zip(events, triplets)):
        tag = np.int64(k + 1) << np.int64(48)
        pid = ev.hit_particle_id.astype(np.int64)
        sp_pid.append(np.where(pid > 0, pid | tag, 0))
        trip.append(t + offset)
        offset += ev.n_hits
        cols["particle_id"].append(ev.particles["particle_id"].astype(np.int64) | tag)
        for c in ("px", "py", "pz"):
            cols[c].append(ev.particles[c])
        sel.append(seeding_particles(ev))
    particles = Table({k: np.concatenate(v) for k, v in cols.items()})
    return np.concatenate(trip), np.concatenate(sp_pid), particles, np.concatenate(sel)
