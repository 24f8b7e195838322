"""ACTS's classical track finding (pyacts) on GenericDetector events, helixkit's on the same hits.

The same-run reference for :mod:`helixkit.finding`. ``pyacts`` (the ACTS
Python bindings on PyPI, tested with 48.1) is optional: importing this module
works without it, :func:`run_acts_ckf_chain` raises ImportError.

The ACTS chain (one :class:`acts.examples.Sequencer`, one thread by default)::

    EventGenerator (muon gun: pT uniform in pt_range, |eta| < eta_max uniform,
                    both charges, vertex sigma = 12.5 um (x, y), 55.5 mm (z))
    -> HepMC3InputConverter -> FatrasSimulation (scattering, energy loss, conversions)
    -> DigitizationAlgorithm (Gaussian smearing, helixkit.fitting.acts_reference.DIGI_SIGMAS)
    -> ParticleSelector (for the seeding's truth matcher only: pT > 0.5 GeV,
       >= 9 measurements, charged)
    -> addSeeding: SpacePointMaker (pixel volumes) -> GridTripletSeedingAlgorithm
       (the ckf_tracks.py / physmon seeding configuration) -> TrackParamsEstimationAlgorithm
       (ACTS's default initial sigmas)
    -> addCKFTracks: TrackFindingAlgorithm (chi2 15 / outlier 25, 10 candidates per
       surface, two-way, seed deduplication, stay on seed; track selector pT > 0.5 GeV,
       |eta| < 3, |d0| < 4 mm, >= 7 measurements, <= 2 holes, <= 2 outliers)
    -> addAmbiguityResolution: GreedyAmbiguityResolutionAlgorithm (3 shared hits,
       >= 7 measurements)
    -> a Python algorithm that copies measurements, truth, particles, space points,
       seeds and both track collections out of the event store.

Every measurement becomes a hit of a :class:`helixkit.data.Event` (global
position = module centre + rotation @ (loc0, loc1, 0), the smeared position on
the module plane; ``var_local0`` / ``var_local1`` carried over), so that
:func:`helixkit.finding.reconstruct` runs on exactly the hits ACTS used, and
:func:`compare_chains` scores both with :func:`helixkit.evaluation.track_finding_metrics`.
"""

from __future__ import annotations

import importlib
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import units as u
from ..data import Event, Table
from ..data.acts import decode_geometry_id, encode_barcode
from ..evaluation import pool_track_metrics
from ..fitting.acts_reference import (
    B_FIELD_Z,
    acts_available,
    add_muon_gun_simulation,
    import_acts,
    passive_surfaces,
    read_timing,
    surface_frame,
    write_digi_json,
)
from .chain import reconstruct
from .ckf import Tracks, final_fit, find_tracks_ckf, resolve_ambiguities
from .config import AmbiguityConfig, CkfConfig
from .detector import ModulePlanes, PassiveSurfaces, detector_for, seeds_on_distinct_surfaces

__all__ = [
    "ACTS_GENERIC_SEEDING_LAYERS",
    "ActsCkfRun",
    "acts_available",
    "compare_chains",
    "run_acts_ckf_chain",
]

#: Pixel volumes of the GenericDetector (7: negative endcap, 8: barrel, 9: positive endcap).
PIXEL_VOLUMES = (7, 8, 9)

#: The seeding layers of ACTS's ``Examples/Configs/generic-seeding-config.json``: the
#: four barrel layers and the four innermost discs of each pixel endcap.
ACTS_GENERIC_SEEDING_LAYERS = (
    *((8, layer) for layer in (2, 4, 6, 8)),
    *((9, layer) for layer in (2, 4, 6, 8)),
    *((7, layer) for layer in (14, 12, 10, 8)),
)

#: timing.csv rows (algorithm names) of the ACTS chain's stages.
ACTS_STAGES = {
    "spacepoints": "SpacePointMaker",
    "seeding": "GridTripletSeedingAlgorithm",
    "parameters": "TrackParamsEstimationAlgorithm",
    "ckf": "TrackFindingAlgorithm",
    "ambiguity": "GreedyAmbiguityResolutionAlgorithm",
}

#: Particle selection of the comparison (as ckf_tracks.py's digitized-particle selection).
SELECTION = {"pt_min": 0.5, "max_abs_eta": 2.5, "min_hits": 9}


