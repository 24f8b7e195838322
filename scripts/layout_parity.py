"""Fingerprint helixkit's observable behaviour, to prove a refactoring changed none of it.

Records, with the shipped weights: the sha256 of ``find_tracks`` labels on a <mu> = 200
event, of TrackFormer predictions, of small trainings' weights (every route of
``helixkit train``), and the outputs of every CLI command (help texts, error messages,
the JSON files that ``evaluate`` / ``study`` / ``demo`` write, with their timing fields
removed). Run it before and after a change, then compare::

    python scripts/layout_parity.py record before.json
    python scripts/layout_parity.py record after.json
    python scripts/layout_parity.py compare before.json after.json

It works with the import paths of both sides of issue 26 (``helixkit.learned`` or
``helixkit.pipeline``), so it can fingerprint the code from before the layout change.
Takes ~3 minutes on 2 cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

TIMING = re.compile(r"(^ms|_ms|ms_|seconds|time|per_second|timing|_s$|fraction|us_per|^table$)")


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _strip(obj: Any) -> Any:
    """Drop timing fields (they differ from run to run) from nested JSON."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not TIMING.search(str(k))}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _cli(argv: list[str]) -> dict[str, Any]:
    from helixkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _state_hashes(path: Path) -> dict[str, str]:
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)
    return {k: _sha(v.numpy()) for k, v in payload["state_dict"].items()}


def _files(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in sorted(d.rglob("*")) if p.is_file() and p.suffix not in (".png",)}


