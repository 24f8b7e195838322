"""Evaluate hit tokenisers (``helixkit evaluate hit_tokenizer``) and the codebook-size study.

Metrics on fresh simulated events: the reconstruction error of each coordinate (r·φ, z, r;
RMS and the 68 % quantile of |error|, mm) overall and per layer, the 3-D RMS, codebook use per
level (fraction of codes used, perplexity), the same-token rate (tracks with two hits on one
token, the seed talk's "hits 2 and 4 → token 742") and the tokenisation throughput.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._hep import pass_total
from .._table import format_table
from ..data import Event
from ..nn.registry import pretrained
from ..plots import pyplot, save_figure
from .data import HitSample, hit_sample, track_order
from .follow import (
    check_tokenizer,
    follow,
    following_efficiency,
    helix_next_hits,
    helix_predictor,
    model_predictor,
    predict_next_hits,
    token_only_next_hits,
)
from .model import HitTokenizer
from .nexthit import NextHitModel
from .sequences import track_sequences
from .train import simulate, train_hit_tokenizer, with_geometry


def _q68(a: np.ndarray) -> float:
    return float(np.quantile(np.abs(a), 0.68)) if len(a) else float("nan")


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(a * a))) if len(a) else float("nan")


def coordinate_errors(xyz: np.ndarray, rec: np.ndarray) -> dict[str, np.ndarray]:
    """Errors of the reconstructed positions: r·Δφ (at the true r), Δz, Δr [mm]."""
    x = xyz.astype(np.float64)
    y = rec.astype(np.float64)
    r0, r1 = np.hypot(x[:, 0], x[:, 1]), np.hypot(y[:, 0], y[:, 1])
    dphi = np.angle(np.exp(1j * (np.arctan2(y[:, 1], y[:, 0]) - np.arctan2(x[:, 1], x[:, 0]))))
    return {"rphi": r0 * dphi, "z": y[:, 2] - x[:, 2], "r": r1 - r0,
            "3d": np.linalg.norm(y - x, axis=1)}


def tokenizer_metrics(model: HitTokenizer, sample: HitSample, *, per_layer: bool = True
                      ) -> dict[str, Any]:
    """Reconstruction, codebook-use and same-token metrics of ``model`` on ``sample``."""
    layer = sample.layer if model.config.layer_input else None
    t0 = time.perf_counter()
    tokens = model.encode(sample.xyz, layer)
    t_enc = time.perf_counter() - t0
    rec = model.decode(tokens, layer)
    err = coordinate_errors(sample.xyz, rec)
    out: dict[str, Any] = {"n_hits": len(sample), "rms_3d": _rms(err["3d"]),
                           "hits_per_second": len(sample) / max(t_enc, 1e-12)}
    for c in ("rphi", "z", "r"):
        out[f"rms_{c}"] = _rms(err[c])
        out[f"q68_{c}"] = _q68(err[c])
    k = model.config.codebook_size
    usage, perplexity = [], []
    for level in range(tokens.shape[1]):
        counts = np.bincount(tokens[:, level], minlength=k)
        usage.append(float((counts > 0).mean()))
        p = counts[counts > 0] / counts.sum()
        perplexity.append(float(np.exp(-(p * np.log(p)).sum())))
    out["code_usage"] = usage
    out["perplexity"] = perplexity
    # tracks with two hits on the same token (level 0, and the whole token tuple)
    off, rows = track_order(sample)
    same0 = same_all = n_tracks = 0
    first = tokens[rows, 0]
    full = tokens[rows] @ (np.int64(k) ** np.arange(tokens.shape[1], dtype=np.int64))
    for a, b in zip(off[:-1], off[1:]):
        if b - a < 2:
            continue
        n_tracks += 1
        same0 += len(np.unique(first[a:b])) < b - a
        same_all += len(np.unique(full[a:b])) < b - a
    out["same_token_tracks_level0"] = same0 / max(n_tracks, 1)
    out["same_token_tracks"] = same_all / max(n_tracks, 1)
    out["n_tracks"] = n_tracks
    if per_layer:
        rows_l = []
        for layer_id in np.unique(sample.layer):
            sel = sample.layer == layer_id
            rows_l.append({"layer": int(layer_id), "n_hits": int(sel.sum()),
                           **{f"rms_{c}": _rms(err[c][sel]) for c in ("rphi", "z", "r")},
                           "rms_3d": _rms(err["3d"][sel])})
        out["per_layer"] = rows_l
    out["_errors"] = err
    out["_tokens"] = tokens
    return out


def _plots(model: HitTokenizer, sample: HitSample, m: dict[str, Any], out: Path) -> list[Path]:
    plt = pyplot()
    paths = []
    k = model.config.codebook_size
    tokens, err = m["_tokens"], m["_errors"]
    # codebook use: codes sorted by how often they are chosen, per level
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for level in range(tokens.shape[1]):
        c = np.sort(np.bincount(tokens[:, level], minlength=k))[::-1]
        ax.step(np.arange(k), c, where="post",
                label=f"level {level}: {100 * m['code_usage'][level]:.1f} % used, "
                      f"perplexity {m['perplexity'][level]:.0f}")
    ax.axhline(len(tokens) / k, color="gray", ls=":", lw=1, label="uniform use")
    ax.set_yscale("log")
    ax.set_xlabel("code (sorted by use)")
    ax.set_ylabel("hits per code")
    ax.set_title(f"Codebook use ({len(tokens):,} hits, {k} codes per level)")
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "tokenizer_codebook_use.png"))
    # reconstruction error map in (z, r)
    xyz = sample.xyz.astype(np.float64)
    r, z = np.hypot(xyz[:, 0], xyz[:, 1]), xyz[:, 2]
    zb = np.linspace(z.min(), z.max(), 61)
    rb = np.linspace(0.0, r.max() * 1.01, 41)
    s2, _, _ = np.histogram2d(z, r, [zb, rb], weights=err["3d"] ** 2)
    n, _, _ = np.histogram2d(z, r, [zb, rb])
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(s2 / n)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    im = ax.pcolormesh(zb, rb, rms.T, shading="flat", cmap="viridis")
    fig.colorbar(im, ax=ax, label="3-D RMS reconstruction error [mm]")
    ax.set_xlabel("z [mm]")
    ax.set_ylabel("r [mm]")
    ax.set_title(f"Tokeniser reconstruction error by position ({model.config.levels} level(s) × "
                 f"{k} codes; overall {m['rms_3d']:.2f} mm)")
    paths.append(save_figure(fig, out / "tokenizer_error_map.png"))
    # one track with its tokens (the longest of the sample's first tracks)
    off, rows = track_order(sample)
    lengths = np.diff(off)[:200]
    t = int(np.argmax(lengths))
    tr = rows[off[t]:off[t + 1]]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(z[tr], r[tr], "o-", color="tab:blue", ms=4)
    for i in tr:
        ax.annotate("·".join(str(v) for v in tokens[i]), (z[i], r[i]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("z [mm]")
    ax.set_ylabel("r [mm]")
    ax.set_title(f"A track's hits and their tokens (level 0 · level 1 · …), particle "
                 f"{int(sample.particle_id[tr[0]])}")
    paths.append(save_figure(fig, out / "tokenizer_track_tokens.png"))
    return paths


def public_metrics(m: dict[str, Any]) -> dict[str, Any]:
    """``m`` without its private (``_``-prefixed) entries: what goes into JSON."""
    return {k: v for k, v in m.items() if not k.startswith("_")}


def evaluate_hit_tokenizer(model: HitTokenizer, *, n_events: int = 3, mu: float = 50.0,
                           seed: int = 12345, out_dir: str | Path | None = None,
                           events: Sequence[Event] | None = None) -> dict[str, Any]:
    """Metrics (and, with ``out_dir``, JSON + plots) of ``model`` on fresh simulated events."""
    if n_events < 1:
        msg = f"n_events must be >= 1, got {n_events}"
        raise ValueError(msg)
    evs = list(events) if events is not None else simulate(n_events, mu, seed, 0)
    sample = hit_sample(evs)
    m = tokenizer_metrics(model, sample)
    rows = [[c, f"{m[f'rms_{c}']:.3f}", f"{m[f'q68_{c}']:.3f}"] for c in ("rphi", "z", "r")]
    rows.append(["3-D", f"{m['rms_3d']:.3f}", "-"])
    table = format_table(rows, ["coordinate", "RMS [mm]", "68 % of |error| [mm]"])
    res = {"metrics": public_metrics(m), "table": table, "config": dict(vars(model.config))}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        res["plots"] = [str(p) for p in _plots(model, sample, m, out)]
        (out / "tokenizer_eval.json").write_text(json.dumps(res, indent=1, default=float))
    return res


#: (levels, codebook size) of the study's tokenisers.
STUDY_CONFIGS: tuple[tuple[int, int], ...] = (
    (1, 256), (1, 2048), (1, 16384), (1, 65536),
    (2, 256), (2, 2048), (4, 256), (4, 1024), (4, 2048),
)


def codebook_study(out_dir: str | Path, *, configs: Sequence[tuple[int, int]] = STUDY_CONFIGS,
                   n_train_events: int = 8, epochs: int = 8, mu: float = 50.0,
                   n_test_events: int = 2, seed: int = 0, latent_dim: int = 4,
                   hidden: int = 64, progress: bool = True) -> dict[str, Any]:
    """Train one tokeniser per (levels, codebook size) on the same events and measure its
    resolution on the same fresh test events: the table that says what codebook gives 10 mm
    in z (and 1 mm in 3-D)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_ev = simulate(n_train_events, mu, seed, 0)
    val_ev = simulate(1, mu, seed + 1, n_train_events)
    test = hit_sample(simulate(n_test_events, mu, seed + 7, 10_000))
    rows, runs = [], []
    for levels, size in configs:
        t0 = time.perf_counter()
        cfg = {"model": {"latent_dim": latent_dim, "codebook_size": size, "levels": levels,
                         "hidden": hidden},
               "train": {"epochs": epochs, "patience": epochs, "seed": seed}}
        model = train_hit_tokenizer(cfg, out / f"L{levels}_K{size}", progress=progress,
                                    events=(train_ev, val_ev))
        t_train = time.perf_counter() - t0
        m = public_metrics(tokenizer_metrics(model, test, per_layer=False))
        m.update(levels=levels, codebook_size=size, train_seconds=t_train,
                 bits=levels * float(np.log2(size)))
        runs.append(m)
        rows.append([levels, size, f"{m['bits']:.0f}", f"{m['rms_rphi']:.2f}",
                     f"{m['rms_z']:.2f}", f"{m['q68_z']:.2f}", f"{m['rms_r']:.2f}",
                     f"{m['rms_3d']:.2f}", f"{100 * min(m['code_usage']):.1f}",
                     f"{100 * m['same_token_tracks_level0']:.1f}", f"{m['hits_per_second']:.2e}",
                     f"{t_train:.0f}"])
    headers = ["levels", "codes/level", "bits", "RMS rphi [mm]", "RMS z [mm]", "68% |z| [mm]",
               "RMS r [mm]", "RMS 3-D [mm]", "min code use %", "same-token tracks %",
               "hits/s", "train s"]
    text = format_table(rows, headers, markdown=True)
    (out / "codebook_study.md").write_text(
        f"Tokenisers trained on {n_train_events} events (<mu> = {mu:g}, {epochs} epochs, latent "
        f"dim {latent_dim}, hidden {hidden}), measured on {n_test_events} fresh events "
        f"({len(test):,} hits).\n\n"
        + text + "\n")
    (out / "codebook_study.json").write_text(json.dumps(runs, indent=1, default=float))
    print(format_table(rows, headers))
    return {"runs": runs, "table": text}




