"""ACTS-style grid triplet seeding (seed finder + seed filter).

The kernel is ``helixkit::TripletSeeder`` (C++, see
``cpp/include/helixkit/Seeding/TripletSeeder.hpp``); this module owns the
configuration, input conversion and documentation.

Output order
------------
Seeds are grouped by middle space point in ascending input index; within one
middle space point they follow the filter's ranking (quality seeds first when
seed confirmation is on, then descending weight; equal weights keep the order
in which the finder produced them). The result does not depend on
``n_threads``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _core
from .. import units as u
from .._validation import as_float_array, as_numpy, check_n_threads, same_length, set_native_field

if TYPE_CHECKING:
    from ..data import Event

__all__ = [
    "DEFAULT_VARIANCE_R",
    "DEFAULT_VARIANCE_Z",
    "SeedConfirmationRange",
    "SeedFinderConfig",
    "SeedingResult",
    "find_seeds",
    "find_seeds_in_buckets",
    "find_seeds_in_event",
    "seeding_grid",
]

#: Variance of r used when ``var_r`` is not given: (50 um)^2, in mm^2. It is a
#: conservative pixel-like value; with the default sigma_scattering the
#: multiple-scattering term dominates the triplet compatibility cut.
DEFAULT_VARIANCE_R = (0.05 * u.mm) ** 2
#: Variance of z used when ``var_z`` is not given: (50 um)^2, in mm^2.
DEFAULT_VARIANCE_Z = (0.05 * u.mm) ** 2


def _field_names(cls: type) -> list[str]:
    return [n for n in dir(cls) if not n.startswith("_") and n != "validate"]


class SeedConfirmationRange(_core.SeedConfirmationRange):
    """Seed-confirmation parameters of one region (ACTS SeedConfirmationRangeConfig).

    Fields (lengths in mm): ``z_min_seed_conf``, ``z_max_seed_conf``,
    ``r_max_seed_conf``, ``n_top_for_large_r``, ``n_top_for_small_r``,
    ``seed_conf_min_bottom_radius`` (60), ``seed_conf_max_z_origin`` (150),
    ``min_impact_seed_conf`` (1).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        for name, value in kwargs.items():
            if name.startswith("_") or not hasattr(_core.SeedConfirmationRange, name):
                msg = f"SeedConfirmationRange has no field {name!r}"
                raise TypeError(msg)
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        set_native_field(self, "SeedConfirmationRange", name, value, super().__setattr__)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{n}={getattr(self, n)!r}" for n in _field_names(_core.SeedConfirmationRange)
        )
        return f"SeedConfirmationRange({fields})"


