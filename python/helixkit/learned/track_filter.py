"""Track-candidate filter for the edge route (a learned ambiguity cut).

The edge route's track building (:func:`helixkit.models.edge.build_tracks`) keeps every
connected chain of links. Most of its fake candidates are of two kinds: *mixed* ones, two
particles' half-tracks joined where their paths cross (typical of the 4-layer barrel),
and *fragments*, a particle split into two halves of which neither holds more than half
of its hits. Both look wrong as a whole track — a kink in the transverse circle or the
longitudinal line, a weak link, strong edges to another candidate — which the edge
classifier, seeing at most four hits, cannot judge.

:func:`candidate_features` describes each candidate of ≥ 3 hits by :data:`FEATURES`:
its size, layers, the logits of its own links and of the strongest candidate edge to
another candidate, and the residuals of a circle through the beam line (x² + y² = 2ax +
2by, least squares) and of a straight line z(s) along that circle's arc length. A small
MLP (:class:`TrackFilter`, inputs standardised with the training set's mean and spread)
gives the probability that a candidate is a double-majority match; candidates below
``cut`` are rejected. :func:`refine_tracks` then repairs them (``repair_rounds``): the
weakest link of each rejected candidate is forbidden, their hits, the 2-hit pieces and the
unassigned hits are linked again, and the new candidates are judged by the same filter;
what is still rejected at the end is dissolved (label −1). Training (:func:`helixkit.pipeline.
train_track_filter`) runs the finished pipeline on events the edge classifier has not
seen and picks ``cut`` on validation events: the highest double-majority efficiency
among the cuts whose fake rate is at most ``max_fake``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch
from torch import nn

from .._validation import require
from .edge import _SCORE_CLIP, build_tracks, check_scored_edges

FEATURES = ("n_hits", "n_layers", "n_shared_layers", "min_link_logit", "mean_link_logit",
            "second_min_link_logit", "max_external_logit", "n_hits_with_external",
            "log10_max_xy_residual", "log10_max_z_residual", "log10_radius", "abs_eta",
            "r_min", "r_max")
MIN_HITS = 3            # candidates below this size are not counted as tracks; kept as they are
_RES_FLOOR = 1e-4       # mm, before the log10 of a residual
_SCORE_CLIP_NB = 1e-6   # = models.edge._SCORE_CLIP (asserted in the tests)


@dataclass
class TrackFilterConfig:
    hidden_dim: int = 64
    depth: int = 2
    cut: float = 0.0                 # candidates with p(good) < cut are dissolved (set by training)
    max_fake: float = 0.01           # target fake rate the cut is chosen for
    repair_rounds: int = 2           # rounds of re-linking the rejected candidates' hits
    mean: list[float] | None = None  # input standardisation (set by training)
    std: list[float] | None = None

    def validate(self) -> None:
        require(self.hidden_dim >= 1, self, "hidden_dim", "must be >= 1")
        require(self.depth >= 1, self, "depth", "must be >= 1")
        require(0 <= self.cut <= 1, self, "cut", "must be in [0, 1]")
        require(0 < self.max_fake < 1, self, "max_fake", "must be in (0, 1)")
        require(0 <= self.repair_rounds <= 10, self, "repair_rounds", "must be in [0, 10]")
        for name in ("mean", "std"):
            v = getattr(self, name)
            require(v is None or (len(v) == len(FEATURES) and all(np.isfinite(v))), self, name,
                    f"must be None or {len(FEATURES)} finite numbers")
        require(self.std is None or min(self.std) > 0, self, "std", "must be > 0")


class TrackFilter(nn.Module):
    """MLP on :func:`candidate_features` → logit of p(candidate is a double-majority match)."""

    def __init__(self, config: TrackFilterConfig | None = None) -> None:
        super().__init__()
        cfg = config or TrackFilterConfig()
        cfg.validate()
        self.config = cfg
        layers: list[nn.Module] = []
        width = len(FEATURES)
        for _ in range(cfg.depth):
            layers += [nn.Linear(width, cfg.hidden_dim), nn.ReLU()]
            width = cfg.hidden_dim
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(cfg.mean or [0.0] * len(FEATURES)))
        self.register_buffer("std", torch.tensor(cfg.std or [1.0] * len(FEATURES)))

    def set_standardisation(self, features: np.ndarray) -> None:
        mean = features.mean(axis=0)
        std = np.maximum(features.std(axis=0), 1e-6)
        self.mean.copy_(torch.from_numpy(mean).float())
        self.std.copy_(torch.from_numpy(std).float())
        self.config.mean = [float(v) for v in mean]
        self.config.std = [float(v) for v in std]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)

    @torch.no_grad()
    def probability(self, features: np.ndarray) -> np.ndarray:
        """p(good) per candidate row of :func:`candidate_features`."""
        f = np.asarray(features, np.float32)
        if f.ndim != 2 or f.shape[1] != len(FEATURES):
            msg = f"features: must have shape (n, {len(FEATURES)}), got {f.shape}"
            raise ValueError(msg)
        if len(f) == 0:
            return np.zeros(0, np.float64)
        was = self.training
        self.eval()
        p = torch.sigmoid(self(torch.from_numpy(f))).double().numpy()
        self.train(was)
        return p


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(s, np.float64), _SCORE_CLIP, 1 - _SCORE_CLIP)
    return np.log(s / (1 - s))


def candidate_features(labels: np.ndarray, links: np.ndarray, score: np.ndarray,
                       inner: np.ndarray, outer: np.ndarray, threshold: float, x: np.ndarray,
                       y: np.ndarray, z: np.ndarray, layer: np.ndarray,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Features (rows in :data:`FEATURES` order) of the track candidates of ≥ ``MIN_HITS``
    hits.

    ``labels``: candidate per hit (−1 = none) and ``links``: the kept edge indices, both
    from ``build_tracks(..., return_links=True)``; ``score``/``inner``/``outer``: all
    scored edges; ``x``, ``y``, ``z`` (mm) and ``layer`` (a distinct id per layer) per hit.
    Returns ``(features, candidate_labels)``."""
    lab = np.asarray(labels, np.int64)
    n = len(lab)
    for name, v in (("x", x), ("y", y), ("z", z), ("layer", layer)):
        if np.shape(v) != (n,):
            msg = f"{name}: must have one entry per hit ({n}), got shape {np.shape(v)}"
            raise ValueError(msg)
    x, y, z = (np.asarray(v, np.float64) for v in (x, y, z))
    if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(z).all()):
        msg = "x, y, z: must be finite"
        raise ValueError(msg)
    if len(lab) == 0 or lab.max() < 0:
        return np.zeros((0, len(FEATURES))), np.zeros(0, np.int64)
    score, inner, outer = check_scored_edges(score, inner, outer, n)
    links = np.ascontiguousarray(links, np.int64)
    if len(links) and (links.min() < 0 or links.max() >= len(score)):
        msg = f"links: edge indices must be in [0, {len(score)})"
        raise ValueError(msg)
    return _features_kernel(lab, links, score, inner, outer, float(threshold), x, y, z,
                            np.ascontiguousarray(layer, np.int64))