# ---------------------------------------------------------------------- next-hit prediction
#: pT [GeV] above which next hits are scored and particles followed.
SCORE_MIN_PT = 1.0
#: Distances [mm] whose within-fractions are reported.
WITHIN = (1.0, 10.0, 100.0)


def _distance_row(name: str, d: np.ndarray, layer_acc: float | None, token_acc: float | None
                  ) -> dict[str, Any]:
    # a missing prediction (NaN: the helix meets no layer) counts as infinitely far; the
    # quantiles are order statistics (no interpolation towards inf)
    d = np.where(np.isfinite(d), d, np.inf)

    def q(p: float) -> float:
        return float(np.quantile(d, p, method="inverted_cdf")) if len(d) else float("nan")

    row: dict[str, Any] = {"model": name, "n": len(d), "median": q(0.5), "q68": q(0.68),
                           "q95": q(0.95),
                           "layer_accuracy": layer_acc, "token_accuracy": token_acc}
    for w in WITHIN:
        row[f"within_{w:g}"] = float(np.mean(d <= w)) if len(d) else float("nan")
    return row


def next_hit_metrics(seqs: Any, predictions: dict[str, dict[str, np.ndarray]],
                     geometry: Any) -> dict[str, Any]:
    """Scores of next-hit predictions (``{model: {"xyz", "layer"?, "token"?}}``) on the steps
    t >= 2 (three hits seen) that have a next hit, of tracks with pT >= 1 GeV: distances to
    the true next hit (median, 68 %, 95 %, within 1 / 10 / 100 mm), layer and token accuracy,
    and the distances by step and by the next hit's layer."""
    T = seqs.max_len
    t = np.arange(T)[None, :]
    target = (t >= 2) & (t < seqs.length[:, None] - 1) & (seqs.pt[:, None] >= SCORE_MIN_PT)
    nxt_xyz = np.roll(seqs.xyz, -1, 1)[target]
    nxt_layer = np.roll(seqs.layer, -1, 1)[target]
    nxt_tok = np.roll(seqs.tokens[..., 0], -1, 1)[target]
    steps = np.broadcast_to(t, target.shape)[target]
    rows, by_step, by_layer = [], {}, {}
    for name, p in predictions.items():
        d = np.linalg.norm(p["xyz"][target] - nxt_xyz, axis=1)
        lacc = float(np.mean(p["layer"][target] == nxt_layer)) if "layer" in p else None
        tacc = float(np.mean(p["token"][target] == nxt_tok)) if "token" in p else None
        rows.append(_distance_row(name, d, lacc, tacc))
        by_step[name] = [_distance_row(name, d[steps == s], None, None) | {"step": int(s)}
                         for s in np.unique(steps)]
        by_layer[name] = [_distance_row(name, d[nxt_layer == li], None, None) | {"layer": int(li)}
                          for li in np.unique(nxt_layer)]
    g = geometry.arrays()
    coarse = g["sigma_v"][nxt_layer] >= 5.0
    return {"rows": rows, "by_step": by_step, "by_layer": by_layer, "n_steps": int(target.sum()),
            "n_tracks": int(target.any(1).sum()),
            # next hits whose own smearing (sigma_v >= 5 mm: long strips) is coarse
            "coarse_target_fraction": float(coarse.mean()) if len(coarse) else 0.0}


