"""The TrackFormer's ``helixkit demo`` stage: pT regression with the shipped weights."""

from __future__ import annotations

import time

import numpy as np

from ..data import Event
from ..data.sources import Mapper
from ..evaluation import clipped_std
from ..nn.registry import pretrained
from ..report import Report
from .model import build_sequences, three_point_estimate


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """TrackFormer (pretrained) against the three-point helix estimate on the demo events."""
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
        "TrackFormer pT regression (|eta| < 1, 0.5-10 GeV primaries; "
        f"{len(seq) / dt:.0f} tracks/s)",
        rows, ["method", "tracks", "sigma pT/pT [%] (3-sigma clipped)", "charge mis-ID [%]"],
    )
    report.results["trackformer"] = {"rows": rows, "tracks_per_second": len(seq) / dt}


__all__ = ["demo_stage"]
