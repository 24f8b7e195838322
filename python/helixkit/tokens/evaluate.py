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

from .._table import format_table
from ..data import Event
from ..plots import pyplot, save_figure
from .data import HitSample, hit_sample, track_order
from .model import HitTokenizer
from .train import simulate, train_hit_tokenizer


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


def _public(m: dict[str, Any]) -> dict[str, Any]:
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
    res = {"metrics": _public(m), "table": table, "config": dict(vars(model.config))}
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
        m = _public(tokenizer_metrics(model, test, per_layer=False))
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


__all__ = ["STUDY_CONFIGS", "codebook_study", "coordinate_errors", "evaluate_hit_tokenizer",
           "tokenizer_metrics"]