@dataclass
class ActsCkfRun:
    """Events, ACTS tracks and ACTS timing of one :func:`run_acts_ckf_chain` run.

    Attributes
    ----------
    events : list of helixkit.data.Event
        One per ACTS event; hit row i is ACTS measurement i of that event.
    acts_tracks : list of dict
        Per event, ``"ckf"`` (TrackFindingAlgorithm, before ambiguity resolution) and
        ``"ambi"`` (after): dicts of ``offsets`` (T + 1,), ``hits`` (measurement
        indices = hit rows, measurement states only, innermost first), ``pt``,
        ``eta``, ``n_holes``, ``n_outliers``, ``chi2``, ``ndf`` (T,).
    timing : dict
        Seconds per event per sequencer element (timing.csv names without the
        ``Algorithm:`` prefix), plus ``sequencer_wall`` (whole run, per event).
    n_seeds : list of int
        GridTripletSeedingAlgorithm seeds per event.
    modules : ModulePlanes
        The sensitive surfaces that carry measurements (centre, rotation, material), by
        geometry id: what helixkit's CKF measures on with ``modules=``.
    passive : PassiveSurfaces
        The material-only cylinders and discs (beam pipe, supports, volume boundaries; not
        the navigation layers, whose material neither Fatras nor ACTS's CKF applies).
    spacepoints : list of dict
        Per event: ``x, y, z, var_r, var_z`` and ``measurement`` (the measurement
        index of each space point).
    seeds : list of (S, 3) int64
        Per event: the measurement indices of each seed's bottom, middle, top space point.
    """

    events: list[Event]
    acts_tracks: list[dict[str, dict[str, np.ndarray]]]
    timing: dict[str, float]
    n_seeds: list[int]
    spacepoints: list[dict[str, np.ndarray]] = field(default_factory=list)
    seeds: list[np.ndarray] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    modules: ModulePlanes | None = None
    passive: PassiveSurfaces | None = None

    @property
    def n_events(self) -> int:
        return len(self.events)

    def scoring_inputs(self, key: str) -> tuple[list[tuple[Any, ...]], list[np.ndarray],
                                                list[np.ndarray]]:
        """ACTS's tracks ``key`` (``"ckf"`` / ``"ambi"``) as :func:`pool_track_metrics` takes
        them: per event (offsets, hits, hit particle ids, particles), and the tracks' pT, η."""
        tr = [t[key] for t in self.acts_tracks]
        per = [(t["offsets"], t["hits"], ev.hit_particle_id, ev.particles)
               for t, ev in zip(tr, self.events, strict=True)]
        return per, [t["pt"] for t in tr], [t["eta"] for t in tr]

    def stage_seconds(self) -> dict[str, float]:
        """ACTS seconds per event of the chain's stages (:data:`ACTS_STAGES`) and their sum."""
        out = {k: self.timing.get(v, float("nan")) for k, v in ACTS_STAGES.items()}
        out["chain"] = float(sum(out.values()))
        return out


# --------------------------------------------------------------------------- ACTS side
def _geo_selection_json(path: Path, seeding_layers: str) -> None:
    if seeding_layers == "pixel":
        entries = [{"volume": v} for v in PIXEL_VOLUMES]
    elif seeding_layers == "acts_generic":
        entries = [{"volume": v, "layer": layer} for v, layer in ACTS_GENERIC_SEEDING_LAYERS]
    else:
        msg = f"seeding_layers must be 'pixel' or 'acts_generic', got {seeding_layers!r}"
        raise ValueError(msg)
    path.write_text(json.dumps(entries))


def _barcode_int(b: Any) -> int:
    return int(encode_barcode(int(b.vertexPrimary), int(b.vertexSecondary), int(b.particle),
                              int(b.generation), int(b.subParticle)))