class SeedFinderConfig(_core.TripletSeederConfig):
    """Configuration of :func:`find_seeds`: ACTS's names in snake_case, ACTS's defaults.

    Construct with keyword arguments; unknown names raise ``TypeError`` and
    invalid values raise ``ValueError`` naming the field (the C++ name, e.g.
    ``deltaRMax``). Units are helixkit/ACTS native: mm, GeV, and the field in
    GeV/(e mm), i.e. write ``b_field_z=2 * units.T``.

    Main fields (ACTS ``GridTripletSeedingAlgorithm.Config`` defaults)
    -----------------------------------------------------------------
    b_field_z : 2 T.  min_pt : 0.4 GeV.  cot_theta_max : 10.01788 (eta 3).
    impact_max : 20 mm.  delta_r_min, delta_r_max : 5, 270 mm (the
    ``*_top`` / ``*_bottom`` variants default to NaN = use these).
    r_min, r_max : 0, 600 mm (points outside are ignored; ACTS's grid ignores
    r_min).  z_min, z_max : -2800, 2800 mm (grid range; points outside are only
    bottom/top neighbours, as in ACTS).  r_min_middle, r_max_middle : 60, 120
    mm (middle space-point range; or ``use_variable_middle_sp_range`` /
    ``r_range_middle_sp``).  collision_region_min/max : -150, 150 mm.
    delta_z_min/max : -inf, inf.  interaction_point_cut : False.
    sigma_scattering : 5.  rad_length_per_seed : 0.05.
    Filter: delta_inv_helix_diameter 3e-5 /mm, filter_delta_r_min NaN (=
    delta_r_min, as ACTS's algorithm), compat_seed_weight 200,
    impact_weight_factor 1, z_origin_weight_factor 1, compat_seed_limit 2,
    max_seeds_per_spm 5 (at most max_seeds_per_spm + 1 seeds per middle space
    point, honoured for any value), seed_confirmation False with
    central/forward_seed_confirmation_range, max_seeds_per_spm_conf 5,
    max_quality_seeds_per_spm_conf 5, use_delta_r_instead_of_top_radius.
    Grid: phi_bin_deflection_coverage 1, max_phi_bins 10000,
    num_phi_neighbors 1, z_bin_edges, z_bin_neighbors_top/bottom (one
    (low, high) offset pair per z bin), z_bins_custom_looping (1-based bins
    used as middles).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        for name, value in kwargs.items():
            if name.startswith("_") or not hasattr(_core.TripletSeederConfig, name):
                msg = f"SeedFinderConfig has no field {name!r}"
                raise TypeError(msg)
            setattr(self, name, value)
        self.validate()

    def __setattr__(self, name: str, value: Any) -> None:
        set_native_field(self, "SeedFinderConfig", name, value, super().__setattr__)

    @classmethod
    def acts_odd(cls, **overrides: Any) -> SeedFinderConfig:
        """ACTS's Open Data Detector ttbar pu200 seeding configuration.

        As in ``CI/physmon/workflows/physmon_trackfinding_ttbar_pu200.py``:
        r_max 200 mm, deltaR 1-300 mm, collision region +-250 mm, |z| <= 2000 mm,
        maxSeedsPerSpM 1, sigma_scattering 5, rad_length_per_seed 0.1,
        min_pt 0.5 GeV, impact_max 3 mm, 2 T; everything else ACTS's default.
        """
        values: dict[str, Any] = {
            "r_max": 200 * u.mm,
            "delta_r_min": 1 * u.mm,
            "delta_r_max": 300 * u.mm,
            "collision_region_min": -250 * u.mm,
            "collision_region_max": 250 * u.mm,
            "z_min": -2000 * u.mm,
            "z_max": 2000 * u.mm,
            "max_seeds_per_spm": 1,
            "sigma_scattering": 5.0,
            "rad_length_per_seed": 0.1,
            "min_pt": 0.5 * u.GeV,
            "impact_max": 3 * u.mm,
            "b_field_z": 2 * u.T,
        }
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (seed-confirmation ranges as dicts)."""
        out: dict[str, Any] = {}
        for name in _field_names(_core.TripletSeederConfig):
            value = getattr(self, name)
            if isinstance(value, _core.SeedConfirmationRange):
                value = {n: getattr(value, n) for n in _field_names(_core.SeedConfirmationRange)}
            out[name] = value
        return out

    def replace(self, **changes: Any) -> SeedFinderConfig:
        """A copy with some fields changed."""
        values = self.to_dict()
        for key in ("central_seed_confirmation_range", "forward_seed_confirmation_range"):
            values[key] = SeedConfirmationRange(**values[key])
        values.update(changes)
        return type(self)(**values)

    def __repr__(self) -> str:
        default = _core.TripletSeederConfig()
        diffs = []
        for name in _field_names(_core.TripletSeederConfig):
            value = getattr(self, name)
            if isinstance(value, _core.SeedConfirmationRange) or value != getattr(default, name):
                if isinstance(value, float) and np.isnan(value):
                    continue
                diffs.append(f"{name}={value!r}")
        return f"SeedFinderConfig({', '.join(diffs)})"


def _config(config: Any) -> Any:
    if config is None:
        return SeedFinderConfig()
    if not isinstance(config, _core.TripletSeederConfig):
        msg = f"config must be a helixkit.seeding.SeedFinderConfig, got {type(config).__name__}"
        raise TypeError(msg)
    config.validate()
    return config