def _seeds(event: Event, min_pt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray]:
    """Truth seeds: the first three hits (propagation order) of every particle with pT >=
    ``min_pt`` and >= 4 hits. Returns (seeds (n, 3) rows, particle ids, pT, η)."""
    s = track_sequences([event], None, min_pt=min_pt, priors=False)
    return s.rows[:, :3], s.particle_id, s.pt, s.eta


def following_study(events: Sequence[Event], model: NextHitModel, tokenizer: HitTokenizer, *,
                    window: float = 10.0, max_holes: int = 1) -> dict[str, Any]:
    """Track following from truth seeds (pT >= 1 GeV) with the next-hit model and the helix:
    per method, the fraction of particles followed with >= 50 % and >= 75 % of their hits and
    no foreign majority, the seconds it took, and per particle (pT, η, found fraction)."""
    out: dict[str, Any] = {}
    methods = {"next_hit": lambda g: model_predictor(model, g), "helix": helix_predictor,
               "helix_lever_arm": lambda g: helix_predictor(g, lever_arm=True)}
    for name, make in methods.items():
        fr, maj, pts, etas, secs = [], [], [], [], 0.0
        for ev in events:
            seeds, pid, pt, eta = _seeds(ev, SCORE_MIN_PT)
            t0 = time.perf_counter()
            res = follow(ev, seeds, make(ev.geometry), tokenizer=tokenizer if name == "next_hit"
                         else None, window=window, max_holes=max_holes)
            secs += time.perf_counter() - t0
            e = following_efficiency(ev, pid, res)
            fr.append(e["fraction"])
            maj.append(e["majority"])
            pts.append(pt)
            etas.append(eta)
        f, m = np.concatenate(fr), np.concatenate(maj)
        out[name] = {"n_particles": len(f), "eff50": float(np.mean((f >= 0.5) & m)),
                     "eff75": float(np.mean((f >= 0.75) & m)), "seconds": secs,
                     "_fraction": f, "_majority": m, "_pt": np.concatenate(pts),
                     "_eta": np.concatenate(etas)}
    return out


