"""Batched Kalman filter + smoother (ACTS KalmanFitter semantics) and seed parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from .. import units as u
from .._validation import (
    as_float_array,
    as_int_array,
    as_numpy,
    check_float,
    check_int,
    check_n_threads,
    make_config,
    same_length,
)
from .surfaces import Surfaces

#: Status codes of :func:`fit_tracks` (``result.status``).
SUCCESS = 0
TOO_FEW_MEASUREMENTS = 1
PROPAGATION_FAILED = 2
NUMERICAL_FAILURE = 3
STATUS_NAMES = {
    SUCCESS: "success",
    TOO_FEW_MEASUREMENTS: "too few measurements",
    PROPAGATION_FAILED: "propagation failed",
    NUMERICAL_FAILURE: "numerical failure",
}

#: Default initial standard deviations around the seed parameters
#: (d0 [mm], z0 [mm], φ [rad], θ [rad]); q/p gets ``DEFAULT_INITIAL_QOP_REL``·|q/p|
#: plus 0.01 e/GeV. Loose enough that the prior does not bias the fit.
DEFAULT_INITIAL_SIGMAS = (5.0 * u.mm, 20.0 * u.mm, 0.05, 0.05)
DEFAULT_INITIAL_QOP_REL = 0.5
PION_MASS = 139.57039 * u.MeV
#: ``measurement_mask`` value of a passive (material-only) entry.
PASSIVE = 0
PARAM_NAMES = ("d0", "z0", "phi", "theta", "qop")


@dataclass
class TrackFitResult:
    """Result of a batched track fit (N tracks, M measurements).

    Attributes
    ----------
    params : (N, 5) float64
        Perigee parameters (d0 [mm], z0 [mm], φ, θ, q/p [e/GeV]), ACTS conventions;
        NaN where ``status != 0``.
    cov : (N, 5, 5) float64
        Their covariances.
    chi2 : (N,) float64
    ndf : (N,) int32
        Measured dimensions (outliers excluded) minus 5; passive entries add nothing.
    status : (N,) int8
        0 success, 1 too few measurements, 2 propagation failed, 3 numerical failure.
    n_measurements, n_outliers, n_holes : (N,) int32
        ``n_measurements`` counts measurement entries (passive entries not included).
    measurement_chi2 : (M,) float64
        Predicted (= filtered) χ² of every measurement; NaN for passive entries.
    outlier : (M,) bool
    smoothed, smoothed_cov : (M, 5), (M, 5, 5) float64 or None
        Smoothed bound parameters on each entry's surface (``store_states``), before that
        surface's material (the state at the hit: material is applied after the
        measurement). Passive entries between measurements get the state before their
        material; those before the first or after the last measurement get NaN.
    particle_id : (N,) int64 or None
        Set by :func:`fit_truth_tracks`.
    """

    params: np.ndarray
    cov: np.ndarray
    chi2: np.ndarray
    ndf: np.ndarray
    status: np.ndarray
    n_measurements: np.ndarray
    n_outliers: np.ndarray
    n_holes: np.ndarray
    measurement_chi2: np.ndarray
    outlier: np.ndarray
    smoothed: np.ndarray | None = None
    smoothed_cov: np.ndarray | None = None
    particle_id: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.status)

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of successful fits."""
        return self.status == SUCCESS

    @property
    def pt(self) -> np.ndarray:
        """Transverse momentum |sin θ / (q/p)| [GeV] (assumes |q| = 1)."""
        return np.abs(np.sin(self.params[:, 3]) / self.params[:, 4])

    def summary(self) -> dict[str, Any]:
        ok = self.ok
        good = ok & (self.ndf > 0)
        return {
            "tracks": len(self),
            "success": int(ok.sum()),
            "status_counts": {STATUS_NAMES[k]: int((self.status == k).sum()) for k in STATUS_NAMES},
            "mean_chi2_ndf": float(np.mean(self.chi2[good] / self.ndf[good])) if good.any()
            else float("nan"),
        }


