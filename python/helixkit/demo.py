"""The main job: ``helixkit demo``.

simulate → seed → fit → cluster → report, on the built-in simulation, with a
summary table (printed and written as Markdown/JSON) and PNG plots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._table import format_table

STAGES = ("seeding", "hashing", "fitting", "clustering", "learned", "trackformer")


class _Report:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.sections: list[tuple[str, str]] = []
        self.results: dict[str, Any] = {}
        self.plots: list[str] = []

    def table(self, title: str, rows: list[list[Any]], headers: list[str]) -> None:
        print(f"\n== {title} ==")
        print(format_table(rows, headers))
        self.sections.append((title, format_table(rows, headers, markdown=True)))

    def plot(self, path: Path) -> None:
        self.plots.append(str(path.relative_to(self.out_dir)))

    def write(self) -> None:
        md = ["# helixkit demo report", ""]
        for title, table in self.sections:
            md += [f"## {title}", "", table, ""]
        if self.plots:
            md += ["## Plots", ""] + [f"![{p}]({p})" for p in self.plots] + [""]
        (self.out_dir / "report.md").write_text("\n".join(md))
        (self.out_dir / "results.json").write_text(json.dumps(self.results, indent=2, default=_json))


def _json(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def run_demo(
    out_dir: str | Path = "demo-output",
    *,
    n_events: int = 3,
    mu: float = 50.0,
    seed: int = 0,
    n_threads: int = 0,
    stages: tuple[str, ...] = STAGES,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the demo chain and write ``report.md``, ``results.json`` and PNG plots to ``out_dir``."""
    from .data import generate_events  # noqa: PLC0415
    from .plots import plot_event  # noqa: PLC0415

    if n_events < 1:
        msg = f"n_events must be >= 1, got {n_events}"
        raise ValueError(msg)
    unknown = set(stages) - set(STAGES)
    if unknown:
        msg = f"unknown demo stage(s) {sorted(unknown)}; choose from {STAGES}"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = _Report(out)

    t0 = time.perf_counter()
    events = list(generate_events(n_events, mu=mu, seed=seed, progress=progress))
    t_sim = time.perf_counter() - t0
    rows = []
    for ev in events:
        s = ev.summary()
        rows.append([s["event_id"], s["hits"], s["particles"], s["noise_hits"]])
    report.table(
        f"Simulated events (<mu> = {mu:g}, {t_sim / n_events:.2f} s/event)",
        rows,
        ["event", "hits", "particles", "noise hits"],
    )
    report.results["simulation"] = {"mu": mu, "seconds_per_event": t_sim / n_events, "events": rows}
    report.plot(plot_event(events[0], out / "event_display.png"))

    for stage in stages:
        fn = _STAGE_FUNCS.get(stage)
        if fn is None:
            continue
        t0 = time.perf_counter()
        fn(events, report, n_threads=n_threads, seed=seed)
        print(f"[{stage}: {time.perf_counter() - t0:.2f} s]")

    report.write()
    print(f"\nreport: {out / 'report.md'}")
    return report.results


_STAGE_FUNCS: dict[str, Callable[..., None]] = {}


def _pixel_selection(
    event: Any, *, min_pt: float = 1.0, min_layers: int = 3, max_abs_eta: float = 2.5
) -> np.ndarray:
    """Particles with pT > min_pt GeV, |eta| < max_abs_eta, hits on >= min_layers pixel layers."""
    parts = event.particles
    pt = np.hypot(parts["px"], parts["py"])
    eta = np.arcsinh(parts["pz"] / np.maximum(pt, 1e-12))
    pix = np.isin(event.hits["volume_id"], event.geometry.pixel_volumes) & (event.hit_particle_id > 0)
    key = event.hits["volume_id"][pix].astype(np.int64) * 1000 + event.hits["layer_id"][pix]
    pairs = np.unique(np.stack([event.hit_particle_id[pix], key]), axis=1)
    pid_u, n_layers = np.unique(pairs[0], return_counts=True)
    pos = np.searchsorted(pid_u, parts["particle_id"])
    pos = np.clip(pos, 0, max(len(pid_u) - 1, 0))
    layers = np.where(len(pid_u) and (pid_u[pos] == parts["particle_id"]), n_layers[pos], 0)
    return (pt > min_pt) & (np.abs(eta) < max_abs_eta) & (layers >= min_layers)


