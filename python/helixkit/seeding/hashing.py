"""Hashing seeding: Annoy buckets of space points, triplet seeding per bucket.

The method of J. Couthures (ACTS PR #3148, ``Plugins/Hashing`` in ACTS v36-v45,
``HashingPrototypeSeedingAlgorithm`` afterwards), written anew for helixkit:

1. **Training.** An approximate nearest-neighbour index over *all* space
   points in an embedding of the chosen metric: Annoy's algorithm (a forest
   of random-projection trees with two-means splits) built and queried in
   C++ (``index="native"``, the default), the ``annoy`` package itself
   (``index="annoy"``, one Python call per query), or exact neighbours
   (``index="exact"``, the reference).
2. **Buckets.** Every space point of the query layer (default: the innermost
   pixel barrel, r in [25, 40] mm, |z| <= 550 mm) asks for its
   ``bucket_size`` nearest neighbours (itself included); the neighbourhoods of
   the query points falling in the same (phi bin, z bin) cell are merged
   into one bucket. Empty cells give no bucket, so buckets overlap but number
   at most ``phi_bins * max(z_bins, 1)``.
3. **Seeding.** Every bucket is seeded independently by the C++ triplet
   seeder (:func:`~helixkit.seeding.find_seeds`'s kernel), in parallel over
   buckets. ``max_seeds_per_spm`` applies per bucket, so a middle space point
   in k buckets can keep up to k (max_seeds_per_spm + 1) seeds: this is the
   point of the method (fewer good seeds lost to the filter's cap).
4. **Merge.** Seeds are de-duplicated by their (bottom, middle, top) *indices*
   (not by float coordinates as in ACTS).

Periodic phi
------------
phi is embedded as the unit vector (cos phi, sin phi) and the index uses the
Euclidean metric. The chord length ``2 sin(|dphi| / 2)`` is a strictly
increasing function of the folded angular distance ``|dphi| in [0, pi]``, so the
neighbour *order* for ``metric="phi"`` is exactly that of ACTS's patched
``AngularEuclidean`` metric (periodic first coordinate), and points at
phi = +pi - e and -pi + e are neighbours. A raw phi coordinate would split
them, and padding/duplicating points near +-pi would change bucket contents
and neighbour counts. For ``metric="phi_eta"`` the embedding is
(cos phi, sin phi, eta): ``d^2 = 4 sin^2(dphi/2) + deta^2``, equal to ACTS's
``dphi^2 + deta^2`` up to terms of order dphi^4 (neighbourhoods are local, so
the two agree on all but far-away ties).

Output order
------------
Seeds are grouped by middle space point in ascending input index; within one
middle, in order of first appearance (buckets in ascending (phi bin, z bin)
order, each bucket in the seeder's ranking). With a single bucket holding every
space point this is exactly :func:`~helixkit.seeding.find_seeds`'s output. A
seed found in several buckets keeps the highest seed-filter weight. The result
does not depend on ``n_threads`` (the native forest seeds every tree from
(seed, tree index); the ``annoy`` package is always built single-threaded).
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _core
from .._validation import check_int, check_n_threads
from ..graph import knn
from .triplet import (
    DEFAULT_VARIANCE_R,
    DEFAULT_VARIANCE_Z,
    SeedFinderConfig,
    SeedingResult,
    _config,
    _space_points,
    _subset,
    _variance,
    find_seeds_in_event,
)

if TYPE_CHECKING:
    from ..data import Event

__all__ = [
    "HASHING_MIN_SPACE_POINTS",
    "METRICS",
    "Buckets",
    "HashingConfig",
    "HashingResult",
    "HashingTiming",
    "SeedingChoice",
    "build_buckets",
    "choose_seeding",
    "find_seeds_auto_in_event",
    "find_seeds_hashing",
    "find_seeds_hashing_in_event",
    "merge_seeds",
]

#: Supported metrics: phi only (periodic), and phi (periodic) plus eta.
METRICS = ("phi", "phi_eta")
#: Supported neighbour indices.
INDICES = ("native", "annoy", "exact")

_ACTS_FEATURES = {"phi": 1, "phi_eta": 2}
#: The Annoy index is built in this many dimensions: the embedding plus zero
#: columns. Zeros change no distance, but Annoy sizes its leaves by the
#: dimension (a leaf holds about f + 2 items), so in 2-3 dimensions it splits
#: down to 4-item leaves and the build is 3-4x slower (measured on 4.7k points:
#: 17 ms at f = 2, 4.3 ms at f = 16, same recall).
_ANNOY_DIMS = 16

# The density rule (docs/hashing.md, "Choosing by density"). Measured on ACTS Fatras
# GenericDetector muon events (pT 0.5-10 GeV, |eta| < 2.5) at 1,000 / 1,500 / 2,000 / 5,000 /
# 10,000 muons per event (5.1k / 7.7k / 10.3k / 25.6k / 51.3k pixel space points),
# SeedFinderConfig.acts_odd, single thread: hashing m=1 reaches standard m=5's efficiency at
# <= standard m=1's time from 10.3k space points up, and not at 5.1k or 7.7k.
#: Below this many seeding space points, :func:`choose_seeding` picks standard seeding.
HASHING_MIN_SPACE_POINTS = 9_000
#: phi bins of :meth:`HashingConfig.for_density` (the window step, 2 pi / 400 = 0.016 rad).
_RULE_PHI_BINS = 400
#: bucket_size = round(_RULE_BUCKET_PER_SQRT_N * sqrt(N)) (N seeding space points).
_RULE_BUCKET_PER_SQRT_N = 0.7
#: The smallest bucket_size the rule gives (a tiny event still gets a useful bucket).
_RULE_BUCKET_MIN = 10


@dataclass(frozen=True)
class HashingConfig:
    """Configuration of :func:`find_seeds_hashing` (lengths in mm).

    Parameters
    ----------
    bucket_size : int
        Number of nearest neighbours (the query point included) asked for per
        query space point; >= 1. ACTS's example script uses 100.
    metric : {"phi", "phi_eta"}
        ``"phi"``: periodic azimuth only (ACTS "dphi", f = 1);
        ``"phi_eta"``: periodic azimuth plus pseudorapidity of the position
        (ACTS "dR", f = 2).
    phi_bins : int
        Query points are grouped by their phi in this many equal bins
        over (-pi, pi]; >= 1. ACTS's example script uses 100.
    z_bins : int
        If > 0, the query points are also grouped in this many equal z bins
        over ``[-layer_z_max, layer_z_max]``. (ACTS uses z bins *instead of*
        phi bins when zBins > 0: set ``phi_bins=1`` for that.)
    n_trees : int or None
        Annoy trees; None = 2 x the number of ACTS features (2 for "phi", 4 for
        "phi_eta"), as ACTS.
    seed : int
        Annoy's random seed (ACTS: 123456789); 0 <= seed < 2**32.
    search_k : int
        Annoy's ``search_k`` (candidates inspected per query); -1 = Annoy's
        default ``n_trees * bucket_size``. Larger = closer to exact, slower.
    index : {"native", "annoy", "exact"}
        ``"native"`` (default): Annoy's algorithm in helixkit's C++
        (:class:`helixkit._core.AnnoyForest`): same trees and search as
        Annoy, built and queried for all query points in one call, threaded
        and deterministic.
        ``"annoy"``: the ``annoy`` package (Spotify's library, the index of
        the method as published); one Python call per query point, slow.
        ``"exact"``: exact neighbours in the same embedding (sorted phi for
        ``"phi"``, a k-d tree for ``"phi_eta"``); the deterministic reference.
    leaf_size : int
        Items per leaf of the native forest; 0 = automatic (32 in 2-D, 16 in
        3-D; Annoy's own dim + 2 makes needlessly deep trees in 2-3-D).
        Ignored by the other indices.
    layer_r_min, layer_r_max, layer_z_max : float
        Query layer: space points with ``layer_r_min <= r <= layer_r_max`` and
        ``|z| <= layer_z_max`` [mm] (ACTS: 25, 40, 550; the TrackML-like
        innermost pixel barrel is at r = 32 mm). Overridden by the
        ``query_mask`` argument of :func:`find_seeds_hashing`.
    """

    bucket_size: int = 100
    metric: str = "phi"
    phi_bins: int = 100
    z_bins: int = 0
    n_trees: int | None = None
    seed: int = 123456789
    search_k: int = -1
    index: str = "native"
    leaf_size: int = 0
    layer_r_min: float = 25.0
    layer_r_max: float = 40.0
    layer_z_max: float = 550.0

    def __post_init__(self) -> None:
        def integer(name: str, lo: int, hi: int | None = None) -> None:
            v = check_int(getattr(self, name), f"HashingConfig: {name}")
            if v < lo or (hi is not None and v > hi):
                rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
                msg = f"HashingConfig: {name} (={v}) must be {rng}"
                raise ValueError(msg)
            object.__setattr__(self, name, v)

        integer("bucket_size", 1, 2**31 - 1)
        integer("phi_bins", 1, 1 << 20)
        integer("z_bins", 0, 1 << 20)
        if self.n_trees is not None:
            integer("n_trees", 1, 4096)
        integer("seed", 0, 2**32 - 1)
        integer("search_k", -1, 2**62)
        integer("leaf_size", 0, 1 << 20)
        if self.search_k == 0:
            msg = "HashingConfig: search_k (=0) must be -1 (Annoy's default) or >= 1"
            raise ValueError(msg)
        if self.metric not in METRICS:
            msg = f"HashingConfig: metric (={self.metric!r}) must be one of {METRICS}"
            raise ValueError(msg)
        if self.index not in INDICES:
            msg = f"HashingConfig: index (={self.index!r}) must be one of {INDICES}"
            raise ValueError(msg)
        for name in ("layer_r_min", "layer_r_max", "layer_z_max"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v):
                msg = f"HashingConfig: {name} must be a finite number [mm], got {v!r}"
                raise ValueError(msg)
            object.__setattr__(self, name, float(v))
        if not 0 <= self.layer_r_min <= self.layer_r_max:
            msg = (
                f"HashingConfig: layer_r_min (={self.layer_r_min}) must be >= 0 and "
                f"<= layer_r_max (={self.layer_r_max})"
            )
            raise ValueError(msg)
        if self.layer_z_max <= 0:
            msg = f"HashingConfig: layer_z_max (={self.layer_z_max}) must be > 0"
            raise ValueError(msg)

    @property
    def trees(self) -> int:
        """Number of Annoy trees actually used."""
        return self.n_trees if self.n_trees is not None else 2 * _ACTS_FEATURES[self.metric]

    @classmethod
    def for_density(cls, n_space_points: int, **overrides: Any) -> HashingConfig:
        """The configuration the density rule gives for ``n_space_points`` seeding space points.

        ``metric="phi"``, ``phi_bins=400`` and ``bucket_size = round(0.7 * sqrt(N))``
        (at least 10): every query point's neighbourhood spans a fraction
        ``0.7 / sqrt(N)`` of the space points, so the bucket windows (width about
        ``2 pi (1 / phi_bins + bucket_size / N)``) narrow as the event gets denser, where
        the seed filter's cap costs more and narrower windows already recover it. Measured
        on ACTS Fatras GenericDetector events (docs/hashing.md, "Choosing by density"); the
        rule does not say *whether* hashing pays, :func:`choose_seeding` does.

        Parameters
        ----------
        n_space_points : int
            Number of space points given to the seeding (e.g. the pixel hits), >= 0.
        **overrides
            Other :class:`HashingConfig` fields (``index``, layer range, ...); the rule's
            own fields can be overridden too.

        Raises
        ------
        TypeError
            ``n_space_points`` not an integer, or an unknown field in ``overrides``.
        ValueError
            ``n_space_points`` negative or not a whole number (NaN, inf, 1.5).
        """
        n = check_int(n_space_points, "HashingConfig.for_density: n_space_points")
        if n < 0:
            msg = f"HashingConfig.for_density: n_space_points (={n}) must be >= 0"
            raise ValueError(msg)
        values: dict[str, Any] = {
            "bucket_size": max(_RULE_BUCKET_MIN, round(_RULE_BUCKET_PER_SQRT_N * math.sqrt(n))),
            "phi_bins": _RULE_PHI_BINS,
            "metric": "phi",
        }
        known = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            msg = f"HashingConfig has no field {bad[0]!r}"
            raise TypeError(msg)
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> HashingConfig:
        """A copy with some fields changed (unknown names raise ``TypeError``)."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            msg = f"HashingConfig has no field {bad[0]!r}"
            raise TypeError(msg)
        return replace(self, **changes)


@dataclass(frozen=True)
class HashingTiming:
    """Wall-clock seconds of the steps of :func:`find_seeds_hashing`."""

    train: float = 0.0
    query: float = 0.0
    buckets: float = 0.0
    seeding: float = 0.0
    merge: float = 0.0

    @property
    def total(self) -> float:
        return self.train + self.query + self.buckets + self.seeding + self.merge

    def as_dict(self) -> dict[str, float]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["total"] = self.total
        return d


@dataclass(frozen=True)
class Buckets:
    """Buckets of space points built by :func:`build_buckets`.

    Attributes
    ----------
    offsets : (B + 1,) uint64 and indices : (sum K_b,) uint32
        Compressed-row form: bucket b is ``indices[offsets[b]:offsets[b + 1]]``,
        sorted and unique (see :attr:`buckets`).
    cells : (B,) int64
        The (phi bin, z bin) cell of each bucket as ``phi_bin * max(z_bins, 1) + z_bin``.
    n_space_points : int
        Size of the input.
    n_query : int
        Number of query space points.
    timing : HashingTiming
        ``train``, ``query`` and ``buckets`` filled.
    """

    offsets: np.ndarray
    indices: np.ndarray
    cells: np.ndarray
    n_space_points: int
    n_query: int
    timing: HashingTiming = field(default_factory=HashingTiming)

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def buckets(self) -> list[np.ndarray]:
        """Sorted, unique space-point indices (uint32) of each non-empty bucket."""
        return np.split(self.indices, self.offsets[1:-1].astype(np.int64))

    @property
    def sizes(self) -> np.ndarray:
        """Number of space points in each bucket."""
        return np.diff(self.offsets).astype(np.int64)

    def multiplicity(self) -> np.ndarray:
        """(N,) number of buckets each space point belongs to."""
        return np.bincount(self.indices, minlength=self.n_space_points).astype(np.int64)

    def summary(self) -> dict[str, float]:
        """Bucket sizes and overlap.

        ``coverage``: fraction of space points in at least one bucket;
        ``overlap``: mean number of buckets per covered space point (1 = disjoint);
        ``size_*``: bucket-size statistics.
        """
        sizes = self.sizes
        mult = self.multiplicity()
        covered = int((mult > 0).sum())
        return {
            "n_buckets": len(self),
            "n_query": self.n_query,
            "size_mean": float(sizes.mean()) if sizes.size else 0.0,
            "size_min": int(sizes.min()) if sizes.size else 0,
            "size_max": int(sizes.max()) if sizes.size else 0,
            "size_total": int(sizes.sum()),
            "coverage": covered / self.n_space_points if self.n_space_points else 0.0,
            "overlap": float(sizes.sum()) / covered if covered else 0.0,
        }


@dataclass(frozen=True, repr=False)
class HashingResult(SeedingResult):
    """:class:`SeedingResult` of :func:`find_seeds_hashing` plus timing and buckets."""

    timing: HashingTiming = field(default_factory=HashingTiming)
    buckets: Buckets | None = None

    def __repr__(self) -> str:
        nb = 0 if self.buckets is None else len(self.buckets)
        return f"HashingResult({len(self)} seeds, {nb} buckets, {1e3 * self.timing.total:.2f} ms)"


def _hashing_config(config: Any, n_space_points: int | None = None) -> HashingConfig:
    if config is None:
        return HashingConfig()
    if isinstance(config, str):
        if config != "auto":
            msg = f"hashing_config must be a HashingConfig, None or 'auto', got {config!r}"
            raise ValueError(msg)
        if n_space_points is None:
            msg = "hashing_config='auto' needs the space points (use find_seeds_hashing)"
            raise ValueError(msg)
        return HashingConfig.for_density(n_space_points)
    if not isinstance(config, HashingConfig):
        msg = f"hashing_config must be a helixkit.seeding.HashingConfig, got {type(config).__name__}"
        raise TypeError(msg)
    return config


def _features(x: np.ndarray, y: np.ndarray, z: np.ndarray, metric: str) -> np.ndarray:
    """Embedding of the metric: (cos phi, sin phi[, eta]) per space point, float32 (C++)."""
    return _core.hashing_embedding(x, y, z, metric)


def _query_mask(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, cfg: HashingConfig, query_mask: Any
) -> np.ndarray:
    if query_mask is None:
        q = _core.hashing_query_layer(x, y, z, cfg.layer_r_min, cfg.layer_r_max, cfg.layer_z_max)
        return q.astype(np.int64)
    return _subset(query_mask, len(x), "query_mask").astype(np.int64)


def _cells(x: np.ndarray, y: np.ndarray, z: np.ndarray, q: np.ndarray, cfg: HashingConfig) -> np.ndarray:
    """(phi bin, z bin) cell of each query point, as one int64 (C++)."""
    return _core.hashing_query_cells(x, y, z, q.astype(np.uint32), cfg.phi_bins, cfg.z_bins,
                                     cfg.layer_z_max)


def _annoy_neighbours(
    feats: np.ndarray, q: np.ndarray, k: int, cfg: HashingConfig
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Annoy kNN of the query points: (flat neighbour indices, counts, t_train, t_query)."""
    from annoy import AnnoyIndex  # noqa: PLC0415

    t0 = time.perf_counter()
    dims = max(_ANNOY_DIMS, feats.shape[1])
    padded = np.zeros((len(feats), dims), dtype=np.float32)
    padded[:, : feats.shape[1]] = feats
    index = AnnoyIndex(dims, "euclidean")
    index.set_seed(cfg.seed)
    add = index.add_item
    for i, v in enumerate(padded.tolist()):
        add(i, v)
    # n_jobs=1: Annoy's multi-threaded build seeds each thread differently,
    # so its trees (and the buckets) would depend on the thread count.
    index.build(cfg.trees, n_jobs=1)
    t1 = time.perf_counter()
    get = index.get_nns_by_item
    sk = cfg.search_k
    lists = [get(i, k, sk) for i in q.tolist()]
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(counts.sum()))
    t2 = time.perf_counter()
    index.unload()
    return flat, counts, t1 - t0, t2 - t1


def _exact_phi_neighbours(
    feats: np.ndarray, q: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Exact kNN in periodic phi (C++: sort by phi, grow a window to the closer side)."""
    t0 = time.perf_counter()
    phi = np.arctan2(feats[:, 1].astype(np.float64), feats[:, 0].astype(np.float64))
    t1 = time.perf_counter()
    flat = _core.hashing_exact_phi_neighbours(phi, q.astype(np.uint32), k)
    kk = min(k, len(feats))
    return flat, np.full(len(q), kk, dtype=np.int64), t1 - t0, time.perf_counter() - t1


def _exact_kdtree_neighbours(
    feats: np.ndarray, q: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Exact kNN on helixkit's own k-d tree (tree build and query in one native call)."""
    t0 = time.perf_counter()
    kk = min(k, len(feats))
    pts = np.ascontiguousarray(feats, dtype=np.float64)
    edge_index = knn(pts, pts[q], kk, n_threads=1)
    nn = edge_index[0].reshape(len(q), kk)
    return nn.reshape(-1), np.full(len(q), kk, dtype=np.int64), 0.0, time.perf_counter() - t0


def _group(
    flat: np.ndarray, counts: np.ndarray, cells: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the neighbour lists per cell (C++): (offsets, indices, cells)."""
    return _core.hashing_buckets(
        np.ascontiguousarray(flat, dtype=np.uint32),
        np.ascontiguousarray(counts, dtype=np.int64),
        np.ascontiguousarray(cells, dtype=np.int64),
        n,
    )


def build_buckets(
    x: Any,
    y: Any,
    z: Any,
    hashing_config: HashingConfig | str | None = None,
    *,
    query_mask: Any = None,
    n_threads: int = 0,
) -> Buckets:
    """Train the neighbour index on all space points and build the buckets.

    Parameters
    ----------
    x, y, z : (N,) array_like
        Space-point coordinates [mm] (float32 precision, finite).
    hashing_config : HashingConfig, "auto" or None
        None: ``HashingConfig()``; ``"auto"``: ``HashingConfig.for_density(N)``.
    query_mask : (N,) bool or (Q,) unique int array_like, optional
        Query space points; default: the query layer of ``hashing_config``.
    n_threads : int
        Threads of the native index (0 = all cores); the buckets do not depend on it.

    Returns
    -------
    Buckets
        No buckets (and a ``UserWarning``) if there is no query space point.
    """
    nt = check_n_threads(n_threads)
    xs, ys, zs, _, _ = _space_points(x, y, z, None, None)
    cfg = _hashing_config(hashing_config, len(xs))
    return _build(xs, ys, zs, cfg, query_mask, nt)


def _build(
    xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, cfg: HashingConfig, query_mask: Any, n_threads: int
) -> Buckets:
    n = len(xs)
    q = _query_mask(xs, ys, zs, cfg, query_mask)
    if q.size == 0:
        warnings.warn(
            f"hashing seeding: no space point in the query layer (r in [{cfg.layer_r_min}, "
            f"{cfg.layer_r_max}] mm, |z| <= {cfg.layer_z_max} mm, or query_mask); no buckets",
            UserWarning,
            stacklevel=3,
        )
        empty = np.zeros(0, dtype=np.uint32)
        return Buckets(np.zeros(1, dtype=np.uint64), empty, np.zeros(0, dtype=np.int64), n, 0)
    if cfg.index == "native":
        # The whole chain in one native call (HashingSeeder::annoyBuckets).
        offsets, indices, cells, t_train, t_query, t_buckets = _core.hashing_annoy_buckets(
            xs, ys, zs, q.astype(np.uint32), cfg.bucket_size, cfg.metric, cfg.phi_bins,
            cfg.z_bins, cfg.trees, cfg.seed, cfg.search_k, cfg.leaf_size, cfg.layer_r_min,
            cfg.layer_r_max, cfg.layer_z_max, n_threads)
        timing = HashingTiming(train=t_train, query=t_query, buckets=t_buckets)
        return Buckets(offsets, indices, cells, n, int(q.size), timing)
    feats = _features(xs, ys, zs, cfg.metric)
    k = min(cfg.bucket_size, n)
    if cfg.index == "annoy":
        flat, counts, t_train, t_query = _annoy_neighbours(feats, q, k, cfg)
    elif cfg.metric == "phi":
        flat, counts, t_train, t_query = _exact_phi_neighbours(feats, q, k)
    else:
        flat, counts, t_train, t_query = _exact_kdtree_neighbours(feats, q, k)
    t0 = time.perf_counter()
    offsets, indices, cells = _group(flat, counts, _cells(xs, ys, zs, q, cfg), n)
    t_buckets = time.perf_counter() - t0
    timing = HashingTiming(train=t_train, query=t_query, buckets=t_buckets)
    return Buckets(offsets, indices, cells, n, int(q.size), timing)


def merge_seeds(results: Sequence[Any]) -> SeedingResult:
    """Concatenate per-bucket seeds and de-duplicate them by space-point indices.

    ``results``: :class:`SeedingResult` objects or (triplets, z_vertex,
    quality) tuples, in bucket order. The output is grouped by middle index
    (ascending), then in order of first appearance; a duplicated seed keeps
    its first z_vertex and its highest quality.
    """
    parts = [(r.triplets, r.z_vertex, r.quality) if isinstance(r, SeedingResult) else r for r in results]
    if not parts:
        return SeedingResult(np.zeros((0, 3), np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32))
    trip = np.concatenate([np.asarray(p[0], dtype=np.int64).reshape(-1, 3) for p in parts])
    zv = np.concatenate([np.asarray(p[1], dtype=np.float32) for p in parts])
    qual = np.concatenate([np.asarray(p[2], dtype=np.float32) for p in parts])
    if not (len(trip) == len(zv) == len(qual)):
        msg = f"inconsistent lengths: triplets={len(trip)}, z_vertex={len(zv)}, quality={len(qual)}"
        raise ValueError(msg)
    return SeedingResult(*_core.hashing_merge(trip, zv, qual))


def find_seeds_hashing(
    x: Any,
    y: Any,
    z: Any,
    seed_config: SeedFinderConfig | None = None,
    hashing_config: HashingConfig | str | None = None,
    n_threads: int = 0,
    *,
    var_r: Any = None,
    var_z: Any = None,
    query_mask: Any = None,
) -> HashingResult:
    """Hashing seeding: Annoy buckets, triplet seeding per bucket, merged seeds.

    Parameters
    ----------
    x, y, z : (N,) array_like
        Space-point coordinates [mm]; float32 precision; NaN/inf rejected.
    seed_config : SeedFinderConfig, optional
        Triplet-seeder configuration used in every bucket (``max_seeds_per_spm``
        applies per bucket).
    hashing_config : HashingConfig, "auto" or None
        None: ``HashingConfig()`` (ACTS's script values); ``"auto"``: the density rule,
        :meth:`HashingConfig.for_density` of the N space points given (it does not fall
        back to standard seeding: :func:`choose_seeding` / :func:`find_seeds_auto_in_event`
        do that).
    n_threads : int
        Threads of the native index and over buckets; 0 = all cores. The
        result does not depend on it.
    var_r, var_z : (N,) array_like or float, optional
        As in :func:`~helixkit.seeding.find_seeds`.
    query_mask : (N,) bool or (Q,) unique int array_like, optional
        Query space points (overrides the config's query layer).

    Returns
    -------
    HashingResult
        A :class:`SeedingResult` (``triplets`` index the inputs) with
        ``.timing`` (train, query, buckets, seeding, merge, total seconds) and
        ``.buckets``. No query space point: an empty result and a ``UserWarning``.
    """
    scfg = _config(seed_config)
    nt = check_n_threads(n_threads)
    xs, ys, zs, vr, vz = _space_points(x, y, z, var_r, var_z)
    hcfg = _hashing_config(hashing_config, len(xs))
    b = _build(xs, ys, zs, hcfg, query_mask, nt)
    t0 = time.perf_counter()
    trip, zv, qual, _, t_merge = _core.hashing_seed(xs, ys, zs, vr, vz, b.offsets, b.indices, scfg, nt)
    t_call = time.perf_counter() - t0
    timing = replace(b.timing, seeding=max(t_call - t_merge, 0.0), merge=t_merge)
    return HashingResult(trip, zv, qual, timing, b)


def find_seeds_hashing_in_event(
    event: Event,
    seed_config: SeedFinderConfig | None = None,
    hashing_config: HashingConfig | str | None = None,
    n_threads: int = 0,
    *,
    volumes: Sequence[int] | None = (7, 8, 9),
    var_r: Any = None,
    var_z: Any = None,
) -> HashingResult:
    """:func:`find_seeds_hashing` on the hits of an Event in ``volumes`` (default: pixels).

    Triplets are **row indices into** ``event.hits``, as for
    :func:`~helixkit.seeding.find_seeds_in_event`; ``var_r`` / ``var_z`` are per hit of
    the event (or one value), default as :func:`find_seeds_hashing`.
    ``hashing_config="auto"``: :meth:`HashingConfig.for_density` of the number of hits in
    ``volumes`` (the space points seeded).
    """
    hits = event.hits
    n = hits.n_rows
    mask = np.ones(n, dtype=bool)
    if volumes is not None:
        mask &= np.isin(hits["volume_id"], np.asarray(list(volumes)))
    rows = np.flatnonzero(mask)
    vr = None if var_r is None else _variance(var_r, "var_r", n, DEFAULT_VARIANCE_R)[rows]
    vz = None if var_z is None else _variance(var_z, "var_z", n, DEFAULT_VARIANCE_Z)[rows]
    res = find_seeds_hashing(
        hits["x"][rows], hits["y"][rows], hits["z"][rows], seed_config, hashing_config, n_threads,
        var_r=vr, var_z=vz,
    )
    return HashingResult(rows[res.triplets], res.z_vertex, res.quality, res.timing, res.buckets)


@dataclass(frozen=True)
class SeedingChoice:
    """What :func:`choose_seeding` decided, before any seeding ran.

    Attributes
    ----------
    method : {"standard", "hashing"}
    hashing_config : HashingConfig or None
        The density rule's configuration (:meth:`HashingConfig.for_density`) when
        ``method == "hashing"``, else None.
    n_space_points : int
        The seeding space points the decision was made on.
    n_query : int or None
        Space points in the query layer (only when an event was given).
    reason : str
        One line: the numbers and the rule behind the decision.
    """

    method: str
    hashing_config: HashingConfig | None
    n_space_points: int
    n_query: int | None
    reason: str


def _event_rows(event: Event, volumes: Sequence[int] | None) -> np.ndarray:
    hits = event.hits
    mask = np.ones(hits.n_rows, dtype=bool)
    if volumes is not None:
        mask &= np.isin(hits["volume_id"], np.asarray(list(volumes)))
    return np.flatnonzero(mask)


def choose_seeding(
    event_or_n: Event | int,
    *,
    volumes: Sequence[int] | None = (7, 8, 9),
    min_space_points: int = HASHING_MIN_SPACE_POINTS,
    **overrides: Any,
) -> SeedingChoice:
    """Say, before running, whether hashing or standard seeding is the better choice.

    The rule (docs/hashing.md, "Choosing by density"): with fewer than
    ``min_space_points`` seeding space points (default :data:`HASHING_MIN_SPACE_POINTS`
    = 9,000) the event is sparse enough that one global triplet pass is cheaper than the
    buckets' overlap, and the seed filter's cap costs so little that hashing at
    maxSeedsPerSpM 1 cannot recover standard maxSeedsPerSpM 5's efficiency within
    standard maxSeedsPerSpM 1's time: ``"standard"``. Otherwise ``"hashing"`` with
    :meth:`HashingConfig.for_density`. An event whose query layer is empty gets
    ``"standard"`` too (hashing would have no buckets).

    Calibrated on ACTS Fatras GenericDetector muon events (flat pT 0.5-10 GeV, one vertex,
    ``SeedFinderConfig.acts_odd``). It does not hold for every spectrum: on the built-in
    simulation at <mu> = 50 (13.6k pixel space points) it says "hashing" and the rule's
    windows lose efficiency below standard seeding's (docs/hashing.md); re-measure the
    threshold with ``benchmarks/bench_hashing_density.py`` for another setup.

    Parameters
    ----------
    event_or_n : helixkit.data.Event or int
        An event (its hits in ``volumes`` are counted, and its query layer) or the
        number of seeding space points.
    volumes : sequence of int or None
        Seeding volumes of an event (default: the pixel volumes 7, 8, 9); None = all.
    min_space_points : int
        The threshold, >= 0 (re-measure it for another detector or seeding config).
    **overrides
        Passed to :meth:`HashingConfig.for_density` (e.g. ``index="exact"`` or the
        query-layer range).

    Raises
    ------
    TypeError
        ``event_or_n`` neither an Event nor an integer; ``min_space_points`` not an integer.
    ValueError
        A negative or non-whole count, or a negative ``min_space_points``.
    """
    threshold = check_int(min_space_points, "choose_seeding: min_space_points")
    if threshold < 0:
        msg = f"choose_seeding: min_space_points (={threshold}) must be >= 0"
        raise ValueError(msg)
    n_query: int | None = None
    if hasattr(event_or_n, "hits"):
        rows = _event_rows(event_or_n, volumes)  # type: ignore[arg-type]
        n = int(rows.size)
        hcfg = HashingConfig.for_density(n, **overrides)
        if n:
            hits = event_or_n.hits  # type: ignore[union-attr]
            xs, ys, zs, _, _ = _space_points(hits["x"][rows], hits["y"][rows], hits["z"][rows],
                                             None, None)
            n_query = int(_query_mask(xs, ys, zs, hcfg, None).size)
        else:
            n_query = 0
    else:
        if isinstance(event_or_n, (bool, np.bool_)) or not isinstance(
                event_or_n, (int, float, np.integer, np.floating)):
            msg = (f"choose_seeding: event_or_n must be a helixkit.data.Event or an integer "
                   f"number of space points, got {type(event_or_n).__name__}")
            raise TypeError(msg)
        n = check_int(event_or_n, "choose_seeding: n_space_points")
        if n < 0:
            msg = f"choose_seeding: n_space_points (={n}) must be >= 0"
            raise ValueError(msg)
        hcfg = HashingConfig.for_density(n, **overrides)
    if n_query == 0:
        return SeedingChoice("standard", None, n, n_query,
                             f"standard: no space point in the query layer (r in "
                             f"[{hcfg.layer_r_min:g}, {hcfg.layer_r_max:g}] mm), hashing "
                             f"would have no buckets")
    if n < threshold:
        return SeedingChoice("standard", None, n, n_query,
                             f"standard: {n:,} space points < {threshold:,}, sparse enough that "
                             f"one global pass beats hashing (the cap costs little here)")
    return SeedingChoice("hashing", hcfg, n, n_query,
                         f"hashing: {n:,} space points >= {threshold:,}; bucket_size "
                         f"{hcfg.bucket_size} (0.7 sqrt(N)), {hcfg.phi_bins} phi bins, metric "
                         f"{hcfg.metric}")


def find_seeds_auto_in_event(
    event: Event,
    seed_config: SeedFinderConfig | None = None,
    n_threads: int = 0,
    *,
    standard_config: SeedFinderConfig | None = None,
    volumes: Sequence[int] | None = (7, 8, 9),
    var_r: Any = None,
    var_z: Any = None,
    min_space_points: int = HASHING_MIN_SPACE_POINTS,
) -> tuple[SeedingResult, SeedingChoice]:
    """Seed an event the way :func:`choose_seeding` picks: the sparse fast path or hashing.

    ``"standard"``: one global triplet pass (:func:`~helixkit.seeding.find_seeds` on the
    hits in ``volumes``) with ``standard_config`` (default ``seed_config``);
    ``"hashing"``: :func:`find_seeds_hashing_in_event` with ``seed_config`` and the rule's
    :class:`HashingConfig`. Triplets are row indices into ``event.hits`` either way.

    Returns
    -------
    (SeedingResult, SeedingChoice)
        The seeds (a :class:`HashingResult` when hashing ran) and the decision.
    """
    choice = choose_seeding(event, volumes=volumes, min_space_points=min_space_points)
    if choice.method == "hashing":
        res: SeedingResult = find_seeds_hashing_in_event(
            event, seed_config, choice.hashing_config, n_threads, volumes=volumes,
            var_r=var_r, var_z=var_z)
        return res, choice
    std = find_seeds_in_event(event, standard_config if standard_config is not None else seed_config,
                              volumes=volumes, var_r=var_r, var_z=var_z, n_threads=n_threads)
    return std, choice