def _tracks_numpy(container: Any, index_source_link: Any) -> dict[str, np.ndarray]:
    """(offsets, measurement indices) of a ConstTrackContainer, measurement states only,
    innermost first (trackStatesReversed runs from the tip, the outermost state)."""
    counts, hits = [], []
    for t in container:
        idx = [index_source_link.fromSourceLink(ts.uncalibratedSourceLink).index()
               for ts in t.trackStatesReversed if ts.typeFlags.isMeasurement]
        idx.reverse()
        counts.append(len(idx))
        hits.extend(idx)
    n = len(counts)
    off = np.zeros(n + 1, dtype=np.int64)
    off[1:] = np.cumsum(counts)
    if n:
        par = np.asarray(container.parameters, dtype=np.float64).reshape(n, -1)
        theta, qop = par[:, 3], par[:, 4]
        pt = np.abs(np.sin(theta) / qop)
        eta = -np.log(np.tan(0.5 * theta))
        extra = {k: np.asarray(getattr(container, k)).reshape(n).copy()
                 for k in ("nHoles", "nOutliers", "chi2", "ndf")}
    else:
        pt = eta = np.zeros(0)
        extra = {k: np.zeros(0) for k in ("nHoles", "nOutliers", "chi2", "ndf")}
    return {"offsets": off, "hits": np.asarray(hits, dtype=np.int64), "pt": pt, "eta": eta,
            "n_holes": extra["nHoles"].astype(np.int32),
            "n_outliers": extra["nOutliers"].astype(np.int32),
            "chi2": extra["chi2"].astype(np.float64), "ndf": extra["ndf"].astype(np.int32)}


def _extract_event(d: dict[str, Any], surface_map: Any, gctx: Any, frames: dict[int, Any],
                   isl: Any) -> dict[str, Any]:
    """Copy one event's data out of the ACTS event store into numpy arrays."""
    meas = d["measurements"]
    m = len(meas)
    loc = np.empty((m, 2))
    var = np.empty((m, 2))
    gid = np.empty(m, dtype=np.uint64)
    for i in range(m):
        ms = meas[i]
        if list(ms.subspaceIndices) != [0, 1]:
            msg = f"expected 2D (loc0, loc1) measurements, got subspace {list(ms.subspaceIndices)}"
            raise RuntimeError(msg)
        par, c = ms.fullParameters, ms.fullCovariance
        loc[i] = (par[0], par[1])
        var[i] = (c[0, 0], c[1, 1])
        gid[i] = ms.geometryId.value
    xyz = np.empty((m, 3))
    for g in np.unique(gid):
        gi = int(g)
        if gi not in frames:
            frames[gi] = surface_frame(surface_map, gi, gctx)
        center, rot, _ = frames[gi]
        rows = gid == g
        xyz[rows] = center + loc[rows] @ rot[:, :2].T
    # truth: the measurement's particle (first, if merged) and its first sim hit
    mpm, msm = d["measurement_particles_map"], d["measurement_simhits_map"]
    simhits = list(d["simhits"])
    pid = np.zeros(m, dtype=np.int64)
    tpos = np.full((m, 3), np.nan)
    tmom = np.full((m, 3), np.nan)
    for i in range(m):
        bars = mpm.valuesFor(i) if i in mpm else []
        if bars:
            pid[i] = _barcode_int(bars[0])
        sh = msm.valuesFor(i) if i in msm else []
        if sh:
            h = simhits[sh[0]]
            p4, m4 = h.fourPosition, h.momentum4Before
            tpos[i] = (p4[0], p4[1], p4[2])
            tmom[i] = (m4[0], m4[1], m4[2])
    parts = list(d["particles_simulated"])
    ppid = np.array([_barcode_int(p.particleId) for p in parts], dtype=np.int64)
    ppos = np.array([list(p.position) for p in parts], dtype=np.float64).reshape(-1, 3)
    pmom = np.array([list(p.momentum) for p in parts], dtype=np.float64).reshape(-1, 3)
    pq = np.array([p.charge for p in parts], dtype=np.float64)
    ppdg = np.array([int(p.pdg) for p in parts], dtype=np.int64)
    psim = np.array([p.numberOfHits for p in parts], dtype=np.int64)
    psec = np.array([bool(p.isSecondary) for p in parts], dtype=bool)
    # space points and seeds
    spc = d["spacepoints"]
    sp_x, sp_y, sp_z, sp_vr, sp_vz, sp_meas = [], [], [], [], [], []
    for sp in spc:
        sp_x.append(sp.x)
        sp_y.append(sp.y)
        sp_z.append(sp.z)
        sp_vr.append(sp.varianceR)
        sp_vz.append(sp.varianceZ)
        sls = list(sp.sourceLinks)
        sp_meas.append(isl.fromSourceLink(sls[0]).index() if sls else -1)
    sp_meas_a = np.asarray(sp_meas, dtype=np.int64)
    seeds = d["seeds"]
    trip = []
    for s in seeds:
        ids = list(s.spacePointIndices)
        trip.append([int(sp_meas_a[j]) for j in ids[:3]])
    return {
        "gid": gid, "loc": loc, "var": var, "xyz": xyz, "pid": pid, "tpos": tpos, "tmom": tmom,
        "ppid": ppid, "ppos": ppos, "pmom": pmom, "pq": pq, "ppdg": ppdg, "psim": psim,
        "psec": psec,
        "sp": {"x": np.asarray(sp_x, np.float64), "y": np.asarray(sp_y, np.float64),
               "z": np.asarray(sp_z, np.float64), "var_r": np.asarray(sp_vr, np.float64),
               "var_z": np.asarray(sp_vz, np.float64), "measurement": sp_meas_a},
        "seeds": np.asarray(trip, dtype=np.int64).reshape(-1, 3),
        "n_seeds": int(seeds.size),
        "tracks": {"ckf": _tracks_numpy(d["ckf_tracks"], isl),
                   "ambi": _tracks_numpy(d["ambi_tracks"], isl)},
    }