@numba.njit(cache=True, nogil=True)
def _features_kernel(lab: np.ndarray, links: np.ndarray, score: np.ndarray, inner: np.ndarray,
                     outer: np.ndarray, threshold: float, x: np.ndarray, y: np.ndarray,
                     z: np.ndarray, lay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = lab.shape[0]
    n_lab = 0
    for i in range(n):
        n_lab = max(n_lab, lab[i] + 1)
    size = np.zeros(n_lab, np.int64)
    for i in range(n):
        if lab[i] >= 0:
            size[lab[i]] += 1
    row_of = np.full(n_lab, -1, np.int64)
    k = 0
    for c in range(n_lab):
        if size[c] >= MIN_HITS:
            row_of[c] = k
            k += 1
    cands = np.empty(k, np.int64)
    for c in range(n_lab):
        if row_of[c] >= 0:
            cands[row_of[c]] = c
    f = np.zeros((k, 14))
    if k == 0:
        return f, cands
    # hits grouped by candidate row (counting sort)
    start = np.zeros(k + 1, np.int64)
    for i in range(n):
        if lab[i] >= 0 and row_of[lab[i]] >= 0:
            start[row_of[lab[i]] + 1] += 1
    for j in range(k):
        start[j + 1] += start[j]
    fill = start[:-1].copy()
    hits = np.empty(start[k], np.int64)
    for i in range(n):
        if lab[i] >= 0 and row_of[lab[i]] >= 0:
            j = row_of[lab[i]]
            hits[fill[j]] = i
            fill[j] += 1
    # own links: min, second min, mean of the logits
    lo1 = np.full(k, np.inf)
    lo2 = np.full(k, np.inf)
    lsum = np.zeros(k)
    lcnt = np.zeros(k)
    kept = np.zeros(score.shape[0], np.bool_)
    for e in links:
        kept[e] = True
        c = lab[inner[e]]
        if c < 0 or row_of[c] < 0:
            continue
        j = row_of[c]
        v = _logit1(score[e])
        lsum[j] += v
        lcnt[j] += 1
        if v < lo1[j]:
            lo2[j] = lo1[j]
            lo1[j] = v
        elif v < lo2[j]:
            lo2[j] = v
    # strongest candidate edge (above threshold, not kept) to another candidate, per hit
    best = np.full(n, -np.inf)
    for e in range(score.shape[0]):
        if score[e] > threshold and not kept[e] and lab[inner[e]] != lab[outer[e]]:
            v = _logit1(score[e])
            best[inner[e]] = max(best[inner[e]], v)
            best[outer[e]] = max(best[outer[e]], v)
    base = _logit1(threshold)
    for j in range(k):
        h = hits[start[j]:start[j + 1]]
        m = h.shape[0]
        f[j, 0] = m
        ls = np.sort(lay[h])
        nl = 1
        for q in range(1, m):
            if ls[q] != ls[q - 1]:
                nl += 1
        f[j, 1] = nl
        f[j, 2] = m - nl
        f[j, 3] = lo1[j]
        f[j, 4] = lsum[j] / lcnt[j]
        f[j, 5] = lo2[j] if lcnt[j] > 1 else lo1[j]
        ext = base
        n_ext = 0
        for i in h:
            ext = max(ext, best[i])
            if best[i] > 0:
                n_ext += 1
        f[j, 6] = ext
        f[j, 7] = n_ext
        # circle through the beam line: x² + y² = 2 a x + 2 b y
        sxx = sxy = syy = sxq = syq = 0.0
        for i in h:
            q = x[i] * x[i] + y[i] * y[i]
            sxx += x[i] * x[i]
            sxy += x[i] * y[i]
            syy += y[i] * y[i]
            sxq += x[i] * q
            syq += y[i] * q
        det = sxx * syy - sxy * sxy
        if abs(det) > 1e-12 * (sxx * syy + 1e-300):
            a = 0.5 * (syy * sxq - sxy * syq) / det
            b = 0.5 * (sxx * syq - sxy * sxq) / det
            rad = np.hypot(a, b)
            straight = False
        else:                      # collinear with the beam line: a straight track
            a = b = 0.0
            rad = 1e9
            straight = True
        s1 = s2 = sz = saz = 0.0
        res_xy = 0.0
        rmin = np.inf
        rmax = 0.0
        rsum = 0.0
        for i in h:
            r = np.hypot(x[i], y[i])
            if not straight:
                res_xy = max(res_xy, abs(np.hypot(x[i] - a, y[i] - b) - rad))
            arc = 2 * rad * np.arcsin(min(max(r / (2 * rad), -1.0), 1.0))
            s1 += arc
            s2 += arc * arc
            sz += z[i]
            saz += arc * z[i]
            rmin = min(rmin, r)
            rmax = max(rmax, r)
            rsum += r
        dz = m * s2 - s1 * s1
        t = (m * saz - s1 * sz) / dz if abs(dz) > 1e-9 * (m * s2 + 1e-300) else 0.0
        z0 = (sz - t * s1) / m
        res_z = 0.0
        for i in h:
            r = np.hypot(x[i], y[i])
            arc = 2 * rad * np.arcsin(min(max(r / (2 * rad), -1.0), 1.0))
            res_z = max(res_z, abs(z[i] - z0 - t * arc))
        f[j, 8] = np.log10(res_xy + _RES_FLOOR)
        f[j, 9] = np.log10(res_z + _RES_FLOOR)
        f[j, 10] = np.log10(min(rad, 1e9))
        f[j, 11] = abs(np.arcsinh((sz / m) / max(rsum / m, 1e-9)))
        f[j, 12] = rmin
        f[j, 13] = rmax
    return f, cands


@numba.njit(cache=True, nogil=True)
def _logit1(s: float) -> float:
    s = min(max(s, _SCORE_CLIP_NB), 1 - _SCORE_CLIP_NB)
    return np.log(s / (1 - s))


def apply_filter(labels: np.ndarray, candidates: np.ndarray, p_good: np.ndarray,
                 cut: float) -> np.ndarray:
    """Labels with the candidates whose ``p_good < cut`` dissolved (−1)."""
    out = np.array(labels, np.int64, copy=True)
    drop = np.asarray(candidates)[np.asarray(p_good) < cut]
    if len(drop):
        out[np.isin(out, drop)] = -1
    return out


def refine_tracks(track_filter: TrackFilter, labels: np.ndarray, links: np.ndarray,
                  score: np.ndarray, inner: np.ndarray, outer: np.ndarray, threshold: float,
                  x: np.ndarray, y: np.ndarray, z: np.ndarray, layer: np.ndarray, *,
                  cut: float | None = None, rounds: int | None = None,
                  linking: str = "matching",
                  first: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                  ) -> np.ndarray:
    """Judge the candidates of ``build_tracks(..., return_links=True)`` with the filter and
    repair the rejected ones: each round forbids the weakest link of every rejected
    candidate, re-links the hits of the rejected candidates, the 2-hit pieces and the
    unassigned hits among themselves (same threshold and linking, the other edges as
    before) and judges the new candidates of ≥ 3 hits in the context of all others; what
    is still rejected after ``rounds`` (default ``config.repair_rounds``) is dissolved.
    ``first``: ``(features, ids, p_good)`` of the initial candidates, if already computed.
    Returns the labels per hit."""
    cut = track_filter.config.cut if cut is None else float(cut)
    rounds = track_filter.config.repair_rounds if rounds is None else int(rounds)
    geo = (x, y, z, layer)
    # only the edges above the threshold matter (links are among them): work on those
    score = np.asarray(score)
    above = np.flatnonzero(score > threshold)
    score = score[above]
    inner = np.asarray(inner, np.int64)[above]
    outer = np.asarray(outer, np.int64)[above]
    links = np.searchsorted(above, np.asarray(links, np.int64))
    if first is None:
        f, ids = candidate_features(labels, links, score, inner, outer, threshold, *geo)
        first = (f, ids, track_filter.probability(f))
    _, ids, p = first
    lab = np.asarray(labels, np.int64)
    bad = ids[p < cut]
    if rounds == 0 or len(bad) == 0:
        return apply_filter(lab, ids, p, cut)
    forbidden = np.zeros(len(score), bool)
    for _ in range(rounds):
        size = np.bincount(lab[lab >= 0])
        in_pool = (lab < 0) | np.isin(lab, bad) | ((lab >= 0) & (size[np.maximum(lab, 0)] == 2))
        # the weakest link of each rejected candidate is not offered again
        lk = links[np.isin(lab[inner[links]], bad)]
        lk = lk[np.lexsort((score[lk], lab[inner[lk]]))]      # by candidate, weakest first
        forbidden[lk[np.unique(lab[inner[lk]], return_index=True)[1]]] = True
        sub = np.flatnonzero(in_pool[inner] & in_pool[outer] & ~forbidden)
        new, new_links = build_tracks(score[sub], inner[sub], outer[sub], len(lab), threshold,
                                      linking=linking, return_links=True)
        base = int(lab.max()) + 1
        lab = lab.copy()
        lab[in_pool] = np.where(new[in_pool] >= 0, new[in_pool] + base, -1)
        links = np.sort(np.concatenate([links[~in_pool[inner[links]]], sub[new_links]]))
        f, ids = candidate_features(lab, links, score, inner, outer, threshold, *geo)
        fresh = ids >= base
        p_new = track_filter.probability(f[fresh])
        bad = ids[fresh][p_new < cut]
        if len(bad) == 0:
            break
    lab[np.isin(lab, bad)] = -1            # lab is this function's own copy by now
    return lab


def candidate_truth(labels: np.ndarray, candidates: np.ndarray, particle_id: np.ndarray,
                    particle_hits: Any) -> np.ndarray:
    """1 where a candidate is a double-majority match (its majority particle, not noise,
    holds > 50 % of its hits and it holds > 50 % of that particle's hits), else 0.
    ``particle_hits(pid_array)`` → the particles' hit counts."""
    lab = np.asarray(labels, np.int64)
    pid = np.asarray(particle_id, np.int64)
    sel = np.isin(lab, candidates)
    key = np.stack([lab[sel], pid[sel]])
    pairs, counts = np.unique(key, axis=1, return_counts=True)
    # majority particle per candidate: largest count (ties: smallest particle id)
    order = np.lexsort((pairs[1], -counts, pairs[0]))
    pairs, counts = pairs[:, order], counts[order]
    first = np.r_[True, pairs[0, 1:] != pairs[0, :-1]]
    cand, maj_pid, maj_n = pairs[0, first], pairs[1, first], counts[first]
    size = np.bincount(lab[sel])[cand]
    total = np.asarray(particle_hits(maj_pid), np.float64)
    good = (maj_pid > 0) & (maj_n / size > 0.5) & (maj_n / np.maximum(total, 1) > 0.5)
    out = np.zeros(len(candidates), np.float32)
    out[np.searchsorted(cand, candidates)] = good
    return out


__all__ = ["FEATURES", "TrackFilter", "TrackFilterConfig", "apply_filter", "candidate_features",
           "candidate_truth", "refine_tracks"]