def _next_hit_plots(metrics: dict[str, Any], follows: dict[float, dict[str, Any]], out: Path,
                    geometry: Any) -> list[Path]:
    plt = pyplot()
    paths = []
    fig, ax = plt.subplots(figsize=(9, 4.5))
    names = [g.kind[0].upper() + f"{g.volume_id}:{g.layer_id}" for g in geometry.layers]
    for name, rows in metrics["by_layer"].items():
        li = np.array([r["layer"] for r in rows])
        ax.plot(li, [r["median"] for r in rows], "o-", ms=4, label=f"{name}: median")
        ax.plot(li, [r["q68"] for r in rows], "s:", ms=3, alpha=0.6, label=f"{name}: 68 %")
    ax.set_yscale("log")
    used = sorted({r["layer"] for rows in metrics["by_layer"].values() for r in rows})
    ax.set_xticks(used)
    ax.set_xticklabels([names[i] for i in used], rotation=90, fontsize=6)
    ax.set_xlabel("layer of the next hit (B barrel / E endcap, volume:layer)")
    ax.set_ylabel("|predicted − true next hit| [mm]")
    ax.set_title("Next-hit error by layer (pT > 1 GeV, after >= 3 hits)")
    ax.legend(fontsize=7, ncol=3)
    paths.append(save_figure(fig, out / "next_hit_error_vs_layer.png"))
    for mu, res in follows.items():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        lowest = 1.0
        styles = ("o-", "s--", "^:", "D-.")
        for j, (name, r) in enumerate(res.items()):
            ok = (r["_fraction"] >= 0.75) & r["_majority"]
            for ax, var, bins, lab in ((axes[0], r["_pt"], np.geomspace(1, 100, 11), "pT [GeV]"),
                                       (axes[1], r["_eta"], np.linspace(-4, 4, 17), "η")):
                k, n = pass_total(var, ok, bins, last_closed=True)  # as np.histogram's bins
                with np.errstate(invalid="ignore", divide="ignore"):
                    eff = k / n
                err = np.sqrt(np.clip(eff * (1 - eff), 0, None) / np.maximum(n, 1))
                c = 0.5 * (bins[1:] + bins[:-1]) if var is r["_eta"] else \
                    np.sqrt(bins[1:] * bins[:-1])
                ax.errorbar(c, eff, yerr=err, fmt=styles[j % len(styles)], ms=4, capsize=2,
                            alpha=0.85, label=f"{name}: {100 * r['eff75']:.1f} %")
                if np.isfinite(eff).any():
                    lowest = min(lowest, float(np.nanmin(eff - err)))
                ax.set_xlabel(lab)
                ax.set_ylabel("followed with >= 75 % of hits")
                ax.grid(alpha=0.3)
        for ax in axes:     # zoomed on the efficiencies (they sit near 1)
            ax.set_ylim(max(0.0, np.floor(20 * lowest - 0.5) / 20), 1.005)
        axes[0].set_xscale("log")
        ticks = [1, 2, 5, 10, 20, 50, 100]
        axes[0].set_xticks(ticks, [str(v) for v in ticks])
        axes[0].xaxis.set_minor_formatter(plt.NullFormatter())
        axes[0].legend(fontsize=8)
        fig.suptitle(f"Track following from truth seeds, <mu> = {mu:g} (pT > 1 GeV)")
        paths.append(save_figure(fig, out / f"following_mu{mu:g}.png"))
    return paths