def _event(e: dict[str, Any], event_id: int) -> Event:
    m = len(e["gid"])
    fields = decode_geometry_id(e["gid"])
    hit_id = np.arange(m, dtype=np.int64)
    hits = Table({
        "hit_id": hit_id,
        "x": e["xyz"][:, 0].astype(np.float32), "y": e["xyz"][:, 1].astype(np.float32),
        "z": e["xyz"][:, 2].astype(np.float32),
        "volume_id": fields["volume"], "layer_id": fields["layer"],
        "module_id": fields["sensitive"],
        "var_local0": e["var"][:, 0], "var_local1": e["var"][:, 1],
        "geometry_id": e["gid"],
    }, name="hits")
    pid = e["pid"]
    real = pid != 0
    weight = np.where(real, 1.0 / max(int(real.sum()), 1), 0.0).astype(np.float32)
    truth = Table({
        "hit_id": hit_id, "particle_id": pid,
        **{c: e["tpos"][:, k].astype(np.float32) for k, c in enumerate(("tx", "ty", "tz"))},
        **{c: e["tmom"][:, k].astype(np.float32) for k, c in enumerate(("tpx", "tpy", "tpz"))},
        "weight": weight,
    }, name="truth")
    ppid = e["ppid"]
    upid, cnt = np.unique(pid[real], return_counts=True)
    pos = np.clip(np.searchsorted(upid, ppid), 0, max(len(upid) - 1, 0))
    nhits = np.where((len(upid) > 0) & (upid[pos] == ppid), cnt[pos] if len(upid) else 0, 0)
    particles = Table({
        "particle_id": ppid, "particle_type": e["ppdg"].astype(np.int32),
        **{c: e["ppos"][:, k].astype(np.float32) for k, c in enumerate(("vx", "vy", "vz"))},
        **{c: e["pmom"][:, k].astype(np.float32) for k, c in enumerate(("px", "py", "pz"))},
        "q": np.rint(e["pq"]).astype(np.int32), "nhits": nhits.astype(np.int32),
        "n_simhits": e["psim"].astype(np.int32), "primary": ~e["psec"],
    }, name="particles")
    return Event(hits=hits, truth=truth, particles=particles, event_id=int(event_id),
                 geometry=None)


