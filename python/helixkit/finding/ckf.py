"""Track finding with the combinatorial Kalman filter, ambiguity resolution, final fit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import _core
from .._validation import as_numpy, check_n_threads, require_instance
from ..data import Event
from ..fitting import estimate_track_params, fit_tracks
from ..fitting.kalman import default_initial_cov
from .config import AmbiguityConfig, CkfConfig
from .detector import Detector, detector_for

#: ``Tracks.info["seed_status"]`` codes.
SEED_TRACK = 0
SEED_DEDUPLICATED = 1
SEED_NOT_SELECTED = 2
SEED_FAILED = 3
SEED_STATUS_NAMES = {SEED_TRACK: "track", SEED_DEDUPLICATED: "deduplicated",
                     SEED_NOT_SELECTED: "not selected", SEED_FAILED: "failed"}


@dataclass
class Tracks:
    """Found tracks as flat arrays (T tracks).

    ``hits[offsets[i]:offsets[i + 1]]`` are track i's hits (row indices into
    ``event.hits``) in propagation order, innermost first; ``outlier`` flags the
    entries that are outlier states (not used in the fit).

    Attributes
    ----------
    offsets : (T + 1,) int64
    hits : (H,) int64
    outlier : (H,) bool
    params : (T, 5) float64
        Perigee d0 [mm], z0 [mm], φ, θ, q/p [e/GeV] of the final smoothed fit.
    cov : (T, 5, 5) float64
    chi2 : (T,) float64
    ndf : (T,) int32
    n_measurements, n_outliers, n_holes : (T,) int32
        From the CKF (holes between the first and the last measurement).
    status : (T,) int8
        Final fit status (:data:`helixkit.fitting.STATUS_NAMES`).
    seed : (T,) int64
        The seed each track came from (index into the seeds given).
    timing : dict
        Seconds per stage (``seeding``, ``parameters``, ``ckf``, ``fit``, ``ambiguity``).
    info : dict
        ``seed_status`` (S,) per seed (:data:`SEED_STATUS_NAMES`) and work counters.
    """

    offsets: np.ndarray
    hits: np.ndarray
    outlier: np.ndarray
    params: np.ndarray
    cov: np.ndarray
    chi2: np.ndarray
    ndf: np.ndarray
    n_measurements: np.ndarray
    n_outliers: np.ndarray
    n_holes: np.ndarray
    status: np.ndarray
    seed: np.ndarray
    timing: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seed)

    def __repr__(self) -> str:
        return f"Tracks({len(self)} tracks, {len(self.hits)} hits)"

    def track_hits(self, i: int, *, outliers: bool = True) -> np.ndarray:
        """Hit rows of track ``i`` (without outlier states if ``outliers=False``)."""
        s = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        return self.hits[s] if outliers else self.hits[s][~self.outlier[s]]

    def measurement_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, hits) of the measurement states only (outliers removed)."""
        return select_entries(self.offsets, self.hits, ~self.outlier)

    @property
    def pt(self) -> np.ndarray:
        return np.abs(np.sin(self.params[:, 3]) / self.params[:, 4])

    @property
    def eta(self) -> np.ndarray:
        return -np.log(np.tan(0.5 * self.params[:, 3]))

    def take(self, index: Any) -> Tracks:
        """The tracks at ``index`` (int array or boolean mask), same order."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        counts = np.diff(self.offsets)[idx]
        off = np.zeros(len(idx) + 1, dtype=np.int64)
        off[1:] = np.cumsum(counts)
        # entry k of new track j is old entry offsets[idx[j]] + k
        entry = np.repeat(self.offsets[idx] - off[:-1], counts) + np.arange(off[-1])
        return replace(
            self, offsets=off, hits=self.hits[entry], outlier=self.outlier[entry],
            params=self.params[idx], cov=self.cov[idx], chi2=self.chi2[idx], ndf=self.ndf[idx],
            n_measurements=self.n_measurements[idx], n_outliers=self.n_outliers[idx],
            n_holes=self.n_holes[idx], status=self.status[idx], seed=self.seed[idx],
            timing=dict(self.timing), info=dict(self.info),
        )

    def shared_hits(self) -> np.ndarray:
        """(T,) number of each track's measurement hits that other tracks also use."""
        off, h = self.measurement_offsets()
        if len(h) == 0:
            return np.zeros(len(self), dtype=np.int32)
        users = np.bincount(h)
        shared = (users[h] > 1).astype(np.int64)
        return np.add.reduceat(shared, off[:-1]).astype(np.int32) if len(self) else (
            np.zeros(0, np.int32))

    def summary(self) -> dict[str, Any]:
        ss = np.asarray(self.info.get("seed_status", np.zeros(0, np.int8)))
        return {
            "tracks": len(self),
            "mean_measurements": float(self.n_measurements.mean()) if len(self) else 0.0,
            "mean_holes": float(self.n_holes.mean()) if len(self) else 0.0,
            "seeds": {SEED_STATUS_NAMES[k]: int((ss == k).sum()) for k in SEED_STATUS_NAMES},
            "timing_ms": {k: 1e3 * v for k, v in self.timing.items()},
        }


