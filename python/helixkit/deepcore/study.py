"""DeepCore next to the standard seeding and the JetCore-like splitting on fresh jets
(``helixkit evaluate deepcore``, the demo stage, docs/deepcore.md).

:func:`evaluate_deepcore` simulates jets the network has not seen, runs the three methods
on the same events (:mod:`.evaluate`) and gives the tables a tracking physicist reads:
efficiency for pT > 1 / 10 / 200 GeV, in merged and isolated clusters, fake rate,
duplicates, time per jet; the TCP position and parameter resolutions of isolated and
merged crossings; the charge from the bending; and the plots (efficiency vs pT, ΔR to the
axis and jet pT; residuals; a dense window with its predicted and true TCP maps).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._table import format_table
from .evaluate import MethodResult, seed_baseline, seed_deepcore
from .plots import plot_efficiencies, plot_prediction, plot_residuals
from .simulation import JetEvent, simulate_jets
from .windows import Windows, jet_windows

if TYPE_CHECKING:
    from .model import DeepCoreModel

#: Method key → label of the tables and plots.
METHODS = {"standard": "standard (clusters → triplets)",
           "jetcore": "JetCore-like (cluster splitting)",
           "deepcore": "DeepCore (CNN crossings)"}
EFFICIENCY_HEADERS = ["method", "eff. pT>1", "eff. pT>10", "pT>10 merged", "pT>10 isolated",
                      "eff. pT>200", "fake rate", "dupl./found", "seeds/jet", "ms/jet"]
RESOLUTION_HEADERS = ["crossings (pT > 10 GeV)", "N", "row σ68 [µm]", "col σ68 [µm]",
                      "within 1 px", "η σ68", "φ σ68 [mrad]", "|Δη|,|Δφ| < 0.01",
                      "pT σ68 / pT", "charge right"]


def _sigma68(x: np.ndarray) -> float:
    """Half-width of the central 68 % (robust σ); NaN when empty."""
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return float("nan")
    lo, hi = np.percentile(x, [16.0, 84.0])
    return float(0.5 * (hi - lo))


def _pct(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{100 * v:.1f} %"


def efficiency_rows(results: dict[str, MethodResult], n_jets: int) -> list[list[str]]:
    """One row per method (:data:`EFFICIENCY_HEADERS`)."""
    rows = []
    for key, res in results.items():
        s10 = res.summary(10.0)
        rows.append([METHODS.get(key, key), _pct(res.summary(1.0)["efficiency"]),
                     _pct(s10["efficiency"]), _pct(res.summary(10.0, merged=True)["efficiency"]),
                     _pct(res.summary(10.0, merged=False)["efficiency"]),
                     _pct(res.summary(200.0)["efficiency"]), _pct(s10["fake_rate"]),
                     f"{s10['duplicates_per_found']:.2f}", f"{s10['seeds'] / n_jets:.1f}",
                     f"{1e3 * s10['seconds'] / n_jets:.1f}"])
    return rows


def resolution_metrics(res: MethodResult, *, min_pt: float = 10.0) -> dict[str, dict[str, float]]:
    """TCP position (pixels → µm with the BPIX2 pitches 100 / 150 µm), direction and pT
    resolutions (σ68), the fraction with the direction within 0.01 in η and φ (a seed
    that points at the particle's BPIX3/4 hits to ~1 mm) and the charge-sign accuracy of
    the crossings nearest to the scored
    particles with pT >= ``min_pt``, for isolated and merged clusters."""
    t, seeds = res.residuals, res.seeds
    if t is None or seeds is None:
        msg = "res has no residuals: run seed_deepcore with crossings that carry deta/dphi/pt"
        raise ValueError(msg)
    out = {}
    for name, want in (("isolated", False), ("merged", True), ("all", None)):
        s = np.asarray(t["pt"]) >= min_pt
        if want is not None:
            s &= np.asarray(t["merged"]) == want
        q = seeds["q"][t["crossing"][s]] if seeds.n_rows else np.zeros(0)
        rel = t["pt_pred"][s] / t["pt"][s] - 1.0
        out[name] = {"n": int(s.sum()),
                     "row_um": 100.0 * _sigma68(t["d_row"][s]),
                     "col_um": 150.0 * _sigma68(t["d_col"][s]),
                     "within_1px": float(np.mean((np.abs(t["d_row"][s]) <= 1)
                                                 & (np.abs(t["d_col"][s]) <= 1)))
                     if s.any() else float("nan"),
                     "eta": _sigma68(t["d_eta"][s]), "phi_mrad": 1e3 * _sigma68(t["d_phi"][s]),
                     "direction_within_0.01": float(np.mean(
                         (np.abs(t["d_eta"][s]) < 0.01) & (np.abs(t["d_phi"][s]) < 0.01)))
                     if s.any() else float("nan"),
                     "pt_rel": _sigma68(rel),
                     "charge_right": float(np.mean(q == t["q"][s])) if s.any() else float("nan")}
    return out


def resolution_rows(metrics: dict[str, dict[str, float]]) -> list[list[str]]:
    """:func:`resolution_metrics` as rows (:data:`RESOLUTION_HEADERS`)."""
    return [[name, f"{m['n']:,}", f"{m['row_um']:.0f}", f"{m['col_um']:.0f}",
             _pct(m["within_1px"]), f"{m['eta']:.4f}", f"{m['phi_mrad']:.2f}",
             _pct(m["direction_within_0.01"]), f"{m['pt_rel']:.2f}", _pct(m["charge_right"])] for name, m in metrics.items()]


def throughput(model: DeepCoreModel, windows: Windows, *, repeats: int = 3) -> float:
    """Windows per second of ``model.predict`` (best of ``repeats``)."""
    best = float("inf")
    for _ in range(max(int(repeats), 1)):
        t0 = time.perf_counter()
        model.predict(windows.charge, windows.jet)
        best = min(best, time.perf_counter() - t0)
    return len(windows) / best if best > 0 else float("nan")


def dense_window(windows: Windows) -> int:
    """The window with the most true crossings (ties: the first)."""
    t = windows.truth
    if t.n_rows == 0:
        return 0
    return int(np.argmax(np.bincount(t["window"], minlength=len(windows))))


def compare_methods(events: Sequence[JetEvent], model: DeepCoreModel
                    ) -> tuple[dict[str, MethodResult], Windows]:
    """The three methods on ``events`` (and the DeepCore windows)."""
    win = jet_windows(events)

    def predict(w: Windows) -> dict[str, Any]:
        return dict(model.find_crossings(w.charge, w.jet).items())

    results = {"standard": seed_baseline(events), "jetcore": seed_baseline(events, split=True),
               "deepcore": seed_deepcore(events, predict, windows=win)}
    return results, win


def evaluate_deepcore(model: DeepCoreModel, *, n_jets: int = 20,
                      jet_pt: tuple[float, float] = (1000.0, 3000.0), seed: int = 12345,
                      out_dir: str | Path | None = None) -> dict[str, Any]:
    """DeepCore vs the standard seeding and the JetCore-like splitting on ``n_jets`` fresh
    jets (pT in ``jet_pt`` GeV, |η| < 1.4; ``seed`` differs from the training seeds).

    Returns ``results`` (method → :class:`MethodResult`), ``metrics`` (plain numbers, also
    written to ``out_dir/deepcore_eval.json``), ``table`` / ``resolution_table`` (text) and
    ``plots`` (PNG paths, with ``out_dir``)."""
    if int(n_jets) != n_jets or n_jets < 1:
        msg = f"n_jets (={n_jets!r}) must be an integer >= 1"
        raise ValueError(msg)
    events = simulate_jets(int(n_jets), jet_pt=tuple(float(v) for v in jet_pt), seed=int(seed))
    results, win = compare_methods(events, model)
    res_m = resolution_metrics(results["deepcore"])
    metrics: dict[str, Any] = {
        "n_jets": int(n_jets), "jet_pt": [float(v) for v in jet_pt], "seed": int(seed),
        "n_windows": len(win),
        "methods": {k: {f"pt>{c:g}": r.summary(c) for c in (1.0, 10.0, 200.0)}
                    | {"pt>10 merged": r.summary(10.0, merged=True),
                       "pt>10 isolated": r.summary(10.0, merged=False)}
                    for k, r in results.items()},
        "resolution": res_m,
        "windows_per_second": throughput(model, win) if len(win) else float("nan"),
    }
    base = metrics["methods"]["standard"]["pt>10"]
    dc = metrics["methods"]["deepcore"]["pt>10"]
    metrics["target"] = {"efficiency_gain": dc["efficiency"] - base["efficiency"],
                         "met": bool(dc["efficiency"] >= base["efficiency"] + 0.10
                                     and dc["fake_rate"] <= base["fake_rate"])}
    out: dict[str, Any] = {
        "results": results, "metrics": metrics,
        "table": format_table(efficiency_rows(results, int(n_jets)), EFFICIENCY_HEADERS),
        "resolution_table": format_table(resolution_rows(res_m), RESOLUTION_HEADERS),
        "plots": []}
    if out_dir is not None:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        title = f"{n_jets} jets, pT {jet_pt[0]:.0f}-{jet_pt[1]:.0f} GeV"
        out["plots"] = [
            plot_efficiencies(results, d / "deepcore_efficiency.png", title=title),
            plot_residuals(results["deepcore"], d / "deepcore_residuals.png"),
        ]
        if len(win):
            i = dense_window(win)
            prob, params = model.predict(win.charge[i:i + 1], win.jet[i:i + 1])
            out["plots"].append(plot_prediction(win, i, prob[0], params[0],
                                                d / "deepcore_window.png"))
        (d / "deepcore_eval.json").write_text(json.dumps(metrics, indent=1, default=float))
    return out


__all__ = ["EFFICIENCY_HEADERS", "METHODS", "RESOLUTION_HEADERS", "compare_methods",
           "dense_window", "efficiency_rows", "evaluate_deepcore", "resolution_metrics", "resolution_rows",
           "throughput"]