def default_initial_cov(initial_params: Any, sigmas: tuple[float, float, float, float] = (
        DEFAULT_INITIAL_SIGMAS), qop_rel: float = DEFAULT_INITIAL_QOP_REL,
        qop_abs: float = 0.01) -> np.ndarray:
    """Diagonal initial covariances (N, 5, 5) around seed parameters: ``sigmas`` for (d0, z0,
    φ, θ), σ(q/p) = ``qop_rel``·|q/p| + ``qop_abs``."""
    p = as_float_array(initial_params, "initial_params", ndim=2)
    n = len(p)
    cov = np.zeros((n, 5, 5))
    for i, s in enumerate(sigmas):
        cov[:, i, i] = float(s) ** 2
    cov[:, 4, 4] = (qop_rel * np.abs(p[:, 4]) + qop_abs) ** 2
    return cov


def _measurement_cov(cov: Any, m: int, *, finite: bool = True) -> np.ndarray:
    c = as_float_array(cov, "measurement_cov", finite=finite)
    if c.shape == (m, 2, 2):
        return np.ascontiguousarray(np.stack([c[:, 0, 0], c[:, 1, 1], c[:, 0, 1]], axis=1))
    if c.shape == (m, 2):
        return np.ascontiguousarray(np.concatenate([c, np.zeros((m, 1))], axis=1))
    if c.shape == (m, 3):
        return c
    msg = f"measurement_cov must be (M, 3) [var0, var1, cov01], (M, 2) or (M, 2, 2); got {c.shape}"
    raise ValueError(msg)


