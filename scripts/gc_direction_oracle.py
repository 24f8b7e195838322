#!/usr/bin/env python
"""Diagnostic (issue 7): how much does the GC embedding gain from the local track direction?

Trains the metric-learning embedding (GC) of ``configs/learned_tracking.json``
twice on the same simulated events — with the 7 geometric hit features, and
with 3 more: the *truth* direction of the particle at the hit in the hit's
(radial, azimuthal, z) frame (u_r, 10·u_φ, u_z; zero for noise hits) — and
prints the GC figures of merit (kNN graph of the embedding, k = 8 and 16) of
both on the same fresh events.

The truth direction is an oracle, not a product feature: it bounds what
direction information could give. In a real pixel detector a coarse version
comes from the cluster shape (TrackML cell features, ``extra=("cells",)``),
which our simulation does not produce. Nothing in the package is changed:
the script wraps ``helixkit.pipeline.hit_features`` for its own runs.

    PYTHONPATH=python python scripts/gc_direction_oracle.py      # ~6 min per training, 1 thread
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _with_direction(base):  # noqa: ANN001, ANN202
    def features(event, *, volumes=None, **kw):  # noqa: ANN001, ANN202
        f, rows = base(event, volumes=volumes, **kw)
        x, y = (np.asarray(event.hits[c], np.float64)[rows] for c in "xy")
        phi = np.arctan2(y, x)
        px, py, pz = (np.asarray(event.truth[c], np.float64)[rows] for c in ("tpx", "tpy", "tpz"))
        p = np.sqrt(px**2 + py**2 + pz**2)
        p = np.where(p > 0, p, 1.0)
        u_r = (px * np.cos(phi) + py * np.sin(phi)) / p
        u_phi = (-px * np.sin(phi) + py * np.cos(phi)) / p
        extra = np.stack([u_r, 10.0 * u_phi, pz / p], 1).astype(np.float32)
        return np.concatenate([f, extra], 1), rows

    return features


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--out", default="runs/gc_direction_oracle", help="default: %(default)s")
    p.add_argument("--epochs", type=int, default=None,
                   help="GC epochs (default: the config's gc_train.epochs)")
    p.add_argument("--test-events", type=int, default=2, help="default: %(default)s")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "python"))
    import torch  # noqa: PLC0415

    from helixkit import pipeline  # noqa: PLC0415
    from helixkit.data import generate_events  # noqa: PLC0415
    from helixkit.training.learned import _events, _parse  # noqa: PLC0415

    torch.set_num_threads(1)
    cfg = _parse(json.loads((ROOT / "configs" / "learned_tracking.json").read_text()), False)
    if args.epochs is not None:
        cfg["gc_train"].epochs = args.epochs
    vols = tuple(cfg["data"].volumes)
    train, val = _events(cfg["data"])
    test = list(generate_events(args.test_events, mu=cfg["data"].mu, seed=4242,
                                first_event_id=30_000))
    base = pipeline.hit_features
    results = {}
    for name, feats, in_dim in (("geometry", base, 7), ("geometry+truth_direction",
                                                        _with_direction(base), 10)):
        pipeline.hit_features = feats
        try:
            cfg["gc"].in_dim = in_dim
            t0 = time.perf_counter()
            model = pipeline.train_gc(train, val, cfg["gc"], cfg["gc_train"],
                                      Path(args.out) / name, volumes=vols)
            wall = time.perf_counter() - t0
            results[name] = {"train_s": wall}
            for k in (8, 16):
                res = pipeline.evaluate_gc(model, test, k=k, volumes=vols, n_threads=1)
                results[name][f"k{k}"] = res["gc"]
        finally:
            pipeline.hit_features = base
        print(name, json.dumps(results[name], default=float), flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "summary.json").write_text(json.dumps(results, indent=1, default=float))
    print("| features | k | edge efficiency | edge purity | frac_segment50 | frac_segment100 |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        for k in (8, 16):
            g = r[f"k{k}"]
            print(f"| {name} | {k} | {g['edge_efficiency']:.3f} | {g['edge_purity']:.3f} | "
                  f"{g['frac_segment50']:.3f} | {g['frac_segment100']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
