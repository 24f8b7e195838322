#!/usr/bin/env python
"""TrackFormer input set x loss study at an equal CPU budget (issue 8).

Trains the configurations inputs in (xyz, r_phi_z, r_dphi_z, r_dphi_z_helix,
r_dphi_z_helix+prior) x loss in (mse, quantile) — ``+prior``: the helix prior,
q/pT predicted as a correction to the three-point estimate — with the model
defaults of ``configs/trackformer.json``
(targets ``qopt_pz``; quantile models predict the 0.16/0.5/0.84 quantiles with
the pinball loss and use the median as point prediction), all with the same
training/validation events, seeds and budget, then evaluates every best model
on the same test events next to the Kalman fit and the three-point helix
estimate. Writes ``OUT/<name>/`` (one run directory per configuration, with
``config.json``, ``train.log``, ``timing.json`` and the usual trainer output)
and ``OUT/summary.md`` + ``OUT/summary.json``.

Reduced budget of the first study (2026-12-02; the six configurations of the
first three input sets)::

    PYTHONPATH=python python scripts/trackformer_study.py --configs xyz_mse xyz_quantile \
        r_phi_z_mse r_phi_z_quantile r_dphi_z_mse r_dphi_z_quantile

Full budget (2026-12-04, all ten)::

    PYTHONPATH=python python scripts/trackformer_study.py --out runs/tf_study_full \
        --train-events 60 --val-events 6 --epochs 15

Trainings run as ``--jobs`` parallel subprocesses with ``--threads`` torch
threads each; a configuration whose ``best.pt`` and ``timing.json`` already
exist is not retrained (``--retrain`` forces it), so an interrupted study can be
resumed and ``--skip-train`` only re-evaluates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("xyz", "r_phi_z", "r_dphi_z", "r_dphi_z_helix", "r_dphi_z_helix+prior")
LOSSES = ("mse", "quantile")
NAMES = [f"{i}_{l}" for i in INPUTS for l in LOSSES]
BIN_LABELS = ["0.5-1", "1-2", "2-5", "5-10"]


def make_config(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The run config of one configuration: configs/trackformer.json with the data budget,
    inputs and loss replaced."""
    base = json.loads((ROOT / "configs" / "trackformer.json").read_text())
    inputs, loss = name.rsplit("_", 1)
    base["data"].update({"n_train_events": args.train_events, "n_val_events": args.val_events,
                         "mu": args.mu, "seed": args.seed})
    prior = "helix" if inputs.endswith("+prior") else "none"
    base["model"].update({"inputs": inputs.removesuffix("+prior"), "prior": prior,
                          "loss": loss, "targets": "qopt_pz"})
    base["train"].update({"epochs": args.epochs, "seed": args.seed,
                          "num_threads": args.threads})
    return base


def train_one(name: str, out: Path) -> int:
    """Worker: train one configuration from OUT/<name>/config.json."""
    from helixkit.trackformer import train_trackformer  # noqa: PLC0415

    run = out / name
    cfg = json.loads((run / "config.json").read_text())
    t0 = time.perf_counter()
    train_trackformer(cfg, run, progress=False)
    wall = time.perf_counter() - t0
    hist = json.loads((run / "history.json").read_text())
    (run / "timing.json").write_text(json.dumps({
        "train_wall_s": wall, "epochs_run": len(hist),
        "best_val_loss": min(h["val_loss"] for h in hist),
        "best_epoch": int(min(hist, key=lambda h: h["val_loss"])["epoch"]),
    }, indent=1))
    print(f"{name}: done in {wall:.0f} s", flush=True)
    return 0