def _pngs(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*.png"))


def _json(path: Path) -> Any:
    return _strip(json.loads(path.read_text()))


def record(out_path: str) -> None:
    from helixkit.data import generate_events, simulate_event

    try:
        from helixkit.learned import find_tracks
        from helixkit.nn import pretrained
        from helixkit.trackformer import build_sequences
    except ImportError:       # the layout before issue 26
        from helixkit.models import pretrained
        from helixkit.models.trackformer import build_sequences
        from helixkit.pipeline import find_tracks

    rec: dict[str, Any] = {}
    ev = simulate_event(mu=200, seed=1)
    rec["find_tracks_mu200"] = _sha(find_tracks(ev))
    rec["find_tracks_mu200_1thread"] = _sha(find_tracks(ev, n_threads=1))
    tf = pretrained("trackformer")
    seq = build_sequences(list(generate_events(3, mu=50, seed=7)), tf.config,
                          strict_length=False)
    rec["trackformer_predictions"] = _sha(tf.predict_arrays(seq.hits, seq.mask))

    cli: dict[str, Any] = {}
    for argv in (["--help"], ["--version"], ["info"], ["train", "--help"],
                 ["evaluate", "--help"], ["demo", "--help"], ["simulate", "--help"],
                 ["study", "--help"], ["study", "hashing", "--help"]):
        r = _cli(argv)
        if argv == ["info"]:
            r["stdout"] = re.sub(r"threads \d+", "threads N", r["stdout"])
        cli[" ".join(argv)] = r
    errors = (["evaluate", "trackformer", "--filter-cut", "0.5"],
              ["evaluate", "noise", "--edge-passes", "2"],
              ["evaluate", "learned_tracking", "--edge-passes", "9"],
              ["evaluate", "noise"], ["simulate", "--out", "x", "--events", "0"],
              ["demo", "--stages", "nope", "--no-progress"],
              ["train", "nope"])
    for argv in errors:
        cli[" ".join(argv)] = _cli(argv)

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        r = _cli(["simulate", "--out", str(t / "sim"), "--events", "2", "--mu", "5",
                  "--no-progress", "--first-event", "3"])
        cli["simulate"] = {**r, "files": _files(t / "sim")}
        for name, extra in (("evaluate learned_tracking", []),
                            ("evaluate learned_tracking wp", ["--edge-passes", "2",
                                                              "--threshold", "0.5",
                                                              "--filter-cut", "0.1",
                                                              "--linking", "greedy"])):
            d = t / name.replace(" ", "_")
            r = _cli(["evaluate", "learned_tracking", "--events", "1", "--mu", "30",
                      "--out", str(d), *extra])
            cli[name] = {"rc": r["rc"], "json": _json(d / "learned_tracking_eval.json"),
                         "pngs": _pngs(d)}
        d = t / "tf_eval"
        r = _cli(["evaluate", "trackformer", "--events", "2", "--out", str(d)])
        cli["evaluate trackformer"] = {"rc": r["rc"], "json": _json(d / "trackformer_eval.json"),
                                       "pngs": _pngs(d)}
        d = t / "study"
        r = _cli(["study", "hashing", "--out", str(d), "--events", "1", "--mu", "5",
                  "--repeats", "1", "--bucket-sizes", "50", "--phi-bins", "50",
                  "--metrics", "phi", "--standard-max-seeds", "1"])
        cli["study hashing"] = {"rc": r["rc"], "json": _json(d / "hashing_study.json"),
                                "pngs": _pngs(d)}
        d = t / "demo"
        r = _cli(["demo", "--out", str(d), "--events", "1", "--mu", "10", "--no-progress"])
        cli["demo"] = {"rc": r["rc"], "json": _json(d / "results.json"), "pngs": _pngs(d)}

        trainings = {
            "edge": {"data": {"n_train_events": 1, "n_val_events": 1, "mu": 3, "seed": 0},
                     "method": "edge", "gc": {"hidden_dim": 16, "depth": 2},
                     "gc_train": {"epochs": 2, "num_threads": 1},
                     "edge": {"k": 6, "hidden_dim": 16, "triplet_context": 2, "prune": 0.001},
                     "edge_train": {"epochs": 2, "num_threads": 1},
                     "use_noise_filter": True, "noise": {"hidden_dim": 8},
                     "noise_train": {"epochs": 1, "num_threads": 1}},
            "oc": {"data": {"n_train_events": 1, "n_val_events": 1, "mu": 3, "seed": 0},
                   "gc": {"hidden_dim": 16, "depth": 2, "extra_features": ["cluster"]},
                   "gc_train": {"epochs": 2, "num_threads": 1},
                   "oc": {"hidden_dim": 16, "n_layers": 1},
                   "oc_train": {"epochs": 1, "num_threads": 1}},
        }
        for name, conf in trainings.items():
            c, d = t / f"{name}.json", t / f"run_{name}"
            c.write_text(json.dumps(conf))
            r = _cli(["train", "learned_tracking", "--config", str(c), "--out", str(d),
                      "--no-progress"])
            cli[f"train learned_tracking {name}"] = {
                "rc": r["rc"], "stdout": r["stdout"].replace(str(d), "RUN"),
                "weights": _state_hashes(d / "learned_tracking.pt"),
                "run_config": _json(d / "run_config.json")}
        r = _cli(["evaluate", "noise", "--checkpoint", str(t / "run_edge" / "noise" / "best.pt"),
                  "--events", "1", "--mu", "5"])
        cli["evaluate noise"] = r
        c = t / "tf_filter.json"
        c.write_text(json.dumps({
            "data": {"n_train_events": 1, "n_val_events": 1, "mu": 20, "seed": 0},
            "track_filter": {"hidden_dim": 8, "depth": 1},
            "track_filter_train": {"n_train_events": 1, "n_val_events": 1, "epochs": 2}}))
        d = t / "run_tf_filter"
        r = _cli(["train", "track_filter", "--config", str(c), "--out", str(d), "--no-progress"])
        cli["train track_filter"] = {"rc": r["rc"],
                                     "weights": _state_hashes(d / "learned_tracking.pt")}
        c = t / "trackformer.json"
        c.write_text(json.dumps({"data": {"n_train_events": 2, "n_val_events": 1, "mu": 5},
                                 "train": {"epochs": 2, "num_threads": 1}}))
        d = t / "run_trackformer"
        r = _cli(["train", "trackformer", "--config", str(c), "--out", str(d), "--no-progress"])
        cli["train trackformer"] = {"rc": r["rc"], "weights": _state_hashes(d / "best.pt"),
                                    "history": _json(d / "history.json")}
    rec["cli"] = json.loads(json.dumps(cli, default=str).replace(tmp, "TMP"))
    Path(out_path).write_text(json.dumps(rec, indent=1, sort_keys=True, default=str))
    print(f"wrote {out_path}")


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'after' if k in b else 'before'}")
            else:
                _diff(a[k], b[k], f"{path}/{k}", out)
    elif a != b:
        if isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
            import difflib

            lines = difflib.unified_diff(a.splitlines(), b.splitlines(), "before", "after",
                                         lineterm="", n=0)
            out.append(f"{path}:\n  " + "\n  ".join(list(lines)[2:]))
        else:
            out.append(f"{path}: {a!r} -> {b!r}")


def compare(before: str, after: str) -> int:
    out: list[str] = []
    _diff(json.loads(Path(before).read_text()), json.loads(Path(after).read_text()), "", out)
    print("\n".join(out) if out else "identical")
    return 1 if out else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        print(__doc__)
        sys.exit(2)