@dataclass(frozen=True)
class SeedingResult:
    """Seeds found by :func:`find_seeds`.

    Attributes
    ----------
    triplets : (M, 3) int64
        Bottom, middle, top indices into the input arrays (or, for
        :func:`find_seeds_in_event`, row indices into ``event.hits``).
    z_vertex : (M,) float32
        z of the seed origin on the beam line [mm].
    quality : (M,) float32
        Seed-filter weight (higher is better).
    """

    triplets: np.ndarray
    z_vertex: np.ndarray
    quality: np.ndarray

    def __len__(self) -> int:
        return int(self.triplets.shape[0])

    def __repr__(self) -> str:
        return f"SeedingResult({len(self)} seeds)"


def _variance(v: Any, name: str, n: int, default: float) -> np.ndarray:
    if v is None:
        return np.full(n, default, dtype=np.float32)
    arr = np.asarray(as_numpy(v))
    if arr.ndim == 0:
        arr = np.full(n, float(arr), dtype=np.float32)
    arr = as_float_array(arr, name, dtype=np.float32, ndim=1)
    if len(arr) != n:
        msg = f"inconsistent lengths: x={n}, {name}={len(arr)}"
        raise ValueError(msg)
    if arr.size and (arr < 0).any():
        bad = int(np.flatnonzero(arr < 0)[0])
        msg = f"{name} must be >= 0 (mm^2), got {arr[bad]} at index {bad}"
        raise ValueError(msg)
    return arr


