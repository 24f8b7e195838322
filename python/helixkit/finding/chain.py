"""The classical chain end to end: seeding → parameters → CKF → ambiguity resolution (→ refit)."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from .._validation import check_n_threads, require_instance
from ..data import Event, Geometry
from ..seeding import (
    HashingConfig,
    SeedFinderConfig,
    find_seeds_hashing_in_event,
    find_seeds_in_event,
)
from .ckf import SEED_FAILED, Tracks, final_fit, find_tracks_ckf, resolve_ambiguities
from .config import AmbiguityConfig, CkfConfig
from .detector import (
    DEFAULT_PIXEL_VOLUMES,
    detector_for,
    seeding_variances,
    seeds_on_distinct_surfaces,
)


def reconstruct(
    event: Event,
    *,
    seeding: Literal["standard", "hashing"] = "standard",
    seed_config: SeedFinderConfig | None = None,
    hashing_config: HashingConfig | None = None,
    ckf: CkfConfig | None = None,
    ambiguity: AmbiguityConfig | None = None,
    geometry: Geometry | None = None,
    seeding_volumes: tuple[int, ...] | None = None,
    n_threads: int = 0,
    refit: bool = False,
    keep_candidates: bool = False,
    **detector_options: Any,
) -> Tracks:
    """Tracks of ``event`` from the classical chain, as ACTS's full chain runs it.

    Seeding (``"standard"``: grid triplet seeding, ``"hashing"``: hashing seeding
    with Annoy buckets) on the pixel volumes, track parameters from the seeds, the
    combinatorial Kalman filter with the track selection, then greedy ambiguity
    resolution. As in ACTS's chain, a track's parameters are the CKF's own: its two-way
    filter ends inside the innermost measurement with the information of every
    measurement, where a smoother's state is the filter's, and is extrapolated from
    there to the perigee (through the material it crossed); the χ² is that filter's.
    With ``refit`` the kept tracks are refitted from scratch (Kalman fit + MBF smoother,
    :func:`~helixkit.finding.final_fit`) and the selector's kinematic cuts are applied
    again to the refitted parameters.

    Parameters
    ----------
    event : helixkit.data.Event
        The built-in simulation, TrackML CSV (:func:`~helixkit.data.read_trackml`)
        or ACTS CSV (:func:`~helixkit.data.read_acts_csv`); without a geometry the
        surfaces are derived from the hits (:func:`detector_for`).
    seed_config : SeedFinderConfig, optional
        Default ``SeedFinderConfig.acts_odd()`` with the event's field.
    ckf, ambiguity : optional
        Default ``CkfConfig()`` (ACTS ``ckf_tracks.py`` selection) and
        ``AmbiguityConfig.acts_generic()`` (3 shared hits).
    seeding_volumes : tuple of int, optional
        Default the geometry's pixel volumes, else (7, 8, 9).
    refit : bool
        Refit the kept tracks from scratch (the same pulls on the built-in simulation and
        on ACTS events, docs/tracking.md; 15 % of the chain's time).
    keep_candidates : bool
        Also keep the CKF's tracks before ambiguity resolution (never refitted), as
        ``info["candidates"]``.
    **detector_options
        Passed to :func:`detector_for` (resolutions, material of derived surfaces,
        ``modules`` = :class:`ModulePlanes` of an ACTS detector).

    Returns
    -------
    Tracks
        ``timing`` has seconds per stage: seeding, parameters, ckf, ambiguity (and fit,
        with ``refit``).
        Seeds with two hits on one CKF surface (overlapping modules of one layer when the
        surfaces are derived per layer) or a hit on no surface are not followed
        (``info["n_seeds_unusable"]``); ``tracks.seed`` indexes all seeds found
        (``info["seeds"]``, (S, 3) hit rows).
    """
    require_instance(event, Event, "event", "helixkit.data.Event")
    if seeding not in ("standard", "hashing"):
        msg = f"seeding must be 'standard' or 'hashing', got {seeding!r}"
        raise ValueError(msg)
    nt = check_n_threads(n_threads)
    for name, flag in (("refit", refit), ("keep_candidates", keep_candidates)):
        require_instance(flag, bool, name, "bool")
    det = detector_for(event, geometry, **detector_options)
    geo = geometry if geometry is not None else event.geometry
    volumes = seeding_volumes if seeding_volumes is not None else (
        geo.pixel_volumes if geo is not None else DEFAULT_PIXEL_VOLUMES)
    scfg = seed_config if seed_config is not None else SeedFinderConfig.acts_odd(
        b_field_z=det.b_field_z)
    t0 = time.perf_counter()
    var_r, var_z = seeding_variances(event, det, volumes)
    if seeding == "standard":
        seeds = find_seeds_in_event(event, scfg, volumes=volumes, var_r=var_r, var_z=var_z,
                                    n_threads=nt)
    else:
        seeds = find_seeds_hashing_in_event(event, scfg, hashing_config, nt, volumes=volumes,
                                            var_r=var_r, var_z=var_z)
    t_seed = time.perf_counter() - t0
    trip = np.asarray(seeds.triplets, dtype=np.int64).reshape(-1, 3)
    usable = seeds_on_distinct_surfaces(det, trip)
    ckf_cfg = CkfConfig() if ckf is None else ckf
    # ACTS's order: CKF, ambiguity resolution, then (refit) the final fit of the tracks
    # kept (the duplicates the resolution removes are never refitted)
    found = find_tracks_ckf(event, trip[usable], config=ckf_cfg, detector=det, fit=False,
                            n_threads=nt)
    keep = np.flatnonzero(usable)
    found.seed = keep[found.seed]
    status = np.full(len(trip), SEED_FAILED, dtype=np.int8)
    status[keep] = found.info["seed_status"]
    found.info["seed_status"] = status
    found.info["n_seeds_unusable"] = int((~usable).sum())
    tracks = resolve_ambiguities(found, AmbiguityConfig.acts_generic() if ambiguity is None
                                 else ambiguity)
    if refit and len(tracks):
        tracks = final_fit(tracks, det, ckf_cfg, nt)
    if keep_candidates:
        tracks.info["candidates"] = found
    tracks.timing = {"seeding": t_seed, **tracks.timing}
    sel = ckf_cfg.selector
    if sel.max_shared_hits is not None and len(tracks):
        tracks = tracks.take(tracks.shared_hits() <= sel.max_shared_hits)
    tracks.info["n_seeds"] = len(trip)
    tracks.info["seeds"] = trip
    return tracks


__all__ = ["reconstruct"]
