"""Dataset selection: particle cuts with a cut flow, and train/val/test splits of events.

All quantities are in helixkit's units (GeV, mm): write ``pt=(0.9 * u.GeV, None)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .event import Event

__all__ = ["CutFlow", "format_cutflow", "particle_hit_counts", "select_particles", "split_events"]


class CutFlow(list):
    """Ordered ``(cut name, particles left)`` pairs; ``str()`` pretty-prints it."""

    def __str__(self) -> str:
        return format_cutflow(self)

    def as_dict(self) -> dict[str, int]:
        return dict(self)


def format_cutflow(cutflow: Iterable[tuple[str, int]], *, title: str | None = None) -> str:
    """A fixed-width table of a cut flow: cut, particles left, and the fraction kept
    by this cut and since the start.

    Examples
    --------
    >>> print(format_cutflow([("all", 200), ("nhits >= 3", 150)]))
    cut           left   this cut   cumulative
    all            200    100.0 %      100.0 %
    nhits >= 3     150     75.0 %       75.0 %
    """
    rows = [(str(name), int(n)) for name, n in cutflow]
    width = max([len("cut"), *(len(name) for name, _ in rows)])
    lines = [] if title is None else [title]
    lines.append(f"{'cut':<{width}}  {'left':>6}   {'this cut':>8}   {'cumulative':>10}")
    first = rows[0][1] if rows else 0
    prev = first
    for name, n in rows:
        step = f"{100.0 * n / prev:.1f} %" if prev else "-"
        cum = f"{100.0 * n / first:.1f} %" if first else "-"
        lines.append(f"{name:<{width}}  {n:>6}   {step:>8}   {cum:>10}")
        prev = n
    return "\n".join(lines)


def particle_hit_counts(event: Event, *, distinct_layers: bool = False) -> np.ndarray:
    """Number of hits of each particle of ``event.particles`` in this event.

    With ``distinct_layers=True``, hits on the same (volume_id, layer_id) count
    once (a looper or a module overlap does not add a layer).
    """
    pids = event.particles["particle_id"]
    hit_pid = event.hit_particle_id
    signal = hit_pid != 0
    if distinct_layers:
        vol = event.hits["volume_id"].astype(np.int64)[signal]
        lay = event.hits["layer_id"].astype(np.int64)[signal]
        keys = np.stack([hit_pid[signal], vol, lay], axis=1)
        owners = np.unique(keys, axis=0)[:, 0] if len(keys) else np.zeros(0, np.int64)
    else:
        owners = hit_pid[signal]
    ids, counts = np.unique(owners, return_counts=True)
    out = np.zeros(len(pids), np.int64)
    if len(ids):
        pos = np.minimum(np.searchsorted(ids, pids), len(ids) - 1)
        found = ids[pos] == pids
        out[found] = counts[pos[found]]
    return out


def _check_range(name: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = value
    except (TypeError, ValueError):
        msg = f"{name} must be a (min, max) pair or None, got {value!r}"
        raise ValueError(msg) from None
    lo = 0.0 if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    if math.isnan(lo) or math.isnan(hi) or lo < 0 or hi <= lo:
        msg = f"{name} must satisfy 0 <= min < max, got ({lo}, {hi})"
        raise ValueError(msg)
    return lo, hi


def _check_limit(name: str, value: Any, *, integer: bool = False) -> float | None:
    if value is None:
        return None
    v = float(value)
    if math.isnan(v) or v < 0 or (integer and v != int(v)):
        kind = "a non-negative integer" if integer else "a non-negative number"
        msg = f"{name} must be {kind} or None, got {value!r}"
        raise ValueError(msg)
    return v


def select_particles(
    event: Event,
    min_hits: int | None = 3,
    pt: tuple[float | None, float | None] | None = (0.5, 10),
    max_vxy: float | None = 1.0,
    max_abs_eta: float | None = 1.0,
    primary_only: bool = False,
    *,
    distinct_layers: bool = False,
) -> tuple[np.ndarray, CutFlow]:
    """Select the particles of an event with successive cuts.

    Parameters
    ----------
    event : Event
        Needs particles (px, py, pz [GeV], vx, vy [mm]) and, for ``min_hits``, truth.
    min_hits : int or None
        Minimum number of hits of the particle in this event (see
        :func:`particle_hit_counts`).
    pt : (min, max) or None
        ``min <= pT < max`` [GeV]; either bound may be None (open).
    max_vxy : float or None
        Maximum transverse production distance ``hypot(vx, vy)`` [mm].
    max_abs_eta : float or None
        Maximum ``|eta|`` of the momentum direction.
    primary_only : bool
        Keep only particles whose ``primary`` column is true (the column must exist).
    distinct_layers : bool
        Count hits on the same layer once for ``min_hits``.

    Returns
    -------
    mask : (n_particles,) bool
    cutflow : CutFlow
        ``[("all", n), (cut, n_left), ...]`` in the order applied; ``str()`` prints a table.
        Disabled cuts (None / False) do not appear.
    """
    if not isinstance(event, Event):
        msg = f"event must be a helixkit.data.Event, got {type(event).__name__}"
        raise TypeError(msg)
    min_hits_v = _check_limit("min_hits", min_hits, integer=True)
    pt_range = _check_range("pt", pt)
    max_vxy_v = _check_limit("max_vxy", max_vxy)
    max_eta_v = _check_limit("max_abs_eta", max_abs_eta)
    particles = event.particles
    mask = np.ones(particles.n_rows, dtype=bool)
    flow = CutFlow([("all", particles.n_rows)])

    def apply(name: str, keep: np.ndarray) -> None:
        nonlocal mask
        mask &= keep
        flow.append((name, int(mask.sum())))

    if min_hits_v is not None:
        if not event.has_truth:
            msg = "min_hits needs truth (hit -> particle) in the event; pass min_hits=None"
            raise ValueError(msg)
        n = particle_hit_counts(event, distinct_layers=distinct_layers)
        what = "layers" if distinct_layers else "nhits"
        apply(f"{what} >= {int(min_hits_v)}", n >= min_hits_v)
    px = particles["px"].astype(np.float64)
    py = particles["py"].astype(np.float64)
    pz = particles["pz"].astype(np.float64)
    pt_v = np.hypot(px, py)
    if pt_range is not None:
        lo, hi = pt_range
        label = f"pT >= {lo:g} GeV" if math.isinf(hi) else f"{lo:g} <= pT < {hi:g} GeV"
        apply(label, (pt_v >= lo) & (pt_v < hi))
    if max_vxy_v is not None:
        vxy = np.hypot(particles["vx"].astype(np.float64), particles["vy"].astype(np.float64))
        apply(f"vxy <= {max_vxy_v:g} mm", vxy <= max_vxy_v)
    if max_eta_v is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.arcsinh(pz / pt_v)
        eta = np.where(pt_v > 0, eta, np.inf)  # along the beam: infinite |eta|
        apply(f"|eta| <= {max_eta_v:g}", np.abs(eta) <= max_eta_v)
    if primary_only:
        if "primary" not in particles:
            msg = "primary_only=True needs a 'primary' column in event.particles"
            raise ValueError(msg)
        apply("primary", np.asarray(particles["primary"]).astype(bool))
    return mask, flow


def split_events(
    event_ids: Sequence[int] | np.ndarray,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[list[int], ...]:
    """Split event ids into disjoint, deterministic subsets (train/val/test by default).

    The ids are sorted first, so the result depends only on the set of ids,
    ``fractions`` and ``seed`` (not on their order). Sizes follow the cumulative
    fractions rounded to whole events, so they sum to ``len(event_ids)``; each
    subset is returned sorted.

    Parameters
    ----------
    event_ids : sequence of int
        Unique ids.
    fractions : sequence of float
        Non-negative, summing to 1.
    seed : int

    Returns
    -------
    tuple of lists
        One list per fraction.
    """
    ids = np.asarray(event_ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        msg = (
            f"event_ids must be a 1-D sequence of integers, "
            f"got dtype {ids.dtype} shape {ids.shape}"
        )
        raise ValueError(msg)
    ids = np.sort(ids.astype(np.int64))
    if len(ids) > 1 and (ids[1:] == ids[:-1]).any():
        dup = ids[1:][ids[1:] == ids[:-1]][0]
        msg = f"event_ids must be unique; {dup} appears more than once"
        raise ValueError(msg)
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) == 0 or not np.isfinite(fr).all() or (fr < 0).any():
        msg = f"fractions must be a non-empty sequence of non-negative numbers, got {fractions!r}"
        raise ValueError(msg)
    if abs(fr.sum() - 1.0) > 1e-9:
        msg = f"fractions must sum to 1, got {fractions!r} (sum {fr.sum():g})"
        raise ValueError(msg)
    perm = np.random.default_rng(seed).permutation(len(ids))
    bounds = np.rint(np.cumsum(fr) * len(ids)).astype(np.int64)
    bounds[-1] = len(ids)
    starts = np.concatenate([[0], bounds[:-1]])
    return tuple(sorted(ids[perm[a:b]].tolist()) for a, b in zip(starts, bounds))
