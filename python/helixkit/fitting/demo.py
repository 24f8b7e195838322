"""Fitting's ``helixkit demo`` stage: Kalman filter + smoother on truth tracks."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..data import Event
from ..data.sources import Mapper
from ..report import Report, describe_sample
from .truth import fit_performance, fit_truth_tracks, plot_fit_performance


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """Truth tracking: the Kalman filter + smoother on the hits of each selected primary."""
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
        res = fit_truth_tracks(ev, min_hits=7, n_threads=n_threads)
        times.append(time.perf_counter() - t0)
        ntracks.append(len(res.status))
        perf = fit_performance(res, ev)
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
        caption = (f"{describe_sample(report.results, len(events))} · selection: truth tracks of primaries, "
                   f"pT > 0.5 GeV, |η| < 2.5, ≥ 7 hits")
        for p in plot_fit_performance(perf, report.out_dir, caption=caption):
            report.plot(Path(p))


__all__ = ["demo_stage"]