def fit_tracks(  # noqa: PLR0913
    surfaces: Surfaces,
    track_offsets: Any,
    surface_id: Any,
    measurement: Any,
    measurement_cov: Any,
    initial_params: Any,
    *,
    b_field_z: float,
    initial_cov: Any = None,
    measurement_mask: Any = None,
    mass: Any = None,
    multiple_scattering: bool = True,
    energy_loss: bool = False,
    energy_loss_per_x0: float = 36.6 * u.MeV,
    outlier_chi2_cut: float = 0.0,
    count_holes: bool = False,
    hole_surfaces: Any = None,
    smoother: str = "mbf",
    min_measurements: int = 3,
    beam_position: tuple[float, float] = (0.0, 0.0),
    store_states: bool = False,
    n_threads: int = 1,
) -> TrackFitResult:
    """Fit many tracks at once with a Kalman filter + smoother (GIL released).

    Parameters
    ----------
    surfaces : Surfaces
        Measurement surfaces with their material.
    track_offsets : (N + 1,) int
        Measurements of track i are rows ``track_offsets[i]:track_offsets[i+1]``,
        ordered along the track. Offsets must start at 0, strictly increase
        (no empty track) and end at M.
    surface_id : (M,) int
        Surface index of every entry (measurement or passive surface).
    measurement : (M, 2) float
        Local coordinates (loc0, loc1) on the surface (for a 1D measurement the
        unmeasured column is ignored).
    measurement_cov : (M, 3), (M, 2) or (M, 2, 2) float
        Local covariance: (var0, var1, cov01), variances only, or full matrices.
    initial_params : (N, 5) float
        Start parameters at the perigee (d0, z0, φ, θ, q/p), e.g. from
        :func:`estimate_track_params`.
    b_field_z : float
        Field in native units (``2 * units.T``).
    initial_cov : (N, 5, 5) float, optional
        Default :func:`default_initial_cov`.
    measurement_mask : (M,) int, optional
        1 = loc0 only (strip), 2 = loc1 only, 3 = both (default), 0 = passive
        (:data:`PASSIVE`): a material-only surface (support cylinder or disc, beam
        pipe). The track is propagated to it and its material applied (scattering,
        energy loss) with no measurement update; its ``measurement`` and
        ``measurement_cov`` rows are ignored (may be NaN); it is no hole and adds
        nothing to ``ndf``, ``chi2`` or ``n_measurements``. Passive entries before
        the first measurement (beam pipe) lie between the perigee and the first
        hit: the perigee is extrapolated from the smoothed first-measurement state
        and their scattering noise is added to the perigee covariance (J Q Jᵀ with J
        the transport passive surface → perigee; their mean energy loss is given
        back), as ACTS adds the material noise when it extrapolates to the perigee.
        Passive entries after the last measurement cannot change the fit and are
        skipped.
    mass : float or (N,) float, optional
        Mass hypothesis [GeV] for material effects (default charged pion).
    multiple_scattering, energy_loss : bool
        Highland scattering noise / mean energy loss at every surface with material.
    outlier_chi2_cut : float
        Measurements with predicted χ² above this are outliers (0 = off).
    count_holes : bool
        Count surfaces crossed within bounds without a measurement between the
        first and last measurement; ``hole_surfaces`` restricts the candidates (pass
        the measurement surfaces when the set also holds passive surfaces: a passive
        surface that a track crosses but does not list would otherwise count).
        Passive entries of a track are never holes.
    smoother : {"mbf", "rts"}
        Modified Bryson–Frazier (no inverse of the predicted covariance) or
        Rauch–Tung–Striebel.
    beam_position : (float, float)
        Transverse position [mm] of the perigee reference line (parallel to z).
    store_states : bool
        Also return smoothed states per measurement.
    n_threads : int
        0 = all cores. Results do not depend on it.

    Returns
    -------
    TrackFitResult
        Per-track failures are status codes; bad inputs raise ``ValueError``.
    """
    if not isinstance(surfaces, Surfaces):
        msg = f"surfaces must be a helixkit.fitting.Surfaces, got {type(surfaces).__name__}"
        raise TypeError(msg)
    _check_field(b_field_z, nonzero=True)
    off = as_int_array(track_offsets, "track_offsets", np.int64)
    sid_raw = as_numpy(surface_id)
    if sid_raw.dtype.kind not in "iu":
        msg = f"surface_id must be integer, got dtype {sid_raw.dtype}"
        raise ValueError(msg)
    sid = as_int_array(sid_raw, "surface_id", np.int32)
    m = len(sid)
    if measurement_mask is None:
        mask = np.full(m, 3, dtype=np.int8)
        meas = as_float_array(measurement, "measurement", ndim=2)
        mcov = _measurement_cov(measurement_cov, m)
    else:
        mask_raw = as_numpy(measurement_mask)
        if mask_raw.dtype.kind not in "iub":
            msg = f"measurement_mask must be integer, got dtype {mask_raw.dtype}"
            raise ValueError(msg)
        mask = as_int_array(mask_raw, "measurement_mask", np.int8)
        same_length(surface_id=sid, measurement_mask=mask)
        # Rows of passive entries are ignored and may be NaN.
        active = mask != PASSIVE
        meas = as_float_array(measurement, "measurement", ndim=2, finite=False)
        same_length(surface_id=sid, measurement=meas)
        mcov = _measurement_cov(measurement_cov, m, finite=False)
        for name, arr in (("measurement", meas), ("measurement_cov", mcov)):
            bad = ~np.isfinite(arr).all(axis=1) & active
            if bad.any():
                msg = f"{name} contains NaN or inf (first at row {int(np.flatnonzero(bad)[0])})"
                raise ValueError(msg)
    same_length(surface_id=sid, measurement=meas)
    init = as_float_array(initial_params, "initial_params", ndim=2)
    if init.shape[1] != 5:
        msg = f"initial_params must have shape (N, 5) [d0, z0, phi, theta, q/p], got {init.shape}"
        raise ValueError(msg)
    n = len(init)
    if len(off) != n + 1:
        msg = f"track_offsets must have N + 1 = {n + 1} entries (N = len(initial_params)), got {len(off)}"
        raise ValueError(msg)
    icov = default_initial_cov(init) if initial_cov is None else as_float_array(
        initial_cov, "initial_cov")
    if icov.shape != (n, 5, 5):
        msg = f"initial_cov must have shape ({n}, 5, 5), got {icov.shape}"
        raise ValueError(msg)
    if mass is None:
        masses = np.zeros(0)
        mass_cfg = PION_MASS
    elif np.ndim(mass) == 0:
        masses = np.zeros(0)
        mass_cfg = float(mass)
    else:
        masses = as_float_array(mass, "mass", ndim=1)
        same_length(mass=masses, initial_params=init)
        mass_cfg = PION_MASS
    holes = (np.zeros(0, dtype=np.int32) if hole_surfaces is None
             else as_int_array(hole_surfaces, "hole_surfaces", np.int32))
    smoothers = {"mbf": _core.KalmanSmoother.MBF, "rts": _core.KalmanSmoother.RTS}
    if smoother not in smoothers:
        msg = f"smoother must be one of {sorted(smoothers)}, got {smoother!r}"
        raise ValueError(msg)
    bx, by = (float(v) for v in beam_position)
    cfg = make_config(
        _core.KalmanFitterConfig, b_field_z=float(b_field_z),
        multiple_scattering=bool(multiple_scattering), energy_loss=bool(energy_loss),
        energy_loss_per_x0=float(energy_loss_per_x0), mass=mass_cfg,
        outlier_chi2_cut=float(outlier_chi2_cut), count_holes=bool(count_holes),
        smoother=smoothers[smoother],
        min_measurements=check_int(min_measurements, "min_measurements", lo=0, hi=2**31 - 1),
        beam_x=bx,
        beam_y=by, store_states=bool(store_states), n_threads=check_n_threads(n_threads),
    )
    out = _core.kalman_fit(
        surfaces._native, cfg, off, sid, meas, mcov, mask, init,  # noqa: SLF001
        np.ascontiguousarray(icov.reshape(n, 25)), masses, holes,
    )
    return TrackFitResult(
        params=out["params"], cov=out["cov"], chi2=out["chi2"], ndf=out["ndf"],
        status=out["status"], n_measurements=out["n_measurements"],
        n_outliers=out["n_outliers"], n_holes=out["n_holes"],
        measurement_chi2=out["measurement_chi2"], outlier=out["outlier"].astype(bool),
        smoothed=out.get("smoothed"), smoothed_cov=out.get("smoothed_cov"),
    )