def _merge_events_for_metrics(events: list[Any], per_event: list[np.ndarray]) -> tuple[Any, ...]:
    """Concatenate per-event seeds/truth with event-unique particle ids (for pooled metrics)."""
    from .data import Table  # noqa: PLC0415

    trip, sp_pid, cols, sel = [], [], {k: [] for k in ("particle_id", "px", "py", "pz")}, []
    offset = 0
    for k, (ev, t) in enumerate(zip(events, per_event)):
        tag = np.int64(k + 1) << np.int64(48)
        pid = ev.hit_particle_id.astype(np.int64)
        sp_pid.append(np.where(pid > 0, pid | tag, 0))
        trip.append(t + offset)
        offset += ev.n_hits
        cols["particle_id"].append(ev.particles["particle_id"].astype(np.int64) | tag)
        for c in ("px", "py", "pz"):
            cols[c].append(ev.particles[c])
        sel.append(_pixel_selection(ev))
    particles = Table({k: np.concatenate(v) for k, v in cols.items()})
    return np.concatenate(trip), np.concatenate(sp_pid), particles, np.concatenate(sel)


def _stage_seeding(events: list[Any], report: _Report, *, n_threads: int, seed: int) -> None:
    from . import seeding  # noqa: PLC0415

    cfg = seeding.SeedFinderConfig.acts_odd()
    triplets, times = [], []
    for ev in events:
        t0 = time.perf_counter()
        res = seeding.find_seeds_in_event(
            ev, cfg, volumes=ev.geometry.pixel_volumes, n_threads=n_threads
        )
        times.append(time.perf_counter() - t0)
        triplets.append(res.triplets)
    trip, sp_pid, particles, sel = _merge_events_for_metrics(events, triplets)
    m = seeding.seeding_metrics(trip, sp_pid, particles, sel)
    d = m.as_dict()
    d["ms_per_event"] = 1e3 * float(np.mean(times))
    report.results["seeding"] = d
    report.table(
        "Triplet seeding (ACTS ODD config, pixel volumes; particles pT > 1 GeV, |eta| < 2.5, >= 3 pixel layers)",
        [[d["n_seeds"] / len(events), d["efficiency"], d["fake_rate"], d["duplication_rate"],
          d["ms_per_event"]]],
        ["seeds/event", "efficiency", "fake rate", "duplication rate", "ms/event"],
    )
    report.plot(seeding.plot_seeding_performance({"helixkit": m}, report.out_dir / "seeding.png"))


_STAGE_FUNCS["seeding"] = _stage_seeding


def baseline_features(event: Any) -> np.ndarray:
    """The TrackML DBSCAN baseline features: (x/|r3|, y/|r3|, z/r) of every hit, standardised.

    Hits of a high-momentum track from the origin share these values, so
    DBSCAN on them is the classical non-ML clustering baseline.
    """
    x, y, z = (np.asarray(event.hits[c], np.float64) for c in "xyz")
    r3 = np.sqrt(x * x + y * y + z * z)
    r = np.hypot(x, y)
    f = np.stack([x / r3, y / r3, z / np.maximum(r, 1e-9)], axis=1)
    f = (f - f.mean(0)) / np.maximum(f.std(0), 1e-12)
    return f.astype(np.float32)


