"""Run ACTS's GridTripletSeedingAlgorithm (via ``pyacts``) on helixkit inputs.

This is the reference for parity tests and for the benchmark. ``pyacts`` (the
ACTS Python bindings on PyPI, tested with 48.1) is optional; importing this
module works without it, calling :func:`run_acts_seeding` raises ImportError.

The space points are passed through an ``acts.SpacePointContainer`` filled
from Python (x, y, z, r, phi, varianceR, varianceZ as float32, r computed as
in helixkit), so both seeders see bit-identical inputs.
"""

from __future__ import annotations

import csv
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .triplet import DEFAULT_VARIANCE_R, DEFAULT_VARIANCE_Z, SeedFinderConfig, SeedingResult

__all__ = ["acts_available", "acts_config", "run_acts_seeding"]

# helixkit snake_case name -> ACTS GridTripletSeedingAlgorithm.Config name,
# where the mechanical snake -> camel conversion does not give it.
_RENAMED = {
    "b_field_z": "bFieldInZ",
    "max_seeds_per_spm": "maxSeedsPerSpM",
    "max_seeds_per_spm_conf": "maxSeedsPerSpMConf",
    "max_quality_seeds_per_spm_conf": "maxQualitySeedsPerSpMConf",
    "use_variable_middle_sp_range": "useVariableMiddleSPRange",
    "r_range_middle_sp": "rRangeMiddleSP",
    "delta_r_middle_min_sp_range": "deltaRMiddleMinSPRange",
    "delta_r_middle_max_sp_range": "deltaRMiddleMaxSPRange",
    "use_delta_r_instead_of_top_radius": "useDeltaRinsteadOfTopRadius",
}
# helixkit-only fields: they must keep values ACTS's algorithm implies.
_HELIXKIT_ONLY = ("filter_delta_r_min", "abs_delta_eta_weight_factor", "abs_delta_eta_min_impact")


def acts_available() -> bool:
    try:
        import acts.examples  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def _camel(name: str) -> str:
    if name in _RENAMED:
        return _RENAMED[name]
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def acts_config(config: SeedFinderConfig) -> Any:
    """The equivalent ``acts.examples.GridTripletSeedingAlgorithm.Config``.

    Raises ValueError for helixkit-only settings ACTS cannot express
    (``filter_delta_r_min`` different from ``delta_r_min``, the abs-delta-eta
    weight).
    """
    import acts  # noqa: PLC0415
    import acts.examples as ae  # noqa: PLC0415

    values = config.to_dict()
    fdr = values["filter_delta_r_min"]
    if not (math.isnan(fdr) or fdr == values["delta_r_min"]):
        msg = "filter_delta_r_min must be NaN or equal delta_r_min for ACTS"
        raise ValueError(msg)
    if values["abs_delta_eta_weight_factor"] != 0:
        msg = "abs_delta_eta_weight_factor is not available in ACTS's GridTripletSeedingAlgorithm"
        raise ValueError(msg)
    cfg = ae.GridTripletSeedingAlgorithm.Config()
    for name, value in values.items():
        if name in _HELIXKIT_ONLY:
            continue
        acts_name = _camel(name)
        if name.endswith("seed_confirmation_range"):
            rng = acts.SeedConfirmationRangeConfig()
            for key, v in value.items():
                setattr(rng, _camel(key), v)
            value = rng
        elif name == "r_range_middle_sp":
            value = [list(p) for p in value]
        elif name in ("z_bin_neighbors_top", "z_bin_neighbors_bottom"):
            value = [tuple(p) for p in value]
        if not hasattr(cfg, acts_name):
            msg = f"ACTS config has no field {acts_name!r} (helixkit {name!r})"
            raise ValueError(msg)
        setattr(cfg, acts_name, value)
    cfg.inputSpacePoints = "spacepoints"
    cfg.outputSeeds = "seeds"
    return cfg