def train_all(names: list[str], args: argparse.Namespace) -> None:
    out = Path(args.out)
    todo = []
    for name in names:
        run = out / name
        if not args.retrain and (run / "best.pt").exists() and (run / "timing.json").exists():
            print(f"{name}: already trained, skipping", flush=True)
            continue
        run.mkdir(parents=True, exist_ok=True)
        for f in ("best.pt", "last.pt", "history.json", "history.csv", "timing.json"):
            (run / f).unlink(missing_ok=True)
        (run / "config.json").write_text(json.dumps(make_config(name, args), indent=1))
        todo.append(name)
    running: list[tuple[str, subprocess.Popen[bytes], Any]] = []
    t0 = time.perf_counter()
    while todo or running:
        while todo and len(running) < args.jobs:
            name = todo.pop(0)
            log = open(out / name / "train.log", "w")  # noqa: SIM115
            cmd = [sys.executable, __file__, "--out", str(out), "--train-one", name]
            running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT),
                            log))
            print(f"[{time.perf_counter() - t0:6.0f} s] started {name}", flush=True)
        time.sleep(2)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                print(f"[{time.perf_counter() - t0:6.0f} s] finished {name} rc={proc.returncode}",
                      flush=True)
                if proc.returncode != 0:
                    print(f"  see {out / name / 'train.log'}", flush=True)