def _stage_clustering(events: list[Any], report: _Report, *, n_threads: int, seed: int) -> None:
    from .evaluation import trackml_score, tracking_metrics  # noqa: PLC0415
    from .graph import DbscanRescan  # noqa: PLC0415

    eps_grid = np.array([0.004, 0.006, 0.008, 0.011, 0.015, 0.02])
    rows = []
    best_summary: dict[str, Any] = {}
    t_scan = 0.0
    scores: dict[float, list[float]] = {float(e): [] for e in eps_grid}
    metrics: dict[float, list[Any]] = {float(e): [] for e in eps_grid}
    for ev in events:
        feats = baseline_features(ev)
        pid = ev.hit_particle_id
        key = ev.hits["volume_id"].astype(np.int64) * 1000 + ev.hits["layer_id"]
        t0 = time.perf_counter()
        scan = DbscanRescan(feats, max_eps=float(eps_grid.max()), n_threads=n_threads)
        labels_per_eps = {float(e): scan.labels(float(e), 1) for e in eps_grid}
        t_scan += time.perf_counter() - t0
        for e, labels in labels_per_eps.items():
            metrics[e].append(tracking_metrics(labels, pid, ev.particles, layer_key=key))
            scores[e].append(trackml_score(labels, pid, ev.truth["weight"]))
    for e in eps_grid:
        e = float(e)
        dm = float(np.mean([m.double_majority for m in metrics[e]]))
        rows.append([e, dm, float(np.mean([m.perfect for m in metrics[e]])),
                     float(np.mean([m.lhc for m in metrics[e]])),
                     float(np.mean([m.fake_double_majority for m in metrics[e]])),
                     float(np.mean(scores[e]))])
        if not best_summary or dm > best_summary["double_majority"]:
            best_summary = {"eps": e, "double_majority": dm, "trackml_score": rows[-1][-1]}
    report.table(
        "Clustering baseline: DBSCAN (min_samples=1) on (x/r3, y/r3, z/r), eps scan with one "
        f"neighbour graph per event ({1e3 * t_scan / len(events):.0f} ms/event for all eps), "
        "particles pT > 0.9 GeV",
        rows, ["eps", "DM eff", "perfect eff", "LHC", "fake DM", "TrackML score"],
    )
    report.results["clustering"] = {"scan": rows, "best": best_summary,
                                    "ms_per_event_scan": 1e3 * t_scan / len(events)}


_STAGE_FUNCS["clustering"] = _stage_clustering


def _stage_fitting(events: list[Any], report: _Report, *, n_threads: int, seed: int) -> None:
    from . import fitting  # noqa: PLC0415

    rows, summaries, times, ntracks = [], [], [], []
    perf = None
    for full in events:
        # primaries with pT > 0.5 GeV and |eta| < 2.5, the usual truth-tracking selection
        parts = full.particles
        pt = np.hypot(parts["px"], parts["py"])
        eta = np.arcsinh(parts["pz"] / np.maximum(pt, 1e-12))
        keep = parts["particle_id"][(pt > 0.5) & (np.abs(eta) < 2.5) & parts["primary"]]
        ev = full.select_hits(np.isin(full.hit_particle_id, keep))
        t0 = time.perf_counter()
        res = fitting.fit_truth_tracks(ev, min_hits=7, n_threads=n_threads)
        times.append(time.perf_counter() - t0)
        ntracks.append(len(res.status))
        perf = fitting.fit_performance(res, ev)
        s = perf.summary()
        s["success"] = float(np.mean(res.status == 0)) if len(res.status) else 0.0
        summaries.append(s)
    keys = ["sigma_d0", "sigma_z0", "sigma_pt_rel", "chi2_ndf", "pull_width_d0",
            "pull_width_z0", "pull_width_qop", "success"]
    mean = {k: float(np.nanmean([s.get(k, np.nan) for s in summaries])) for k in keys}
    us_per_track = 1e6 * float(np.sum(times)) / max(int(np.sum(ntracks)), 1)
    rows.append([int(np.sum(ntracks)) / len(events), 1e3 * mean["sigma_d0"], 1e3 * mean["sigma_z0"],
                 100 * mean["sigma_pt_rel"], mean["chi2_ndf"], mean["pull_width_d0"],
                 mean["pull_width_z0"], mean["pull_width_qop"], mean["success"], us_per_track])
    report.table(
        "Kalman filter + smoother, truth tracking (primaries, pT > 0.5 GeV, |eta| < 2.5, >= 7 hits)",
        rows,
        ["tracks/event", "sigma d0 [um]", "sigma z0 [um]", "sigma pT/pT [%]", "chi2/ndf",
         "pull d0", "pull z0", "pull q/p", "success", "us/track (wall)"],
    )
    report.results["fitting"] = {**mean, "us_per_track": us_per_track}
    if perf is not None:
        for p in fitting.plot_fit_performance(perf, report.out_dir):
            report.plot(Path(p))