def run_acts_seeding(
    events: Sequence[tuple[Any, Any, Any]],
    config: SeedFinderConfig,
    *,
    variances: Sequence[tuple[Any, Any]] | None = None,
) -> tuple[list[SeedingResult], np.ndarray]:
    """Run ACTS's grid triplet seeding on each event, single-threaded.

    Parameters
    ----------
    events : sequence of (x, y, z)
        Space points per event [mm].
    config : SeedFinderConfig
    variances : sequence of (var_r, var_z), optional
        Per event; default the helixkit default variances.

    Returns
    -------
    (results, seconds)
        Seeds per event (triplets index the event's arrays) and the time ACTS's
        algorithm spent per event (from the Sequencer's timing report; the
        Python input conversion is not included).
    """
    import acts  # noqa: PLC0415
    import acts.examples as ae  # noqa: PLC0415

    prepared = []
    for k, (x, y, z) in enumerate(events):
        xs = np.asarray(x, dtype=np.float32)
        ys = np.asarray(y, dtype=np.float32)
        zs = np.asarray(z, dtype=np.float32)
        n = len(xs)
        if variances is None:
            vr = np.full(n, DEFAULT_VARIANCE_R, np.float32)
            vz = np.full(n, DEFAULT_VARIANCE_Z, np.float32)
        else:
            vr = np.broadcast_to(np.asarray(variances[k][0], np.float32), (n,))
            vz = np.broadcast_to(np.asarray(variances[k][1], np.float32), (n,))
        r = np.sqrt(xs.astype(np.float64) ** 2 + ys.astype(np.float64) ** 2).astype(np.float32)
        phi = np.arctan2(ys.astype(np.float64), xs.astype(np.float64)).astype(np.float32)
        prepared.append((xs, ys, zs, r, phi, vr, vz))

    class _Reader(ae.IReader):
        def __init__(self) -> None:
            ae.IReader.__init__(self, "HelixkitSpacePointReader", acts.logging.WARNING)
            self.handle = ae.WriteDataHandle(self, acts.SpacePointContainer, "OutputSpacePoints")
            self.handle.initialize("spacepoints")

        def availableEvents(self) -> tuple[int, int]:  # noqa: N802
            return (0, len(prepared))

        def read(self, ctx: Any) -> Any:
            cols = acts.SpacePointColumns
            c = acts.SpacePointContainer(
                cols.X | cols.Y | cols.Z | cols.R | cols.Phi | cols.VarianceR | cols.VarianceZ
            )
            for xi, yi, zi, ri, pi, vri, vzi in zip(*(a.tolist() for a in prepared[ctx.eventNumber])):
                sp = c.createSpacePoint()
                sp.x, sp.y, sp.z, sp.r, sp.phi = xi, yi, zi, ri, pi
                sp.varianceR, sp.varianceZ = vri, vzi
            self.handle(ctx, c)
            return ae.ProcessCode.SUCCESS

    results: dict[int, SeedingResult] = {}

    class _Collector(ae.IAlgorithm):
        def __init__(self) -> None:
            ae.IAlgorithm.__init__(self, "HelixkitSeedCollector", acts.logging.WARNING)
            self.handle = ae.ReadDataHandle(self, acts.SeedContainer, "InputSeeds")
            self.handle.initialize("seeds")

        def execute(self, ctx: Any) -> Any:
            seeds = self.handle(ctx.eventStore)
            trip, zv, q = [], [], []
            for s in seeds:
                trip.append(list(s.spacePointIndices))
                zv.append(s.vertexZ)
                q.append(s.quality)
            results[ctx.eventNumber] = SeedingResult(
                np.asarray(trip, dtype=np.int64).reshape(-1, 3),
                np.asarray(zv, dtype=np.float32),
                np.asarray(q, dtype=np.float32),
            )
            return ae.ProcessCode.SUCCESS

    with tempfile.TemporaryDirectory() as tmp:
        seq = ae.Sequencer(
            events=len(prepared), numThreads=1, logLevel=acts.logging.WARNING, outputDir=tmp
        )
        seq.addReader(_Reader())
        seq.addAlgorithm(ae.GridTripletSeedingAlgorithm(acts_config(config), acts.logging.WARNING))
        seq.addAlgorithm(_Collector())
        t0 = time.perf_counter()
        seq.run()
        wall = time.perf_counter() - t0
        per_event = _algorithm_time(Path(tmp) / "timing.csv", len(prepared), wall)
    return [results[k] for k in range(len(prepared))], per_event


def _algorithm_time(path: Path, n_events: int, wall: float) -> np.ndarray:
    """Mean per-event time of the seeding algorithm from timing.csv."""
    if path.exists():
        with path.open() as f:
            for row in csv.DictReader(f):
                if "GridTripletSeeding" in row.get("identifier", ""):
                    return np.full(n_events, float(row["time_perevent_s"]))
    return np.full(n_events, wall / max(n_events, 1))