def run_acts_ckf_chain(
    *,
    n_events: int = 3,
    particles_per_event: int = 1000,
    seed: int = 42,
    pt_range: tuple[float, float] = (0.5, 10.0),
    eta_max: float = 2.5,
    n_threads: int = 1,
    seeding_layers: str = "pixel",
) -> ActsCkfRun:
    """Simulate GenericDetector muon events and reconstruct them with ACTS's CKF chain.

    Parameters
    ----------
    n_events, particles_per_event : int
        Particle gun: this many muons per event, one vertex per event.
    pt_range : (float, float)
        Transverse momentum range [GeV], uniform; eta uniform in ±``eta_max``.
    n_threads : int
        Sequencer threads (events in parallel); 1 for the reference timing.
    seeding_layers : ``"pixel"`` or ``"acts_generic"``
        Space points for seeding on all layers of the pixel volumes 7, 8, 9 (as
        helixkit's ``reconstruct`` seeds), or on ACTS's generic-seeding-config.json
        layers (:data:`ACTS_GENERIC_SEEDING_LAYERS`).

    Returns
    -------
    ActsCkfRun
        ``timing`` from the Sequencer's timing.csv, divided by ``n_events``.
    """
    acts, ae = import_acts()
    rec = importlib.import_module("acts.examples.reconstruction")  # optional, heavy

    level = acts.logging.WARNING
    um = acts.UnitConstants
    detector = ae.GenericDetector(ae.GenericDetector.Config())
    tg = detector.trackingGeometry()
    gctx = acts.GeometryContext.dangerouslyDefaultConstruct()
    bz = B_FIELD_Z / u.T * um.T
    bfield = acts.ConstantBField(acts.Vector3(0.0, 0.0, bz))
    surface_map = tg.geoIdSurfaceMap()
    collected: dict[int, dict[str, Any]] = {}
    frames: dict[int, Any] = {}
    isl = ae.IndexSourceLink
    keys = (("measurements", ae.MeasurementContainer),
            ("measurement_particles_map", ae.MeasurementParticlesMap),
            ("measurement_simhits_map", ae.MeasurementSimHitsMap),
            ("simhits", ae.SimHitContainer),
            ("particles_simulated", ae.SimParticleContainer),
            ("spacepoints", acts.SpacePointContainer),
            ("seeds", acts.SeedContainer),
            ("ckf_tracks", ae.ConstTrackContainer),
            ("ambi_tracks", ae.ConstTrackContainer))

    class _Collector(ae.IAlgorithm):
        def __init__(self) -> None:
            ae.IAlgorithm.__init__(self, "HelixkitCkfCollector", level)
            self.handles = {}
            for key, typ in keys:
                h = ae.ReadDataHandle(self, typ, key)
                h.initialize(key)
                self.handles[key] = h

        def execute(self, ctx: Any) -> Any:
            d = {k: h(ctx.eventStore) for k, h in self.handles.items()}
            collected[ctx.eventNumber] = _extract_event(d, surface_map, gctx, frames, isl)
            return ae.ProcessCode.SUCCESS

    with tempfile.TemporaryDirectory() as tmp:
        digi = Path(tmp) / "digi-smearing.json"
        write_digi_json(digi)
        geosel = Path(tmp) / "geo-selection.json"
        _geo_selection_json(geosel, seeding_layers)
        rnd = ae.RandomNumbers(seed=int(seed))
        seq = ae.Sequencer(events=int(n_events), numThreads=int(n_threads), logLevel=level,
                           outputDir=tmp)
        add_muon_gun_simulation(
            seq, level=level, rnd=rnd, tracking_geometry=tg, field=bfield,
            surface_map=surface_map, digi_json=digi, pt_range=pt_range, eta_max=eta_max,
            n_particles=particles_per_event)
        # only the seeding's truth matcher reads the selected particles
        seq.addAlgorithm(ae.ParticleSelector(
            level=level, inputParticles="particles_simulated",
            outputParticles="particles_selected",
            inputParticleMeasurementsMap="particle_measurements_map",
            ptMin=SELECTION["pt_min"] * um.GeV, measurementsMin=SELECTION["min_hits"],
            removeNeutral=True))
        rec.addSeeding(
            seq, tg, bfield,
            geoSelectionConfigFile=geosel,
            seedingAlgorithm=rec.SeedingAlgorithm.GridTriplet,
            seedFinderConfigArg=rec.SeedFinderConfigArg(
                r=(33 * um.mm, 200 * um.mm),
                deltaR=(1 * um.mm, 300 * um.mm),
                collisionRegion=(-250 * um.mm, 250 * um.mm),
                z=(-2000 * um.mm, 2000 * um.mm),
                maxSeedsPerSpM=1,
                sigmaScattering=5,
                radLengthPerSeed=0.1,
                minPt=0.5 * um.GeV,
                impactMax=3 * um.mm,
            ),
            seedFinderOptionsArg=rec.SeedFinderOptionsArg(bFieldInZ=2 * um.T, beamPos=(0.0, 0.0)),
            # initial sigmas: ACTS's TrackParamsEstimationAlgorithm defaults (as ckf_tracks.py)
            outputDirRoot=None, outputDirCsv=None, logLevel=level,
        )
        rec.addCKFTracks(
            seq, tg, bfield,
            trackSelectorConfig=rec.TrackSelectorConfig(
                pt=(0.5 * um.GeV, None), absEta=(None, 3.0), loc0=(-4.0 * um.mm, 4.0 * um.mm),
                nMeasurementsMin=7, maxHoles=2, maxOutliers=2),
            ckfConfig=rec.CkfConfig(
                chi2CutOffMeasurement=15.0, chi2CutOffOutlier=25.0, numMeasurementsCutOff=10,
                seedDeduplication=True, stayOnSeed=True),
            twoWay=True, outputDirCsv=None, outputDirRoot=None, writeTrackSummary=False,
            writeTrackStates=False, writePerformance=False, logLevel=level,
        )
        rec.addAmbiguityResolution(
            seq,
            rec.AmbiguityResolutionConfig(maximumSharedHits=3, nMeasurementsMin=7,
                                      maximumIterations=1000000),
            tracks="ckf_tracks", outputDirCsv=None, outputDirRoot=None,
            writeTrackSummary=False, writePerformance=False, logLevel=level,
        )
        seq.addAlgorithm(_Collector())
        t0 = time.perf_counter()
        seq.run()
        wall = time.perf_counter() - t0
        raw = read_timing(Path(tmp) / "timing.csv")
    n = max(int(n_events), 1)
    timing = {k.split(":", 1)[-1]: v / n for k, v in raw.items()}
    timing["sequencer_wall"] = wall / n
    order = sorted(collected)
    evs = [collected[k] for k in order]
    return ActsCkfRun(
        events=[_event(e, k) for k, e in zip(order, evs, strict=True)],
        acts_tracks=[e["tracks"] for e in evs], timing=timing,
        n_seeds=[e["n_seeds"] for e in evs], spacepoints=[e["sp"] for e in evs],
        seeds=[e["seeds"] for e in evs],
        modules=_module_planes(frames),
        passive=_passive(acts, tg, gctx),
        config={"n_events": int(n_events), "particles_per_event": int(particles_per_event),
                "seed": int(seed), "pt_range": tuple(pt_range), "eta_max": float(eta_max),
                "n_threads": int(n_threads), "seeding_layers": seeding_layers},
    )


