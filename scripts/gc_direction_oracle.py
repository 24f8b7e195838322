#!/usr/bin/env python
"""Diagnostic (issue 7): how much does the GC embedding gain from the local track direction?

Trains the metric-learning embedding (GC) of ``configs/learned_tracking.json``
on the same simulated events with three hit-feature sets and measures each on
the same fresh events:

* ``geometry``: the 7 geometric hit features only;
* ``geometry+cluster``: plus the product's cluster-shape features
  (``extra=("cluster",)``: log cell count, log charge, and the direction the
  simulated pixel cluster measures, oriented outward);
* ``geometry+truth_direction``: plus the *truth* direction of the particle at
  the hit in the hit's (radial, azimuthal, z) frame (u_r, 10·u_φ, u_z; zero for
  noise hits) — an oracle that bounds what direction information could give.

Printed per set: the GC figures of merit (kNN graph of the embedding, k = 8
and 16) and the best double-majority efficiency of DBSCAN run directly on the
embedding (min_samples 1, ε scanned). The oracle row wraps
``hit_features`` of ``helixkit.learned.batches`` and ``helixkit.learned.evaluate``; the
package is not changed.

    PYTHONPATH=python python scripts/gc_direction_oracle.py      # ~6 min per training, 1 thread
    PYTHONPATH=python python scripts/gc_direction_oracle.py --sets geometry+cluster
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = ("geometry", "geometry+cluster", "geometry+truth_direction")
EPS_GRID = (0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0)


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
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS),
                   help="feature sets to train (default: all three)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "python"))
    import torch  # noqa: PLC0415

    from helixkit.data import generate_events  # noqa: PLC0415
    from helixkit.learned import batches, evaluate, train_gc  # noqa: PLC0415
    from helixkit.learned.config import parse_config as _parse  # noqa: PLC0415
    from helixkit.learned.train import _events  # noqa: PLC0415
    from helixkit.nn.features import n_features  # noqa: PLC0415

    torch.set_num_threads(1)
    config = json.loads((ROOT / "configs" / "learned_tracking.json").read_text())
    config["gc"].pop("extra_features", None)
    config["gc"].pop("in_dim", None)
    cfg = _parse(config, False)
    if args.epochs is not None:
        cfg["gc_train"].epochs = args.epochs
    vols = tuple(cfg["data"].volumes)
    train, val = _events(cfg["data"])
    test = list(generate_events(args.test_events, mu=cfg["data"].mu, seed=4242,
                                first_event_id=30_000))
    base = batches.hit_features     # what train_gc's batches and evaluate_gc call
    results = {}
    for name in args.sets:
        extra = ["cluster"] if name == "geometry+cluster" else []
        oracle = name == "geometry+truth_direction"
        batches.hit_features = evaluate.hit_features = (_with_direction(base) if oracle
                                                        else base)
        try:
            cfg["gc"].extra_features = extra
            cfg["gc"].in_dim = n_features(tuple(extra)) + (3 if oracle else 0)
            t0 = time.perf_counter()
            model = train_gc(train, val, cfg["gc"], cfg["gc_train"],
                             Path(args.out) / name, volumes=vols)
            results[name] = {"train_s": time.perf_counter() - t0}
            for k in (8, 16):
                res = evaluate.evaluate_gc(model, test, k=k, volumes=vols, n_threads=1,
                                           eps_grid=EPS_GRID)
                results[name][f"k{k}"] = res["gc"]
            results[name]["dbscan_best"] = res["best"]
        finally:
            batches.hit_features = evaluate.hit_features = base
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
    print("\n| features | DBSCAN on the GC embedding: eps | DM eff | fake DM |")
    print("|---|---|---|---|")
    for name, r in results.items():
        b = r["dbscan_best"]
        print(f"| {name} | {b['eps']:g} | {b['double_majority']:.3f} | "
              f"{b['fake_double_majority']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
