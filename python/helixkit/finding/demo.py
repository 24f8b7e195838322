"""The classical chain's ``helixkit demo`` stage, beside learned tracking on the same events."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import Event
from ..data.sources import Mapper
from ..evaluation import TrackFindingMetrics, labels_to_tracks, pool_track_metrics
from ..fitting import estimate_track_params
from ..report import Report
from .chain import reconstruct
from .ckf import Tracks, select_entries
from .plots import plot_track_finding

#: Particles counted: ACTS's selection on all hits, and the learned pipeline's threshold.
PT_MIN = 0.9
ABS_ETA_MAX = 2.5
MIN_HITS = 9          # on all layers (ACTS: >= 9 measurements)
MIN_PIXEL_HITS = 4    # for the pixel-only comparison


def _helix_kinematics(ev: Event, off: np.ndarray, hits: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """pT and η of tracks without fitted parameters (learned tracking's): the helix through
    their innermost, middle and outermost hit; NaN for tracks of fewer than 3 hits."""
    n = len(off) - 1
    pt, eta = np.full(n, np.nan), np.full(n, np.nan)
    xyz = np.stack([np.asarray(ev.hits[c], dtype=np.float64) for c in ("x", "y", "z")], 1)[hits]
    size = np.diff(off)
    ok = np.flatnonzero(size >= 3)
    if len(ok) == 0:
        return pt, eta
    r = np.hypot(xyz[:, 0], xyz[:, 1])
    order = np.lexsort((r, np.repeat(np.arange(n), size)))  # by radius within each track
    xyz = xyz[order]
    first, last = off[ok], off[ok + 1] - 1
    params, status = estimate_track_params(xyz[first], xyz[(first + last) // 2], xyz[last],
                                           b_field_z=ev.geometry.b_field_z)
    good = status == 0
    pt[ok[good]] = np.abs(np.sin(params[good, 3]) / params[good, 4])
    eta[ok[good]] = -np.log(np.tan(0.5 * params[good, 3]))
    return pt, eta


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """Standard seeding → CKF → fit → ambiguity resolution on the demo events: ACTS-style
    efficiency, fake and duplicate rates, time per stage; learned tracking's tracks (when its
    stage ran before) scored the same way on the pixel hits they use."""
    tracks: list[Tracks] = [reconstruct(ev, n_threads=n_threads) for ev in events]
    per_all, per_pix, per_learned, l_pt, l_eta = [], [], [], [], []
    t_pt, t_eta = [], []
    learned = report.artifacts.get("learned_labels")
    vols = report.artifacts.get("learned_volumes") or events[0].geometry.pixel_volumes
    for k, (ev, tr) in enumerate(zip(events, tracks)):
        pid = ev.hit_particle_id
        pixel = np.isin(ev.hits["volume_id"], np.asarray(vols))
        pid_pix = np.where(pixel, pid, 0)
        per_all.append((tr.offsets, tr.hits, pid, ev.particles))
        t_pt.append(tr.pt)
        t_eta.append(tr.eta)
        per_pix.append((*select_entries(tr.offsets, tr.hits, pixel[tr.hits], drop_empty=True),
                        pid_pix, ev.particles))
        if learned is not None:
            off, hits = labels_to_tracks(learned[k])
            per_learned.append((off, hits, pid_pix, ev.particles))
            pt, eta = _helix_kinematics(ev, off, hits)
            l_pt.append(pt)
            l_eta.append(eta)
    sel = {"pt_min": PT_MIN, "max_abs_eta": ABS_ETA_MAX}
    m_all = pool_track_metrics(per_all, min_hits=MIN_HITS, track_pt=t_pt, track_eta=t_eta, **sel)
    m_pix = pool_track_metrics(per_pix, min_hits=MIN_PIXEL_HITS, **sel)
    timing = {k: 1e3 * float(np.mean([t.timing[k] for t in tracks])) for k in tracks[0].timing}
    total = sum(timing.values())
    n_ev = len(events)

    def row(name: str, hits: str, m: TrackFindingMetrics, ms: float) -> list[Any]:
        return [name, hits, m.n_particles, f"{m.n_tracks / n_ev:.0f}",
                f"{100 * m.efficiency:.1f} ± {100 * m.efficiency_err:.1f}",
                f"{100 * m.fake_rate:.2f}", f"{100 * m.duplicate_rate:.2f}",
                f"{100 * m.double_majority:.1f}", f"{100 * m.perfect:.1f}", f"{ms:.0f}"]

    rows = [row("classical chain (CKF)", f"all, particles >= {MIN_HITS} hits", m_all, total),
            row("classical chain (CKF)", f"pixel, particles >= {MIN_PIXEL_HITS} pixel hits",
                m_pix, total)]
    results: dict[str, Any] = {"all_hits": m_all.as_dict(), "pixel_hits": m_pix.as_dict(),
                               "ms_per_event": timing,
                               "seeds_per_event": float(np.mean([t.info["n_seeds"]
                                                                 for t in tracks]))}
    series = {"CKF chain": m_all}
    if per_learned:
        m_l = pool_track_metrics(per_learned, min_hits=MIN_PIXEL_HITS, track_pt=l_pt,
                                 track_eta=l_eta, **sel)
        ms_l = report.results.get("learned", {}).get("ms_per_event", {}).get("total", float("nan"))
        rows.append(row("learned tracking", f"pixel, particles >= {MIN_PIXEL_HITS} pixel hits",
                        m_l, ms_l))
        results["learned_pixel_hits"] = m_l.as_dict()
        series = {"CKF chain (pixel hits)": m_pix, "learned tracking (pixel)": m_l,
                  "CKF chain (all hits)": m_all}
    stages = ", ".join(f"{k} {v:.1f}" for k, v in timing.items())
    report.table(
        "Track finding on the same events: classical chain (standard seeding ACTS ODD config -> "
        "CKF chi2 15/25, 10 per surface, two-way -> Kalman fit -> greedy ambiguity, 3 shared) "
        f"and learned tracking; particles pT > {PT_MIN} GeV, |eta| < {ABS_ETA_MAX}; "
        f"ACTS definitions (matched: > 50 % of the track's hits); CKF ms/event: {stages}",
        rows,
        ["tracking", "hits", "particles", "tracks/event", "efficiency %", "fake %",
         "duplicate %", "DM eff %", "perfect %", "ms/event"],
    )
    report.results["tracking"] = results
    report.plot(plot_track_finding(series, report.out_dir / "tracking.png",
                                   title="Track finding on the demo events"))


__all__ = ["demo_stage"]