# --------------------------------------------------------------------------- comparison
def _metrics(per_event: list[tuple[Any, Any, Any, Any]], track_pt: list[np.ndarray],
             track_eta: list[np.ndarray]) -> dict[str, float]:
    m = pool_track_metrics(per_event, pt_min=SELECTION["pt_min"],
                           max_abs_eta=SELECTION["max_abs_eta"], min_hits=SELECTION["min_hits"],
                           track_pt=track_pt, track_eta=track_eta)
    return m.as_dict()


def _passive(acts: Any, tg: Any, gctx: Any) -> PassiveSurfaces:
    p = passive_surfaces(acts, tg, gctx)
    c, d = ~p["cyl_nav"], ~p["disc_nav"]
    return PassiveSurfaces(cyl_r=p["cyl_r"][c], cyl_half_z=p["cyl_half_z"][c],
                           cyl_x0=p["cyl_x0"][c], disc_z=p["disc_z"][d],
                           disc_rmin=p["disc_rmin"][d], disc_rmax=p["disc_rmax"][d],
                           disc_x0=p["disc_x0"][d])


def _module_planes(frames: dict[int, Any]) -> ModulePlanes:
    gids = sorted(frames)
    return ModulePlanes(
        geometry_id=np.array(gids, dtype=np.uint64),
        center=np.array([frames[g][0] for g in gids], dtype=np.float64).reshape(-1, 3),
        rotation=np.array([frames[g][1] for g in gids], dtype=np.float64).reshape(-1, 3, 3),
        thickness_x0=np.array([frames[g][2] for g in gids], dtype=np.float64))