_STAGE_FUNCS["fitting"] = _stage_fitting


def _stage_hashing(events: list[Any], report: _Report, *, n_threads: int, seed: int) -> None:
    from .seeding.hashing_study import demo_stage  # noqa: PLC0415

    demo_stage(events, report, n_threads=n_threads, seed=seed)


_STAGE_FUNCS["hashing"] = _stage_hashing


def _stage_trackformer(events: list[Any], report: _Report, *, n_threads: int, seed: int) -> None:
    from .evaluation import clipped_std  # noqa: PLC0415
    from .models import pretrained  # noqa: PLC0415
    from .models.trackformer import build_sequences, three_point_estimate  # noqa: PLC0415

    model = pretrained("trackformer")
    seq = build_sequences(events, model.config, strict_length=False)
    t0 = time.perf_counter()
    out = model.predict_arrays(seq.hits, seq.mask)
    dt = time.perf_counter() - t0
    pt_tf = 1.0 / np.maximum(np.abs(out[:, 0]), 1e-9)
    pt_3p, _ = three_point_estimate(seq.xyz, seq.mask, events[0].geometry.b_field_z)
    rows = []
    for name, pt in (("TrackFormer (pretrained)", pt_tf), ("three-point helix", pt_3p)):
        rel = (pt - seq.pt) / seq.pt
        rows.append([name, len(seq), 100 * clipped_std(rel),
                     f"{100 * float(np.mean(np.sign(out[:, 0]) != seq.q)):.2f}" if pt is pt_tf
                     else "n/a"])
    report.table(
        f"TrackFormer pT regression (|eta| < 1, 0.5-10 GeV primaries; {len(seq) / dt:.0f} tracks/s)",
        rows, ["method", "tracks", "sigma pT/pT [%] (3-sigma clipped)", "charge mis-ID [%]"],
    )
    report.results["trackformer"] = {"rows": rows, "tracks_per_second": len(seq) / dt}


_STAGE_FUNCS["trackformer"] = _stage_trackformer


_ROUTE = {"edge": "edge classifier ({passes} passes) -> track building", "oc": "OC GNN -> DBSCAN"}


def _stage_learned(events: list[Any], report: _Report, *, n_threads: int, seed: int) -> None:
    from .data import generate_events  # noqa: PLC0415
    from .models import pretrained  # noqa: PLC0415
    from .training.learned import evaluate_event  # noqa: PLC0415

    model = pretrained("learned_tracking")
    # warm-up on a small event: the numba kernels compile (fresh install) or load their cache
    # on the first call, which is not per-event inference time
    model.find_tracks(next(generate_events(1, mu=5, seed=seed + 1)), n_threads=n_threads)
    rows, timing = [], []
    for ev in events:
        res = evaluate_event(model, ev, n_threads=n_threads)
        m = res["metrics"]
        timing.append(res["timing"])
        rows.append([ev.event_id, m["n_particles"], m["double_majority"], m["fake_double_majority"],
                     m["perfect"], m["lhc"], m["trackml_score"]])
    ms = {k: 1e3 * float(np.mean([t.get(k, 0.0) for t in timing])) for k in timing[0]}
    stages = ", ".join(f"{k} {v:.0f}" for k, v in ms.items() if k != "total")
    passes = model.edge.config.n_passes if model.edge is not None else 0
    route = _ROUTE[model.method].format(passes=passes)
    if getattr(model, "track_filter", None) is not None:
        route += " -> track filter"
    graph = ("kNN graph + geometric doublets" if model.edge is not None
             and model.edge.config.doublets else "kNN graph")
    report.table(
        "Learned tracking (shipped pretrained('learned_tracking'): noise filter -> GC embedding "
        f"-> {graph} -> {route}; pixel hits, particles pT > 0.9 GeV; "
        f"{ms['total']:.0f} ms/event: {stages})",
        [[r[0], r[1], *(f"{v:.3f}" for v in r[2:])] for r in rows],
        ["event", "particles", "DM eff", "fake DM", "perfect eff", "LHC", "TrackML score "
         "(pixel hits)"],
    )
    report.results["learned"] = {"rows": rows, "ms_per_event": ms}


_STAGE_FUNCS["learned"] = _stage_learned