def compare_next_hit(events: Sequence[Event], model: NextHitModel, token_model: NextHitModel,
                     tokenizer: HitTokenizer) -> dict[str, Any]:
    """:func:`next_hit_metrics` of the next-hit model, the token-only model and the helix on
    the tracks (pT >= 1 GeV) of ``events``, with the model's and the helix's tracks/s."""
    check_tokenizer(model, tokenizer)
    check_tokenizer(token_model, tokenizer)
    geo = events[0].geometry
    seqs = track_sequences(events, tokenizer, min_pt=SCORE_MIN_PT, max_len=model.config.max_len)
    t0 = time.perf_counter()
    preds = {"next_hit": predict_next_hits(model, seqs, geo)}
    t_model = time.perf_counter() - t0
    preds["token_only"] = token_only_next_hits(token_model, tokenizer, seqs)
    t0 = time.perf_counter()
    preds["helix"] = helix_next_hits(seqs, geo)
    t_helix = time.perf_counter() - t0
    preds["helix_lever_arm"] = helix_next_hits(seqs, geo, lever_arm=True)
    m = next_hit_metrics(seqs, preds, geo)
    m["n_tracks"] = len(seqs)
    m["tracks_per_second"] = len(seqs) / max(t_model, 1e-12)
    m["helix_tracks_per_second"] = len(seqs) / max(t_helix, 1e-12)
    return m


