"""Evaluate the TrackFormer against the Kalman fit and the three-point helix estimate
(``helixkit evaluate trackformer``): pT and q/pT resolution per pT bin on the same particles,
perigee widths, charge mis-ID, throughput, plots."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import fitting
from .._table import format_table
from ..data import Event
from ..data.sources import Mapper, simulated_events
from ..evaluation import binned_resolution, charge_misid_rate, clipped_std
from ..plots import pyplot, save_figure
from .model import (
    TrackFormer,
    TrackSequences,
    build_sequences,
    first_hit_phi,
    perigee_from_targets,
    targets_to_pt,
    three_point_estimate,
)
from .train import simulate


def _fit_event(event: Event, *, n_threads: int) -> tuple[Event, np.ndarray, np.ndarray]:
    """The event and its truth-track Kalman fits (particle ids, perigee parameters) of the
    tracks that fitted."""
    res = fitting.fit_truth_tracks(event, min_hits=3, n_threads=n_threads)
    ok = res.status == 0
    return event, res.particle_id[ok], res.params[ok]


def evaluate_trackformer(model: TrackFormer, *, n_events: int = 5, mu: float = 50.0,
                         seed: int = 12345, out_dir: str | Path | None = None,
                         n_threads: int = 0, mapper: Mapper | None = None) -> dict[str, Any]:
    """Relative pT and q/pT resolution per pT bin: TrackFormer vs Kalman fit vs 3-point helix.

    Residuals are taken on the *same* particles (those that all three methods
    reconstruct); widths by iterative 3σ clipping. ``mapper`` (:mod:`helixkit.data.sources`):
    where each event is simulated and fitted (default: here, in turn); the network runs
    here on all events at once.
    """
    if mapper is None:
        fits = [_fit_event(ev, n_threads=n_threads)
                for ev in simulate(n_events, mu, seed, 10_000)]
    else:
        fits = mapper(_fit_event, simulated_events(n_events, mu=mu, seed=seed,
                                                   first_event_id=10_000))
    events = [f[0] for f in fits]
    seq = build_sequences(events, model.config, strict_length=False)
    t0 = time.perf_counter()
    pred = model.predict_arrays(seq.hits, seq.mask)
    t_tf = time.perf_counter() - t0
    pt_tf = targets_to_pt(pred, model.config.targets)
    q_tf = np.sign(pred[:, 0]) if model.config.targets != "pt_pz" else seq.q
    b = events[0].geometry.b_field_z
    pt_3p, _ = three_point_estimate(seq.xyz, seq.mask, b)

    # Kalman fit of the same particles (truth tracking, event by event)
    key: dict[tuple[int, int], np.ndarray] = {}
    for k, (_, pids, params) in enumerate(fits):
        key.update({(k, int(p)): v for p, v in zip(pids, params)})
    nan5 = np.full(5, np.nan)
    kf = np.array([key.get((int(e), int(p)), nan5)
                   for e, p in zip(seq.event_index, seq.particle_id)]).reshape(-1, 5)
    pt_kf = np.abs(np.sin(kf[:, 3]) / kf[:, 4])
    common = np.isfinite(pt_kf) & np.isfinite(pt_3p)
    edges = np.array([0.5, 1.0, 2.0, 5.0, 10.0])
    rows, table = [], {}
    for name, ptp in (("trackformer", pt_tf), ("kalman", pt_kf), ("three_point", pt_3p)):
        rel = (ptp[common] - seq.pt[common]) / seq.pt[common]
        qopt_rel = (seq.pt[common] / ptp[common]) - 1.0
        br = binned_resolution(rel, seq.pt[common], edges, min_count=5)
        bq = binned_resolution(qopt_rel, seq.pt[common], edges, min_count=5)
        table[name] = {"pt_rel": br.width.tolist(), "qopt_rel": bq.width.tolist()}
        rows.append([name, *[f"{100 * w:.2f}" for w in br.width],
                     *[f"{100 * w:.2f}" for w in bq.width]])
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    text = format_table(rows, ["method", *[f"pT/pT % {s}" for s in labels],
                               *[f"q/pT % {s}" for s in labels]])
    if model.config.targets == "perigee":
        text += "\n\n" + _perigee_table(seq, pred, kf, common, table)
    results = {
        "n_particles": int(common.sum()), "edges": edges.tolist(), "resolution": table,
        "charge_misid": charge_misid_rate(q_tf, seq.q),
        "tracks_per_second": len(seq) / max(t_tf, 1e-9), "table": text,
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "trackformer_eval.json").write_text(json.dumps(results, indent=1))
        _plot(seq, pt_tf, pt_kf, common, table, edges, out)
    return results


def _perigee_table(seq: TrackSequences, pred: np.ndarray, kf: np.ndarray, common: np.ndarray,
                   table: dict[str, Any]) -> str:
    """Widths (iterative 3σ clipping) of d0, z0, φ0, θ residuals: TrackFormer vs Kalman fit.

    Fills ``table["perigee"]`` and returns a text table (all pT, and 1–2 GeV).
    """
    truth = seq.perigee
    tf = perigee_from_targets(pred, first_hit_phi(seq.xyz))
    names = [("d0", 1e3, "um"), ("z0", 1e3, "um"), ("phi0", 1e3, "mrad"), ("theta", 1e3, "mrad")]
    rows, out = [], {}
    for method, est in (("trackformer", tf), ("kalman", kf[:, :4])):
        res = est[:, :4] - truth[:, :4]
        res[:, 2] = np.angle(np.exp(1j * res[:, 2]))  # periodic phi
        row = [method]
        for sel_name, sel in (("all", common), ("1-2", common & (seq.pt >= 1) & (seq.pt < 2))):
            for j, (name, scale, _) in enumerate(names):
                w = clipped_std(res[sel, j]) if sel.sum() >= 5 else float("nan")
                out.setdefault(method, {})[f"{name}_{sel_name}"] = w
                row.append(f"{scale * w:.1f}")
        rows.append(row)
    table["perigee"] = out
    headers = ["method"] + [f"{n} [{unit}] {s}" for s in ("all pT", "1-2 GeV") for n, _, unit in names]
    return format_table(rows, headers)


def _plot(seq: TrackSequences, pt_tf: np.ndarray, pt_kf: np.ndarray, common: np.ndarray,
          table: dict[str, Any], edges: np.ndarray, out: Path) -> None:
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    bins = np.geomspace(0.5, 10.0, 61)
    counts, _, _ = np.histogram2d(seq.pt[common], pt_tf[common], bins=[bins, bins])
    if counts.max() > 0:  # a LogNorm of an empty histogram has no valid range
        img = a1.pcolormesh(bins, bins, np.ma.masked_equal(counts.T, 0), norm=LogNorm())
        fig.colorbar(img, ax=a1, label="tracks")
    a1.plot([0.5, 10], [0.5, 10], "r--", lw=1)
    a1.set(xlabel="true pT [GeV]", ylabel="TrackFormer pT [GeV]", title="true vs predicted",
           xscale="log", yscale="log")
    centers = 0.5 * (edges[1:] + edges[:-1])
    for name, vals in table.items():
        if "pt_rel" in vals:  # not the perigee table
            a2.plot(centers, 100 * np.asarray(vals["pt_rel"]), "o-", label=name)
    a2.set(xlabel="true pT [GeV]", ylabel="σ(pT)/pT [%] (3σ-clipped)",
           title="relative pT resolution (|η| < 1)")
    a2.set_ylim(bottom=0)
    a2.grid(alpha=0.3)
    a2.legend()
    save_figure(fig, out / "trackformer_resolution.png")


__all__ = ["evaluate_trackformer"]