def evaluate_all(names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    from helixkit.nn import load  # noqa: PLC0415
    from helixkit.trackformer import evaluate_trackformer  # noqa: PLC0415

    torch.set_num_threads(args.eval_threads)
    out = Path(args.out)
    results: dict[str, Any] = {}
    for name in names:
        run = out / name
        if not (run / "best.pt").exists():
            print(f"{name}: no best.pt, not evaluated", flush=True)
            continue
        model = load(run / "best.pt", expect="trackformer")
        t0 = time.perf_counter()
        res = evaluate_trackformer(model, n_events=args.test_events, mu=args.mu,
                                   seed=args.test_seed, out_dir=run / "eval",
                                   n_threads=args.eval_threads)
        print(f"{name}: evaluated in {time.perf_counter() - t0:.0f} s", flush=True)
        timing = json.loads((run / "timing.json").read_text()) if \
            (run / "timing.json").exists() else {}
        results[name] = {**res, **timing}
    return results


def _pct(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{100 * v:.2f} %"


def summarise(results: dict[str, Any], args: argparse.Namespace) -> None:
    out = Path(args.out)
    if not results:
        print("nothing to summarise")
        return
    names = list(results)
    ref = results[names[0]]
    same_n = all(r["n_particles"] == ref["n_particles"] for r in results.values())
    same_kf = all(np.allclose(r["resolution"][m][k], ref["resolution"][m][k], equal_nan=True,
                              rtol=0, atol=1e-12)
                  for r in results.values() for m in ("kalman", "three_point")
                  for k in ("pt_rel", "qopt_rel"))
    kf12 = ref["resolution"]["kalman"]["qopt_rel"][1]
    kf12_pt = ref["resolution"]["kalman"]["pt_rel"][1]
    head = ("| method | σ(pT)/pT " + " | ".join(BIN_LABELS) + " GeV | σ(q/pT)/(q/pT) "
            + " | ".join(BIN_LABELS) + " GeV | ratio to Kalman 1–2 GeV pT (q/pT) "
            "| charge mis-ID | tracks/s | best val loss | epochs | train wall |")
    lines = [head, "|" + "---|" * 14]
    summary_rows = []
    for name, r in results.items():
        res = r["resolution"]["trackformer"]
        ratio_pt = res["pt_rel"][1] / kf12_pt
        ratio_q = res["qopt_rel"][1] / kf12
        lines.append(
            f"| {name} | " + " | ".join(_pct(v) for v in res["pt_rel"]) + " | "
            + " | ".join(_pct(v) for v in res["qopt_rel"])
            + f" | {ratio_pt:.2f}× ({ratio_q:.2f}×) | {100 * r['charge_misid']:.2f} % "
            f"| {r['tracks_per_second']:,.0f} | {r.get('best_val_loss', float('nan')):.4g} "
            f"| {r.get('epochs_run', '?')} | {r.get('train_wall_s', float('nan')) / 60:.1f} min |")
        summary_rows.append({
            "name": name, "pt_rel": res["pt_rel"], "qopt_rel": res["qopt_rel"],
            "ratio_to_kalman_1_2_pt": ratio_pt, "ratio_to_kalman_1_2_qopt": ratio_q,
            "charge_misid": r["charge_misid"], "tracks_per_second": r["tracks_per_second"],
            "best_val_loss": r.get("best_val_loss"), "best_epoch": r.get("best_epoch"),
            "epochs_run": r.get("epochs_run"), "train_wall_s": r.get("train_wall_s"),
            "n_particles": r["n_particles"]})
    for method, label in (("kalman", "Kalman fit (truth tracking)"),
                          ("three_point", "three-point helix")):
        res = ref["resolution"][method]
        lines.append(f"| {label} | " + " | ".join(_pct(v) for v in res["pt_rel"]) + " | "
                     + " | ".join(_pct(v) for v in res["qopt_rel"]) + " | 1 | | | | | |"
                     if method == "kalman" else
                     f"| {label} | " + " | ".join(_pct(v) for v in res["pt_rel"]) + " | "
                     + " | ".join(_pct(v) for v in res["qopt_rel"])
                     + f" | {res['pt_rel'][1] / kf12_pt:.2f}× ({res['qopt_rel'][1] / kf12:.2f}×)"
                     " | | | | | |")
    budget = (f"{args.train_events} training + {args.val_events} validation events at "
              f"<mu> = {args.mu:g} (seed {args.seed}), {args.epochs} epochs max (patience from "
              f"configs/trackformer.json), {args.jobs} trainings in parallel with "
              f"{args.threads} torch thread(s) each")
    test = (f"{args.test_events} test events at <mu> = {args.mu:g}, seed {args.test_seed}; "
            f"{ref['n_particles']} particles reconstructed by all three methods")
    check = ("Kalman and three-point rows identical for all evaluated models "
             f"(same particles): {'yes' if (same_n and same_kf) else 'NO'}")
    md = ["# TrackFormer input set × loss study (equal budget)", "",
          "Command: `PYTHONPATH=python python " + " ".join(["scripts/trackformer_study.py",
                                                              *sys.argv[1:]]) + "`", "",
          f"Budget: {budget}.", "", f"Test: {test}. Widths by iterative 3σ clipping.", "",
          check + ".", "", *lines, "",
          "Validation losses of MSE and quantile (pinball) models are not comparable "
          "with each other (different loss functions, standardised targets).", ""]
    (out / "summary.md").write_text("\n".join(md))
    (out / "summary.json").write_text(json.dumps({
        "budget": budget, "test": test, "kalman_rows_identical": bool(same_n and same_kf),
        "args": vars(args), "rows": summary_rows,
        "kalman": ref["resolution"]["kalman"], "three_point": ref["resolution"]["three_point"],
        "n_particles": ref["n_particles"], "edges": ref["edges"]}, indent=1))
    print("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--out", default="runs/tf_study", help="study directory (default: %(default)s)")
    p.add_argument("--configs", nargs="+", default=NAMES, choices=NAMES, metavar="NAME",
                   help=f"configurations to run (default: all: {' '.join(NAMES)})")
    p.add_argument("--train-events", type=int, default=30, help="default: %(default)s")
    p.add_argument("--val-events", type=int, default=3, help="default: %(default)s")
    p.add_argument("--epochs", type=int, default=10, help="default: %(default)s")
    p.add_argument("--mu", type=float, default=200.0, help="pile-up (train and test; "
                   "default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="data and training seed "
                   "(default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="parallel trainings (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per training "
                   "(default: %(default)s)")
    p.add_argument("--test-events", type=int, default=5, help="default: %(default)s")
    p.add_argument("--test-seed", type=int, default=12345, help="default: %(default)s")
    p.add_argument("--eval-threads", type=int, default=2, help="threads for evaluation "
                   "(torch and Kalman fit; default: %(default)s)")
    p.add_argument("--retrain", action="store_true", help="retrain configurations that exist")
    p.add_argument("--skip-train", action="store_true", help="only evaluate + summarise")
    p.add_argument("--train-one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "python"))
    out = Path(args.out)
    if args.train_one:
        return train_one(args.train_one, out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not args.skip_train:
        train_all(args.configs, args)
        print(f"training finished after {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    results = evaluate_all(args.configs, args)
    summarise(results, args)
    print(f"total {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