def estimate_track_params(bottom: Any, middle: Any, top: Any, *, b_field_z: float,
                          beam_position: tuple[float, float] = (0.0, 0.0), n_threads: int = 1
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Perigee parameters of the helix through three space points per seed.

    As ACTS's ``estimateTrackParamsFromSeed``: the transverse circle through the
    points gives pT = |B|·R, the charge sign and φ at the bottom point; cot θ
    is Δz over the transverse arc bottom → top. The helix is then propagated
    exactly to the perigee. Returns (N, 5) parameters and (N,) int8 status
    (0 ok, 1 degenerate seed, 2 no point of closest approach).
    """
    b = as_float_array(bottom, "bottom", ndim=2)
    mid = as_float_array(middle, "middle", ndim=2)
    t = as_float_array(top, "top", ndim=2)
    same_length(bottom=b, middle=mid, top=t)
    bx, by = (float(v) for v in beam_position)
    _check_field(b_field_z, nonzero=True)
    return _core.estimate_perigee_from_seeds(b, mid, t, float(b_field_z), bx, by,
                                             check_n_threads(n_threads))


def perigee_from_momenta(position: Any, momentum: Any, charge: Any, *, b_field_z: float,
                         beam_position: tuple[float, float] = (0.0, 0.0), n_threads: int = 1
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Perigee parameters of helices given a point, momentum [GeV] and charge [e]."""
    pos = as_float_array(position, "position", ndim=2)
    mom = as_float_array(momentum, "momentum", ndim=2)
    q = as_float_array(charge, "charge", ndim=1)
    same_length(position=pos, momentum=mom, charge=q)
    _check_field(b_field_z)
    bx, by = (float(v) for v in beam_position)
    return _core.perigee_from_momenta(pos, mom, q, float(b_field_z), bx, by,
                                      check_n_threads(n_threads))


def _check_field(b: float, *, nonzero: bool = False) -> None:
    check_float(b, "b_field_z", finite=False)
    if not np.isfinite(b) or abs(b) > 0.01:
        msg = f"b_field_z (={b}) looks like Tesla or is not finite; use e.g. 2 * units.T"
        raise ValueError(msg)
    if nonzero and b == 0:
        msg = ("b_field_z (=0) must be non-zero: without a field the curvature (q/p) "
               "cannot be measured; use e.g. 2 * units.T")
        raise ValueError(msg)