def _space_points(
    x: Any, y: Any, z: Any, var_r: Any, var_z: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xs = as_float_array(x, "x", dtype=np.float32, ndim=1)
    ys = as_float_array(y, "y", dtype=np.float32, ndim=1)
    zs = as_float_array(z, "z", dtype=np.float32, ndim=1)
    n = same_length(x=xs, y=ys, z=zs)
    if n >= 2**32 - 1:
        msg = f"x has {n} space points; at most 2**32 - 2 are supported"
        raise ValueError(msg)
    vr = _variance(var_r, "var_r", n, DEFAULT_VARIANCE_R)
    vz = _variance(var_z, "var_z", n, DEFAULT_VARIANCE_Z)
    return xs, ys, zs, vr, vz


def _result(t: tuple[np.ndarray, np.ndarray, np.ndarray]) -> SeedingResult:
    return SeedingResult(triplets=t[0], z_vertex=t[1], quality=t[2])


def find_seeds(
    x: Any,
    y: Any,
    z: Any,
    config: SeedFinderConfig | None = None,
    *,
    var_r: Any = None,
    var_z: Any = None,
    subset: Any = None,
    n_threads: int = 0,
) -> SeedingResult:
    """Find triplet seeds in space points (ACTS grid triplet seeding).

    Parameters
    ----------
    x, y, z : (N,) array_like
        Space-point coordinates [mm]; converted to float32 (ACTS's precision).
        At least 3 points; NaN/inf are rejected.
    config : SeedFinderConfig, optional
        Default: ``SeedFinderConfig()`` (ACTS's C++ defaults).
    var_r, var_z : (N,) array_like or float, optional
        Variances of r and z [mm^2]; default :data:`DEFAULT_VARIANCE_R` /
        :data:`DEFAULT_VARIANCE_Z`.
    subset : (K,) array_like of int, optional
        Seed only these space points (a bucket); indices in the result still
        refer to the full arrays. Entries must be unique and < N.
    n_threads : int
        Worker threads over middle space points; 0 = all cores. The result does
        not depend on it.

    Returns
    -------
    SeedingResult
        ``.triplets`` (M, 3) int64 bottom/middle/top indices, ``.z_vertex`` [mm]
        and ``.quality``; order: see the module docstring.
    """
    cfg = _config(config)
    nt = check_n_threads(n_threads)
    xs, ys, zs, vr, vz = _space_points(x, y, z, var_r, var_z)
    if subset is None:
        if len(xs) < 3:
            msg = f"need at least 3 space points, got {len(xs)}"
            raise ValueError(msg)
        return _result(_core.find_seeds(xs, ys, zs, vr, vz, cfg, nt))
    sub = _subset(subset, len(xs), "subset")
    return _result(_core.find_seeds_subset(xs, ys, zs, vr, vz, sub, cfg, nt))


def _subset(subset: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(as_numpy(subset))
    if arr.dtype == bool:
        if arr.shape != (n,):
            msg = f"{name} as a boolean mask must have shape ({n},), got {arr.shape}"
            raise ValueError(msg)
        arr = np.flatnonzero(arr)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        msg = f"{name} must be a 1-D integer index array, got dtype {arr.dtype} shape {arr.shape}"
        raise ValueError(msg)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        msg = f"{name} indices must be in [0, {n}), got range [{arr.min()}, {arr.max()}]"
        raise ValueError(msg)
    srt = np.sort(arr)  # not np.unique: numpy 2.4's hash path is far slower on 10^5 ids
    if (srt[1:] == srt[:-1]).any():
        msg = f"{name} indices must be unique"
        raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=np.uint32)


def find_seeds_in_buckets(
    x: Any,
    y: Any,
    z: Any,
    buckets: Iterable[Any],
    config: SeedFinderConfig | None = None,
    *,
    var_r: Any = None,
    var_z: Any = None,
    n_threads: int = 0,
) -> list[SeedingResult]:
    """Seed every bucket (index array into x/y/z) independently.

    Buckets run in parallel (one thread each); each result's indices refer to
    the full arrays, so results of overlapping buckets can be merged by index.
    ``max_seeds_per_spm`` applies per bucket (as in ACTS's hashing seeding).
    """
    cfg = _config(config)
    nt = check_n_threads(n_threads)
    xs, ys, zs, vr, vz = _space_points(x, y, z, var_r, var_z)
    subs = [_subset(b, len(xs), f"buckets[{i}]") for i, b in enumerate(buckets)]
    return [_result(t) for t in _core.find_seeds_buckets(xs, ys, zs, vr, vz, subs, cfg, nt)]


def find_seeds_in_event(
    event: Event,
    config: SeedFinderConfig | None = None,
    *,
    volumes: Sequence[int] | None = (7, 8, 9),
    layers: Sequence[tuple[int, int]] | None = None,
    var_r: Any = None,
    var_z: Any = None,
    n_threads: int = 0,
) -> SeedingResult:
    """Seed the hits of an :class:`~helixkit.data.Event` in the seeding layers.

    Parameters
    ----------
    event : helixkit.data.Event
    volumes : sequence of int or None
        Volume ids of the seeding layers (default: the pixel volumes 7, 8, 9);
        None = all volumes.
    layers : sequence of (volume_id, layer_id), optional
        Restrict further to these layers.
    var_r, var_z : (n_hits,) array_like or float, optional
        Per-hit variances (indexed like ``event.hits``); default as in
        :func:`find_seeds`.

    Returns
    -------
    SeedingResult
        Triplets are **row indices into** ``event.hits`` (so
        ``event.truth["particle_id"][result.triplets]`` gives their truth).
    """
    hits = event.hits
    n = hits.n_rows
    mask = np.ones(n, dtype=bool)
    if volumes is not None:
        mask &= np.isin(hits["volume_id"], np.asarray(list(volumes)))
    if layers is not None:
        pairs = np.asarray(list(layers), dtype=np.int64).reshape(-1, 2)
        key = hits["volume_id"].astype(np.int64) * 100000 + hits["layer_id"]
        mask &= np.isin(key, pairs[:, 0] * 100000 + pairs[:, 1])
    rows = np.flatnonzero(mask)
    vr = None if var_r is None else _variance(var_r, "var_r", n, DEFAULT_VARIANCE_R)[rows]
    vz = None if var_z is None else _variance(var_z, "var_z", n, DEFAULT_VARIANCE_Z)[rows]
    res = find_seeds(
        hits["x"][rows], hits["y"][rows], hits["z"][rows], config,
        var_r=vr, var_z=vz, n_threads=n_threads,
    )
    return SeedingResult(rows[res.triplets], res.z_vertex, res.quality)


def seeding_grid(config: SeedFinderConfig | None = None) -> tuple[int, np.ndarray]:
    """(number of phi bins, z bin edges [mm]) of the grid for ``config``."""
    n_phi, edges = _core.seeding_grid_info(_config(config))
    return int(n_phi), np.asarray(edges)