def next_hit_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Rows of the next-hit table (:data:`NEXT_HIT_HEADERS`), one per model."""
    return [[r["model"], f"{r['median']:.3f}", f"{r['q68']:.3f}", f"{r['q95']:.2f}",
             *(f"{100 * r[f'within_{w:g}']:.2f}" for w in WITHIN),
             "-" if r["layer_accuracy"] is None else f"{100 * r['layer_accuracy']:.2f}",
             "-" if r["token_accuracy"] is None else f"{100 * r['token_accuracy']:.2f}"]
            for r in metrics["rows"]]


def following_rows(follows: dict[float, dict[str, Any]]) -> list[list[Any]]:
    """Rows of the following table (:data:`FOLLOW_HEADERS`), one per <mu> and method."""
    return [[f"{fmu:g}", name, r["n_particles"], f"{100 * r['eff50']:.2f}",
             f"{100 * r['eff75']:.2f}", f"{r['seconds']:.2f}"]
            for fmu, res in follows.items() for name, r in res.items()]


#: Columns of the next-hit table.
NEXT_HIT_HEADERS = ["model", "median [mm]", "68 % [mm]", "95 % [mm]", "<= 1 mm %", "<= 10 mm %",
                    "<= 100 mm %", "layer acc %", "token acc %"]
#: Columns of the following table.
FOLLOW_HEADERS = ["<mu>", "method", "particles", ">= 50 % hits %", ">= 75 % hits %", "seconds"]


def evaluate_next_hit(model: NextHitModel, *, tokenizer: HitTokenizer | None = None,
                      token_model: NextHitModel | None = None,
                      events: Sequence[Event] | None = None,
                      n_events: int = 3, mu: float = 50.0, seed: int = 54321,
                      follow_mu: Sequence[float] = (50.0, 200.0), follow_events: int = 1,
                      window: float = 10.0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """The next-hit model, the token-only model and the helix side by side on fresh events:
    next-hit scores (:func:`next_hit_metrics`), inference throughput, and track following at
    each ``follow_mu`` (:func:`following_study`). Default tokeniser / token-only model: the
    shipped ones. ``events``: score on these (e.g. TrackML / ACTS CSV events read without a
    geometry: one is inferred from their hits) instead of ``n_events`` simulated ones."""
    if n_events < 1 or follow_events < 0:
        msg = f"n_events must be >= 1 and follow_events >= 0, got {n_events}, {follow_events}"
        raise ValueError(msg)
    tok = tokenizer if tokenizer is not None else pretrained("hit_tokenizer")
    evs = with_geometry(list(events)) if events is not None else \
        simulate(n_events, mu, seed, 20_000)
    if not evs:
        msg = "events: no events given"
        raise ValueError(msg)
    geo = evs[0].geometry
    if token_model is None:
        token_model = pretrained("next_hit_tokens")
    m = compare_next_hit(evs, model, token_model, tok)
    follows = {}
    for k, fmu in enumerate(follow_mu):
        if follow_events:
            fev = simulate(follow_events, fmu, seed + 11 + k, 30_000 + 100 * k)
            follows[fmu] = following_study(fev, model, tok, window=window)
    table = format_table(next_hit_rows(m), NEXT_HIT_HEADERS)
    frows = following_rows(follows)
    ftable = format_table(frows, FOLLOW_HEADERS) if frows else ""
    res_out: dict[str, Any] = {
        "metrics": m, "table": table, "following_table": ftable,
        "following": {f"{fmu:g}": {n: public_metrics(r) for n, r in res.items()}
                      for fmu, res in follows.items()},
        "config": dict(vars(model.config)), "window_mm": window,
        "events": {"n": len(evs), "mu": None if events is not None else mu, "seed": seed,
                   "follow_events": follow_events}}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        res_out["plots"] = [str(p) for p in _next_hit_plots(m, follows, out, geo)]
        (out / "next_hit_eval.json").write_text(json.dumps(res_out, indent=1, default=float))
    return res_out


__all__ = ["FOLLOW_HEADERS", "NEXT_HIT_HEADERS", "SCORE_MIN_PT", "STUDY_CONFIGS", "WITHIN",
           "codebook_study", "compare_next_hit", "coordinate_errors", "following_rows",
           "evaluate_hit_tokenizer", "evaluate_next_hit", "following_study", "next_hit_metrics",
           "next_hit_rows", "public_metrics",
           "tokenizer_metrics"]
