"""Configs of the classical chain: CKF, track selection, ambiguity resolution.

Field names are ACTS's in snake_case (``chi2CutOffMeasurement`` →
``chi2_cut_off_measurement``), defaults are ACTS's (``CkfConfig()`` of the 48.1
wheel, ``TrackSelector``, ``GreedyAmbiguityResolution``), units helixkit's native
ones (mm, GeV). Unknown fields are a ``ValueError`` in :meth:`from_dict`, a
``TypeError`` in the constructor (as for any Python call).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import _core
from .. import units as u

_T = TypeVar("_T")
_INF = math.inf
#: ACTS's "no cut" for the integer TrackSelector cuts (uint32 max).
_NO_CUT = 2**32 - 1


def _from_dict(cls: type[_T], d: Any, where: str) -> _T:
    if not isinstance(d, dict):
        msg = f"{where} must be a mapping of field names to values, got {type(d).__name__}"
        raise TypeError(msg)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        msg = f"{where}: unknown field(s) {unknown}; known: {sorted(names)}"
        raise ValueError(msg)
    return cls(**d)


def _check_int(owner: Any, name: str, lo: int, *, allow_none: bool = False) -> None:
    v = getattr(owner, name)
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int):
        msg = f"{type(owner).__name__}.{name} must be an int, got {type(v).__name__} ({v!r})"
        raise TypeError(msg)
    if v < lo or v > _NO_CUT:
        msg = f"{type(owner).__name__}.{name} (={v}) must be in [{lo}, {_NO_CUT}]"
        raise ValueError(msg)


def _check_float(owner: Any, name: str) -> float:
    v = getattr(owner, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        msg = f"{type(owner).__name__}.{name} must be a number, got {type(v).__name__} ({v!r})"
        raise TypeError(msg)
    return float(v)


def _check_bool(owner: Any, name: str) -> None:
    v = getattr(owner, name)
    if not isinstance(v, bool):
        msg = f"{type(owner).__name__}.{name} must be a bool, got {type(v).__name__} ({v!r})"
        raise TypeError(msg)


def _native_error(owner: Any, err: ValueError) -> ValueError:
    return ValueError(f"{type(owner).__name__}: {err}")


@dataclass(frozen=True)
class TrackSelectorConfig:
    """ACTS ``TrackSelector`` cuts on a found track (perigee parameters).

    ``loc0`` is d0 and ``loc1`` z0 [mm]; ``max_holes`` / ``max_outliers`` /
    ``max_shared_hits`` ``None`` means no cut; ``max_chi2`` is on χ²/ndf.
    """

    pt_min: float = 0.0
    pt_max: float = _INF
    abs_eta_min: float = 0.0
    abs_eta_max: float = _INF
    loc0_min: float = -_INF
    loc0_max: float = _INF
    loc1_min: float = -_INF
    loc1_max: float = _INF
    n_measurements_min: int = 0
    max_holes: int | None = None
    max_outliers: int | None = None
    max_shared_hits: int | None = None
    max_chi2: float = _INF

    def __post_init__(self) -> None:
        for f in ("pt_min", "pt_max", "abs_eta_min", "abs_eta_max", "loc0_min", "loc0_max",
                  "loc1_min", "loc1_max", "max_chi2"):
            _check_float(self, f)
        _check_int(self, "n_measurements_min", 0)
        for f in ("max_holes", "max_outliers", "max_shared_hits"):
            _check_int(self, f, 0, allow_none=True)
        try:
            self.native().validate()
        except ValueError as err:
            raise _native_error(self, err) from None

    @classmethod
    def acts_generic(cls, **overrides: Any) -> TrackSelectorConfig:
        """ACTS ``ckf_tracks.py`` (GenericDetector): pT > 0.5 GeV, |η| < 3, |d0| < 4 mm,
        ≥ 7 measurements, ≤ 2 holes, ≤ 2 outliers."""
        values: dict[str, Any] = {
            "pt_min": 0.5 * u.GeV, "abs_eta_max": 3.0, "loc0_min": -4 * u.mm,
            "loc0_max": 4 * u.mm, "n_measurements_min": 7, "max_holes": 2, "max_outliers": 2,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackSelectorConfig:
        return _from_dict(cls, d, "TrackSelectorConfig")

    def native(self) -> Any:
        n = _core.TrackSelectorCuts()
        for f in ("pt_min", "pt_max", "abs_eta_min", "abs_eta_max", "loc0_min", "loc0_max",
                  "loc1_min", "loc1_max", "max_chi2"):
            setattr(n, f, float(getattr(self, f)))
        n.n_measurements_min = int(self.n_measurements_min)
        n.max_holes = _NO_CUT if self.max_holes is None else int(self.max_holes)
        n.max_outliers = _NO_CUT if self.max_outliers is None else int(self.max_outliers)
        return n


def _default_selector() -> TrackSelectorConfig:
    return TrackSelectorConfig.acts_generic()


@dataclass(frozen=True)
class CkfConfig:
    """Combinatorial Kalman filter settings (ACTS ``CkfConfig`` names and defaults).

    ACTS's: ``chi2_cut_off_measurement`` (15), ``chi2_cut_off_outlier`` (25),
    ``num_measurements_cut_off`` (10 per surface), ``max_steps``, ``two_way``,
    ``seed_deduplication``, ``stay_on_seed``. helixkit's additions:

    max_branches_per_seed : int
        Live branches kept per seed and pass, best quality first (ACTS: no cap).
    max_holes, max_outliers, max_consecutive_holes : int
        A branch stops beyond these (ACTS takes them from the track selector).
    min_pt : float
        A branch stops below this pT [GeV].
    loop_fraction : float
        A pass stops after this fraction of a helix turn (ACTS's loop protection, 0.5).
    search_window : bool
        χ²-test only the measurements inside the window that the predicted
        covariance allows (False: every measurement on the surface, as ACTS).
    initial_sigmas : (d0, z0, φ, θ) and initial_sigma_qop_rel, initial_sigma_qop
        Seed covariance at the perigee: diagonal, σ(q/p) = rel·|q/p| + abs.
    selector : TrackSelectorConfig
        Final cuts (default: ACTS ``ckf_tracks.py``'s). Its ``pt_min`` also prunes the
        search: a branch more than 5 standard deviations (of its q/p) below it is dropped,
        since it cannot give a selected track (ACTS follows it to the end).
    """

    chi2_cut_off_measurement: float = 15.0
    chi2_cut_off_outlier: float = 25.0
    num_measurements_cut_off: int = 10
    max_branches_per_seed: int = 10
    max_holes: int = 2
    max_outliers: int = 2
    max_consecutive_holes: int = 2
    min_pt: float = 0.1 * u.GeV
    max_steps: int = 100
    loop_fraction: float = 0.5
    two_way: bool = True
    seed_deduplication: bool = True
    stay_on_seed: bool = True
    search_window: bool = True
    multiple_scattering: bool = True
    mass: float = 139.57039 * u.MeV
    initial_sigmas: tuple[float, float, float, float] = (1 * u.mm, 1 * u.mm, 0.02, 0.02)
    initial_sigma_qop_rel: float = 0.1
    initial_sigma_qop: float = 0.05
    selector: TrackSelectorConfig = field(default_factory=_default_selector)

    def __post_init__(self) -> None:
        for f in ("chi2_cut_off_measurement", "chi2_cut_off_outlier", "min_pt", "loop_fraction",
                  "mass", "initial_sigma_qop_rel", "initial_sigma_qop"):
            _check_float(self, f)
        for f, lo in (("num_measurements_cut_off", 1), ("max_branches_per_seed", 1),
                      ("max_holes", 0), ("max_outliers", 0), ("max_consecutive_holes", 0),
                      ("max_steps", 1)):
            _check_int(self, f, lo)
        for f in ("two_way", "seed_deduplication", "stay_on_seed", "search_window",
                  "multiple_scattering"):
            _check_bool(self, f)
        if not self.stay_on_seed:
            msg = ("CkfConfig.stay_on_seed (=False) is not supported: the seed's own "
                   "measurements start every track")
            raise ValueError(msg)
        sig = tuple(self.initial_sigmas)
        if len(sig) != 4 or not all(isinstance(s, (int, float)) and math.isfinite(s) and s > 0
                                    for s in sig):
            msg = f"CkfConfig.initial_sigmas (={self.initial_sigmas!r}) must be 4 finite values > 0"
            raise ValueError(msg)
        for f in ("initial_sigma_qop_rel", "initial_sigma_qop"):
            v = getattr(self, f)
            if not (math.isfinite(v) and v >= 0):
                msg = f"CkfConfig.{f} (={v}) must be finite and >= 0"
                raise ValueError(msg)
        if self.initial_sigma_qop_rel == 0 and self.initial_sigma_qop == 0:
            msg = "CkfConfig: initial_sigma_qop_rel and initial_sigma_qop must not both be 0"
            raise ValueError(msg)
        if not isinstance(self.selector, TrackSelectorConfig):
            msg = (f"CkfConfig.selector must be a TrackSelectorConfig, got "
                   f"{type(self.selector).__name__}")
            raise TypeError(msg)
        try:
            self.native(b_field_z=2 * u.T, n_threads=1)
        except ValueError as err:
            raise _native_error(self, err) from None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CkfConfig:
        """Build from a mapping; ``selector`` may itself be a mapping."""
        if isinstance(d, dict) and isinstance(d.get("selector"), dict):
            d = {**d, "selector": TrackSelectorConfig.from_dict(d["selector"])}
        if isinstance(d, dict) and "initial_sigmas" in d:
            d = {**d, "initial_sigmas": tuple(d["initial_sigmas"])}
        return _from_dict(cls, d, "CkfConfig")

    def replace(self, **changes: Any) -> CkfConfig:
        return dataclasses.replace(self, **changes)

    def native(self, *, b_field_z: float, n_threads: int,
               beam_position: tuple[float, float] = (0.0, 0.0)) -> Any:
        n = _core.CkfNativeConfig()
        n.b_field_z = float(b_field_z)
        for f in ("chi2_cut_off_measurement", "chi2_cut_off_outlier", "min_pt", "loop_fraction",
                  "mass"):
            setattr(n, f, float(getattr(self, f)))
        for f in ("num_measurements_cut_off", "max_branches_per_seed", "max_holes",
                  "max_outliers", "max_consecutive_holes", "max_steps"):
            setattr(n, f, int(getattr(self, f)))
        for f in ("two_way", "seed_deduplication", "stay_on_seed", "search_window",
                  "multiple_scattering"):
            setattr(n, f, bool(getattr(self, f)))
        n.beam_x, n.beam_y = (float(v) for v in beam_position)
        n.selector = self.selector.native()
        n.n_threads = int(n_threads)
        n.validate()
        return n


@dataclass(frozen=True)
class AmbiguityConfig:
    """ACTS ``GreedyAmbiguityResolution``: defaults of its Examples algorithm."""

    maximum_shared_hits: int = 1
    maximum_iterations: int = 10000
    n_measurements_min: int = 7

    def __post_init__(self) -> None:
        _check_int(self, "maximum_shared_hits", 1)
        _check_int(self, "maximum_iterations", 0)
        _check_int(self, "n_measurements_min", 0)

    @classmethod
    def acts_generic(cls, **overrides: Any) -> AmbiguityConfig:
        """As ACTS's ``ckf_tracks.py`` / ``full_chain_*.py``: 3 shared hits, ≥ 7 measurements."""
        values: dict[str, Any] = {"maximum_shared_hits": 3, "maximum_iterations": 1000000,
                                  "n_measurements_min": 7}
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AmbiguityConfig:
        return _from_dict(cls, d, "AmbiguityConfig")


__all__ = ["AmbiguityConfig", "CkfConfig", "TrackSelectorConfig"]