def _seed_agreement(acts_seeds: np.ndarray, hk_seeds: np.ndarray) -> float:
    """Fraction of ACTS's seeds (as sets of three measurements) that helixkit also found."""
    if len(acts_seeds) == 0:
        return float("nan")
    a = {tuple(r) for r in np.sort(acts_seeds, axis=1).tolist()}
    h = {tuple(r) for r in np.sort(hk_seeds, axis=1).tolist()}
    return len(a & h) / len(a)


def _mean_len(offsets: list[np.ndarray]) -> float:
    sizes = np.concatenate([np.diff(o) for o in offsets]) if offsets else np.zeros(0)
    return float(sizes.mean()) if len(sizes) else float("nan")


def compare_chains(run: ActsCkfRun, *, n_threads: int = 1, modules: bool = True,
                   repeat: int = 1, refit: bool = False) -> dict[str, Any]:
    """helixkit's classical chain (:func:`~helixkit.finding.reconstruct`, timed) on the run's
    events, scored like ACTS's.

    With ``modules`` the CKF measures on ACTS's module planes (``run.modules``) and searches
    layer by layer; without, on one surface per (volume, layer) derived from the hits (what
    an ACTS CSV event alone gives). With ``repeat`` > 1 the chain runs that many times over
    the events and each stage's time is the best pass's (the tracks are the same each pass).
    ``refit`` is :func:`~helixkit.finding.reconstruct`'s; without it the refit of the kept
    tracks is still timed (outside the chain, ``ms_per_event["helixkit"]["refit"]``).

    Returns
    -------
    dict
        ``metrics``: ``acts_ckf`` (before ambiguity resolution), ``acts_ambi`` (after),
        ``helixkit_ckf`` (before), ``helixkit`` (after), ``helixkit_on_acts_seeds`` (helixkit's
        CKF + ambiguity resolution fed ACTS's seeds):
        :class:`~helixkit.evaluation.TrackFindingMetrics` fields, particles selected
        with pT > 0.5 GeV, |η| < 2.5, ≥ 9 hits, events pooled (measurement states only).
        ``ms_per_event``: ``acts`` and ``helixkit`` stage times [ms / event]
        (``chain``: the sum of the stages; helixkit's ``wall``: the whole call,
        surfaces included). ``ratio_helixkit_over_acts``: ``ckf`` (helixkit's CKF vs
        ACTS's TrackFindingAlgorithm), ``chain``, ``chain_refit`` (the chain with the
        refit) and ``chain_wall``. ``n_tracks``, ``n_seeds`` (means per event;
        ``acts_found_by_helixkit``: the fraction of ACTS's seeds, as measurement
        triplets, that helixkit's seeding also gives), ``mean_measurements`` per track.
    """
    hk_tracks, hk_ckf, hk_seeds, unusable, agree = [], [], [], [], []
    extra: dict[str, Any] = {}
    if modules and run.modules is not None:
        extra = {"modules": run.modules, "passive": run.passive}
    if repeat < 1:
        msg = f"repeat must be >= 1, got {repeat}"
        raise ValueError(msg)
    passes = []
    dets: dict[int, Any] = {}
    for _ in range(repeat):
        timing, wall = [], []
        for k, ev in enumerate(run.events):
            t0 = time.perf_counter()
            tr = reconstruct(ev, n_threads=n_threads, keep_candidates=True, refit=refit,
                             **extra)
            wall.append(time.perf_counter() - t0)
            tm = dict(tr.timing)
            if not refit and len(tr):
                # what the refit would add (its surfaces built outside the timing)
                if k not in dets:
                    dets[k] = detector_for(ev, **extra)
                tm["refit"] = final_fit(tr.take(np.arange(len(tr))), dets[k], CkfConfig(),
                                        n_threads).timing["fit"]
            timing.append(tm)
            if not passes:
                hk_tracks.append(tr)
        passes.append((timing, wall))
    for k, tr in enumerate(hk_tracks):
        hk_ckf.append(tr.info["candidates"])
        hk_seeds.append(int(tr.info["n_seeds"]))
        unusable.append(int(tr.info["n_seeds_unusable"]))
        agree.append(_seed_agreement(run.seeds[k], tr.info["seeds"]))
    pids = [ev.truth["particle_id"] for ev in run.events]
    parts = [ev.particles for ev in run.events]

    def acts_metrics(key: str) -> dict[str, float]:
        return _metrics(*run.scoring_inputs(key))

    def hk_metrics(tracks: list[Tracks]) -> dict[str, float]:
        per, tpt, teta = [], [], []
        for t, p, q in zip(tracks, pids, parts, strict=True):
            off, h = t.measurement_offsets()
            per.append((off, h, p, q))
            tpt.append(t.pt)
            teta.append(t.eta)
        return _metrics(per, tpt, teta)

    # helixkit's CKF on ACTS's own seeds: the CKF compared without the seeding's differences
    on_acts = []
    for k, ev in enumerate(run.events):
        det = dets[k] if k in dets else detector_for(ev, **extra)
        trip = np.asarray(run.seeds[k], dtype=np.int64).reshape(-1, 3)
        r = np.hypot(ev.hits["x"], ev.hits["y"])[trip]
        trip = np.take_along_axis(trip, np.argsort(r, axis=1), axis=1)
        found = find_tracks_ckf(ev, trip[seeds_on_distinct_surfaces(det, trip)], detector=det,
                                fit=False, n_threads=n_threads)
        kept = resolve_ambiguities(found, AmbiguityConfig.acts_generic())
        # the chain's order: the final fit (refit) of the tracks ambiguity resolution keeps
        on_acts.append(final_fit(kept, det, CkfConfig(), n_threads) if refit and len(kept)
                       else kept)
    metrics = {"acts_ckf": acts_metrics("ckf"), "acts_ambi": acts_metrics("ambi"),
               "helixkit_ckf": hk_metrics(hk_ckf), "helixkit": hk_metrics(hk_tracks),
               "helixkit_on_acts_seeds": hk_metrics(on_acts)}
    n = max(len(run.events), 1)
    acts_ms = {k: 1e3 * v for k, v in run.stage_seconds().items()}
    stages = ("seeding", "parameters", "ckf", "fit", "ambiguity")
    hk_ms = {s: min(1e3 * sum(t.get(s, 0.0) for t in timing) / n for timing, _ in passes)
             for s in stages}
    hk_ms["chain"] = float(sum(hk_ms.values()))
    hk_ms["refit"] = hk_ms["fit"] if refit else min(
        1e3 * sum(t.get("refit", 0.0) for t in timing) / n for timing, _ in passes)
    hk_ms["wall"] = min(1e3 * sum(wall) / n for _, wall in passes)

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 and math.isfinite(b) else float("nan")

    return {
        "surfaces": "module planes" if extra else "derived per layer",
        "metrics": metrics,
        "ms_per_event": {"acts": acts_ms, "helixkit": hk_ms},
        "ratio_helixkit_over_acts": {
            "ckf": ratio(hk_ms["ckf"], acts_ms["ckf"]),
            "chain": ratio(hk_ms["chain"], acts_ms["chain"]),
            "chain_refit": ratio(hk_ms["chain"] - hk_ms["fit"] + hk_ms["refit"],
                                 acts_ms["chain"]),
            "chain_wall": ratio(hk_ms["wall"], acts_ms["chain"]),
        },
        "n_tracks": {
            "acts_ckf": float(np.mean([len(t["ckf"]["offsets"]) - 1 for t in run.acts_tracks])),
            "acts_ambi": float(np.mean([len(t["ambi"]["offsets"]) - 1 for t in run.acts_tracks])),
            "helixkit_ckf": float(np.mean([len(t) for t in hk_ckf])),
            "helixkit": float(np.mean([len(t) for t in hk_tracks])),
        },
        "n_seeds": {"acts": float(np.mean(run.n_seeds)), "helixkit": float(np.mean(hk_seeds)),
                    "helixkit_unusable": float(np.mean(unusable)),
                    "acts_found_by_helixkit": float(np.mean(agree))},
        "mean_measurements": {
            "acts_ckf": _mean_len([t["ckf"]["offsets"] for t in run.acts_tracks]),
            "acts_ambi": _mean_len([t["ambi"]["offsets"] for t in run.acts_tracks]),
            "helixkit_ckf": _mean_len([t.measurement_offsets()[0] for t in hk_ckf]),
            "helixkit": _mean_len([t.measurement_offsets()[0] for t in hk_tracks]),
        },
        "n_hits": float(np.mean([ev.n_hits for ev in run.events])),
        "n_threads": int(n_threads),
        "repeat": int(repeat),
        "refit": bool(refit),
    }
