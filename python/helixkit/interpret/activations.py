"""Activation maps of a neuron: its mean activation over the detector in (z, r) and
(x, y) with isocurves, and its activation against the high-level variables of the
hit's particle (pT, q/pT, η, φ, d0, z0). PNG output through
:func:`helixkit.plots.pyplot` (matplotlib is imported on first use).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..plots import pyplot, save_figure


@dataclass(frozen=True)
class BinnedMean:
    """Mean of a value in 2-D bins; NaN where a bin holds fewer than ``min_count``."""

    edges_a: NDArray[np.float64]
    edges_b: NDArray[np.float64]
    mean: NDArray[np.float64]      # (len(edges_a) - 1, len(edges_b) - 1)
    count: NDArray[np.int64]


def _column(a: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        msg = f"{name} must be one-dimensional, got shape {arr.shape}"
        raise ValueError(msg)
    if n is not None and len(arr) != n:
        msg = f"{name} has {len(arr)} entries, the activation {n}"
        raise ValueError(msg)
    if not np.isfinite(arr).all():
        msg = f"{name} contains NaN or inf"
        raise ValueError(msg)
    return arr


def binned_mean(a: ArrayLike, b: ArrayLike, values: ArrayLike, *, bins: int = 60,
                min_count: int = 3) -> BinnedMean:
    """Mean of ``values`` in a ``bins`` x ``bins`` grid over the range of (a, b)."""
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool):
        msg = f"bins must be an int, got {type(bins).__name__}"
        raise TypeError(msg)
    if bins < 2:
        msg = f"bins (={bins}) must be >= 2"
        raise ValueError(msg)
    if min_count < 1:
        msg = f"min_count (={min_count}) must be >= 1"
        raise ValueError(msg)
    v = _column(values, "values")
    a_, b_ = _column(a, "a", len(v)), _column(b, "b", len(v))
    count, ea, eb = np.histogram2d(a_, b_, bins=bins)
    total, _, _ = np.histogram2d(a_, b_, bins=[ea, eb], weights=v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count >= min_count, total / count, np.nan)
    return BinnedMean(ea, eb, mean, count.astype(np.int64))


def _title(model: str, layer: str, neuron: int, sample: str, n: int, unit: str) -> str:
    return f"{model} · layer {layer} · neuron {neuron}\n{sample} · plotted: {n:,} {unit}"


def _panel(ax: Any, fig: Any, grid: BinnedMean, xlabel: str, ylabel: str,
           levels: int) -> None:
    ma = np.ma.masked_invalid(grid.mean.T)
    # colour range: 2nd-98th percentile of the bin means (a few sparse bins would set it)
    lo, hi = (np.nanpercentile(grid.mean, [2, 98]) if ma.count() else (0.0, 1.0))
    mesh = ax.pcolormesh(grid.edges_a, grid.edges_b, ma, cmap="viridis", shading="flat",
                         vmin=lo, vmax=hi if hi > lo else lo + 1e-12)
    fig.colorbar(mesh, ax=ax, label="mean activation (2-98 % range)", extend="both")
    if ma.count() > 4 and float(ma.max() - ma.min()) > 0:
        ca = 0.5 * (grid.edges_a[1:] + grid.edges_a[:-1])
        cb = 0.5 * (grid.edges_b[1:] + grid.edges_b[:-1])
        cs = ax.contour(ca, cb, ma, levels=levels, colors="white", linewidths=0.8)
        ax.clabel(cs, fontsize=6, fmt="%.2g")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def plot_activation_map(activation: ArrayLike, x: ArrayLike, y: ArrayLike, z: ArrayLike, *,
                        model: str, layer: str, neuron: int, sample: str,
                        out: str | os.PathLike[str], bins: int = 60, levels: int = 8,
                        unit: str = "hits") -> Path:
    """One neuron's mean activation over the hits in (z, r) and in (x, y), with
    isocurves (contours of the binned mean), as a PNG at ``out``. ``x, y, z`` in mm.
    Fewer than ``bins`` bins per axis on small samples (about 5 hits per bin at least)."""
    act = _column(activation, "activation")
    n = len(act)
    xs, ys, zs = _column(x, "x", n), _column(y, "y", n), _column(z, "z", n)
    r = np.hypot(xs, ys)
    bins = max(8, min(bins, int(np.sqrt(n / 5))))   # ~5 hits per bin on average at least
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.6, 1]})
    _panel(axes[0], fig, binned_mean(zs, r, act, bins=bins), "z [mm]", "r [mm]", levels)
    _panel(axes[1], fig, binned_mean(xs, ys, act, bins=bins), "x [mm]", "y [mm]", levels)
    axes[1].set_aspect("equal")
    fig.suptitle(_title(model, layer, neuron, sample, n, unit) + " · white: isocurves of the mean",
                 fontsize=10)
    fig.tight_layout()
    try:
        return save_figure(fig, out)
    finally:
        plt.close(fig)


def plot_activation_vs(activation: ArrayLike, variables: Mapping[str, ArrayLike], *,
                       model: str, layer: str, neuron: int, sample: str,
                       out: str | os.PathLike[str], bins: int = 40, unit: str = "hits") -> Path:
    """One neuron's activation against each high-level variable (2-D histogram of
    the hits, log colour scale, and the mean activation per bin of the variable in
    red), as a PNG at ``out``. Variables with a long tail (pT) are best given as logs."""
    act = _column(activation, "activation")
    n = len(act)
    if not isinstance(variables, Mapping) or not variables:
        msg = "variables must be a non-empty mapping name -> (N,) array"
        raise TypeError(msg)
    cols = {name: _column(v, f"variables[{name!r}]", n) for name, v in variables.items()}
    plt = pyplot()
    colors = importlib.import_module("matplotlib.colors")
    n_col = min(3, len(cols))
    n_row = -(-len(cols) // n_col)
    fig, axes = plt.subplots(n_row, n_col, figsize=(4.2 * n_col, 3.4 * n_row), squeeze=False)
    for ax, (name, v) in zip(axes.flat, cols.items()):
        lo, hi = np.percentile(v, [0.5, 99.5])
        keep = (v >= lo) & (v <= hi)
        a_lo, a_hi = np.percentile(act, [0.5, 99.5])
        h = ax.hist2d(v[keep], act[keep], bins=bins, cmap="Greys", norm=colors.LogNorm(),
                      cmin=1, range=[[lo, hi], [a_lo, a_hi if a_hi > a_lo else a_lo + 1e-12]])
        edges = h[1]
        idx = np.clip(np.digitize(v[keep], edges) - 1, 0, len(edges) - 2)
        cnt = np.bincount(idx, minlength=len(edges) - 1)
        tot = np.bincount(idx, weights=act[keep], minlength=len(edges) - 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        ok = cnt >= 3
        ax.plot(centres[ok], tot[ok] / cnt[ok], color="red", lw=1.5, label="mean")
        ax.set_ylim(a_lo, a_hi if a_hi > a_lo else a_lo + 1e-12)
        ax.set_xlabel(name)
        ax.set_ylabel("activation")
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(cols):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(_title(model, layer, neuron, sample, n, unit)
                 + " · grey: rows (log scale), central 99 % of each variable and of the activation", fontsize=10)
    fig.tight_layout()
    try:
        return save_figure(fig, out)
    finally:
        plt.close(fig)


__all__ = ["BinnedMean", "binned_mean", "plot_activation_map", "plot_activation_vs"]
