"""Edge classification and track building on the GC graph.

The route after the GC embedding that the cluster-shape features pay off in
(docs/learned_pipeline.md): every edge of the embedding's kNN graph, oriented
from the hit nearer the origin to the farther one, is scored by a fully
connected classifier, and tracks are built from the scores.

Edge inputs (:func:`edge_inputs`): Δr, Δφ, Δz, Δη and the log length of the
doublet, the distance of its hits in the embedding, both hits' features, and,
when the hit features carry the ``"cluster"`` group, how well the doublet's
direction agrees with the direction each hit's cluster measures (|cos| of the
angle, the difference of polar angles, and the agreement of the two clusters)
— the pairwise use of cluster shapes that a per-hit embedding cannot make.
Inputs are standardised with the training set's mean and spread, which the
model keeps as buffers.

Scoring runs in (at least) two passes when ``refine`` (default): the second classifier
sees, besides the pair inputs, the first pass's scores of each edge's
best-scoring neighbours (h → i before it, j → l after it) and how the
direction turns along h → i → j → l (:func:`triplet_inputs`) — the triplet
consistency that separates a track's doublets from random ones, without a
full message-passing network. With ``prune`` > 0, edges the first pass scores
at or below it keep that score and skip every later pass, which then trains and
runs on the hard ~third of the edges only. ``refine_passes`` > 1 repeats the
refinement: pass p, a classifier of its own, sees the triplet inputs built from
pass p − 1's scores — the neighbours it weighs are now scored with their own
context, which settles most crossings of two tracks that one refinement leaves
ambiguous (a third and a fourth pass took the shipped model from 97.0 to
98.8 % DM at ⟨μ⟩ = 200, docs/learned_pipeline.md).

Track building (:func:`build_tracks`): each hit keeps at most one link to an
outer hit and one from an inner hit, chosen among the edges above
``threshold`` as a maximum-weight matching of inner to outer hits with weight
logit(s) − logit(threshold) per edge (``linking="matching"``, the default: a
forward auction, exact to within ε = 10⁻² per link), or greedily by decreasing
score (``linking="greedy"``); tracks are the connected components of the kept
links (union–find), and hits left alone get −1. One wrong edge therefore cannot
merge two long tracks the way it does under plain connected components or
single-linkage DBSCAN, and where two candidates compete for a hit the matching
keeps the pair of links that is jointly most likely instead of the single
strongest one.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import torch
from torch import nn

from .._validation import require
from ..graph import knn_graph
from ..nn.blocks import mlp
from ..nn.features import FEATURE_NAMES, feature_columns, n_features
from ..nn.registry import register_model

N_DOUBLET = 6       # Δr, Δφ, Δz, Δη, log length, embedding distance
N_CLUSTER = 5       # |cos| at both ends, polar-angle differences at both ends, cluster agreement
N_TRIPLET = 11      # see triplet_inputs (with triplet_context 1)
N_CONTEXT2 = 10     # added by triplet_context 2
_KEY32_LIMIT = 2**32 - 1    # graph_edges: largest n * n for 32-bit pair keys
LINKINGS = ("matching", "greedy")
AUCTION_EPS = 1e-2          # auction: a link's value is optimal to within this (logit units)
_SCORE_CLIP = 1e-6          # scores are clipped to [clip, 1 - clip] before the logit
MAX_REFINE = 4              # EdgeConfig.refine_passes: at most this many refinement passes


@dataclass
class EdgeConfig:
    """Edge classifier settings. ``extra_features``: the hit-feature groups of its input
    (:data:`helixkit.features.EXTRA_FEATURES`); ``k``: neighbours per hit in the embedding."""

    extra_features: list[str] = field(default_factory=lambda: ["cluster"])
    emb_dim: int = 8
    k: int = 12
    max_radius: float | None = None
    hidden_dim: int = 128
    n_hidden: int = 3
    threshold: float = 0.3   # working point (set by training on the validation events)
    pt_thld: float = 0.9
    refine: bool = True      # second pass with triplet inputs from the first pass's scores
    # refinement passes with refine (1: the second pass only); pass p > 2 is a classifier of
    # its own on the triplet inputs of pass p − 1's scores
    refine_passes: int = 1
    # neighbouring edges per side each refinement pass sees (1: the best-scoring one; 2: also the
    # runner-up, and each edge's score margin over its rivals for the same slot)
    triplet_context: int = 1
    # edges the first pass scores at or below this are settled there: the refinement passes
    # (and their training) see only the rest (0: every edge)
    prune: float = 0.0
    # track building: "matching" (maximum-weight, by auction) or "greedy" (by decreasing score)
    linking: str = "matching"
    # geometric doublets added to the embedding's kNN graph (:func:`doublet_edges`): pairs
    # of hits on different layers that a particle of pT >= doublet_pt_min (GeV) from the
    # luminous region (|z0| <= doublet_z_max mm) can join, at most doublet_dr_max mm apart
    # in r, with doublet_dphi_margin rad of slack in azimuth (scattering, d0)
    doublets: bool = False
    doublet_pt_min: float = 0.9
    doublet_b_field: float = 2.0
    doublet_z_max: float = 200.0
    doublet_dr_max: float = 200.0
    doublet_dphi_margin: float = 0.01

    def validate(self) -> None:
        try:
            n_features(tuple(self.extra_features))
        except ValueError as e:
            raise ValueError(f"EdgeConfig.extra_features: {e}") from None
        require(self.emb_dim >= 1, self, "emb_dim", "must be >= 1")
        require(1 <= self.k <= 256, self, "k", "must be in [1, 256]")
        require(self.max_radius is None or self.max_radius > 0, self, "max_radius",
                "must be None or > 0")
        require(self.hidden_dim >= 1, self, "hidden_dim", "must be >= 1")
        require(self.n_hidden >= 1, self, "n_hidden", "must be >= 1")
        require(0 <= self.threshold <= 1, self, "threshold", "must be in [0, 1]")
        require(self.triplet_context in (1, 2), self, "triplet_context", "must be 1 or 2")
        require(isinstance(self.refine_passes, int) and not isinstance(self.refine_passes, bool)
                and 1 <= self.refine_passes <= MAX_REFINE,
                self, "refine_passes", f"must be an integer in [1, {MAX_REFINE}]")
        require(0 <= self.prune < 1, self, "prune", "must be in [0, 1)")
        require(self.linking in LINKINGS, self, "linking", f"must be one of {LINKINGS}")
        for name in ("doublet_pt_min", "doublet_b_field", "doublet_z_max", "doublet_dr_max"):
            value = getattr(self, name)
            require(math.isfinite(value) and value > 0, self, name, "must be finite and > 0")
        require(math.isfinite(self.doublet_dphi_margin) and self.doublet_dphi_margin >= 0, self,
                "doublet_dphi_margin", "must be finite and >= 0")

    @property
    def n_passes(self) -> int:
        """Scoring passes: the first, plus ``refine_passes`` with ``refine``."""
        return 1 + (self.refine_passes if self.refine else 0)

    @property
    def hit_dim(self) -> int:
        return n_features(tuple(self.extra_features))

    @property
    def in_dim(self) -> int:
        return self.pair_dim + 2 * self.hit_dim

    @property
    def triplet_dim(self) -> int:
        """Second-pass inputs: the pair inputs plus those of :func:`triplet_inputs`."""
        return self.pair_dim + N_TRIPLET + (N_CONTEXT2 if self.triplet_context == 2 else 0)

    @property
    def pair_dim(self) -> int:
        """Edge inputs that describe the pair (before the two hits' features)."""
        return N_DOUBLET + (N_CLUSTER if "cluster" in self.extra_features else 0)


def graph_edges(emb: np.ndarray, k: int, *, max_radius: float | None = None,
                n_threads: int = 0) -> np.ndarray:
    """Undirected edges (2, E) of the embedding's kNN graph, each pair once, i < j (C++ kNN)."""
    n = len(emb)
    if n < 2:
        return np.zeros((2, 0), np.int64)
    ei = knn_graph(emb, min(k, n - 1), max_radius=max_radius, n_threads=n_threads)
    # one sortable key per pair, i * n + j; 32-bit keys (up to 65,536 hits) sort 2x faster
    kt = np.uint32 if n * n <= _KEY32_LIMIT else np.int64
    key = np.minimum(ei[0], ei[1]).astype(kt) * kt(n) + np.maximum(ei[0], ei[1]).astype(kt)
    return _pairs_of_keys(key, n)


def _pairs_of_keys(key: np.ndarray, n: int) -> np.ndarray:
    """Pairs (2, E) int64, sorted and without repeats, of the keys i * n + j (sorted in
    place). Sort and compare neighbours: numpy 2.4's plain ``np.unique`` takes a hash-table
    path ~50x slower than this on millions of distinct keys."""
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    kt = key.dtype.type
    return np.stack([key // kt(n), key % kt(n)]).astype(np.int64)


_BAND_WIDTH = 20.0   # mm, the narrowest band of r in doublet_edges


@numba.njit(cache=True, nogil=True)
def _doublet_range(p: int, q0: int, q1: int, hits: tuple[np.ndarray, ...],
                   cuts: tuple[float, float, float], a_out: np.ndarray, b_out: np.ndarray,
                   m: int) -> int:
    """The doublet rule for hit p and each hit q0 <= q < q1 (band order); the pairs that
    pass are written at a_out/b_out[m:], the new m returned. Branch-free (each candidate
    is written, the count moves on when it passes): ~3x faster than early exits.
    ``hits`` = (phi, r, z, bend, layer), ``cuts`` = (z_max, dr_max, margin)."""
    sphi, sr, sz, sbend, slayer = hits
    z_max, dr_max, margin = cuts
    rp, zp, bp, lp, php = sr[p], sz[p], sbend[p], slayer[p], sphi[p]
    for q in range(q0, q1):
        d = abs(sphi[q] - php)
        d = min(d, 2 * math.pi - d)
        rq, zq = sr[q], sz[q]
        inner = rp < rq
        r_in = min(rp, rq)
        z_in = zp if inner else zq
        z_out = zq if inner else zp
        dr = abs(rq - rp)
        # bend(r) grows with r: |bend_q - bend_p| = bend(outer) - bend(inner); the line
        # through the two hits meets the beam at z0 = z_in - r_in dz / dr
        ok = ((slayer[q] != lp) & (dr > 1.0) & (dr <= dr_max)
              & (d <= abs(sbend[q] - bp) + margin)
              & (abs(z_in * dr - r_in * (z_out - z_in)) <= z_max * dr))
        a_out[m] = p
        b_out[m] = q
        m += ok
    return m


@numba.njit(cache=True, nogil=True)
def _doublet_kernel(sphi: np.ndarray, sr: np.ndarray, sz: np.ndarray, slayer: np.ndarray,
                    start: np.ndarray, two_r: float, z_max: float, dr_max: float,
                    margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Doublets of hits given in band order (bands of r, azimuth-sorted within each band,
    band k = ``start[k]:start[k + 1]``); pairs as positions in that order."""
    n = sphi.shape[0]
    n_band = start.shape[0] - 1
    two_pi = 2 * math.pi
    sbend = np.empty(n)     # asin(r / 2R): the azimuth a track of the lowest pT has turned
    for p in range(n):      # by at radius r
        sbend[p] = math.asin(min(1.0, sr[p] / two_r))
    r_lo = np.zeros(n_band)
    r_hi = np.zeros(n_band)
    for k in range(n_band):
        if start[k + 1] > start[k]:
            r_lo[k] = sr[start[k]:start[k + 1]].min()
            r_hi[k] = sr[start[k]:start[k + 1]].max()
    cap = 16
    a_out = np.empty(cap, np.int64)
    b_out = np.empty(cap, np.int64)
    m = 0
    hits = (sphi, sr, sz, sbend, slayer)
    cuts = (z_max, dr_max, margin)
    for k in range(n_band):
        s, e = start[k], start[k + 1]
        band = sphi[s:e]
        w_same = (math.asin(min(1.0, r_hi[k] / two_r)) - math.asin(min(1.0, r_lo[k] / two_r))
                  + margin)
        for p in range(s, e):
            if cap - m < n:     # room for every partner p can have
                cap = max(2 * cap, m + n)
                a_out = np.concatenate((a_out[:m], np.empty(cap - m, np.int64)))
                b_out = np.concatenate((b_out[:m], np.empty(cap - m, np.int64)))
            phi_p = sphi[p]
            # the same band: forward in azimuth (each pair once), then across +-pi
            end = s + np.searchsorted(band, phi_p + w_same, side="right")
            m = _doublet_range(p, p + 1, end, hits, cuts, a_out, b_out, m)
            if phi_p + w_same > math.pi:
                end = s + np.searchsorted(band, phi_p + w_same - two_pi, side="right")
                m = _doublet_range(p, s, min(end, p), hits, cuts, a_out, b_out, m)
            # the outer bands, both sides, within the widest turn into each
            for k2 in range(k + 1, n_band):
                s2, e2 = start[k2], start[k2 + 1]
                if e2 == s2:
                    continue
                if r_lo[k2] - sr[p] > dr_max:
                    break
                w = math.asin(min(1.0, r_hi[k2] / two_r)) - sbend[p] + margin
                if w >= math.pi:
                    m = _doublet_range(p, s2, e2, hits, cuts, a_out, b_out, m)
                    continue
                outer = sphi[s2:e2]
                lo, hi = phi_p - w, phi_p + w
                q0 = s2 + np.searchsorted(outer, lo + two_pi if lo < -math.pi else lo)
                q1 = s2 + np.searchsorted(outer, hi - two_pi if hi > math.pi else hi,
                                          side="right")
                if lo < -math.pi or hi > math.pi:   # the window crosses the cut at +-pi
                    m = _doublet_range(p, q0, e2, hits, cuts, a_out, b_out, m)
                    m = _doublet_range(p, s2, q1, hits, cuts, a_out, b_out, m)
                else:
                    m = _doublet_range(p, q0, q1, hits, cuts, a_out, b_out, m)
    return a_out[:m], b_out[:m]


def doublet_edges(x: np.ndarray, y: np.ndarray, z: np.ndarray, layer: np.ndarray,
                  cfg: EdgeConfig) -> np.ndarray:
    """Undirected geometric doublets (2, E), i < j, sorted: hit pairs on different layers,
    1 mm < Δr <= ``cfg.doublet_dr_max``, whose azimuth difference a particle of
    pT >= ``doublet_pt_min`` in ``doublet_b_field`` can bend through (asin(r/2R) at the outer
    hit minus that at the inner one, R = pT / (0.3 B), plus ``doublet_dphi_margin``) and
    whose straight line in r–z meets the beam line within ``doublet_z_max`` mm of the
    origin. Hits go in bands of r, sorted by azimuth within each; each hit meets the hits
    of its own band ahead of it and those of the outer bands within the turn a pT_min
    track makes up to each band (numba, branch-free test; same pairs on any thread count).
    ``x``, ``y``, ``z`` in mm; ``layer``: any integer id per layer."""
    arrays = {}
    for name, a in (("x", x), ("y", y), ("z", z), ("layer", layer)):
        a = np.asarray(a)
        if a.ndim != 1 or (len(arrays) and len(a) != len(arrays["x"])):
            msg = f"{name}: expected a 1-D array as long as x, got shape {a.shape}"
            raise ValueError(msg)
        if name != "layer" and not np.isfinite(a).all():
            msg = f"{name}: must be finite"
            raise ValueError(msg)
        arrays[name] = a
    if not np.issubdtype(arrays["layer"].dtype, np.integer):
        msg = f"layer: expected integer layer ids, got dtype {arrays['layer'].dtype}"
        raise ValueError(msg)
    xs, ys = (np.asarray(arrays[c], np.float64) for c in ("x", "y"))
    n = len(xs)
    if n == 0:
        return np.zeros((2, 0), np.int64)
    phi, r = np.arctan2(ys, xs), np.hypot(xs, ys)
    # bands of r (>= 20 mm, at most 64): a hit's partners in an outer band lie within the
    # turn a pT_min track makes up to that band's outer edge
    width = max(_BAND_WIDTH, float(r.max() - r.min()) / 64)
    band = np.minimum(((r - r.min()) / width).astype(np.int64), 63)
    order = np.lexsort((phi, band))
    start = np.searchsorted(band[order], np.arange(band[order[-1]] + 2))
    two_r = 2 * cfg.doublet_pt_min / (0.299792458e-3 * cfg.doublet_b_field)  # mm
    a, b = _doublet_kernel(phi[order], r[order], np.asarray(arrays["z"], np.float64)[order],
                           arrays["layer"].astype(np.int64)[order], start, two_r,
                           cfg.doublet_z_max, cfg.doublet_dr_max, cfg.doublet_dphi_margin)
    a, b = order[a], order[b]
    # repeats removed: with a window over pi (very low pT_min) a pair is met from both sides
    return _pairs_of_keys(np.minimum(a, b) * n + np.maximum(a, b), n)


@numba.njit(cache=True, nogil=True)
def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union of two strictly increasing key arrays, increasing (one linear pass)."""
    out = np.empty(len(a) + len(b), np.int64)
    i = j = m = 0
    while i < len(a) and j < len(b):
        if a[i] < b[j]:
            out[m] = a[i]
            i += 1
        elif b[j] < a[i]:
            out[m] = b[j]
            j += 1
        else:
            out[m] = a[i]
            i += 1
            j += 1
        m += 1
    out[m:m + len(a) - i] = a[i:]
    m += len(a) - i
    out[m:m + len(b) - j] = b[j:]
    m += len(b) - j
    return out[:m]


def union_edges(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """Union (2, E), i < j, sorted and without repeats, of two undirected edge lists of
    ``n`` hits given with i < j (sorted lists, as the graph functions here give, are
    merged in one pass; others sorted first)."""
    keys = [e[0] * n + e[1] for e in (np.asarray(first, np.int64), np.asarray(second, np.int64))]
    if all(len(k) < 2 or (k[1:] > k[:-1]).all() for k in keys):
        key = _merge_sorted(*keys)
        return np.stack([key // n, key % n])
    return _pairs_of_keys(np.concatenate(keys), n)


def edge_graph(emb: np.ndarray, cfg: EdgeConfig, geometry: tuple[np.ndarray, ...] | None = None,
               *, n_threads: int = 0) -> np.ndarray:
    """The graph the classifier scores (2, E), i < j: the embedding's kNN graph, with
    ``cfg.doublets`` united with the geometric doublets of ``geometry`` = (x, y, z, layer)
    of the same hits. With ``n_threads`` other than 1 the doublets are found in a second
    thread while the kNN search runs (both release the GIL; the same graph either way)."""
    if not cfg.doublets:
        return graph_edges(emb, cfg.k, max_radius=cfg.max_radius, n_threads=n_threads)
    if geometry is None:
        msg = "geometry: the edge config adds geometric doublets and needs (x, y, z, layer)"
        raise ValueError(msg)
    if len(geometry[0]) != len(emb):
        msg = f"geometry: {len(geometry[0])} hits, the embedding has {len(emb)}"
        raise ValueError(msg)
    if n_threads == 1:
        doublets = doublet_edges(*geometry, cfg)
        pairs = graph_edges(emb, cfg.k, max_radius=cfg.max_radius, n_threads=1)
    else:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(doublet_edges, *geometry, cfg)
            pairs = graph_edges(emb, cfg.k, max_radius=cfg.max_radius, n_threads=n_threads)
            doublets = job.result()
    return union_edges(pairs, doublets, len(emb))


def edge_inputs(features: np.ndarray, emb: np.ndarray, cfg: EdgeConfig, *,
                edges: np.ndarray | None = None,
                n_threads: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, inner, outer)``: the edge inputs (E, cfg.in_dim) of ``edges`` (default: the
    embedding's kNN graph, :func:`graph_edges`) and each edge's inner and outer hit (rows
    of ``features``)."""
    n, width = features.shape if features.ndim == 2 else (0, -1)
    if width != cfg.hit_dim:
        msg = (f"features: the edge classifier takes (N, {cfg.hit_dim}) hit features "
               f"(extra_features {cfg.extra_features}), got {features.shape}")
        raise ValueError(msg)
    if emb.shape != (n, cfg.emb_dim):
        msg = f"emb: expected shape ({n}, {cfg.emb_dim}), got {emb.shape}"
        raise ValueError(msg)
    if edges is None:
        edges = graph_edges(emb, cfg.k, max_radius=cfg.max_radius, n_threads=n_threads)
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.shape[0] != 2 or not np.issubdtype(edges.dtype, np.integer):
        msg = f"edges: expected an integer (2, E) array, got {edges.dtype} {edges.shape}"
        raise ValueError(msg)
    if edges.size and (edges.min() < 0 or edges.max() >= n):
        msg = f"edges: hit indices must lie in [0, {n}), got [{edges.min()}, {edges.max()}]"
        raise ValueError(msg)
    a, b = edges.astype(np.int64)
    off = -1
    if "cluster" in cfg.extra_features:
        off = int(feature_columns(cfg.extra_features, ("cluster",))[len(FEATURE_NAMES)])
    X = np.empty((len(a), cfg.in_dim), np.float32)
    i = np.empty(len(a), np.int64)
    j = np.empty(len(a), np.int64)
    _pair_inputs(np.ascontiguousarray(features, np.float64), np.ascontiguousarray(emb, np.float32),
                 a, b, off, cfg.pair_dim, X, i, j)
    return X, i, j


def triplet_inputs(x: np.ndarray, score: np.ndarray, inner: np.ndarray, outer: np.ndarray,
                   cfg: EdgeConfig, *, rows: np.ndarray | None = None) -> np.ndarray:
    """Second-pass inputs: the pair inputs of ``x`` plus, from the first pass's ``score``,
    how each edge (i → j) continues the best edge into i (h → i) and out of j (j → l).

    Per edge: its score, whether it is i's best outgoing and j's best incoming edge, the
    scores of h → i and j → l, whether they exist, and the changes from h → i to i → j and
    from i → j to j → l of the doublet's polar angle (×10) and of its Δφ per metre of path
    (≈ −sin θ / 2R on a helix) — the straightness and curvature a track's triplets share
    and random pairs do not. With ``cfg.triplet_context == 2`` also: the edge's score
    margin over the best other edge out of i and into j (the rivals the track building
    weighs it against), and the same four neighbour columns for the runner-up edges into i
    and out of j — which continue the track when the best-scoring neighbour is another
    particle's. ``rows``: the edges to give inputs for, in that order (default: all); every
    edge is still a neighbour — ``triplet_inputs(..., rows=r) == triplet_inputs(...)[r]``
    without computing and copying the rest.
    """
    inner = np.ascontiguousarray(inner, np.int64)
    outer = np.ascontiguousarray(outer, np.int64)
    n = int(max(inner.max(initial=-1), outer.max(initial=-1))) + 1
    s = np.ascontiguousarray(score, np.float64)
    out1, out2 = _top2_per_node(s, inner, n)     # best and runner-up edge out of each hit
    in1, in2 = _top2_per_node(s, outer, n)       # ... and into each hit
    rows = (np.arange(len(s)) if rows is None
            else np.ascontiguousarray(rows, np.int64))
    out = np.empty((len(rows), cfg.triplet_dim), np.float32)
    out[:, :cfg.pair_dim] = x[rows, :cfg.pair_dim]
    _triplet_columns(np.ascontiguousarray(x), s, inner, outer, out1, out2, in1, in2,
                     cfg.triplet_context, rows, out[:, cfg.pair_dim:])
    return out


@numba.njit(cache=True, nogil=True)
def _hit_geometry(f: np.ndarray, off: int) -> np.ndarray:
    """Per hit (mm, rad): distance from the origin, x, y, z, φ, and with the cluster
    columns (``off`` ≥ 0: first one; d_r, 10·d_φ, d_z at off+2..off+4, in the hit's local
    frame) the unit direction the cluster measures and its polar angle."""
    g = np.zeros((f.shape[0], 9))
    for h in range(f.shape[0]):
        r, z, c, s = f[h, 0] * 1000.0, f[h, 3] * 1000.0, f[h, 1], f[h, 2]
        g[h, 0], g[h, 1], g[h, 2], g[h, 3] = math.hypot(r, z), r * c, r * s, z
        g[h, 4] = math.atan2(s, c)
        if off >= 0:
            d_r, d_phi, d_z = f[h, off + 2], f[h, off + 3] / 10.0, f[h, off + 4]
            vx, vy = d_r * c - d_phi * s, d_r * s + d_phi * c
            norm = max(math.sqrt(vx * vx + vy * vy + d_z * d_z), 1e-9)
            g[h, 5], g[h, 6], g[h, 7] = vx / norm, vy / norm, d_z / norm
            g[h, 8] = math.atan2(g[h, 7], math.hypot(g[h, 5], g[h, 6]))
    return g


@numba.njit(cache=True, nogil=True)
def _pair_inputs(f: np.ndarray, emb: np.ndarray, a: np.ndarray, b: np.ndarray, off: int,
                 n_pair: int, out: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> None:
    """Fill ``out`` (E, n_pair + 2·W) with the pair inputs and both hits' features of each
    edge (a, b), oriented from the hit nearer the origin (i) to the farther one (j).

    Features (float64; metres): r, cos φ, sin φ, z, η, ...; ``off`` ≥ 0: first cluster
    column."""
    width = f.shape[1]
    g = _hit_geometry(f, off)
    for e in range(len(a)):
        i, j = (b[e], a[e]) if g[a[e], 0] > g[b[e], 0] else (a[e], b[e])
        inner[e], outer[e] = i, j
        dx, dy, dz = g[j, 1] - g[i, 1], g[j, 2] - g[i, 2], g[j, 3] - g[i, 3]
        length = math.sqrt(dx * dx + dy * dy + dz * dz)
        out[e, 0] = (f[j, 0] * 1000.0 - f[i, 0] * 1000.0) / 100.0
        dphi = g[j, 4] - g[i, 4]
        out[e, 1] = ((dphi + math.pi) % (2 * math.pi) - math.pi) * 10.0
        out[e, 2] = dz / 100.0
        out[e, 3] = f[j, 4] - f[i, 4]
        out[e, 4] = math.log(max(length, 1e-6)) - 3.0
        de = 0.0
        for c in range(emb.shape[1]):
            t = float(emb[j, c]) - float(emb[i, c])
            de += t * t
        out[e, 5] = math.sqrt(de)
        if off >= 0:
            scale = max(length, 1e-9)
            dx, dy, dz = dx / scale, dy / scale, dz / scale
            polar = math.atan2(dz, math.hypot(dx, dy))
            out[e, 6] = abs(g[i, 5] * dx + g[i, 6] * dy + g[i, 7] * dz)
            out[e, 7] = abs(g[j, 5] * dx + g[j, 6] * dy + g[j, 7] * dz)
            out[e, 8] = polar - g[i, 8]
            out[e, 9] = polar - g[j, 8]
            out[e, 10] = g[i, 5] * g[j, 5] + g[i, 6] * g[j, 6] + g[i, 7] * g[j, 7]
        for c in range(width):
            out[e, n_pair + c] = f[i, c]
            out[e, n_pair + width + c] = f[j, c]


@numba.njit(cache=True, nogil=True)
def _neighbour_columns(out: np.ndarray, r: int, e: int, c_score: int, c_ok: int, c_geo: int,
                       k: int, after: bool, s: np.ndarray, polar: np.ndarray,
                       azim: np.ndarray) -> None:
    """Score, existence, Δ(Δφ per metre) and 10·Δpolar (at c_geo, c_geo + 1) of neighbour
    edge ``k`` of edge ``e`` (k < 0: none, zeros), from e to k when ``after`` (k follows
    e), else from k to e; written to row ``r`` of ``out``."""
    if k < 0:
        out[r, c_score] = out[r, c_ok] = out[r, c_geo] = out[r, c_geo + 1] = 0.0
        return
    sign = 1.0 if after else -1.0
    out[r, c_score] = s[k]
    out[r, c_ok] = 1.0
    out[r, c_geo] = sign * (azim[k] - azim[e])
    out[r, c_geo + 1] = sign * (polar[k] - polar[e]) * 10.0


@numba.njit(cache=True, nogil=True)
def _triplet_columns(x: np.ndarray, s: np.ndarray, inner: np.ndarray, outer: np.ndarray,
                     out1: np.ndarray, out2: np.ndarray, in1: np.ndarray, in2: np.ndarray,
                     context: int, rows: np.ndarray, out: np.ndarray) -> None:
    """The triplet columns of :func:`triplet_inputs` for the edges ``rows`` (``x``: the pair
    inputs, read in place; columns 0–4 are used, in float64)."""
    n_edges = s.shape[0]
    # from the pair inputs (Δr /100 mm, Δφ ×10, Δz /100 mm, log length − 3): the doublet's
    # polar angle, constant along a helix, and Δφ per metre of path, ≈ −sin θ / 2R
    polar = np.empty(n_edges)
    azim = np.empty(n_edges)
    for e in range(n_edges):
        polar[e] = math.atan2(np.float64(x[e, 2]), np.float64(x[e, 0]))
        azim[e] = np.float64(x[e, 1]) / 10.0 / (math.exp(np.float64(x[e, 4]) + 3.0) / 1000.0)
    for r in range(rows.shape[0]):
        e = rows[r]
        i, j = inner[e], outer[e]
        out[r, 0] = s[e]
        out[r, 1] = 1.0 if out1[i] == e else 0.0
        out[r, 2] = 1.0 if in1[j] == e else 0.0
        _neighbour_columns(out, r, e, 3, 5, 7, in1[i], False, s, polar, azim)     # h -> i
        _neighbour_columns(out, r, e, 4, 6, 9, out1[j], True, s, polar, azim)     # j -> l
        if context == 2:
            rival = out2[i] if out1[i] == e else out1[i]
            out[r, 11] = s[e] - (s[rival] if rival >= 0 else 0.0)
            rival = in2[j] if in1[j] == e else in1[j]
            out[r, 12] = s[e] - (s[rival] if rival >= 0 else 0.0)
            _neighbour_columns(out, r, e, 13, 14, 15, in2[i], False, s, polar, azim)
            _neighbour_columns(out, r, e, 17, 18, 19, out2[j], True, s, polar, azim)


@register_model("edge", EdgeConfig)
class EdgeClassifier(nn.Module):
    """Standardised edge inputs → MLP → one logit per edge (same particle, not noise); with
    ``refine``, ``refine_passes`` more MLPs, each on the triplet inputs of the previous
    pass's scores (``net2``, ``net3``, … with their own input standardisation)."""

    CHUNK = 8192        # edges per forward pass at inference

    def __init__(self, config: EdgeConfig | None = None) -> None:
        super().__init__()
        cfg = config or EdgeConfig()
        cfg.validate()
        self.config = cfg
        self.register_buffer("x_mean", torch.zeros(cfg.in_dim))
        self.register_buffer("x_std", torch.ones(cfg.in_dim))
        self.net = mlp(cfg.in_dim, cfg.hidden_dim, 1, cfg.n_hidden)
        d2 = cfg.triplet_dim
        self.register_buffer("x2_mean", torch.zeros(d2))
        self.register_buffer("x2_std", torch.ones(d2))
        self.net2 = mlp(d2, cfg.hidden_dim, 1, cfg.n_hidden) if cfg.refine else None
        for p in range(3, cfg.n_passes + 1):    # registered by name: old checkpoints load as is
            self.register_buffer(f"x{p}_mean", torch.zeros(d2))
            self.register_buffer(f"x{p}_std", torch.ones(d2))
            self.add_module(f"net{p}", mlp(d2, cfg.hidden_dim, 1, cfg.n_hidden))
        self.stage = 1      # which pass forward() runs (training switches it)

    def pass_modules(self, stage: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
        """``(net, mean, std)`` of scoring pass ``stage`` (1 … ``config.n_passes``)."""
        if not 1 <= stage <= self.config.n_passes:
            msg = f"stage: must be in [1, {self.config.n_passes}], got {stage}"
            raise ValueError(msg)
        if stage == 1:
            return self.net, self.x_mean, self.x_std
        return (getattr(self, f"net{stage}"), getattr(self, f"x{stage}_mean"),
                getattr(self, f"x{stage}_std"))

    def truncated(self, n_passes: int) -> EdgeClassifier:
        """A classifier with this one's first ``n_passes`` scoring passes (same weights and
        working point): faster, with the scores of pass ``n_passes``."""
        n = self.config.n_passes
        if isinstance(n_passes, bool) or not isinstance(n_passes, int) or not 1 <= n_passes <= n:
            msg = (f"n_passes: must be an integer in [1, {n}] (this classifier's passes), "
                   f"got {n_passes!r}")
            raise ValueError(msg)
        cfg = dataclasses.replace(self.config, refine=n_passes > 1,
                                  refine_passes=max(n_passes - 1, 1))
        out = EdgeClassifier(cfg)
        mine = self.state_dict()
        out.load_state_dict({k: mine[k] for k in out.state_dict()})
        return out.eval()

    def set_standardisation(self, x: np.ndarray, stage: int = 1) -> None:
        """Fix a pass's input standardisation to the mean and spread of ``x`` (training)."""
        _, mean, std = self.pass_modules(stage)
        m, sd = _column_mean_std(np.asarray(x))
        mean.copy_(torch.from_numpy(m))
        std.copy_(torch.from_numpy(np.maximum(sd, 1e-6)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net, mean, std = self.pass_modules(self.stage)
        return net((x - mean) / std).squeeze(1)

    @torch.no_grad()
    def _run(self, x: np.ndarray, stage: int) -> np.ndarray:
        self.eval()
        old, self.stage = self.stage, stage
        xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        out = np.empty(len(x), np.float32)
        try:
            # in chunks: the hidden activations of ~10^4 edges stay in cache (2-3x faster on
            # 1.4M edges than one batch; each row is computed on its own, so the scores are
            # those of one batch up to BLAS rounding — identical labels on a mu=200 event)
            for i in range(0, len(x), self.CHUNK):
                out[i:i + self.CHUNK] = torch.sigmoid(self(xt[i:i + self.CHUNK])).numpy()
        finally:
            self.stage = old
        return out

    def pass_inputs(self, x: np.ndarray, inner: np.ndarray, outer: np.ndarray,
                    stage: int) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, keep)`` of refinement pass ``stage`` ≥ 2: the triplet inputs of the
        edges ``keep`` (first-pass score above ``prune``) from the scores of pass
        ``stage − 1`` — what that pass sees at inference and trains on."""
        if not 2 <= stage <= self.config.n_passes:
            msg = f"stage: a refinement pass in [2, {self.config.n_passes}], got {stage}"
            raise ValueError(msg)
        s, s1 = self._scores(x, inner, outer, stage - 1)
        keep = s1 > self.config.prune if self.config.prune > 0 else np.ones(len(s1), bool)
        rows = np.flatnonzero(keep) if self.config.prune > 0 else None
        return triplet_inputs(x, s, inner, outer, self.config, rows=rows), keep

    def _scores(self, x: np.ndarray, inner: np.ndarray, outer: np.ndarray,
                last: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores after pass ``last`` and those of the first pass. Edges at or below
        ``prune`` after the first pass keep that score in every later pass."""
        s1 = self._run(x, 1)
        s = s1
        rows = np.flatnonzero(s1 > self.config.prune) if self.config.prune > 0 else None
        for p in range(2, last + 1):
            x2 = triplet_inputs(x, s, inner, outer, self.config, rows=rows)
            if rows is None:
                s = self._run(x2, p)
            else:
                s = s1.copy()
                s[rows] = self._run(x2, p)
            del x2
        return s, s1

    def score(self, x: np.ndarray, inner: np.ndarray | None = None,
              outer: np.ndarray | None = None) -> np.ndarray:
        """Edge probabilities for the inputs of :func:`edge_inputs`; with ``refine`` and the
        edges' ``inner``/``outer`` hits, those of the last refinement pass."""
        if len(x) == 0:
            return np.zeros(0, np.float32)
        if self.net2 is None or inner is None or outer is None:
            return self._run(x, 1)
        return self._scores(x, inner, outer, self.config.n_passes)[0]


@numba.njit(cache=True, nogil=True)
def _column_mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and (population) standard deviation in float64, summed row by row as
    numpy's ``x.astype(float64).mean(0)`` / ``.std(0)`` do — the same numbers, without the
    float64 copies (which for ~30M training edges were 2 × 8 GB)."""
    n, d = x.shape
    total = np.zeros(d)
    for i in range(n):
        for j in range(d):
            total[j] += np.float64(x[i, j])
    mean = total / n
    sq = np.zeros(d)
    for i in range(n):
        for j in range(d):
            t = np.float64(x[i, j]) - mean[j]
            sq[j] += t * t
    return mean, np.sqrt(sq / n)


@numba.njit(cache=True, nogil=True)
def _union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    parent = np.arange(n)
    for e in range(a.shape[0]):
        ra = a[e]
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = b[e]
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra != rb:
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb
    for v in range(n):
        r = v
        while parent[r] != r:
            r = parent[r]
        parent[v] = r
    return parent


@numba.njit(cache=True, nogil=True)
def _top2_per_node(score: np.ndarray, node: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per node, its best- and second-best-scoring edge among those with that ``node``
    (−1 if none; ties: the lower edge index ranks first)."""
    best = np.full(n, -1, np.int64)
    second = np.full(n, -1, np.int64)
    for e in range(score.shape[0]):
        v = node[e]
        if best[v] < 0 or score[e] > score[best[v]]:
            second[v] = best[v]
            best[v] = e
        elif second[v] < 0 or score[e] > score[second[v]]:
            second[v] = e
    return best, second


@numba.njit(cache=True, nogil=True)
def _greedy_links(order: np.ndarray, inner: np.ndarray, outer: np.ndarray, n: int,
                  n_edges: int) -> np.ndarray:
    has_out = np.zeros(n, np.bool_)
    has_in = np.zeros(n, np.bool_)
    keep = np.zeros(n_edges, np.bool_)
    for e in order:
        a = inner[e]
        b = outer[e]
        if not has_out[a] and not has_in[b]:
            has_out[a] = True
            has_in[b] = True
            keep[e] = True
    return keep


@numba.njit(cache=True, nogil=True)
def _auction_links(w: np.ndarray, inner: np.ndarray, outer: np.ndarray, n: int,
                   max_work: int) -> tuple[np.ndarray, bool, int]:
    """Maximum-weight matching of inner to outer hits over the edges with ``w > 0`` (an
    unmatched hit is worth 0), by a forward auction: inner hits bid for outer hits, a bid
    raises the outer hit's price by the bidder's margin over its next best option (the
    best other edge, or staying unmatched) plus :data:`AUCTION_EPS`, and the outbid hit
    bids again. The result is within ``AUCTION_EPS`` per link of the optimum. Returns
    ``(keep, ok, work)``, ``work`` = candidate edges scanned; ``ok`` is False when the work
    would pass ``max_work`` (a price war over many equal weights), and the caller then
    falls back to the greedy links."""
    m = w.shape[0]
    ptr = np.zeros(n + 1, np.int64)
    for e in range(m):
        if w[e] > 0:
            ptr[inner[e] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    by = np.empty(ptr[n], np.int64)
    pos = ptr[:-1].copy()
    for e in range(m):
        if w[e] > 0:
            by[pos[inner[e]]] = e
            pos[inner[e]] += 1
    price = np.zeros(n)
    owner = np.full(n, -1, np.int64)
    won = np.full(n, -1, np.int64)
    queue = np.empty(n + 1, np.int64)       # ring buffer: each hit is in it at most once
    head = 0
    tail = 0
    for a in range(n):
        if ptr[a + 1] > ptr[a]:
            queue[tail] = a
            tail += 1
    work = 0
    keep = np.zeros(m, np.bool_)
    while head != tail:
        a = queue[head]
        head = 0 if head == n else head + 1
        work += ptr[a + 1] - ptr[a]
        if work > max_work:
            return keep, False, work
        best = -1
        v1 = 0.0
        v2 = 0.0
        for q in range(ptr[a], ptr[a + 1]):
            e = by[q]
            v = w[e] - price[outer[e]]
            if v > v1:
                v2 = v1
                v1 = v
                best = e
            elif v > v2:
                v2 = v
        if best < 0:
            continue                        # staying unmatched is worth the most
        b = outer[best]
        price[b] += v1 - v2 + AUCTION_EPS
        prev = owner[b]
        owner[b] = a
        won[a] = best
        if prev >= 0:
            won[prev] = -1
            queue[tail] = prev
            tail = 0 if tail == n else tail + 1
    for a in range(n):
        if won[a] >= 0:
            keep[won[a]] = True
    return keep, True, work


def check_scored_edges(score: Any, inner: Any, outer: Any, n: int,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``score`` (float64), ``inner``, ``outer`` (int64) as contiguous arrays of one length,
    with hit indices in [0, n); else a ValueError naming the rule."""
    score = np.ascontiguousarray(score, np.float64)
    inner = np.ascontiguousarray(inner, np.int64)
    outer = np.ascontiguousarray(outer, np.int64)
    if not (score.shape == inner.shape == outer.shape) or score.ndim != 1:
        msg = (f"score, inner and outer must be 1-D of the same length, got {score.shape}, "
               f"{inner.shape}, {outer.shape}")
        raise ValueError(msg)
    if len(score) and (min(inner.min(), outer.min()) < 0 or max(inner.max(), outer.max()) >= n):
        msg = f"inner/outer: hit indices must be in [0, {n})"
        raise ValueError(msg)
    return score, inner, outer


def build_tracks(score: np.ndarray, inner: np.ndarray, outer: np.ndarray, n: int,
                 threshold: float, *, linking: str = "matching",
                 max_work: int | None = None, return_links: bool = False) -> Any:
    """Track label per hit (−1 = alone) from edge scores: among the edges above
    ``threshold`` each hit keeps at most one outer and one inner link, chosen as a
    maximum-weight matching with weight logit(s) − logit(threshold) (``linking=
    "matching"``) or greedily by decreasing score (``"greedy"``); tracks are the connected
    components of the kept links (see the module docstring). The auction gives up once it
    has scanned ``max_work`` candidate edges (default: 10 per candidate edge plus 10⁵; real
    and random scores need 1–6) and then uses the greedy links, so a degenerate score map
    (a price war over many exactly equal scores) cannot stall it; both paths are
    deterministic. With ``return_links``: ``(labels, links)``, the indices of the kept
    edges (ascending)."""
    score, inner, outer = check_scored_edges(score, inner, outer, n)
    if not np.isfinite(score).all():
        msg = "score must be finite"
        raise ValueError(msg)
    if not 0 <= threshold <= 1:
        msg = f"threshold: must be in [0, 1], got {threshold}"
        raise ValueError(msg)
    if linking not in LINKINGS:
        msg = f"linking: must be one of {LINKINGS}, got {linking!r}"
        raise ValueError(msg)
    if max_work is not None and max_work < 0:
        msg = f"max_work: must be >= 0, got {max_work}"
        raise ValueError(msg)
    cand = score > threshold
    keep = None
    if linking == "matching":
        s = np.clip(score, _SCORE_CLIP, 1 - _SCORE_CLIP)
        t = min(max(float(threshold), _SCORE_CLIP), 1 - _SCORE_CLIP)
        w = np.log(s / (1 - s)) - math.log(t / (1 - t))
        w = np.where(cand, np.maximum(w, 1e-12), 0.0)   # every candidate can be linked
        cap = 10 * int(cand.sum()) + 100_000 if max_work is None else int(max_work)
        keep, ok, _ = _auction_links(w, inner, outer, int(n), cap)
        if not ok:
            keep = None
    if keep is None:
        order = np.flatnonzero(cand)
        order = order[np.argsort(-score[order], kind="stable")]   # ties: lower edge index first
        keep = _greedy_links(order, inner, outer, int(n), len(score))
    root = _union_find(int(n), inner[keep], outer[keep])
    _, labels, size = np.unique(root, return_inverse=True, return_counts=True)
    labels = labels.astype(np.int64)
    labels[size[labels] < 2] = -1
    if return_links:
        return labels, np.flatnonzero(keep)
    return labels


def check_edge_stages(cfg: EdgeConfig, n_init: int | None, stages: Any = None, *,
                      where: str = "stages", init_name: str = "init") -> tuple[int, ...]:
    """The passes ``train_edge`` trains (default: all of ``cfg``'s), checked: a non-empty
    selection of the passes 1..n of ``cfg`` without repeats, and — given the passes
    ``n_init`` of the classifier to start from (0: none; None: not known yet) — every pass
    left out must come trained from it, and it may not have more passes than ``cfg``.
    ``where`` / ``init_name`` name the two in the errors (config keys for a config file)."""
    n_passes = cfg.n_passes
    stages = tuple(range(1, n_passes + 1)) if stages is None else tuple(stages)
    if (not stages or len(set(stages)) != len(stages)
            or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                       and 1 <= p <= n_passes for p in stages)):
        msg = (f"{where} must be a non-empty selection of the passes 1..{n_passes} of the "
               f"edge classifier (refine, refine_passes) without repeats, got {list(stages)}")
        raise ValueError(msg)
    stages = tuple(int(p) for p in stages)
    if n_init is None:
        return stages
    if n_init > n_passes:
        msg = (f"{init_name}: the classifier to fine-tune has {n_init} scoring passes, the "
               f"edge config {n_passes} (set refine_passes to at least {n_init - 1})")
        raise ValueError(msg)
    kept = [p for p in range(1, n_passes + 1) if p not in stages and p > n_init]
    if kept:
        msg = (f"{where}: leaving out passes {kept} needs {init_name} (a trained classifier "
               f"with them; it has {n_init})")
        raise ValueError(msg)
    stale = [p for p in range(min(stages) + 1, n_init + 1) if p not in stages]
    if stale:
        warnings.warn(f"{where}: passes {stale} are kept from {init_name}, but they were "
                      "trained on the scores of passes this run retrains", stacklevel=3)
    return stages


__all__ = ["EdgeClassifier", "EdgeConfig", "build_tracks", "check_edge_stages", "doublet_edges",
           "edge_graph", "edge_inputs", "graph_edges", "triplet_inputs", "union_edges"]