def select_entries(offsets: np.ndarray, hits: np.ndarray, keep: np.ndarray, *,
                   drop_empty: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, hits) of flat tracks with only the entries where ``keep`` is true; tracks
    left empty are kept (as empty) unless ``drop_empty``."""
    keep = np.asarray(keep, dtype=bool)
    track = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    counts = np.bincount(track[keep], minlength=len(offsets) - 1)
    if drop_empty:
        keep = keep & (counts > 0)[track]
        counts = counts[counts > 0]
    off = np.zeros(len(counts) + 1, dtype=np.int64)
    off[1:] = np.cumsum(counts)
    return off, hits[keep]


def _seed_rows(seeds: Any, n_hits: int) -> np.ndarray:
    trip = getattr(seeds, "triplets", seeds)
    arr = np.asarray(as_numpy(trip))
    if arr.dtype.kind not in "iu":
        msg = f"seeds must be integer hit rows (S, 3), got dtype {arr.dtype}"
        raise TypeError(msg) if arr.dtype.kind not in "f" else ValueError(msg)
    if arr.ndim != 2 or arr.shape[1] != 3:
        msg = f"seeds must have shape (S, 3) [bottom, middle, top hit rows], got {arr.shape}"
        raise ValueError(msg)
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n_hits)
    if bad.any():
        s = int(np.flatnonzero(bad.any(axis=1))[0])
        msg = (f"seeds[{s}] = {arr[s].tolist()} indexes hits outside [0, {n_hits}) "
               "(seeds are row indices into event.hits)")
        raise ValueError(msg)
    return arr


def _rows_of(a: np.ndarray, rows: np.ndarray | None, dtype: Any) -> np.ndarray:
    """``a[rows]`` (all of ``a`` when ``rows`` is None: no copy) as a contiguous array."""
    return np.ascontiguousarray(a if rows is None else a[rows], dtype=dtype)


def _layer_arrays(det: Detector, rows: np.ndarray | None) -> tuple[np.ndarray, ...]:
    passive = (np.zeros(0, np.int32) if det.passive is None
               else np.ascontiguousarray(det.passive, dtype=np.int32))
    if det.layer is None:
        return np.zeros(0, np.int32), np.zeros(0), np.zeros(0), passive, np.zeros(0)
    var = (np.zeros(0) if det.layer_var is None
           else _rows_of(det.layer_var, rows, np.float64))
    return (_rows_of(det.layer, rows, np.int32), _rows_of(det.layer_local, rows, np.float64),
            _rows_of(det.layer_offset, rows, np.float64), passive, var)


def find_tracks_ckf(
    event: Event,
    seeds: Any,
    *,
    config: CkfConfig | None = None,
    detector: Detector | None = None,
    fit: bool = True,
    n_threads: int = 0,
) -> Tracks:
    """Find tracks from seeds with the combinatorial Kalman filter (GIL released).

    Per seed (in order): the helix through its three hits gives the starting
    parameters (:func:`helixkit.fitting.estimate_track_params`); the filter runs
    outward from the bottom hit through the seed's other two hits (stay on seed)
    and on, branching on every surface with compatible measurements; the best
    candidate is re-filtered backwards to the bottom hit and the search continues
    inward to the beam line (two-way). The candidate passes ``config.selector``
    or is dropped; a seed whose three hits are all on an earlier seed's track is
    skipped (seed deduplication). With ``fit`` the tracks' measurements are
    refitted with the Kalman filter + smoother to the perigee and the selector's
    kinematic cuts are applied again to the fitted parameters.

    Parameters
    ----------
    event : helixkit.data.Event
    seeds : SeedingResult or (S, 3) int
        Bottom, middle, top hit rows (``find_seeds_in_event`` gives them).
    config : CkfConfig, optional
    detector : Detector, optional
        Default :func:`detector_for(event) <helixkit.finding.detector_for>`.
    n_threads : int
        0 = all cores; the tracks do not depend on it.

    Returns
    -------
    Tracks
        In seed order, at most one per seed.
    """
    require_instance(event, Event, "event", "helixkit.data.Event")
    cfg = CkfConfig() if config is None else config
    require_instance(cfg, CkfConfig, "config", "helixkit.finding.CkfConfig")
    nt = check_n_threads(n_threads)
    det = detector_for(event) if detector is None else detector
    require_instance(det, Detector, "detector", "helixkit.finding.Detector")
    n_hits = event.n_hits
    if len(det.surface_id) != n_hits:
        msg = f"detector has {len(det.surface_id)} hits, the event {n_hits}"
        raise ValueError(msg)
    trip = _seed_rows(seeds, n_hits)
    timing: dict[str, float] = {}

    rows = np.flatnonzero(det.surface_id >= 0)
    meas_of = np.full(n_hits, -1, dtype=np.int64)
    meas_of[rows] = np.arange(len(rows))
    off_surface = (meas_of[trip] < 0).any(axis=1)
    if off_surface.any():
        s = int(np.flatnonzero(off_surface)[0])
        msg = (f"seeds[{s}] = {trip[s].tolist()} uses hits on no surface of the detector "
               "(their (volume_id, layer_id) is not in the geometry)")
        raise ValueError(msg)

    t0 = time.perf_counter()
    hits = event.hits
    xyz = np.stack([np.asarray(hits[c], dtype=np.float64) for c in ("x", "y", "z")], axis=1)
    if len(trip):
        params, pstatus = estimate_track_params(xyz[trip[:, 0]], xyz[trip[:, 1]],
                                                xyz[trip[:, 2]], b_field_z=det.b_field_z,
                                                n_threads=nt)
    else:
        params, pstatus = np.zeros((0, 5)), np.zeros(0, np.int8)
    usable = np.flatnonzero(pstatus == 0)
    timing["parameters"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    native = cfg.native(b_field_z=det.b_field_z, n_threads=nt)
    p_use = np.ascontiguousarray(params[usable])
    sub = None if len(rows) == n_hits else rows  # (every hit on a surface: no copies)
    out = _core.ckf_find_tracks(
        det.surfaces._native, native,  # noqa: SLF001
        _rows_of(det.surface_id, sub, np.int32), _rows_of(det.local, sub, np.float64),
        _rows_of(det.cov, sub, np.float64),
        np.full(len(rows), 3, dtype=np.int8), np.ascontiguousarray(meas_of[trip[usable]]),
        p_use, np.ascontiguousarray(default_initial_cov(
            p_use, tuple(cfg.initial_sigmas), cfg.initial_sigma_qop_rel,
            cfg.initial_sigma_qop).reshape(-1, 25)),
        *_layer_arrays(det, sub),
    )
    timing["ckf"] = time.perf_counter() - t0
    seed_status = np.full(len(trip), SEED_FAILED, dtype=np.int8)
    seed_status[usable] = out["seed_status"]
    tracks = Tracks(
        offsets=out["offsets"], hits=rows[out["measurements"]],
        outlier=out["outlier"].astype(bool), params=out["params"], cov=out["cov"],
        chi2=out["chi2"], ndf=out["ndf"], n_measurements=out["n_measurements"],
        n_outliers=out["n_outliers"], n_holes=out["n_holes"],
        status=np.zeros(len(out["seed"]), dtype=np.int8), seed=usable[out["seed"]],
        timing=timing,
        info={"seed_status": seed_status, "n_seeds": len(trip),
              "n_branches": int(out["n_branches"]), "n_propagations": int(out["n_propagations"]),
              "n_chi2_tests": int(out["n_chi2_tests"]),
              "max_live_branches": int(out["max_live_branches"]), "n_measurements": len(rows)},
    )
    if fit and len(tracks):
        tracks = final_fit(tracks, det, cfg, nt)
    return tracks


def final_fit(tracks: Tracks, det: Detector, cfg: CkfConfig, n_threads: int) -> Tracks:
    """``tracks``' measurements refitted with the Kalman filter + smoother to the perigee
    (from their own parameters); tracks whose fit fails keep the CKF's parameters and get
    the fit's status. The selector's kinematic cuts are applied again to the fitted
    parameters (dropped seeds get ``SEED_NOT_SELECTED``)."""
    t0 = time.perf_counter()
    off, h = tracks.measurement_offsets()
    res = fit_tracks(
        det.surfaces, off, det.surface_id[h], det.local[h], det.cov[h], tracks.params,
        b_field_z=det.b_field_z, initial_cov=default_initial_cov(tracks.params),
        multiple_scattering=cfg.multiple_scattering, mass=cfg.mass, n_threads=n_threads,
    )
    ok = res.status == 0
    tracks.params = np.where(ok[:, None], res.params, tracks.params)
    tracks.cov = np.where(ok[:, None, None], res.cov, tracks.cov)
    tracks.chi2 = np.where(ok, res.chi2, tracks.chi2)
    tracks.ndf = np.where(ok, res.ndf, tracks.ndf).astype(np.int32)
    tracks.status = res.status.astype(np.int8)
    # the selector's kinematic cuts again, on the fitted parameters
    sel = cfg.selector
    pt, eta = tracks.pt, np.abs(tracks.eta)
    d0, z0 = tracks.params[:, 0], tracks.params[:, 1]
    keep = ((pt >= sel.pt_min) & (pt <= sel.pt_max) & (eta >= sel.abs_eta_min)
            & (eta <= sel.abs_eta_max) & (d0 >= sel.loc0_min) & (d0 <= sel.loc0_max)
            & (z0 >= sel.loc1_min) & (z0 <= sel.loc1_max))
    timing = dict(tracks.timing)
    timing["fit"] = time.perf_counter() - t0
    tracks.timing = timing
    if not keep.all():
        status = tracks.info["seed_status"].copy()
        status[tracks.seed[~keep]] = SEED_NOT_SELECTED
        tracks = tracks.take(keep)
        tracks.info["seed_status"] = status
    return tracks


def resolve_ambiguities(tracks: Tracks, config: AmbiguityConfig | None = None) -> Tracks:
    """Greedy ambiguity resolution (ACTS ``GreedyAmbiguityResolution`` semantics).

    Tracks with fewer than ``n_measurements_min`` measurements are dropped; then,
    while a track shares at least ``maximum_shared_hits`` measurement hits with
    others, the worst is removed (highest shared fraction; then, for equal
    lengths, higher χ²/ndf, else fewer measurements). Outlier states do not count.
    Returns the kept tracks in their original order.
    """
    require_instance(tracks, Tracks, "tracks", "helixkit.finding.Tracks")
    cfg = AmbiguityConfig() if config is None else config
    require_instance(cfg, AmbiguityConfig, "config", "helixkit.finding.AmbiguityConfig")
    t0 = time.perf_counter()
    off, h = tracks.measurement_offsets()
    chi2ndf = np.ascontiguousarray(tracks.chi2 / np.maximum(tracks.ndf, 1), dtype=np.float64)
    kept = _core.greedy_ambiguity_resolution(
        off, np.ascontiguousarray(h, dtype=np.int64), chi2ndf, cfg.maximum_shared_hits,
        cfg.maximum_iterations, cfg.n_measurements_min)
    out = tracks.take(kept)
    out.timing["ambiguity"] = time.perf_counter() - t0
    return out


__all__ = ["final_fit", "select_entries", "SEED_DEDUPLICATED", "SEED_FAILED", "SEED_NOT_SELECTED", "SEED_STATUS_NAMES",
           "SEED_TRACK", "Tracks", "find_tracks_ckf", "resolve_ambiguities"]
